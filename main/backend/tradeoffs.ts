// Residual-depth sweeps for the Tradeoffs view (backend worker): checks the request, runs the engine's
// sweep (main/engine/depth-sweep.ts) as a 'sweep' job, and keeps every finished run in
// <data>/tradeoffs/<model>.json (kept-runs.ts: newest first, zod-checked when read back, a damaged
// file reported and kept beside).
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { z } from 'zod';
import type { JobSnapshot, TradeoffHistory, TradeoffPoint, TradeoffRun, TradeoffSweepOptions } from '../api/types.js';
import { geometryFromModelConfig, modelGeometrySchema } from '../cost/model-geometry.js';
import { documentTokens, textDocuments } from '../engine/calibration/calibration-text.js';
import { sweepDepths } from '../engine/depth-sweep.js';
import type { DepthSweepPoint, DepthSweepProgress } from '../engine/depth-sweep.js';
import { findLibraryModel } from '../engine/engine-model.js';
import { loadLibraryTokenizer, weightSiblings } from '../model/library.js';
import { readManifest } from '../model/manifest.js';
import type { ModelManifest } from '../model/manifest.js';
import type { JobControl, JobRegistry } from './jobs.js';
import { keptRuns } from './kept-runs.js';
import { modelIdSchema } from '../model/model-id.js';
import { jobTitlesDuring } from './job-overlap.js';
import { libraryFor, loadSettings } from './settings.js';
import type { Same } from '../api/same-type.js';

const count = (min: number, max: number) => z.number().int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

export const tradeoffSweepOptionsSchema = z.strictObject({
  textPath: z.string().trim().min(1, 'give the path of a text file on this machine').max(4096),
  maxTokens: count(2, 1_000_000),
  codebookSets: z.array(z.string().min(1).max(200)).max(64),
  maxDepth: count(1, 64).nullable(),
  scalarBaselines: z.boolean(),
  latencyContext: count(1, 1 << 20),
  latencySteps: count(2, 1024),
  latencyRounds: count(1, 100).optional(),
});

/** Interleaved latency rounds when a request does not say. */
export const defaultLatencyRounds = 5;

const grouping = z.enum(['strided', 'contiguous']);
const finite = z.number().finite();
const pointSchema = z.strictObject({
  label: z.string(),
  format: z.enum(['fp16', 'q8_0', 'q4_0', 'kivi2', 'rvq']),
  rvq: z
    .strictObject({ set: z.string(), depth: count(1, 64), maxDepth: count(1, 64), keyGrouping: grouping, valueGrouping: grouping, codebookSize: z.number().int().positive(), groupSize: z.number().int().positive() })
    .nullable(),
  bitsPerValue: finite,
  kvBytesPerToken: finite,
  perplexity: finite,
  perplexityChangePercent: finite,
  meanKl: finite,
  top1Agreement: z.number().min(0).max(1),
  decodeMsPerToken: finite,
  decodeTokensPerSecond: finite,
  decodeMsRange: z.strictObject({ low: finite, high: finite, rounds: z.number().int().positive() }).optional(),
});
const runSchema = z.strictObject({
  id: z.string(),
  model: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  options: tradeoffSweepOptionsSchema,
  text: z.strictObject({ file: z.string(), sha256: z.string(), documents: z.number().int(), tokens: z.number().int(), positions: z.number().int() }),
  machine: z.strictObject({ platform: z.string(), arch: z.string(), cpu: z.string(), cores: z.number().int(), provider: z.string(), threads: z.number().int() }),
  geometry: modelGeometrySchema,
  weights: z.string().optional(),
  fp16BytesPerToken: finite,
  points: z.array(pointSchema),
  latencyDuringJobs: z.array(z.string()).optional(),
});
// Compile-time checks: what is read back is exactly the API's types.
const typesMatch: [Same<z.infer<typeof runSchema>, TradeoffRun>, Same<z.infer<typeof tradeoffSweepOptionsSchema>, TradeoffSweepOptions>] = [true, true];
void typesMatch;

const kept = keptRuns<TradeoffRun>('tradeoffs', 'reskv-tradeoffs/1', runSchema, 'sweep');

/**
 * The kept sweeps of `model`, newest first, and the newest kept sweep of every model imported from the
 * same checkpoint, itself included, widest weights first (none when the model is no longer in the library).
 */
export function readTradeoffHistory(dataDir: string, model: string): TradeoffHistory {
  const history = kept.read(dataDir, model);
  const library = libraryFor(dataDir);
  let manifest: ModelManifest;
  try {
    manifest = readManifest(findLibraryModel(model, library));
  } catch {
    return { ...history, siblings: [] };
  }
  const siblings = weightSiblings(library, manifest).map((s) => ({ model: s.manifest.id, weights: s.manifest.weightType, run: kept.read(dataDir, s.manifest.id).runs[0] ?? null }));
  return { ...history, siblings };
}

function readSweepText(path: string): ReturnType<typeof textDocuments> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`text file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return textDocuments(path, bytes, 'text file');
}

/** The sets and depths to sweep; throws naming what the model lacks. */
function sweptSets(manifest: ModelManifest, options: TradeoffSweepOptions): { name: string; maxDepth: number | null }[] {
  const installed = Object.keys(manifest.rvq).sort();
  if (installed.length === 0) throw new Error(`model ${manifest.id} has no codebook sets yet: calibrate one first (Models view)`);
  const names = options.codebookSets.length > 0 ? [...new Set(options.codebookSets)] : installed;
  const unknown = names.find((n) => !installed.includes(n));
  if (unknown !== undefined) throw new Error(`model ${manifest.id} has no codebook set '${unknown}' (installed: ${installed.join(', ')})`);
  return names.map((name) => ({ name, maxDepth: options.maxDepth }));
}

function describeProgress(p: DepthSweepProgress): Parameters<JobControl['report']>[0] {
  return p.phase === 'quality'
    ? { done: p.tokensDone, total: p.tokensTotal, unit: 'tokens', stage: `1/2 quality of ${p.formats} caches against fp16` }
    : { done: p.pointsDone, total: p.pointsTotal, unit: 'points', stage: `2/2 decode latency${p.label === 'done' ? '' : `: ${p.label}`}` };
}

function apiPoint(p: DepthSweepPoint): TradeoffPoint {
  return {
    label: p.label,
    format: p.format,
    rvq: p.rvq && {
      set: p.rvq.set,
      depth: p.rvq.depth,
      maxDepth: p.rvq.keySpec.depth,
      keyGrouping: p.rvq.keySpec.grouping,
      valueGrouping: p.rvq.valueSpec.grouping,
      codebookSize: p.rvq.keySpec.codebookSize,
      groupSize: p.rvq.keySpec.groupSize,
    },
    bitsPerValue: p.quality.bitsPerValue,
    kvBytesPerToken: p.kvBytesPerToken,
    perplexity: p.quality.perplexity,
    perplexityChangePercent: p.quality.perplexityChangePercent,
    meanKl: p.quality.meanKl,
    top1Agreement: p.quality.top1Agreement,
    decodeMsPerToken: p.decode.medianMs,
    decodeTokensPerSecond: 1000 / p.decode.medianMs,
    decodeMsRange: { low: p.decode.lowMs, high: p.decode.highMs, rounds: p.decode.roundsMs.length },
  };
}

/** Checks the request (model, sets, depths, text, latency context) and starts the sweep job. */
export function startTradeoffSweep(dataDir: string, jobs: JobRegistry, model: string, options: TradeoffSweepOptions): JobSnapshot {
  const folder = findLibraryModel(modelIdSchema.parse(model), libraryFor(dataDir));
  const manifest = readManifest(folder);
  const sets = sweptSets(manifest, options);
  const { maxPositions } = manifest.config;
  if (options.latencyContext + options.latencySteps + 1 > maxPositions) {
    throw new RangeError(`latency context ${options.latencyContext} + ${options.latencySteps + 1} decoded tokens exceed ${model}'s ${maxPositions} positions`);
  }
  const { documents, file: text } = readSweepText(options.textPath);
  const { providers, threads } = loadSettings(dataDir).settings;
  const startedAt = new Date().toISOString();
  let latencyFrom: string | null = null;
  const job = jobs.start(
    { kind: 'sweep', title: `Depth sweep of ${model} on ${text.file}`, model },
    async (control) => {
      const tokenizer = loadLibraryTokenizer(folder, manifest);
      const tokens: number[] = [];
      for (const document of documents) {
        if (tokens.length >= options.maxTokens) break;
        tokens.push(...documentTokens(tokenizer, document));
      }
      tokens.length = Math.min(tokens.length, options.maxTokens);
      if (tokens.length < 2) throw new Error(`text file ${options.textPath} gave ${tokens.length} token: at least 2 are needed`);
      const points = await sweepDepths(
        folder,
        manifest,
        tokens,
        { sets, scalarBaselines: options.scalarBaselines, latency: { context: options.latencyContext, steps: options.latencySteps, rounds: options.latencyRounds ?? defaultLatencyRounds } },
        {
          session: { providers, threads },
          signal: control.signal,
          onProgress: (p) => {
            if (p.phase === 'latency') latencyFrom ??= new Date().toISOString();
            control.report(describeProgress(p));
          },
        },
      );
      const finishedAt = new Date().toISOString();
      const run: TradeoffRun = {
        id: `sweep-${startedAt.replace(/[:.]/g, '-')}`,
        model,
        startedAt,
        finishedAt,
        options,
        text: { file: text.file, sha256: text.sha256, documents: text.documents, tokens: tokens.length, positions: points[0].quality.positions },
        machine: { platform: process.platform, arch: process.arch, cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: availableParallelism(), provider: points[0].provider, threads },
        geometry: geometryFromModelConfig(model, `ResKV library model (${manifest.source.path})`, manifest.config),
        weights: manifest.weightType,
        fp16BytesPerToken: points[0].fp16BytesPerToken,
        points: points.map(apiPoint),
        latencyDuringJobs: jobTitlesDuring(jobs.list(), latencyFrom ?? startedAt, finishedAt, job.id),
      };
      kept.keep(dataDir, run);
      return run;
    },
    (run) => `${run.points.length} caches measured over ${run.text.tokens} tokens; kept`,
  );
  return job;
}
