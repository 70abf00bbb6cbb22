// How long a calibration will take and whether its text is enough, before it runs: the work of
// capture and training counted in multiply-adds, divided by a rate measured on this machine, and
// settings sized so that a calibration of the given text fits a time budget with enough training
// vectors per codebook entry.
import { groupsPerToken } from '../../../quant/index.js';
import type { ModelConfig } from '../../model/config.js';
import type { SessionOptionsInput } from '../session.js';
import type { CalibrationSettings } from './calibrate.js';
import { calibrationSpecs, defaultMaxVectors } from './calibrate.js';
import { OrtNearestEntry } from './nearest-entry-graph.js';

/**
 * Fewer training vectors per codebook entry than this and k-means fits noise: entries are
 * placed on (nearly) single vectors and generalise poorly (FAISS warns below 39 per centroid).
 */
export const minVectorsPerEntry = 32;

/** The time a default calibration is sized to (the ETA the operator sees first). */
export const defaultBudgetSeconds = 10 * 60;

/** quant/train.ts's defaults, which the estimate follows when the settings leave them out. */
const trainingDefaults = { kmeansIterations: 10, emaPasses: 1, kmeansSamplePerEntry: 32 };

export interface CalibrationEstimate {
  /** Token rows sampled per layer (each of K and V), the text's tokens capped by maxVectors. */
  tokensSampled: number;
  /** Group vectors each layer's quantizer trains on, and per codebook entry. */
  vectorsPerLayer: number;
  vectorsPerEntry: number;
  seconds: { capture: number; train: number };
  /** Set when vectorsPerEntry is below minVectorsPerEntry: what is wrong and what to do. */
  warning: string | null;
}

type Sizing = Pick<CalibrationSettings, 'codebookSize' | 'groupSize' | 'depth' | 'keyGrouping' | 'valueGrouping' | 'groupSpan' | 'scale' | 'maxVectors' | 'kmeansSample' | 'kmeansIterations' | 'emaPasses'>;

/** Multiply-adds of one forward pass per token: the attention and MLP projections and the output head. */
function forwardMacsPerToken(config: ModelConfig): number {
  const { hiddenSize: h, numHeads, numKvHeads, headDim, intermediateSize, vocabSize, numLayers } = config;
  const attention = h * headDim * (2 * numHeads + 2 * numKvHeads);
  return numLayers * (attention + 3 * h * intermediateSize) + h * vocabSize;
}

/**
 * Work and time of a calibration of `textTokens` tokens with `settings` at `macsPerSecond` (see
 * measureMacRate). Training dominates: per layer, kind and stage, k-means runs `iterations` passes
 * over its sample and EMA plus the residual update pass over every vector, each against C entries.
 */
export function estimateCalibration(config: ModelConfig, settings: Sizing, textTokens: number, macsPerSecond: number): CalibrationEstimate {
  const specs = calibrationSpecs(config, { ...settings, seed: 0, name: 'estimate' });
  const tokensSampled = Math.min(textTokens, settings.maxVectors ?? defaultMaxVectors(config));
  const vectorsPerLayer = tokensSampled * Math.min(groupsPerToken(specs.key), groupsPerToken(specs.value));
  const C = settings.codebookSize;
  const kmeansSample = Math.min(vectorsPerLayer, settings.kmeansSample ?? trainingDefaults.kmeansSamplePerEntry * C);
  const iterations = settings.kmeansIterations ?? trainingDefaults.kmeansIterations;
  const passes = (settings.emaPasses ?? trainingDefaults.emaPasses) + 1;
  const perStage = (iterations * kmeansSample + passes * vectorsPerLayer) * C * settings.groupSize;
  const trainMacs = config.numLayers * 2 * settings.depth * perStage;
  const captureMacs = textTokens * forwardMacsPerToken(config);
  const seconds = { capture: captureMacs / macsPerSecond, train: trainMacs / macsPerSecond };
  return { tokensSampled, vectorsPerLayer, vectorsPerEntry: vectorsPerLayer / C, seconds, warning: vectorsPerEntryWarning(vectorsPerLayer, C) };
}

/** What is wrong and what to do when `vectors` training vectors are too few for `entries` codebook entries; null when enough. */
export function vectorsPerEntryWarning(vectors: number, entries: number): string | null {
  const perEntry = vectors / entries;
  if (perEntry >= minVectorsPerEntry) return null;
  const fits = largestPowerOfTwo(vectors / minVectorsPerEntry);
  const smaller = fits >= 1 ? `or a codebook size of at most ${fits}` : 'the text is too short for any codebook';
  return `only ${perEntry.toFixed(1)} training vectors per codebook entry (${vectors} vectors for ${entries} entries; entries that generalise need at least ${minVectorsPerEntry}): give more text, ${smaller}`;
}

const largestPowerOfTwo = (n: number) => (n < 1 ? 0 : 2 ** Math.floor(Math.log2(n)));

/** The sizing knobs sizeCalibration chooses. */
export interface SizedSettings {
  codebookSize: number;
  maxVectors: number;
  kmeansIterations: number;
}

/**
 * Settings for `textTokens` tokens of text on a machine doing `macsPerSecond`: the largest codebook
 * (a power of two, 16 to 2048) with minVectorsPerEntry vectors per entry; then, until the estimate
 * fits `budgetSeconds`, fewer sampled tokens (down to that many per entry), fewer k-means iterations
 * (down to 4), and a halved codebook, in that order. Text too short for 16 entries keeps 16 (the
 * estimate warns).
 */
export function sizeCalibration(config: ModelConfig, base: Sizing, textTokens: number, macsPerSecond: number, budgetSeconds = defaultBudgetSeconds): SizedSettings {
  const specs = calibrationSpecs(config, { ...base, seed: 0, name: 'size' });
  const groups = Math.min(groupsPerToken(specs.key), groupsPerToken(specs.value));
  const tokensCap = Math.max(1, Math.min(textTokens, defaultMaxVectors(config)));
  const sized: SizedSettings = { codebookSize: Math.min(2048, Math.max(16, largestPowerOfTwo((tokensCap * groups) / minVectorsPerEntry))), maxVectors: tokensCap, kmeansIterations: trainingDefaults.kmeansIterations };
  const floor = () => Math.min(tokensCap, Math.ceil((minVectorsPerEntry * sized.codebookSize) / groups));
  const over = () => {
    const { capture, train } = estimateCalibration(config, { ...base, ...sized }, textTokens, macsPerSecond).seconds;
    return capture + train > budgetSeconds;
  };
  while (over()) {
    if (sized.maxVectors > floor()) sized.maxVectors = Math.max(floor(), Math.floor(sized.maxVectors / 2));
    else if (sized.kmeansIterations > 4) sized.kmeansIterations--;
    else if (sized.codebookSize > 16) sized.codebookSize /= 2;
    else break;
  }
  return sized;
}

/**
 * This machine's rate for the nearest-entry search that dominates training (multiply-adds a
 * second), timed on a small search in ONNX Runtime with the job's session options: the best of three runs.
 */
export async function measureMacRate(session: SessionOptionsInput): Promise<number> {
  const [count, entries, dim] = [4096, 256, 32];
  const batch = new Float32Array(count * dim).map((_, i) => Math.sin(i * 12.9898) % 1);
  const codebook = new Float32Array(entries * dim).map((_, i) => Math.cos(i * 78.233) % 1);
  const search = await OrtNearestEntry.create(session);
  try {
    await search.assign(batch, codebook, { entries, dim });
    let best = Infinity;
    for (let run = 0; run < 3; run++) {
      const started = performance.now();
      await search.assign(batch, codebook, { entries, dim });
      best = Math.min(best, performance.now() - started);
    }
    return (count * entries * dim) / (Math.max(best, 0.01) / 1000);
  } finally {
    await search.release();
  }
}
