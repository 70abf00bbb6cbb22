// Codebook calibration of an imported model (Kumar 2024, sec. 3): run its capture graph over
// calibration text, keep a uniform sample of each layer's pre-RoPE K and V token rows, train the
// residual quantizers, and save the codebook file in the model's library folder (through a temporary
// file renamed into place) with an `rvq` graph installed for it. Deterministic for a seed: the same
// inputs and seed give the same codebook bytes.
import { closeSync, fstatSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { codebookFileDeclaration, decodeSafetensors, encodeCodebooks, encodeSafetensors, groupsPerToken, parseRvqSpec, parseSafetensorsHeader, rvqBitsPerValue, safetensorsHeaderLength } from '../../../quant/index.js';
import type { KvKind, RvqSpec } from '../../../quant/index.js';
import type { ModelConfig } from '../../model/config.js';
import { loadLibraryTokenizer } from '../../model/library.js';
import { installRvqGraph } from '../../library/install-rvq.js';
import { codebookSetName } from '../../model/library-rvq.js';
import { readManifest, verifyModelFiles } from '../../model/manifest.js';
import { parseOptions } from '../sampler.js';
import type { SessionOptionsInput } from '../session.js';
import { captureChunks, documentTokens, readTextFile, sampleOwnText, textDocuments } from './calibration-text.js';
import type { TextFileRecord } from './calibration-text.js';
import { KvCapture } from './kv-capture.js';
import { KvReservoir } from './kv-reservoir.js';
import { OrtNearestEntry } from './nearest-entry-graph.js';
import { captureIntoReservoir, trainKvCodebooks } from './train-kv.js';
import type { TrainedKv, TrainProgress } from './train-kv.js';

const positiveInt = (max: number) => z.number().int('must be an integer').min(1, 'must be at least 1').max(max, `must be at most ${max}`);

/** The quantizer configuration a user chooses; groupSpan and scale default per model (see calibrationSpecs). */
export const calibrationSettingsSchema = z.strictObject({
  depth: positiveInt(64).default(8),
  codebookSize: positiveInt(65536).default(2048),
  groupSize: positiveInt(1 << 20).default(32),
  keyGrouping: z.enum(['strided', 'contiguous']).default('strided'),
  valueGrouping: z.enum(['strided', 'contiguous']).default('contiguous'),
  groupSpan: z.enum(['head', 'token']).optional(),
  scale: z.enum(['head', 'token', 'none']).optional(),
  /** Token rows sampled per layer (each of K and V); default min(65536, what 2 GiB holds). */
  maxVectors: positiveInt(1 << 24).optional(),
  seed: z.number().int('must be an integer').min(0, 'must be at least 0').max(2 ** 32 - 1, 'must fit in 32 bits').default(0),
  name: z.string().regex(codebookSetName.pattern, codebookSetName.rule).default('default'),
  kmeansSample: positiveInt(1 << 24).optional(),
  kmeansIterations: positiveInt(1000).optional(),
  emaPasses: z.number().int('must be an integer').min(0, 'must be at least 0').max(100, 'must be at most 100').optional(),
});

export type CalibrationSettingsInput = z.input<typeof calibrationSettingsSchema>;
export type CalibrationSettings = z.output<typeof calibrationSettingsSchema>;

/**
 * Key and value specs for a model. Default (the paper): groups inside each head with per-head fp16
 * scales; when the group size does not divide head_dim (stories260K: head_dim 8, groups of 32), the
 * groups span the token's KV heads and one fp16 scale per token is kept (per-head scales would cost
 * 16/head_dim bits per value).
 */
export function calibrationSpecs(config: ModelConfig, settings: CalibrationSettings): Record<KvKind, RvqSpec> {
  const headSpan = config.headDim % settings.groupSize === 0;
  const groupSpan = settings.groupSpan ?? (headSpan ? 'head' : 'token');
  const scale = settings.scale ?? (groupSpan === 'head' ? 'head' : 'token');
  const spec = (grouping: RvqSpec['grouping']) =>
    parseRvqSpec({ headDim: config.headDim, numKvHeads: config.numKvHeads, groupSize: settings.groupSize, codebookSize: settings.codebookSize, depth: settings.depth, grouping, groupSpan, scale });
  return { key: spec(settings.keyGrouping), value: spec(settings.valueGrouping) };
}

/**
 * Where the calibration tokens come from: text files, text held in memory (recorded under `name` like
 * a file, e.g. the app's bundled sample), or `tokens` tokens the model samples itself (data-free).
 */
export type CalibrationText = { kind: 'files'; paths: readonly string[] } | { kind: 'text'; name: string; text: string } | { kind: 'self-generated'; tokens: number };

/** Data-free calibration's token budget when the user gives none. */
export const defaultSelfGeneratedTokens = 16384;

export type CalibrationProgress =
  | { phase: 'generate'; tokens: number; target: number }
  | { phase: 'capture'; tokensSeen: number; tokensTotal: number; vectorsHeld: number }
  | ({ phase: 'train' } & TrainProgress)
  | { phase: 'save' };

/** One line for a progress update (the CLI's status line, the app's job stage), without a percentage: callers show their own. */
export function describeCalibrationProgress(p: CalibrationProgress): string {
  switch (p.phase) {
    case 'generate':
      return `sampling calibration text: ${p.tokens} / ${p.target} tokens`;
    case 'capture':
      return `capturing K/V: ${p.tokensSeen} / ${p.tokensTotal} tokens seen, ${p.vectorsHeld} sampled per layer`;
    case 'train':
      return `training layer ${p.layer} ${p.kind}s, stage ${p.stage + 1}, ${p.step} (${p.vectors} vectors)`;
    case 'save':
      return 'saving codebooks and installing the rvq graph';
  }
}

export interface CalibrateOptions {
  text: CalibrationText;
  settings?: CalibrationSettingsInput;
  /** ONNX Runtime options for every session of the run (default: CPU). */
  session?: SessionOptionsInput;
  onProgress?: (p: CalibrationProgress) => void;
  /** Called between units of work (every progress update and nearest-entry run); may block to let other work have the machine. */
  pause?: () => void;
  signal?: AbortSignal;
}

/** What the codebook file's `reskv.calibration` metadata records (no times: the bytes follow the seed). */
export interface CalibrationRecord {
  model: string;
  source: { kind: 'text'; files: TextFileRecord[] } | { kind: 'self-generated'; temperature: 1; tokens: number; samples: number };
  tokensSeen: number;
  tokensSampled: number;
  /** Everything but the set's name (where it is stored, not how it was learned). */
  settings: Omit<CalibrationSettings, 'name'>;
}

const calibrationRecordSchema = z.object({
  model: z.string(),
  source: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('text'), files: z.array(z.object({ file: z.string(), sha256: z.string(), documents: z.number().int() })) }),
    z.object({ kind: z.literal('self-generated'), temperature: z.literal(1), tokens: z.number().int(), samples: z.number().int() }),
  ]),
  tokensSeen: z.number().int(),
  tokensSampled: z.number().int(),
  settings: calibrationSettingsSchema.omit({ name: true }),
});

/** A safetensors file's metadata, read from its header only. */
function readSafetensorsMetadata(file: string): Record<string, string> {
  const fd = openSync(file, 'r');
  try {
    const first8 = new Uint8Array(8);
    readSync(fd, first8, 0, 8, 0);
    const header = new Uint8Array(8 + safetensorsHeaderLength(first8));
    readSync(fd, header, 0, header.length, 0);
    return parseSafetensorsHeader(header, fstatSync(fd).size).metadata;
  } finally {
    closeSync(fd);
  }
}

function calibrationRecordIn(codebookFile: string, metadata: Record<string, string>): CalibrationRecord | null {
  const text = metadata['reskv.calibration'];
  if (text === undefined) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${codebookFile}: reskv.calibration metadata is not JSON`);
  }
  const parsed = calibrationRecordSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${codebookFile}: malformed reskv.calibration metadata (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  return parsed.data;
}

/**
 * How a codebook file was calibrated (its `reskv.calibration` metadata), read from the file's header
 * only; null for a file written without one (e.g. by another tool). Throws on a malformed record.
 */
export function readCalibrationRecord(codebookFile: string): CalibrationRecord | null {
  return calibrationRecordIn(codebookFile, readSafetensorsMetadata(codebookFile));
}

/** A codebook file's specs, layer count and calibration record, from its header only (no tensor is read). */
export function readCodebookHeader(codebookFile: string): { layers: number; specs: Record<KvKind, RvqSpec>; record: CalibrationRecord | null } {
  const metadata = readSafetensorsMetadata(codebookFile);
  let declared;
  try {
    declared = codebookFileDeclaration(metadata);
  } catch (e) {
    throw new Error(`${codebookFile}: ${(e as Error).message}`, { cause: e });
  }
  return { layers: declared.layers, specs: { key: declared.keySpec, value: declared.valueSpec }, record: calibrationRecordIn(codebookFile, metadata) };
}

export interface CalibrationResult {
  folder: string;
  name: string;
  /** The codebook file and rvq graph in the model folder. */
  codebookFile: string;
  graphFile: string;
  specs: Record<KvKind, RvqSpec>;
  bitsPerValue: Record<KvKind, number>;
  record: CalibrationRecord;
  residualMse: TrainedKv['residualMse'];
  seconds: { text: number; capture: number; train: number; save: number };
}

/** Default token sample per layer: 65536 rows, fewer when the K and V rows of every layer would pass 2 GiB. */
export function defaultMaxVectors(config: ModelConfig): number {
  const bytesPerToken = config.numLayers * 2 * config.numKvHeads * config.headDim * 4;
  return Math.max(1, Math.min(65536, Math.floor(2 ** 31 / bytesPerToken)));
}

/**
 * The specs and token sample size the settings give on this model; throws, naming the setting, when
 * the model cannot take them (a group size dividing neither head_dim nor the token width, a sample
 * too small for the codebook). Cheap: callers check settings with it before starting a run.
 */
export function planCalibration(config: ModelConfig, settings: CalibrationSettings): { specs: Record<KvKind, RvqSpec>; maxVectors: number } {
  const specs = calibrationSpecs(config, settings);
  const maxVectors = settings.maxVectors ?? defaultMaxVectors(config);
  const groupVectors = maxVectors * Math.min(groupsPerToken(specs.key), groupsPerToken(specs.value));
  if (groupVectors < settings.codebookSize) {
    throw new Error(`maxVectors ${maxVectors} tokens give ${groupVectors} group vectors per layer, fewer than the ${settings.codebookSize} codebook entries`);
  }
  return { specs, maxVectors };
}

export async function calibrateModel(folder: string, options: CalibrateOptions): Promise<CalibrationResult> {
  const settings = parseOptions(calibrationSettingsSchema, options.settings ?? {}, 'calibration settings');
  const { signal, pause } = options;
  const onProgress = (p: CalibrationProgress) => {
    options.onProgress?.(p);
    pause?.();
  };
  const session = options.session ?? { providers: ['cpu'] };
  const manifest = readManifest(folder);
  const { config } = manifest;
  const { specs, maxVectors } = planCalibration(config, settings);
  const tokenizer = loadLibraryTokenizer(folder, manifest);
  verifyModelFiles(folder, manifest, [manifest.weightsFile, manifest.graphs.capture, manifest.graphs.fpHalfCache]);
  let clock = performance.now();
  const lap = () => {
    const now = performance.now();
    const seconds = (now - clock) / 1000;
    clock = now;
    return seconds;
  };

  let sequences: number[][];
  let source: CalibrationRecord['source'];
  if (options.text.kind !== 'self-generated') {
    const texts = options.text.kind === 'files' ? options.text.paths.map(readTextFile) : [textDocuments(options.text.name, new TextEncoder().encode(options.text.text))];
    sequences = texts.flatMap((t) => t.documents.map((d) => documentTokens(tokenizer, d)));
    source = { kind: 'text', files: texts.map((t) => t.file) };
  } else {
    const target = options.text.tokens;
    if (!Number.isInteger(target) || target < 1) throw new RangeError(`self-generated calibration needs a positive whole number of tokens, got ${target}`);
    sequences = await sampleOwnText(folder, manifest, tokenizer, { tokens: target, seed: settings.seed, session, signal, onProgress: (tokens) => onProgress({ phase: 'generate', tokens, target }) });
    source = { kind: 'self-generated', temperature: 1, tokens: target, samples: sequences.length };
  }
  const textSeconds = lap();

  const chunks = captureChunks(sequences, config.maxPositions);
  const tokensTotal = chunks.reduce((n, c) => n + c.length, 0);
  const reservoir = new KvReservoir(config.numLayers, config.numKvHeads * config.headDim, maxVectors, settings.seed);
  const capture = await KvCapture.open(join(folder, manifest.graphs.capture), config, session);
  try {
    await captureIntoReservoir(capture, chunks, reservoir, signal, (tokensSeen) => onProgress({ phase: 'capture', tokensSeen, tokensTotal, vectorsHeld: reservoir.held }));
  } finally {
    await capture.release();
  }
  const captureSeconds = lap();
  const heldVectors = reservoir.held * Math.min(groupsPerToken(specs.key), groupsPerToken(specs.value));
  if (heldVectors < settings.codebookSize) {
    throw new Error(`the calibration text gave ${reservoir.held} tokens (${heldVectors} group vectors per layer), fewer than the ${settings.codebookSize} codebook entries: give more text or a smaller codebook size`);
  }

  const search = await OrtNearestEntry.create(session, options.pause);
  let trained: TrainedKv;
  try {
    trained = await trainKvCodebooks(reservoir.rows(), specs, {
      assign: search.assign,
      seed: settings.seed,
      training: { kmeansSample: settings.kmeansSample, kmeansIterations: settings.kmeansIterations, emaPasses: settings.emaPasses },
      signal,
      onProgress: (p) => onProgress({ phase: 'train', ...p }),
    });
  } finally {
    await search.release();
  }
  const trainSeconds = lap();

  signal?.throwIfAborted();
  onProgress({ phase: 'save' });
  const { name, ...learning } = settings;
  const record: CalibrationRecord = { model: manifest.id, source, tokensSeen: reservoir.seen, tokensSampled: reservoir.held, settings: learning };
  const { codebookFile, graphFile } = saveCodebooks(folder, name, encodeCodebookFile(specs, trained, record));
  return {
    folder,
    name,
    codebookFile,
    graphFile,
    specs,
    bitsPerValue: { key: rvqBitsPerValue(specs.key), value: rvqBitsPerValue(specs.value) },
    record,
    residualMse: trained.residualMse,
    seconds: { text: textSeconds, capture: captureSeconds, train: trainSeconds, save: lap() },
  };
}

/** quant/'s codebook file with the calibration record added to its metadata as `reskv.calibration`. */
function encodeCodebookFile(specs: Record<KvKind, RvqSpec>, trained: TrainedKv, record: CalibrationRecord): Uint8Array {
  const file = decodeSafetensors(encodeCodebooks({ keySpec: specs.key, valueSpec: specs.value, layers: trained.layers }));
  return encodeSafetensors(file.tensors, { ...file.metadata, 'reskv.calibration': JSON.stringify(record) });
}

/** Writes the file beside the model under a temporary name; installRvqGraph renames its copy into place. */
function saveCodebooks(folder: string, name: string, bytes: Uint8Array): { codebookFile: string; graphFile: string } {
  const temp = join(folder, `.calibrating-${name}-${process.pid}.safetensors`);
  try {
    writeFileSync(temp, bytes);
    const entry = installRvqGraph(folder, temp, name).rvq[name];
    return { codebookFile: join(folder, entry.codebooks), graphFile: join(folder, entry.graph) };
  } finally {
    rmSync(temp, { force: true });
  }
}
