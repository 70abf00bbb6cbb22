// The cache kept in GPU memory between steps. fp16 on a 30-layer model of tiny width (as many layers
// as SmolLM2-135M: a graph op joining every layer's tensors, like the rvq depth Split that once failed
// at 30 layers, exceeds a WebGPU shader's storage buffers) and rvq at the real depth 8 on the same 30
// layers (the compact codec graph loads in well under a minute on SwiftShader). Greedy text
// with the device-resident cache equals the CPU's through a conversation that is edited (fp16: the
// last tokens dropped, as regenerate does; rvq: the depth lowered) and then saved and reloaded; the
// bytes each step uploads show the past stayed on the device except right after those changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, parseRvqSpec } from '../../quant/index.js';
import type { CodebookSet } from '../../quant/index.js';
import { FpGraphDecoder, fpDeviceOutputs } from '../../main/engine/fp-graph-decoder.js';
import { Fp16KvStore } from '../../main/engine/fp16-kv-store.js';
import { KvCodeStore } from '../../main/engine/kv-code-store.js';
import type { KvCodeStoreOptions } from '../../main/engine/kv-code-store.js';
import type { KvStore } from '../../main/engine/kv-store.js';
import { RvqGraphDecoder, rvqDeviceOutputs } from '../../main/engine/rvq-graph-decoder.js';
import { createSession } from '../../main/engine/session.js';
import type { CreatedSession } from '../../main/engine/session.js';
import type { ModelConfig } from '../../main/model/config.js';
import { RandomWeights } from '../../main/model/hf-export.js';
import { buildDecoderGraph } from '../../main/onnx/decoder.js';
import { buildRvqDecoderGraph } from '../../main/onnx/rvq-cache.js';
import { haveWebGpu } from '../support/software-gpu.js';
import { tinyConfig } from '../unit/engine/tiny-model.js';

const gpu = await haveWebGpu();

const config: ModelConfig = { ...tinyConfig, numLayers: 30, hiddenSize: 16, numHeads: 2, numKvHeads: 1, intermediateSize: 32, maxPositions: 64 };
const geometry = { numLayers: config.numLayers, numKvHeads: config.numKvHeads, headDim: config.headDim };
const spec = parseRvqSpec({ headDim: 8, numKvHeads: 1, groupSize: 4, codebookSize: 16, depth: 8, grouping: 'strided', groupSpan: 'head', scale: 'head' });
const rng = createRng(4);
const book = () => Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, (_, i) => rng.normal() / (1 + Math.floor(i / (spec.codebookSize * spec.groupSize))));
const set: CodebookSet = { keySpec: spec, valueSpec: spec, layers: Array.from({ length: config.numLayers }, () => ({ key: book(), value: book() })) };
const rvqOptions: KvCodeStoreOptions = { numLayers: config.numLayers, keySpec: spec, valueSpec: spec };
const weights = new RandomWeights(config, 2);

interface Decoder {
  step(tokens: readonly number[], store: KvStore): Promise<Float32Array>;
  uploadedBytes: number;
}

/**
 * Prompt, 4 greedy tokens, `edit`, 3 more, save + restore, 3 more. Returns the tokens and the bytes
 * each step uploaded.
 */
async function conversation(decoder: Decoder, vocabSize: number, store: KvStore, edit: (store: KvStore) => void, restore: (bytes: Uint8Array) => KvStore) {
  const tokens: number[] = [];
  const uploads: number[] = [];
  let next = [1, 7, 11];
  const run = async (count: number) => {
    for (let k = 0; k < count; k++) {
      const logits = (await decoder.step(next, store)).subarray(-vocabSize);
      uploads.push(decoder.uploadedBytes);
      next = [logits.indexOf(Math.max(...logits))];
      tokens.push(next[0]);
    }
  };
  await run(4);
  edit(store);
  await run(3);
  store = restore(store.save());
  await run(3);
  return { tokens, uploads };
}

/**
 * Steps 4 and 7 (after the edit, after the reload) upload the past (more than `pastBytes`: a few
 * tokens of every layer); the others only the new token's inputs and the attention mask (4-8 bytes a token).
 */
function expectPastOnDevice(device: number[], host: number[], pastBytes: number): void {
  for (const s of [1, 2, 3, 5, 6, 8, 9]) expect(device[s], `step ${s}`).toBeLessThan(device[1] + 100);
  for (const s of [4, 7]) expect(device[s], `step ${s}`).toBeGreaterThan(device[1] + pastBytes);
  // the host path uploads the whole past every step
  expect(host[9]).toBeGreaterThan(host[1] + pastBytes);
  expect(device[9]).toBeLessThan(host[9] - pastBytes);
}

describe.skipIf(!gpu)('cache kept on the device (WebGPU), 30 layers', () => {
  const sessions: CreatedSession[] = [];
  const open = async (graph: Uint8Array, provider: 'cpu' | 'webgpu', deviceOutputs?: (outputs: readonly string[]) => string[]) => {
    const created = await createSession(graph, { providers: [provider] }, { deviceOutputs });
    sessions.push(created);
    expect(created.provider).toBe(provider);
    return created;
  };
  afterAll(async () => {
    for (const s of sessions) await s.session.release();
  });

  let fpGraph: Uint8Array;
  let rvqGraph: Uint8Array;
  beforeAll(() => {
    fpGraph = buildDecoderGraph(config, weights, { cacheType: 'float16' });
    rvqGraph = buildRvqDecoderGraph(config, weights, set);
  });

  it('fp16: greedy text equals the CPU through a truncation and a reload', async () => {
    const cpu = new FpGraphDecoder((await open(fpGraph, 'cpu')).session, config);
    const created = await open(fpGraph, 'webgpu', fpDeviceOutputs);
    expect(created.deviceOutputs).toHaveLength(2 * config.numLayers);
    const device = new FpGraphDecoder(created.session, config, created.deviceOutputs);
    const dropTwo = (s: KvStore) => s.truncate(s.length - 2);
    const restore = (bytes: Uint8Array) => Fp16KvStore.restore(bytes, geometry);
    const expected = await conversation(cpu, config.vocabSize, new Fp16KvStore(geometry), dropTwo, restore);
    const got = await conversation(device, config.vocabSize, new Fp16KvStore(geometry), dropTwo, restore);
    device.releaseDevice();
    expect(got.tokens).toEqual(expected.tokens);
    expectPastOnDevice(got.uploads, expected.uploads, 1000);
  });

  it('rvq depth 8: greedy text equals the CPU through a depth change and a reload', async () => {
    const cpu = new RvqGraphDecoder((await open(rvqGraph, 'cpu')).session, config, set);
    const created = await open(rvqGraph, 'webgpu', rvqDeviceOutputs);
    expect(created.deviceOutputs).toHaveLength(3 * 2 * config.numLayers);
    const device = new RvqGraphDecoder(created.session, config, set, created.deviceOutputs);
    const lower = (s: KvStore) => (s as KvCodeStore).setDepth(5);
    const restore = (bytes: Uint8Array) => KvCodeStore.restore(bytes, rvqOptions);
    const expected = await conversation(cpu as Decoder, config.vocabSize, new KvCodeStore(rvqOptions), lower, restore);
    const got = await conversation(device as Decoder, config.vocabSize, new KvCodeStore(rvqOptions), lower, restore);
    device.releaseDevice();
    expect(got.tokens).toEqual(expected.tokens);
    expectPastOnDevice(got.uploads, expected.uploads, 200);
  });
});
