// Measures `reskv import` per weight format: wall time and peak RSS (/usr/bin/time -v), weights
// bytes on disk, resident bytes and load time of the imported fp graph, and single-token decode
// time at a 16-token context (load-probe.ts, a fresh process per model). Sources: stories260K and a
// random model with Llama-3.2-1B's geometry written by our exporter (bf16, one model.safetensors
// like the real one). --big adds Llama-3.1-8B's geometry (bf16, four ~5 GB shards like the real
// one; ~16 GB of source plus the imported model on disk, and tens of minutes on 2 cores).
// The target: peak RSS of an import under 3 GiB whatever the model size (printed MET/MISSED).
// Usage: npm run bench:import [-- --formats int4,int8,fp16] [-- --big] [-- --big-formats int4]
// (--formats '' --big: the 8B geometry alone)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ModelConfig } from '../../main/model/config.js';
import { parameterCount } from '../../main/model/config.js';
import { readManifest } from '../../main/model/manifest.js';
import { RandomWeights, writeHfFolder } from '../../main/model/hf-export.js';
import { parseWeightType, weightBytes } from '../../main/model/weights.js';
import { llama31EightBGeometry, llama32OneBGeometry } from '../support/geometries.js';
import { fixtures } from '../support/shared.js';

const { values } = parseArgs({
  options: {
    formats: { type: 'string', default: 'int4,int8,fp16' },
    big: { type: 'boolean', default: false },
    'big-formats': { type: 'string', default: 'int4' },
    work: { type: 'string' },
  },
});
const peakTargetBytes = 3 * 2 ** 30;
const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

const work = mkdtempSync(join(values.work ?? tmpdir(), 'reskv-import-bench-'));
const sources: { name: string; path: string; formats: string[] }[] = [];
const formats = values.formats!.split(',').filter(Boolean);
if (existsSync(fixtures.stories260K) && formats.length > 0) sources.push({ name: 'stories260K', path: fixtures.stories260K, formats });

function exportRandom(name: string, config: ModelConfig, maxShardBytes?: number): string {
  const folder = join(work, name);
  const t = Date.now();
  writeHfFolder(folder, config, new RandomWeights(config, 1), { dtype: 'BF16', maxShardBytes });
  console.log(`exported ${name}: ${(parameterCount(config) / 1e9).toFixed(2)}B parameters, bf16${maxShardBytes ? ` in ${(maxShardBytes / 1e9).toFixed(0)} GB shards` : ''}, in ${((Date.now() - t) / 1000).toFixed(0)} s (exporter peak RSS so far ${mib(process.resourceUsage().maxRSS * 1024)})`);
  return folder;
}

let worstPeak = 0;
try {
  if (formats.length > 0) sources.push({ name: 'llama-3.2-1b-random', path: exportRandom('llama-3.2-1b-random', llama32OneBGeometry), formats });
  if (values.big) sources.push({ name: 'llama-3.1-8b-random', path: exportRandom('llama-3.1-8b-random', llama31EightBGeometry, 5e9), formats: values['big-formats']!.split(',') });
  for (const source of sources) {
    for (const format of source.formats) {
      const type = parseWeightType(format);
      const id = `${source.name}-${format}`;
      const library = join(work, 'library');
      const run = spawnSync('/usr/bin/time', ['-v', process.execPath, '--import', 'tsx', 'main/cli.ts', 'import', source.path, '--library', library, '--id', id, '--weights', format], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
      if (run.status !== 0) throw new Error(`import of ${id} failed:\n${run.stderr.slice(-4000)}`);
      const field = (label: string) => run.stderr.match(new RegExp(`${label}: (.*)`))?.[1] ?? '?';
      const peak = Number(field('Maximum resident set size \\(kbytes\\)')) * 1024;
      worstPeak = Math.max(worstPeak, peak);
      const folder = join(library, id);
      const manifest = readManifest(folder);
      const expected = weightBytes(manifest.config, type);
      console.log(`${id}: import wall ${field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)')}, peak RSS ${gib(peak)}, user ${field('User time \\(seconds\\)')} s, sys ${field('System time \\(seconds\\)')} s`);
      console.log(`${id}: weights on disk ${mib(manifest.weightsBytes)} (accounting says ${mib(expected.onDisk)}), expected in memory ${mib(expected.inMemory)}`);
      const probe = spawnSync(process.execPath, ['--import', 'tsx', 'test/bench/load-probe.ts', folder, '8'], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
      if (probe.status !== 0) {
        console.log(`${id}: load probe failed: ${probe.stderr.slice(-2000)}`);
      } else {
        const p = JSON.parse(probe.stdout.trim().split('\n').pop()!) as { loadSeconds: number; rssBefore: number; rssLoaded: number; rssPeak: number; prefillSeconds: number; stepMsMedian: number; stepMsAll: number[] };
        console.log(
          `${id}: session load ${p.loadSeconds.toFixed(2)} s, resident +${mib(p.rssLoaded - p.rssBefore)} after load (peak ${mib(p.rssPeak)}), 16-token prefill ${p.prefillSeconds.toFixed(2)} s, decode step median ${p.stepMsMedian.toFixed(0)} ms (${(1000 / p.stepMsMedian).toFixed(2)} tok/s; steps ${p.stepMsAll.join(', ')} ms)`,
        );
      }
      rmSync(folder, { recursive: true, force: true });
    }
  }
  console.log(`import peak RSS target < ${gib(peakTargetBytes)}: worst ${gib(worstPeak)} — ${worstPeak < peakTargetBytes ? 'MET' : 'MISSED'}${values.big ? ' (8B geometry included)' : ' (without --big: 1B geometry at most)'}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
