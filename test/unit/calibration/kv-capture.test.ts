// Capture-based collection: the capture graph's K/V rows against the reference forward, and the
// token reservoir that samples them to a budget.
import { describe, expect, it } from 'vitest';
import { KvCapture } from '../../../main/engine/calibration/kv-capture.js';
import type { LayerKv } from '../../../main/engine/calibration/kv-capture.js';
import { KvReservoir } from '../../../main/engine/calibration/kv-reservoir.js';
import { captureChunks, splitDocuments } from '../../../main/engine/calibration/calibration-text.js';
import { RandomWeights } from '../../../main/model/hf-export.js';
import { ReferenceModel } from '../../../main/model/reference.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { buildCaptureGraph } from '../../../main/onnx/decoder.js';
import { tinyConfig } from './tiny-library.js';

describe('KvCapture', () => {
  it('returns every layer\'s pre-RoPE K and V as token rows equal to the reference forward\'s', async () => {
    const config = { ...tinyConfig, numLayers: 3 };
    const weights = new RandomWeights(config, 11);
    const capture = await KvCapture.open(buildCaptureGraph(config, weights), config, { providers: ['cpu'] });
    const tokens = [1, 40, 7, 299, 120, 5, 5, 64, 200];
    const layers = await capture.run(tokens);
    await capture.release();
    const reference = new ReferenceModel(config, readAllWeights(weights));
    for (const t of tokens) reference.forward(t);
    const width = config.numKvHeads * config.headDim;
    expect(layers).toHaveLength(3);
    for (let l = 0; l < 3; l++) {
      for (const [kind, expected] of [['key', reference.preRopeKeys[l]], ['value', reference.values[l]]] as const) {
        const rows = layers[l][kind];
        expect(rows.length).toBe(tokens.length * width);
        let worst = 0;
        expected.forEach((row, i) => row.forEach((v, c) => (worst = Math.max(worst, Math.abs(v - rows[i * width + c])))));
        expect(worst, `layer ${l} ${kind}`).toBeLessThan(1e-4);
      }
    }
  });

  it('rejects chunks longer than the context, empty ones and ids outside the vocabulary', async () => {
    const capture = await KvCapture.open(buildCaptureGraph(tinyConfig, new RandomWeights(tinyConfig, 1)), tinyConfig, { providers: ['cpu'] });
    await expect(capture.run(new Array<number>(65).fill(3))).rejects.toThrow(/1 to 64 tokens/);
    await expect(capture.run([])).rejects.toThrow(/1 to 64 tokens/);
    await expect(capture.run([1, 300])).rejects.toThrow(/token 300 is outside the vocabulary/);
    await capture.release();
  });
});

/** n tokens numbered from `first`: every channel of token t, layer l, kind k holds t*100 + l*10 + k. */
function numberedTokens(first: number, n: number, layers: number, width: number): LayerKv[] {
  return Array.from({ length: layers }, (_, l) => {
    const fill = (k: number) => Float32Array.from({ length: n * width }, (_, i) => (first + Math.floor(i / width)) * 100 + l * 10 + k);
    return { key: fill(0), value: fill(1) };
  });
}

describe('KvReservoir', () => {
  const tokensHeld = (r: KvReservoir) => Array.from({ length: r.held }, (_, i) => Math.floor(r.rows()[0].key[i * 4] / 100));

  it('keeps every token, in order, while under its capacity', () => {
    const r = new KvReservoir(2, 4, 100, 1);
    r.add(numberedTokens(0, 30, 2, 4));
    r.add(numberedTokens(30, 20, 2, 4));
    expect(r.seen).toBe(50);
    expect(tokensHeld(r)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('holds a uniform sample of the same tokens for every layer and kind, the same for a seed', () => {
    const sample = (seed: number) => {
      const r = new KvReservoir(3, 4, 500, seed);
      for (let c = 0; c < 40; c++) r.add(numberedTokens(c * 250, 250, 3, 4));
      return r;
    };
    const r = sample(5);
    expect(r.seen).toBe(10000);
    expect(r.held).toBe(500);
    const held = tokensHeld(r);
    expect(new Set(held).size).toBe(500);
    r.rows().forEach((layer, l) => {
      held.forEach((t, i) => {
        expect(layer.key[i * 4 + 3]).toBe(t * 100 + l * 10);
        expect(layer.value[i * 4]).toBe(t * 100 + l * 10 + 1);
      });
    });
    // uniform: each quarter of the stream holds about a quarter of the sample (binomial sd ~ 10)
    for (let q = 0; q < 4; q++) expect(Math.abs(held.filter((t) => Math.floor(t / 2500) === q).length - 125)).toBeLessThan(45);
    expect(tokensHeld(sample(5))).toEqual(held);
    expect(tokensHeld(sample(6))).not.toEqual(held);
  });
});

describe('calibration text', () => {
  it('splits documents at <|endoftext|> and chunks token sequences to the context', () => {
    expect(splitDocuments('one story\n<|endoftext|>\n  \n<|endoftext|>two\n')).toEqual(['one story', 'two']);
    expect(splitDocuments('no separator at all')).toEqual(['no separator at all']);
    expect(captureChunks([[1, 2, 3, 4, 5], [6], []], 2)).toEqual([[1, 2], [3, 4], [5], [6]]);
  });
});
