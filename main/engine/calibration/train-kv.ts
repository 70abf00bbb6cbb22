// From calibration text to trained codebooks: capture chunks into a token sample, then train one
// residual quantizer per layer for keys and one for values with quant/'s trainResidualCodebooks
// (k-means init + EMA, stage by stage), its nearest-entry search running in ONNX Runtime.
import { groupsPerToken, trainResidualCodebooks } from '../../../quant/index.js';
import type { AssignNearest, KvKind, LayerCodebooks, RvqSpec, TrainOptions } from '../../../quant/index.js';
import type { KvCapture, LayerKv } from './kv-capture.js';
import type { KvReservoir } from './kv-reservoir.js';

/** Runs every chunk through the capture graph into the reservoir; `onChunk` after each with tokens seen. */
export async function captureIntoReservoir(capture: KvCapture, chunks: readonly number[][], reservoir: KvReservoir, signal?: AbortSignal, onChunk?: (seen: number) => void): Promise<void> {
  for (const chunk of chunks) {
    signal?.throwIfAborted();
    reservoir.add(await capture.run(chunk));
    onChunk?.(reservoir.seen);
  }
}

/** Training knobs passed through to trainResidualCodebooks. */
export type TrainingSettings = Pick<TrainOptions, 'kmeansSample' | 'kmeansIterations' | 'emaPasses' | 'batchSize'>;

export interface TrainProgress {
  layer: number;
  kind: KvKind;
  /** 0-based stage. */
  stage: number;
  step: 'kmeans' | 'ema' | 'residual';
  /** Group vectors this quantizer trains on. */
  vectors: number;
  /** Completion of all layers' training, 0..1. */
  fraction: number;
}

export interface TrainedKv {
  layers: LayerCodebooks[];
  /** Training residual MSE per value (scaled units) after each stage, per layer and kind. */
  residualMse: Record<KvKind, number[]>[];
}

/** A seed per quantizer, so layers and K/V draw independent samples yet the whole run follows `seed`. */
function quantizerSeed(seed: number, layer: number, kind: KvKind): number {
  return (seed + Math.imul(2 * layer + (kind === 'key' ? 1 : 2), 0x9e3779b9)) >>> 0;
}

export async function trainKvCodebooks(
  rows: readonly LayerKv[],
  specs: Record<KvKind, RvqSpec>,
  options: { assign: AssignNearest; seed: number; training?: TrainingSettings; signal?: AbortSignal; onProgress?: (p: TrainProgress) => void },
): Promise<TrainedKv> {
  const kinds: KvKind[] = ['key', 'value'];
  const jobs = rows.length * kinds.length;
  const layers: LayerCodebooks[] = [];
  const residualMse: Record<KvKind, number[]>[] = [];
  for (let layer = 0; layer < rows.length; layer++) {
    const books = {} as LayerCodebooks;
    const mse = {} as Record<KvKind, number[]>;
    for (const kind of kinds) {
      const spec = specs[kind];
      const job = layer * kinds.length + kinds.indexOf(kind);
      const vectors = (rows[layer][kind].length / (spec.numKvHeads * spec.headDim)) * groupsPerToken(spec);
      const trained = await trainResidualCodebooks(rows[layer][kind], spec, {
        ...options.training,
        seed: quantizerSeed(options.seed, layer, kind),
        assign: options.assign,
        signal: options.signal,
        onProgress: (p) => options.onProgress?.({ layer, kind, stage: p.stage, step: p.phase, vectors, fraction: (job + p.fraction) / jobs }),
      });
      books[kind] = trained.codebooks;
      mse[kind] = trained.residualMse;
    }
    layers.push(books);
    residualMse.push(mse);
  }
  return { layers, residualMse };
}
