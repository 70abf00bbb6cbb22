// Settings' provider report through the backend worker: the providers this platform can have, as
// probed (CPU runs everything), and which provider runs each loaded model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatSession, ProvidersReport } from '../../../main/api/types.js';
import type { Backend } from '../../../main/backend/client.js';
import { platformProviders } from '../../../main/engine/session.js';
import { importStories260K, startSourceBackend } from '../../support/backend.js';
import { fixtures, haveFixtures } from '../../support/shared.js';

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('settings.providers', () => {
  let backend: Backend;
  beforeAll(async () => {
    const started = await startSourceBackend();
    backend = started.backend;
    await importStories260K(backend, started.dataDir);
  });
  afterAll(async () => {
    await backend?.close();
  });

  it("lists this platform's providers as probed, then the provider of each loaded model", async () => {
    const before = (await backend.call('settings.providers', [])) as ProvidersReport;
    expect(before.providers.map((p) => p.provider)).toEqual(platformProviders());
    expect(before.providers.find((p) => p.provider === 'cpu')).toEqual({ provider: 'cpu', available: true, halfFloats: true, reason: null });
    for (const p of before.providers.filter((q) => !q.available)) expect(p.reason).toBeTruthy();
    expect(before.models).toEqual([]);
    (await backend.call('chat.start', ['stories260K', 'q8_0', null])) as ChatSession;
    const after = (await backend.call('settings.providers', [])) as ProvidersReport;
    expect(after.models).toMatchObject([{ id: 'stories260K', cache: 'q8_0', provider: 'cpu', skippedProviders: [] }]);
  });
});
