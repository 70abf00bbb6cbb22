// Quantized formats of the fp graph score the same whatever the evaluation chunk: their runtimes step
// one token at a time, so no token attends to another's keys/values unquantized (stories260K).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateLibraryModel } from '../../../main/engine/evaluate-library.js';
import type { NamedChoice } from '../../../main/engine/evaluate-library.js';
import { readManifest } from '../../../main/model/manifest.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { createStoriesLibrary } from './engine-library.js';
import type { StoriesLibrary } from './engine-library.js';

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('quantized fp-graph runtimes step token by token', () => {
  let lib: StoriesLibrary;
  beforeAll(() => {
    lib = createStoriesLibrary();
  });
  afterAll(() => lib.cleanup());

  it('gives q4_0, KIVI-2 and keys-only RVQ the same NLL for chunks of 1 and 40 tokens', async () => {
    const manifest = readManifest(lib.folder);
    const tokens = Array.from({ length: 80 }, (_, i) => (i === 0 ? 1 : 260 + ((i * 41) % 240)));
    const choices: NamedChoice[] = [
      { name: 'fp16', choice: { format: 'fp16' } },
      { name: 'q4_0', choice: { format: 'q4_0' } },
      { name: 'kivi2', choice: { format: 'kivi2' } },
      { name: 'rvq/keys d2', choice: { format: 'rvq', only: 'key', depth: 2 } },
    ];
    const session = { providers: ['cpu' as const], threads: 1 };
    const [single, chunked] = [await evaluateLibraryModel(lib.folder, manifest, tokens, choices, { session, chunk: 1 }), await evaluateLibraryModel(lib.folder, manifest, tokens, choices, { session, chunk: 40 })];
    for (let k = 1; k < choices.length; k++) expect(chunked[k].meanNll).toBe(single[k].meanNll);
  });
});
