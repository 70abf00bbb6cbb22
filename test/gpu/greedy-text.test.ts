// Greedy text on WebGPU equals the CPU's, for the fp16 cache, q8_0 and the rvq graph, through the
// installed library graphs (external weights; float16-free where the adapter lacks shader-f16, as
// SwiftShader does). Short texts: SwiftShader runs shaders on the CPU.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng, encodeCodebooks, parseRvqSpec } from '../../quant/index.js';
import { openCacheRuntime, parseCacheChoice } from '../../main/engine/cache-runtime.js';
import type { CacheRuntime } from '../../main/engine/cache-runtime.js';
import { generate } from '../../main/engine/generate.js';
import type { ExecutionProvider } from '../../main/engine/session.js';
import { loadLibraryTokenizer } from '../../main/model/library.js';
import { importModel } from '../../main/library/import-model.js';
import { installRvqGraph } from '../../main/library/install-rvq.js';
import type { ModelManifest } from '../../main/model/manifest.js';
import { readManifest } from '../../main/model/manifest.js';
import { createStoriesLibrary } from '../unit/engine/engine-library.js';
import type { StoriesLibrary } from '../unit/engine/engine-library.js';
import { fixtures, haveFixtures } from '../support/shared.js';
import { haveWebGpu } from '../support/software-gpu.js';
import { runWithPlacements } from './placements.js';

const gpu = await haveWebGpu();

/** Greedy tokens from BOS on `provider`, and the runtime's provider and float16-free flag. */
async function greedy(folder: string, manifest: ModelManifest, cache: string, provider: ExecutionProvider, maxTokens: number) {
  const runtime: CacheRuntime = await openCacheRuntime(folder, manifest, parseCacheChoice(cache), { providers: [provider] });
  try {
    const tokenizer = loadLibraryTokenizer(folder, manifest);
    const result = await generate({ decoder: runtime.decoder, store: runtime.stores.create(), tokenizer, input: [tokenizer.bosId as number], options: { maxTokens } });
    return { tokens: result.tokens, text: result.text, provider: runtime.provider };
  } finally {
    await runtime.release();
  }
}

async function expectSameText(folder: string, cache: string, maxTokens: number): Promise<void> {
  const manifest = readManifest(folder);
  const cpu = await greedy(folder, manifest, cache, 'cpu', maxTokens);
  const webgpu = await greedy(folder, manifest, cache, 'webgpu', maxTokens);
  expect(webgpu.provider).toBe('webgpu');
  expect(cpu.tokens.length).toBe(maxTokens);
  expect(webgpu.tokens).toEqual(cpu.tokens);
}

describe.skipIf(!gpu || !haveFixtures(fixtures.stories260K, fixtures.tok512))('stories260K on WebGPU', () => {
  let lib: StoriesLibrary;
  beforeAll(() => {
    lib = createStoriesLibrary();
  });
  afterAll(() => lib.cleanup());

  it.each(['fp16', 'q8_0', 'rvq:synthetic'])('greedy text with the %s cache equals the CPU', async (cache) => {
    await expectSameText(lib.folder, cache, 12);
  });
});

// The Hugging Face model (GQA, head_dim 16, tied embedding stored only as lm_head.weight)
const tinyStories = fixtures.tinyStories656K;

describe.skipIf(!gpu || !haveFixtures(join(tinyStories, 'model.safetensors')))('tinystories-656k on WebGPU', () => {
  let dir: string;
  let folder: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'reskv-gpu-'));
    const imported = importModel(tinyStories, { library: join(dir, 'library'), id: 'tinystories' });
    folder = imported.folder;
    // random codebooks (the plumbing is compared, not quality): 2 groups of 32 over the 4 heads of 16
    const { numLayers, numKvHeads, headDim } = imported.manifest.config;
    const spec = parseRvqSpec({ headDim, numKvHeads, groupSize: 32, codebookSize: 16, depth: 3, grouping: 'contiguous', groupSpan: 'token', scale: 'token' });
    const rng = createRng(9);
    const book = () => Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, () => rng.normal());
    const file = join(dir, 'synthetic.safetensors');
    writeFileSync(file, encodeCodebooks({ keySpec: spec, valueSpec: spec, layers: Array.from({ length: numLayers }, () => ({ key: book(), value: book() })) }));
    installRvqGraph(folder, file, 'synthetic');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['fp16', 'q8_0', 'rvq:synthetic'])('greedy text with the %s cache equals the CPU', async (cache) => {
    await expectSameText(folder, cache, 8);
  });
});

// int4 weights (MatMulNBits, 4-bit blocks): every weight MatMul must run on WebGPU, not fall back to
// the CPU (which would still give the same text), and the text must equal the CPU's
describe.skipIf(!gpu || !haveFixtures(join(tinyStories, 'model.safetensors')))('tinystories-656k with int4 weights on WebGPU', () => {
  let dir: string;
  let folder: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'reskv-gpu-int4-'));
    folder = importModel(tinyStories, { library: join(dir, 'library'), id: 'tinystories-int4', weightType: 'int4' }).folder;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every MatMulNBits on WebGPU', () => {
    const graph = join(folder, readManifest(folder).graphs.fpHalfCache);
    const { placed } = runWithPlacements('weights-placement-run.ts', [graph]);
    const isNBits = (name: string) => /MatMulNBits/i.test(name);
    const onGpu = (placed.get('WebGpuExecutionProvider') ?? []).filter(isNBits);
    expect(onGpu.length).toBeGreaterThan(0);
    expect((placed.get('CPUExecutionProvider') ?? []).filter(isNBits)).toEqual([]);
  });

  it('greedy text with the fp16 cache equals the CPU', async () => {
    await expectSameText(folder, 'fp16', 8);
  });
});
