// Codebook calibration from the app (runs in the backend worker): the installed sets of a model as the
// Models view lists them, a plan before it runs (time on this machine, vectors per codebook entry,
// settings sized for the text), calibration as a job (settings checked before it starts, one progress
// figure with an ETA, cancel) run in a worker thread of its own that yields to chat, and removal of a
// set. The text is the bundled sample, the user's files, or data-free.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import sampleFile from '../../assets/calibration-sample.json' with { type: 'json' };
import { groupsPerToken, rvqBitsPerValue } from '../../quant/index.js';
import type { RvqSpec } from '../../quant/index.js';
import type { CalibrationDefaults, CalibrationPlan, CalibrationQuantizer, CalibrationRequest, CalibrationSummary, JobProgress, JobSnapshot } from '../api/types.js';
import { Worker } from 'node:worker_threads';
import {
  calibrationSettingsSchema,
  defaultMaxVectors,
  defaultSelfGeneratedTokens,
  describeCalibrationProgress,
  planCalibration,
  readCodebookHeader,
} from '../engine/calibration/calibrate.js';
import type { CalibrationProgress, CalibrationResult, CalibrationText } from '../engine/calibration/calibrate.js';
import { defaultBudgetSeconds, estimateCalibration, measureMacRate, sizeCalibration, vectorsPerEntryWarning } from '../engine/calibration/calibration-plan.js';
import type { CalibrationEstimate } from '../engine/calibration/calibration-plan.js';
import { DOCUMENT_SEPARATOR, documentTokens, splitDocuments } from '../engine/calibration/calibration-text.js';
import type { SessionOptionsInput } from '../engine/session.js';
import { loadLibraryTokenizer } from '../model/library.js';
import type { ModelManifest } from '../model/manifest.js';
import { readManifest } from '../model/manifest.js';
import { removeRvqSet } from '../model/library-rvq.js';
import type { CalibrationWorkerData, FromCalibrationWorker } from './calibration-worker.js';
import { generationCounter, jobThreads } from './interactive.js';
import type { JobControl, JobRegistry } from './jobs.js';
import { libraryFor, loadSettings } from './settings.js';

const sampleSchema = z.strictObject({
  format: z.literal('reskv-calibration-sample/1'),
  name: z.string().min(1),
  about: z.string().min(1),
  documents: z.array(z.string().min(1)).min(1),
});

let sample: { name: string; about: string; text: string; documents: number } | undefined;

/** assets/calibration-sample.json (bundled with the code), validated on first use. */
function bundledSample(): NonNullable<typeof sample> {
  if (!sample) {
    const { name, about, documents } = sampleSchema.parse(sampleFile);
    sample = { name, about, text: documents.join(`\n${DOCUMENT_SEPARATOR}\n`), documents: documents.length };
  }
  return sample;
}

const maxSelfGeneratedTokens = 1 << 24;

export const calibrationRequestSchema = z.strictObject({
  text: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('sample') }),
    z.strictObject({
      kind: z.literal('files'),
      paths: z.array(z.string().trim().min(1, 'must not be empty').max(4096)).min(1, 'choose at least one text file').max(256, 'at most 256 files'),
    }),
    z.strictObject({
      kind: z.literal('self-generated'),
      tokens: z.number().int('must be a whole number').min(1, 'must be at least 1').max(maxSelfGeneratedTokens, `must be at most ${maxSelfGeneratedTokens}`),
    }),
  ]),
  settings: calibrationSettingsSchema,
});
type CheckedRequest = z.output<typeof calibrationRequestSchema>;

export const calibrationNameArgument = z.string().min(1, 'choose a codebook set').max(255);

function quantizer(spec: RvqSpec): CalibrationQuantizer {
  const { depth, codebookSize, groupSize, grouping, groupSpan, scale } = spec;
  return { depth, codebookSize, groupSize, grouping, groupSpan, scale, bitsPerValue: rvqBitsPerValue(spec) };
}

/** The model's installed sets, each read from its codebook file's header (a damaged file is listed with its problem). */
export function calibrationSummaries(folder: string, manifest: ModelManifest): CalibrationSummary[] {
  return Object.entries(manifest.rvq)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, entry]) => {
      const file = join(folder, entry.codebooks);
      try {
        const { specs, record } = readCodebookHeader(file);
        const source = record && (record.source.kind === 'text' ? record.source : { kind: record.source.kind, tokens: record.source.tokens, samples: record.source.samples });
        return { name, key: quantizer(specs.key), value: quantizer(specs.value), codebookFileBytes: statSync(file).size, source, tokensSampled: record?.tokensSampled ?? null, seed: record?.settings.seed ?? null, problem: null };
      } catch (e) {
        return { name, key: null, value: null, codebookFileBytes: 0, source: null, tokensSampled: null, seed: null, problem: (e as Error).message };
      }
    });
}

/** The settings a new calibration of this model starts from (`reskv calibrate`'s defaults). */
export function calibrationDefaults(manifest: ModelManifest): CalibrationDefaults {
  const { name, depth, codebookSize, groupSize, keyGrouping, valueGrouping, seed } = calibrationSettingsSchema.parse({});
  const { name: sampleName, about, text, documents } = bundledSample();
  return {
    settings: { name, depth, codebookSize, groupSize, keyGrouping, valueGrouping, seed, maxVectors: defaultMaxVectors(manifest.config) },
    selfGeneratedTokens: defaultSelfGeneratedTokens,
    sample: { name: sampleName, about, documents, bytes: new TextEncoder().encode(text).length },
  };
}

function libraryModelFolder(dataDir: string, id: string): { folder: string; manifest: ModelManifest } {
  const folder = join(libraryFor(dataDir), id);
  if (id.includes('/') || id.includes('\\') || id.startsWith('.') || !existsSync(folder)) throw new Error(`no model '${id}' in the library`);
  return { folder, manifest: readManifest(folder) };
}

/** Each phase's share of the whole run, from the plan's time estimates (generation costs about what capture does). */
type PhaseShares = Record<'generate' | 'capture' | 'train', number>;

function phaseShares(estimate: CalibrationEstimate, selfGenerated: boolean): PhaseShares {
  const { capture, train } = estimate.seconds;
  const generate = selfGenerated ? capture : 0;
  const total = generate + capture + train || 1;
  return { generate: generate / total, capture: capture / total, train: train / total };
}

/**
 * One figure for the whole run (the job registry's ETA follows it): the phases weighted by their
 * estimated time, the current phase by its own count. The stage says what happens in words, without a
 * second percentage.
 */
function jobProgress(p: CalibrationProgress, shares: PhaseShares, waitedSeconds: number): JobProgress {
  const waited = waitedSeconds >= 1 ? ` (paused ${Math.round(waitedSeconds)} s for chat so far)` : '';
  const stage = `${describeCalibrationProgress(p)}${waited}`;
  const phase = (before: number, share: number, fraction: number) => ({ done: before + share * Math.min(1, fraction), total: 1, unit: 'of the calibration', stage });
  switch (p.phase) {
    case 'generate':
      return phase(0, shares.generate, p.tokens / p.target);
    case 'capture':
      return phase(shares.generate, shares.capture, p.tokensTotal > 0 ? p.tokensSeen / p.tokensTotal : 0);
    case 'train':
      return phase(shares.generate + shares.capture, shares.train, p.fraction);
    case 'save':
      return phase(1, 0, 0);
  }
}

/** Reports at most ten updates a second, but always the first of a phase (each is a published event). */
function throttledReport(control: JobControl, shares: PhaseShares, waitedSeconds: () => number): (p: CalibrationProgress) => void {
  let lastPhase = '';
  let lastAt = 0;
  return (p) => {
    const now = performance.now();
    if (p.phase === lastPhase && now - lastAt < 100) return;
    lastPhase = p.phase;
    lastAt = now;
    control.report(jobProgress(p, shares, waitedSeconds()));
  };
}

function calibrationText(text: CheckedRequest['text']): CalibrationText {
  switch (text.kind) {
    case 'sample': {
      const { name, text: content } = bundledSample();
      return { kind: 'text', name, text: content };
    }
    case 'files':
      for (const path of text.paths) {
        if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`calibration text ${path} is not a file`);
      }
      return { kind: 'files', paths: text.paths };
    case 'self-generated':
      return text;
  }
}

function describeResult({ name, bitsPerValue, record, specs }: CalibrationResult): string {
  const vectors = record.tokensSampled * Math.min(groupsPerToken(specs.key), groupsPerToken(specs.value));
  const warning = vectorsPerEntryWarning(vectors, specs.key.codebookSize);
  return `codebook set "${name}": ${bitsPerValue.key} bits/value for keys, ${bitsPerValue.value} for values, from ${record.tokensSampled} tokens sampled per layer${warning ? `. Warning: ${warning}` : ''}`;
}

/** The rate of this machine per session configuration, measured once per process. */
const macRates = new Map<string, Promise<number>>();
function machineRate(session: SessionOptionsInput): Promise<number> {
  const key = JSON.stringify(session);
  let rate = macRates.get(key);
  if (!rate) {
    rate = measureMacRate(session);
    rate.catch(() => macRates.delete(key));
    macRates.set(key, rate);
  }
  return rate;
}

/** Large files are tokenized from their first MiB and scaled by their size. */
const tokenizedBytes = 1 << 20;

/** Tokens the bundled sample gives each model (tokenizing it takes a moment), by model folder. */
const sampleTokens = new Map<string, number>();

/** Tokens the text yields for this model, and whether that is an estimate (a large file). */
function countTextTokens(folder: string, manifest: ModelManifest, text: CheckedRequest['text']): { tokens: number; estimated: boolean } {
  if (text.kind === 'self-generated') return { tokens: text.tokens, estimated: false };
  const tokenizer = loadLibraryTokenizer(folder, manifest);
  const count = (content: string) => splitDocuments(content).reduce((n, d) => n + documentTokens(tokenizer, d).length, 0);
  if (text.kind === 'sample') {
    const key = folder;
    if (!sampleTokens.has(key)) sampleTokens.set(key, count(bundledSample().text));
    return { tokens: sampleTokens.get(key)!, estimated: false };
  }
  let tokens = 0;
  let estimated = false;
  for (const path of text.paths) {
    if (!existsSync(path) || !statSync(path).isFile()) throw new Error(`calibration text ${path} is not a file`);
    const size = statSync(path).size;
    const head = Buffer.alloc(Math.min(size, tokenizedBytes));
    const fd = openSync(path, 'r');
    try {
      readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
    tokens += Math.round((count(new TextDecoder().decode(head)) * size) / Math.max(1, head.length));
    estimated ||= size > head.length;
  }
  return { tokens, estimated };
}

const calibrationSession = (dataDir: string): SessionOptionsInput => {
  const { providers, threads } = loadSettings(dataDir).settings;
  return { providers, threads: jobThreads(threads) };
};

/** How the request's calibration would go on this machine, and settings sized for its text. */
export async function planCalibrationRun(dataDir: string, id: string, request: CalibrationRequest): Promise<CalibrationPlan> {
  const { text, settings } = calibrationRequestSchema.parse(request);
  const { folder, manifest } = libraryModelFolder(dataDir, id);
  const { tokens: textTokens, estimated } = countTextTokens(folder, manifest, text);
  const rate = await machineRate(calibrationSession(dataDir));
  const estimate = estimateCalibration(manifest.config, settings, textTokens, rate);
  const sized = sizeCalibration(manifest.config, settings, textTokens, rate);
  return { textTokens, estimated, ...estimate, sized, budgetSeconds: defaultBudgetSeconds };
}

/** Models with a calibration running: a second one on the same model would race on its manifest. */
const calibrating = new Set<string>();

/**
 * Starts a calibration job after checking everything that can be checked up front (model, settings
 * against the model, text files); throws with a message naming the problem otherwise. The job saves
 * the set only when it succeeds, so a failed or cancelled run leaves the installed sets as they were.
 */
export function startCalibration(dataDir: string, jobs: JobRegistry, id: string, request: CalibrationRequest, onInstalled: () => void): JobSnapshot {
  // the method table checked the request already; parsing again gives the settings with defaults as typed
  const { text: textChoice, settings } = calibrationRequestSchema.parse(request);
  const { folder, manifest } = libraryModelFolder(dataDir, id);
  planCalibration(manifest.config, settings);
  const text = calibrationText(textChoice);
  if (calibrating.has(id)) throw new Error(`model '${id}' is being calibrated already: wait for that job or cancel it`);
  calibrating.add(id);
  const session = calibrationSession(dataDir);
  return jobs.start(
    { kind: 'calibrate', title: `Calibrate ${id} → "${settings.name}"`, model: id },
    async (control) => {
      try {
        const estimate = estimateCalibration(manifest.config, settings, countTextTokens(folder, manifest, textChoice).tokens, await machineRate(session));
        const shares = phaseShares(estimate, textChoice.kind === 'self-generated');
        const result = await calibrateInWorker({ folder, options: { text, settings, session }, cancel: new SharedArrayBuffer(4), generations: generationCounter }, control, shares);
        onInstalled();
        return result;
      } finally {
        calibrating.delete(id);
      }
    },
    describeResult,
  );
}

/** The calibration worker's entry: its TypeScript source through tsx, unless the built app names its bundle. */
let calibrationWorkerUrl = new URL('./calibration-worker-from-source.js', import.meta.url);

/** The built backend worker points at the bundled calibration worker beside it. */
export function useCalibrationWorker(url: URL): void {
  calibrationWorkerUrl = url;
}

/** Runs calibrateModel in a worker thread (calibration-worker.ts), relaying progress and a cancel. */
function calibrateInWorker(data: CalibrationWorkerData, control: JobControl, shares: PhaseShares): Promise<CalibrationResult> {
  let waitedMs = 0;
  const report = throttledReport(control, shares, () => waitedMs / 1000);
  const cancel = () => Atomics.store(new Int32Array(data.cancel), 0, 1);
  return new Promise((resolve, reject) => {
    const worker = new Worker(calibrationWorkerUrl, { workerData: data });
    control.signal.addEventListener('abort', cancel, { once: true });
    const settle = (finish: () => void) => {
      control.signal.removeEventListener('abort', cancel);
      worker.removeAllListeners();
      void worker.terminate();
      finish();
    };
    worker.on('message', (message: FromCalibrationWorker) => {
      if (message.kind === 'progress') {
        try {
          report(message.progress);
        } catch {
          cancel(); // report throws once the job was cancelled
        }
      } else if (message.kind === 'yielded') waitedMs += message.ms;
      else if (message.kind === 'started') return;
      else if (message.kind === 'done') settle(() => resolve(message.result));
      else settle(() => reject(new Error(message.message)));
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the calibration worker stopped (exit code ${code})`))));
  });
}

/** Removes a codebook set: its manifest entry first (so the model never lists a half-removed set), then its files. */
export function removeCalibration(dataDir: string, id: string, name: string): void {
  const { folder, manifest } = libraryModelFolder(dataDir, id);
  if (!manifest.rvq[name]) throw new Error(`model '${id}' has no codebook set '${name}'`);
  if (calibrating.has(id)) throw new Error(`model '${id}' is being calibrated: wait for that job or cancel it first`);
  removeRvqSet(folder, name);
}
