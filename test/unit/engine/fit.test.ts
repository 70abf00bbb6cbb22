// The fit check before a model opens: the parts it adds up, and a refusal that says what would fit.
import { afterAll, describe, expect, it } from 'vitest';
import { EngineModel } from '../../../main/engine/engine-model.js';
import { checkDiskRoom } from '../../../main/library/import-model.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { createStoriesLibrary } from './engine-library.js';
import { kvBytesPerTokenFp16 } from '../../../main/model/config.js';
import { weightBytes } from '../../../main/model/weights.js';
import { DoesNotFitError, checkFits } from '../../../main/engine/fit.js';
import { longestFittingContext, memoryFigures, memoryNeed, paperRvqBytesPerToken } from '../../../main/model/memory.js';
import { llama31EightBGeometry as c } from '../../support/geometries.js';

const GiB = 2 ** 30;

describe('does it fit?', () => {
  const fp16 = { config: c, weightType: 'float16' as const, context: 8192, kvBytesPerToken: kvBytesPerTokenFp16(c), codebookBytes: 0 };

  it('adds weights as held in memory, the KV cache at the context, codebooks and a reserve', () => {
    const need = memoryNeed(fp16);
    expect(need.weights).toBe(weightBytes(c, 'float16').inMemory);
    expect(need.kvCache).toBe(8192 * 131072); // Llama-3.1-8B: 128 KiB of fp16 K/V per token
    expect(need.total).toBe(need.weights + need.kvCache + need.codebooks + need.reserve);
    expect(checkFits('m', fp16, need.total)).toEqual(need);
  });

  it('refuses an 8B with float16 weights on 16 GiB and names what would fit', () => {
    let message = '';
    try {
      checkFits('llama-8b', fp16, 16 * GiB);
    } catch (e) {
      expect(e).toBeInstanceOf(DoesNotFitError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/^model llama-8b does not fit: it needs about \d+\.\d\d GiB \(weights \d+\.\d\d GiB \(float16\), KV cache 1\.00 GiB at 8192 tokens/);
    expect(message).toContain('16.00 GiB of memory is free');
    expect(message).toMatch(/int4 weights \(re-import with --weights int4: about \d+\.\d\d GiB\)/);
    expect(message).not.toContain('a context of at most'); // the weights alone are too big
  });

  it('suggests a shorter context or the rvq cache when the cache is what does not fit', () => {
    const int4 = { ...fp16, weightType: 'int4' as const, context: 131072 };
    const free = 12 * GiB;
    expect(() => checkFits('m', int4, free)).toThrow(/a context of at most \d+ tokens; or the rvq cache at depth 8/);
    const longest = longestFittingContext(int4, free);
    expect(memoryNeed({ ...int4, context: longest }).total).toBeLessThanOrEqual(free);
    expect(memoryNeed({ ...int4, context: longest + 1 }).total).toBeGreaterThan(free);
    expect(paperRvqBytesPerToken(c)).toBe(23552); // what reskv inspect prints for this geometry
  });

  it("gives the Cost view the fit check's figures for a geometry", () => {
    const figures = memoryFigures(c, 'int4', { format: 'rvq', depth: 8 }, 8192);
    expect(figures.kvBytesPerToken).toBe(23552);
    expect(figures.weightBytes).toEqual(weightBytes(c, 'int4'));
    const need = memoryNeed({ config: c, weightType: 'int4', context: 8192, kvBytesPerToken: 23552, codebookBytes: figures.codebooks });
    expect(figures).toEqual({ ...need, weightBytes: weightBytes(c, 'int4'), kvBytesPerToken: 23552 });
    // 32 layers x K and V x 8 stages x 2048 entries x 32 float32 values
    expect(figures.codebooks).toBe(32 * 2 * 8 * 2048 * 32 * 4);
    expect(memoryFigures(c, 'int4', { format: 'fp16' }, 8192).kvCache).toBe(8192 * kvBytesPerTokenFp16(c));
    expect(() => memoryFigures({ ...c, headDim: 10, numKvHeads: 1 }, 'int4', { format: 'rvq', depth: 8 }, 8192)).toThrow(/head_dim 10 x 1 KV heads/);
  });
});

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('opening a model checks the fit', () => {
  const lib = createStoriesLibrary();
  afterAll(() => lib.cleanup());

  it('refuses before loading when memory is short, and shortens a context that does not fit', async () => {
    await expect(EngineModel.open({ model: lib.folder, freeBytes: 100 * 2 ** 20 })).rejects.toThrow(/^model stories does not fit: it needs about 0\.\d\d GiB .* and 0\.10 GiB of memory is free/);
    await expect(EngineModel.open({ model: lib.folder, context: 512, freeBytes: 100 * 2 ** 20 })).rejects.toThrow(DoesNotFitError);
    const model = await EngineModel.open({ model: lib.folder, freeBytes: 8 * GiB });
    expect(model.info.contextLength).toBe(512); // stories260K's full context fits
    await model.release();
  });
});

describe('disk room', () => {
  it('refuses an import the disk cannot hold, naming the folder and both sizes', () => {
    expect(() => checkDiskRoom('/lib', 5e9, 1e9)).toThrow('/lib: not enough disk space for this import: it needs about 5.00 GB, 1.00 GB free');
    expect(() => checkDiskRoom('/lib', 1e9, 5e9)).not.toThrow();
  });
});
