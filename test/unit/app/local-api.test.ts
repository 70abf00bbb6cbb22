// The desktop app's local API server follows settings.localApi: on, moved, re-keyed, off; a busy
// port is refused with a message saying so. Real backend worker (an empty library is enough).
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalApiStatus } from '../../../main/api/types.js';
import type { Backend } from '../../../main/backend/client.js';
import { LocalApiServer } from '../../../main/server/local-api.js';
import { startSourceBackend } from '../../support/backend.js';

/** A port free right now (the OS picks it). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const models = (port: number, token?: string) =>
  fetch(`http://127.0.0.1:${port}/v1/models`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then((res) => res.status);

describe('local API server following the settings', () => {
  let backend: Backend;
  let localApi: LocalApiServer;

  beforeAll(async () => {
    ({ backend } = await startSourceBackend());
    localApi = new LocalApiServer(backend);
  });

  afterAll(async () => {
    await localApi?.close();
    await backend?.close();
  });

  it('starts when enabled, moves with the port, takes a new token, stops when disabled', async () => {
    const [first, second] = [await freePort(), await freePort()];
    expect(await localApi.apply({ enabled: false, port: first, token: null })).toBeNull();
    await expect(models(first)).rejects.toThrow();

    expect(await localApi.apply({ enabled: true, port: first, token: null })).toBe(`http://127.0.0.1:${first}/`);
    expect(await models(first)).toBe(200);
    // API only: no renderer, no bridge
    expect((await fetch(`http://127.0.0.1:${first}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${first}/api/app.info`, { method: 'POST', body: '[]', headers: { 'content-type': 'application/json' } })).status).toBe(404);

    await localApi.apply({ enabled: true, port: second, token: 'sixteen-chars-ok' });
    await expect(models(first)).rejects.toThrow();
    expect(await models(second)).toBe(401);
    expect(await models(second, 'sixteen-chars-ok')).toBe(200);

    expect(await localApi.apply({ enabled: false, port: second, token: 'sixteen-chars-ok' })).toBeNull();
    await expect(models(second, 'sixteen-chars-ok')).rejects.toThrow();
  });

  it('says when the port is taken, and starts once it is free; its status (for Settings) follows', async () => {
    const statuses: LocalApiStatus[] = [];
    const unsubscribe = localApi.onStatus((status) => statuses.push(status));
    const port = await freePort();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    const refusal = `the local API cannot listen on 127.0.0.1:${port}: port ${port} is in use: choose another in Settings`;
    await expect(localApi.apply({ enabled: true, port, token: null })).rejects.toThrow(refusal);
    await new Promise((resolve) => squatter.close(resolve));
    expect(await localApi.apply({ enabled: true, port, token: null })).toBe(`http://127.0.0.1:${port}/`);
    expect(await models(port)).toBe(200);
    expect(localApi.status).toEqual({ state: 'listening', url: `http://127.0.0.1:${port}/` });
    await localApi.close();
    expect(localApi.status).toEqual({ state: 'off' });
    unsubscribe();
    expect(statuses).toEqual([{ state: 'failed', error: refusal }, { state: 'listening', url: `http://127.0.0.1:${port}/` }, { state: 'off' }]);
  });
});
