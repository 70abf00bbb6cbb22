// Seeded synthetic KV rows with the structure real (pre-RoPE) keys have: per-channel offsets and spreads,
// a few outlier channels 10-20x larger than the rest, and correlated channel pairs. For tests and
// benchmarks only; real K/V come from the engine.
import { createRng } from './prng.js';
import type { Rng } from './prng.js';

export interface SyntheticKvOptions {
  headDim: number;
  numKvHeads?: number;
  /** Outlier channels per head (default 4). */
  outliers?: number;
  /** Outlier magnitude factor range (default [10, 20]). */
  outlierScale?: [number, number];
  /** Correlated channel pairs per head (default headDim / 8). */
  correlatedPairs?: number;
  /** Correlation coefficient range of the pairs (default [0.6, 0.95]). */
  correlation?: [number, number];
  /** Seed of the channel parameters (the data's "model"). */
  seed?: number;
}

/** Fixed per-channel parameters; `sample` draws token rows [tokens, numKvHeads * headDim]. */
export interface SyntheticKvSource {
  readonly width: number;
  readonly outlierChannels: number[];
  sample(tokens: number, rng: Rng): Float32Array;
}

export function syntheticKvSource(options: SyntheticKvOptions): SyntheticKvSource {
  const { headDim, numKvHeads = 1, outliers = 4, outlierScale = [10, 20], correlation = [0.6, 0.95] } = options;
  const pairs = options.correlatedPairs ?? Math.floor(headDim / 8);
  if (outliers + 2 * pairs > headDim) throw new RangeError(`${outliers} outliers and ${pairs} pairs do not fit in ${headDim} channels`);
  const rng = createRng(options.seed ?? 1);
  const width = headDim * numKvHeads;
  const mean = new Float64Array(width);
  const spread = new Float64Array(width);
  // partner[c] = channel c follows (-1: independent); rho[c] its correlation with the partner.
  const partner = new Int32Array(width).fill(-1);
  const rho = new Float64Array(width);
  const outlierChannels: number[] = [];
  const uniform = ([lo, hi]: [number, number]) => lo + (hi - lo) * rng.next();
  for (let h = 0; h < numKvHeads; h++) {
    const base = h * headDim;
    const channels = Array.from({ length: headDim }, (_, c) => base + c);
    for (let i = channels.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [channels[i], channels[j]] = [channels[j], channels[i]];
    }
    for (let c = base; c < base + headDim; c++) {
      spread[c] = uniform([0.5, 1.5]);
      mean[c] = 0.5 * spread[c] * rng.normal();
    }
    for (let k = 0; k < outliers; k++) {
      const c = channels[k];
      const factor = uniform(outlierScale);
      spread[c] *= factor;
      mean[c] = factor * (rng.next() < 0.5 ? -1 : 1) * uniform([0.5, 1.5]);
      outlierChannels.push(c);
    }
    for (let k = 0; k < pairs; k++) {
      const leader = channels[outliers + 2 * k];
      const follower = channels[outliers + 2 * k + 1];
      partner[follower] = leader;
      rho[follower] = (rng.next() < 0.5 ? -1 : 1) * uniform(correlation);
    }
  }
  outlierChannels.sort((a, b) => a - b);
  return {
    width,
    outlierChannels,
    sample(tokens, draw) {
      const rows = new Float32Array(tokens * width);
      const z = new Float64Array(width);
      for (let i = 0; i < tokens; i++) {
        for (let c = 0; c < width; c++) z[c] = draw.normal();
        for (let c = 0; c < width; c++) {
          const p = partner[c];
          const unit = p < 0 ? z[c] : rho[c] * z[p] + Math.sqrt(1 - rho[c] * rho[c]) * z[c];
          rows[i * width + c] = mean[c] + spread[c] * unit;
        }
      }
      return rows;
    },
  };
}
