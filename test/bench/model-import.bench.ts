// Measures `reskv import` (wall time, peak RSS via /usr/bin/time -v) on stories260K and on a random
// model with SmolLM2-135M's geometry written by our exporter (bf16 safetensors, like the real one).
// With --over-2gb also a random ~700M-parameter llama whose float32 weights file exceeds 2 GB
// (ONNX external data past the protobuf limit).
// Usage: npm run bench:import [-- --weights float16] [-- --over-2gb]
import * as ort from 'onnxruntime-node';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ModelConfig } from '../../main/model/config.js';
import { parameterCount } from '../../main/model/config.js';
import { readManifest } from '../../main/model/manifest.js';
import { RandomWeights, writeHfFolder } from '../../main/model/hf-export.js';
import { smolLm2Geometry } from '../support/geometries.js';
import { fixtures } from '../support/shared.js';

const { values } = parseArgs({ options: { weights: { type: 'string', default: 'float32' }, 'over-2gb': { type: 'boolean', default: false } } });

const over2gb: ModelConfig = { ...smolLm2Geometry, hiddenSize: 1536, numLayers: 24, numHeads: 12, numKvHeads: 4, headDim: 128, intermediateSize: 4096, vocabSize: 32000, tiedEmbeddings: false };

const work = mkdtempSync(join(tmpdir(), 'reskv-import-bench-'));
try {
  const smol = join(work, 'smollm2-135m-random');
  let t = Date.now();
  writeHfFolder(smol, smolLm2Geometry, new RandomWeights(smolLm2Geometry, 135), { dtype: 'BF16' });
  console.log(`exported random SmolLM2-135M geometry (${(parameterCount(smolLm2Geometry) / 1e6).toFixed(1)}M parameters, bf16) in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const sources = [...(existsSync(fixtures.stories260K) ? [['stories260K', fixtures.stories260K]] : []), ['smollm2-135m-random', smol]];
  if (values['over-2gb']) {
    const big = join(work, 'llama-700m-random');
    t = Date.now();
    writeHfFolder(big, over2gb, new RandomWeights(over2gb, 700), { dtype: 'BF16', maxShardBytes: 500e6 });
    console.log(`exported random ${(parameterCount(over2gb) / 1e6).toFixed(0)}M-parameter llama (bf16, ${(parameterCount(over2gb) * 4 / 2 ** 30).toFixed(2)} GiB as float32) in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    sources.push(['llama-700m-random', big]);
  }
  for (const [name, path] of sources) {
    t = Date.now();
    const run = spawnSync('/usr/bin/time', ['-v', process.execPath, '--import', 'tsx', 'main/cli.ts', 'import', path, '--library', join(work, 'library'), '--weights', values.weights!], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`import of ${name} failed:\n${run.stderr}`);
    const field = (label: string) => run.stderr.match(new RegExp(`${label}: (.*)`))?.[1] ?? '?';
    const folder = join(work, 'library', name);
    const manifest = readManifest(folder);
    t = Date.now();
    const session = await ort.InferenceSession.create(join(folder, manifest.graphs.fp));
    const loadSeconds = (Date.now() - t) / 1000;
    const c = manifest.config;
    const n = 16;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i + 10)), [1, n]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i)), [1, n]),
    };
    for (let i = 0; i < c.numLayers; i++) for (const k of ['key', 'value']) feeds[`past_key_values.${i}.${k}`] = new ort.Tensor('float32', new Float32Array(0), [1, c.numKvHeads, 0, c.headDim]);
    t = Date.now();
    const out = await session.run(feeds);
    const finite = (out.logits.data as Float32Array).every(Number.isFinite);
    console.log(`${name}: fp graph loads in ${loadSeconds.toFixed(2)} s; ${n}-token prefill ${((Date.now() - t) / 1000).toFixed(2)} s, logits ${out.logits.dims.join('x')} ${finite ? 'finite' : 'NOT FINITE'}`);
    await session.release();
    console.log(`${name}: import (${values.weights}) wall ${field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)')}, peak RSS ${(Number(field('Maximum resident set size \\(kbytes\\)')) / 1024).toFixed(0)} MiB, user ${field('User time \\(seconds\\)')} s, sys ${field('System time \\(seconds\\)')} s`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
