// int8 / int4 weights: the graph must compute exactly the model its stored bytes describe. The
// oracle is the float64 reference forward run on those weights dequantized (linear layers through
// dequantizeRows, embedding and norms rounded to float16, the classifier at 8 bits), so any
// layout, packing or wiring mistake shows as a logit error far above float32 rounding.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ArrayToFloat16 } from '../../../quant/index.js';
import { dequantizeRows, quantizeRows } from '../../../quant/weight-quant.js';
import type { ModelConfig } from '../../../main/model/config.js';
import { RandomWeights } from '../../../main/model/hf-export.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';
import { ReferenceModel } from '../../../main/model/reference.js';
import type { WeightSource } from '../../../main/model/weights.js';
import { classifierQuantSpec, linearQuantSpecs, readAllWeights, weightBytes } from '../../../main/model/weights.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { emptyFpCache, maxLogitError, presentAsPast, stepFeeds } from './session.js';
import { tinyModels } from './tiny-models.js';

const fp16Rounded = (t: Float32Array) => Float32Array.from(float32ArrayToFloat16(t), float16BitsToFloat32);

/** The weights a quantized import stands for, and a config whose classifier is its own tensor. */
function dequantizedModel(config: ModelConfig, source: WeightSource, type: 'int8' | 'int4'): { config: ModelConfig; weights: Map<string, Float32Array> } {
  const out = new Map<string, Float32Array>();
  for (const [name, w] of readAllWeights(source)) {
    const shape = source.shapes.get(name)!;
    const isLinear = shape.length === 2 && name !== 'model.embed_tokens.weight';
    const spec = name === 'lm_head.weight' ? classifierQuantSpec : linearQuantSpecs[type];
    out.set(name, isLinear ? dequantizeRows(quantizeRows(w, shape[0], shape[1], spec), shape[0], shape[1], spec) : fp16Rounded(w));
  }
  if (config.tiedEmbeddings) {
    const e = source.read('model.embed_tokens.weight');
    out.set('lm_head.weight', dequantizeRows(quantizeRows(e, config.vocabSize, config.hiddenSize, classifierQuantSpec), config.vocabSize, config.hiddenSize, classifierQuantSpec));
  }
  return { config: { ...config, tiedEmbeddings: false }, weights: out };
}

async function checkAgainstDequantized(config: ModelConfig, source: WeightSource, type: 'int8' | 'int4', prompt: number[]): Promise<void> {
  // accuracy level 0 (float32 products) must equal the oracle to float32 rounding
  const session = await ort.InferenceSession.create(buildDecoderGraph(config, source, { weightType: type, accuracyLevel: 0 }));
  const oracle = dequantizedModel(config, source, type);
  const ref = new ReferenceModel(oracle.config, oracle.weights);
  const first = await session.run({ ...stepFeeds(prompt, 0), ...emptyFpCache(config) });
  const logits = first.logits.data as Float32Array;
  expect(maxLogitError(ref, prompt, logits)).toBeLessThan(2e-4);
  const second = await session.run({ ...stepFeeds([7, 9], prompt.length), ...presentAsPast(first) });
  expect(maxLogitError(ref, [7, 9], second.logits.data as Float32Array)).toBeLessThan(2e-4);
  // and quantization really happened: the float reference differs
  const exact = new ReferenceModel(config, readAllWeights(source));
  expect(maxLogitError(exact, prompt, logits)).toBeGreaterThan(1e-3);
  await session.release();
  // the default, level 4 (int8 activations), stays near it: within 5% of the logits' spread
  const fast = await ort.InferenceSession.create(buildDecoderGraph(config, source, { weightType: type }));
  const approx = (await fast.run({ ...stepFeeds(prompt, 0), ...emptyFpCache(config) })).logits.data as Float32Array;
  const spread = Math.max(...logits) - Math.min(...logits);
  expect(Math.max(...approx.map((v, i) => Math.abs(v - logits[i])))).toBeLessThan(0.05 * spread);
  await fast.release();
}

describe('int8 / int4 weight graphs equal the reference forward on the dequantized weights', () => {
  for (const type of ['int8', 'int4'] as const) {
    for (const name of ['llama3 (GQA 2, theta 500000, llama3 scaling, untied)', 'qwen2 (qkv biases, tied, GQA 2)']) {
      it(`${type}: ${name}`, async () => {
        const config = tinyModels[name];
        await checkAgainstDequantized(config, new RandomWeights(config, 5), type, [3, 50, 7, 120, 33]);
      });
    }
    it.skipIf(!haveFixtures(fixtures.stories260K))(`${type}: stories260K`, async () => {
      const ck = readLlama2cCheckpoint(fixtures.stories260K);
      try {
        await checkAgainstDequantized(ck.config, ck.weights, type, [1, 403, 407, 261, 378, 432]);
      } finally {
        ck.weights.close();
      }
    });
  }

  it('counts fewer bytes for the smaller formats, and float16 widened in memory', () => {
    const c = { ...tinyModels['llama3 (GQA 2, theta 500000, llama3 scaling, untied)'], hiddenSize: 512, numHeads: 8, headDim: 64, intermediateSize: 1024 };
    const [f32, f16, i8, i4] = (['float32', 'float16', 'int8', 'int4'] as const).map((t) => weightBytes(c, t));
    expect(f32.onDisk).toBe(f32.inMemory);
    expect(f16.onDisk * 2).toBe(f32.onDisk);
    expect(f16.inMemory).toBe(f32.onDisk - (c.vocabSize * c.hiddenSize * 2)); // the embedding stays float16
    expect(i8.onDisk).toBeLessThan(f16.onDisk);
    expect(i4.onDisk).toBeLessThan(i8.onDisk);
  });
});
