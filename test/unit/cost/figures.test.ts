// One truth per figure: bytes/token, bits/value and compression (with and without codebooks) come
// from quant's kvFigures of the held bytes, and Chat, the Report and the Cost estimator show the same
// numbers for the same cache (issue 16: Chat said 10.67x where the bytes gave 9.14x, Cost 60 B/token
// where 70 were held).
import { describe, expect, it } from 'vitest';
import { kvFigures } from '../../../quant/index.js';
import { kvAccounting, kvFormatSchema } from '../../../main/cost/kv-format.js';
import { geometryFromModelConfig } from '../../../main/cost/model-geometry.js';
import { parseCacheChoice } from '../../../main/engine/cache-runtime.js';
import { EngineModel } from '../../../main/engine/engine-model.js';
import { readManifest } from '../../../main/model/manifest.js';
import { memoryCells } from '../../../renderer/src/views/format.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { createStoriesLibrary } from '../engine/engine-library.js';

describe('kvFigures', () => {
  it("gives the issue's stories260K conversation 9.14x, 70 B/token and 1.75 bits/value from 9.02 KiB held against 82.50 KiB", () => {
    const f = kvFigures({ tokens: 132, held: 132 * 70, fp16: 132 * 640, codebooks: 0 });
    expect(f.compression.toFixed(2)).toBe('9.14');
    expect(f.bytesPerToken).toBe(70);
    expect(f.bitsPerValue).toBe(1.75);
    expect(f.compressionWithCodebooks).toBe(f.compression);
  });

  it('counts codebooks only in the second ratio, and gives NaN before anything is held', () => {
    const f = kvFigures({ tokens: 10, held: 100, fp16: 800, codebooks: 700 });
    expect([f.compression, f.compressionWithCodebooks]).toEqual([8, 1]);
    expect(Object.values(kvFigures({ tokens: 0, held: 0, fp16: 0, codebooks: 5 })).every(Number.isNaN)).toBe(true);
  });
});

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('the same stories260K RVQ conversation in every view', () => {
  it('Chat, Report and Cost agree with the held bytes at depths 4 and 2', async () => {
    const lib = createStoriesLibrary();
    const model = await EngineModel.open({ model: 'stories', library: lib.library, cache: parseCacheChoice('rvq:synthetic'), session: { providers: ['cpu'] } });
    try {
      const manifest = readManifest(lib.folder);
      const geometry = geometryFromModelConfig('stories', 'test library', manifest.config);
      for (const depth of [4, 2]) {
        const id = model.createConversation();
        model.setDepth(id, { depth });
        const stream = model.send(id, 'Once upon a time', { maxTokens: 8, seed: 1 });
        let next = await stream.next();
        while (!next.done) next = await stream.next();
        const f = next.value.figures;
        const held = kvFigures({ tokens: f.cachedTokens, held: f.kv.held, fp16: f.kv.fp16, codebooks: f.codebookBytes });
        // the engine's figures (what the API sends to Chat and the Report) are the held bytes' figures
        expect({ bytesPerToken: f.bytesPerToken, bitsPerValue: f.bitsPerValue, compression: f.compressionRatio, compressionWithCodebooks: f.compressionWithCodebooks }).toEqual(held);
        // synthetic set: one 32-channel group per token and kind, 4-bit codes, one fp16 scale, one depth byte
        expect(f.bytesPerToken).toBe(5 * 2 * (Math.ceil((depth * 4) / 8) + 2 + 1));
        // Chat and the Report print the same cells, which read as the held bytes do
        const cells = memoryCells(f);
        expect(cells.compression).toBe(`${held.compression.toFixed(2)}x`);
        expect(cells.bitsPerValue).toBe(held.bitsPerValue.toFixed(3));
        // Cost, for the same format on the same model, projects the bytes that were held
        const cost = kvAccounting(kvFormatSchema.parse({ kind: 'rvq', depth, codebookSize: 16, groupSize: 32, grouping: 'contiguous', groupSpan: 'token', scale: 'token' }), geometry);
        expect({ bytesPerToken: cost.bytesPerToken, bitsPerValue: cost.bitsPerValue, compression: cost.compressionVsFp16 }).toEqual({
          bytesPerToken: held.bytesPerToken,
          bitsPerValue: held.bitsPerValue,
          compression: held.compression,
        });
      }
    } finally {
      await model.release();
      lib.cleanup();
    }
  });
});
