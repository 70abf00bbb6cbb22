import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RvqCodec, createRng, parseRvqSpec } from '../../../quant/index.js';
import { evaluateFormats } from '../../../main/engine/evaluate.js';
import type { EvaluatedFormat } from '../../../main/engine/evaluate.js';
import { FpGraphDecoder } from '../../../main/engine/fp-graph-decoder.js';
import { Fp16KvStore } from '../../../main/engine/fp16-kv-store.js';
import { KvCodeStore } from '../../../main/engine/kv-code-store.js';
import type { KvStore } from '../../../main/engine/kv-store.js';
import { RvqGraphDecoder } from '../../../main/engine/rvq-graph-decoder.js';
import { ScalarKvStore } from '../../../main/engine/scalar-kv-store.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import { readLlama2cTokenizer } from '../../../main/model/tokenizer-llama2c.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { buildRvqDecoderGraph } from '../../../main/onnx/rvq-cache.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { SumDecoder } from './loop-doubles.js';

/** SumDecoder whose favoured token is one further along (a wrong model with known distributions). */
class ShiftedDecoder extends SumDecoder {
  override async step(tokens: readonly number[], store: Fp16KvStore): Promise<Float32Array> {
    const logits = await super.step(tokens, store);
    const V = this.vocabSize;
    const shifted = new Float32Array(logits.length);
    for (let r = 0; r < tokens.length; r++) for (let j = 0; j < V; j++) shifted[r * V + ((j + 1) % V)] = logits[r * V + j];
    return shifted;
  }
}

const format = (name: string, decoder: SumDecoder): EvaluatedFormat => ({ name, decoder: decoder as never, createStore: () => SumDecoder.store() });

describe('evaluateFormats (SumDecoder doubles, hand-computed)', () => {
  // tokens 1 2 4 1 3: SumDecoder favours 1, 4, 1, 3 at positions 0..3 -> 1 miss, then 3 hits
  const Z = Math.exp(4) + 7;
  const nllHit = -Math.log(Math.exp(4) / Z);
  const nllMiss = -Math.log(1 / Z);

  it('scores NLL, perplexity, KL and top-1 against the reference', async () => {
    const [ref, shifted] = await evaluateFormats([1, 2, 4, 1, 3], [format('ref', new SumDecoder()), format('shifted', new ShiftedDecoder())], { chunk: 2 });
    expect(ref.positions).toBe(4);
    expect(ref.meanNll).toBeCloseTo((3 * nllHit + nllMiss) / 4, 10);
    expect(ref.perplexity).toBeCloseTo(Math.exp((3 * nllHit + nllMiss) / 4), 8);
    expect(ref).toMatchObject({ meanKl: 0, top1Agreement: 1 });
    // shifted favours 2, 5, 2, 4: the target only at position 0; KL = 4 (e^4 - 1) / Z per position
    expect(shifted.meanNll).toBeCloseTo((nllHit + 3 * nllMiss) / 4, 10);
    expect(shifted.meanKl).toBeCloseTo((4 * (Math.exp(4) - 1)) / Z, 10);
    expect(shifted.top1Agreement).toBe(0);
    expect(ref.bitsPerValue).toBe(16);
  });

  it('cuts a text longer than the context into segments from an empty cache', async () => {
    const [ref] = await evaluateFormats([1, 2, 4, 1, 3], [format('ref', new SumDecoder(3))]);
    expect(ref.positions).toBe(3); // [1 2 4] scores 2, [1 3] scores 1
    await expect(evaluateFormats([1], [format('ref', new SumDecoder())])).rejects.toThrow(/at least 2 tokens/);
  });
});

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample))('evaluateFormats on stories260K', () => {
  it('measures fp16, q8_0 and RVQ (random codebooks) on held-out text with exact bits per value', async () => {
    const ck = readLlama2cCheckpoint(fixtures.stories260K);
    const c = ck.config;
    const tok = readLlama2cTokenizer(fixtures.tok512, 512);
    const story = readFileSync(fixtures.validSample, 'utf8').split('<|endoftext|>')[0].trim();
    const tokens = [tok.bosId as number, ...tok.encode(story)].slice(0, 160);
    const g = { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim };
    const fp = new FpGraphDecoder(await ort.InferenceSession.create(buildDecoderGraph(c, ck.weights, { cacheType: 'float16' })), c);
    const spec = parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 32, codebookSize: 16, depth: 2, grouping: 'contiguous', groupSpan: 'token', scale: 'token' });
    const rng = createRng(4);
    const book = () => Float32Array.from({ length: 2 * 16 * 32 }, (_, i) => rng.normal() / (1 + Math.floor(i / 512)));
    const set = { keySpec: spec, valueSpec: spec, layers: Array.from({ length: c.numLayers }, () => ({ key: book(), value: book() })) };
    const rvq = new RvqGraphDecoder(await ort.InferenceSession.create(buildRvqDecoderGraph(c, ck.weights, set)), c, set);
    ck.weights.close();
    const codecs = set.layers.map((l) => ({ key: new RvqCodec(spec, l.key), value: new RvqCodec(spec, l.value) }));
    const rvqStore = (): KvStore => new KvCodeStore({ numLayers: c.numLayers, keySpec: spec, valueSpec: spec, encoders: { key: codecs.map((x) => x.key), value: codecs.map((x) => x.value) } });
    const progress: number[] = [];
    const [f16, q8, r] = await evaluateFormats(tokens, [
      { name: 'fp16', decoder: fp as never, createStore: () => new Fp16KvStore(g) },
      { name: 'q8_0', decoder: fp as never, createStore: () => new ScalarKvStore('q8_0', g) },
      { name: 'rvq', decoder: rvq as never, createStore: rvqStore },
    ], { chunk: 48, onProgress: (done) => progress.push(done) });
    expect(progress.at(-1)).toBe(160);
    expect(f16).toMatchObject({ positions: 159, meanKl: 0, top1Agreement: 1, bitsPerValue: 16 });
    expect(f16.perplexity).toBeGreaterThan(1);
    expect(f16.perplexity).toBeLessThan(20); // the model knows TinyStories
    expect(q8.bitsPerValue).toBe(8.5);
    expect(q8.meanKl).toBeLessThan(0.01);
    expect(r.bitsPerValue).toBe((8 * 4) / 32); // 4-bit x 2 stages = 1 byte + 2-byte scale + 1 depth byte per 32 values
    expect(r.meanKl).toBeGreaterThan(q8.meanKl); // random codebooks: far worse, and measured so
  });
});
