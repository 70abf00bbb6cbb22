// The real fixture end to end: llama2.c reader, tokenizer, reference forward and the fp graph.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../../../quant/index.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import { ReferenceModel, referenceGreedy } from '../../../main/model/reference.js';
import { readLlama2cTokenizer } from '../../../main/model/tokenizer-llama2c.js';
import type { LoadedCheckpoint } from '../../../main/model/weights.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { buildCaptureGraph, buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { emptyFpCache, graphGreedy, maxLogitError, presentAsPast, stepFeeds } from './session.js';

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('stories260K', () => {
  let ck: LoadedCheckpoint;
  let weights: Map<string, Float32Array>;
  beforeAll(() => {
    ck = readLlama2cCheckpoint(fixtures.stories260K);
    weights = readAllWeights(ck.weights);
    return () => ck.weights.close();
  });

  it('reads the llama2.c header as documented', () => {
    expect(ck.config).toMatchObject({ hiddenSize: 64, intermediateSize: 172, numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8, vocabSize: 512, maxPositions: 512, tiedEmbeddings: true });
    expect(ck.config.rope.style).toBe('interleaved');
  });

  it('tokenizes like llama2.c and round-trips', () => {
    const tok = readLlama2cTokenizer(fixtures.tok512, 512);
    const text = 'Once upon a time, there was a little girl named Lily.';
    const ids = tok.encode(text);
    expect(ids[0]).toBe(403); // " Once" merged with the dummy prefix
    expect(ids.length).toBeLessThan(text.length / 2);
    expect(tok.decode([tok.bosId, ...ids])).toBe(text);
    // characters outside the vocabulary fall back to UTF-8 bytes (id = byte + 3)
    const snow = tok.encode('☃');
    expect(tok.decode([1, ...snow])).toBe('☃');
    expect(snow.slice(-3)).toEqual([0xe2 + 3, 0x98 + 3, 0x83 + 3]);
  });

  it('fp graph logits match the reference forward within 1e-4 (prefill, then cached steps)', async () => {
    const session = await ort.InferenceSession.create(buildDecoderGraph(ck.config, ck.weights));
    const ref = new ReferenceModel(ck.config, weights);
    const prompt = [1, 403, 407, 261, 378, 432];
    const first = await session.run({ ...stepFeeds(prompt, 0), ...emptyFpCache(ck.config) });
    expect(maxLogitError(ref, prompt, first.logits.data as Float32Array)).toBeLessThan(1e-4);
    const second = await session.run({ ...stepFeeds([383, 286], prompt.length), ...presentAsPast(first) });
    expect(second['present.4.value'].dims).toEqual([1, 4, prompt.length + 2, 8]);
    expect(maxLogitError(ref, [383, 286], second.logits.data as Float32Array)).toBeLessThan(1e-4);
  });

  it('greedy 100 tokens from BOS through onnxruntime equal the reference and tell the known story', async () => {
    const tok = readLlama2cTokenizer(fixtures.tok512, 512);
    const session = await ort.InferenceSession.create(buildDecoderGraph(ck.config, ck.weights));
    const fromGraph = await graphGreedy(session, ck.config, [tok.bosId], 100);
    const fromReference = referenceGreedy(new ReferenceModel(ck.config, weights), [tok.bosId], 100);
    expect(fromGraph).toEqual(fromReference);
    expect(tok.decode([tok.bosId, ...fromGraph]).startsWith('Once upon a time, there was a little girl named Lily.')).toBe(true);
  });

  it('fp16 weights and cache: logits match the reference run on fp16-rounded weights', async () => {
    const rounded = new Map([...weights].map(([k, w]) => [k, new Float32Array(w.map((x) => float16BitsToFloat32(float32ToFloat16Bits(x))))]));
    const session = await ort.InferenceSession.create(buildDecoderGraph(ck.config, ck.weights, { weightType: 'float16', cacheType: 'float16' }));
    expect(session.inputNames).toContain('past_key_values.0.key');
    const prompt = [1, 403, 407, 261];
    const out = await session.run({ ...stepFeeds(prompt, 0), ...emptyFpCache(ck.config, 'float16') });
    expect(out['present.0.key'].type).toBe('float16');
    expect(maxLogitError(new ReferenceModel(ck.config, rounded), prompt, out.logits.data as Float32Array)).toBeLessThan(1e-4);
  });

  it('capture graph outputs every layer\'s pre-RoPE keys and values', async () => {
    const session = await ort.InferenceSession.create(buildCaptureGraph(ck.config, ck.weights));
    const ids = [1, 403, 407, 261, 378];
    const out = await session.run(stepFeeds(ids, 0));
    const ref = new ReferenceModel(ck.config, weights);
    expect(maxLogitError(ref, ids, out.logits.data as Float32Array)).toBeLessThan(1e-4);
    const { numKvHeads: kvh, headDim: d } = ck.config;
    for (let l = 0; l < ck.config.numLayers; l++) {
      const keys = out[`keys_pre_rope.${l}`].data as Float32Array;
      const values = out[`values.${l}`].data as Float32Array;
      for (let t = 0; t < ids.length; t++) {
        for (let c = 0; c < kvh * d; c++) {
          const at = (Math.floor(c / d) * ids.length + t) * d + (c % d); // [1, kvh, n, d]
          expect(Math.abs(keys[at] - ref.preRopeKeys[l][t][c])).toBeLessThan(1e-5);
          expect(Math.abs(values[at] - ref.values[l][t][c])).toBeLessThan(1e-5);
        }
      }
    }
  });
});
