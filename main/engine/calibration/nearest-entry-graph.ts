// The nearest-entry search of codebook learning (k-means and EMA assignments) as an ONNX Runtime
// graph, so the large batches of calibration run in ONNX Runtime's MatMul instead of a TypeScript
// loop: argmin_c ||x - c||^2 = argmin_c (||c||^2 - 2 x.c)  (||x||^2 is the same for every c).
//   in:  batch [N, D] float32, codebook [C, D] float32
//   out: codes [N] int64 (ArgMin keeps the first index on ties, as quant/'s encoder does)
import * as ort from 'onnxruntime-node';
import type { AssignNearest } from '../../../quant/index.js';
import { DataType, GraphBuilder, inlineTensors } from '../../onnx/builder.js';
import { createSession } from '../session.js';
import type { SessionOptionsInput } from '../session.js';

export function buildNearestEntryGraph(): Uint8Array {
  const g = new GraphBuilder(inlineTensors);
  const batch = g.input('batch', DataType.FLOAT, ['count', 'dim']);
  const codebook = g.input('codebook', DataType.FLOAT, ['entries', 'dim']);
  const norms = g.op('ReduceSum', [g.op('Mul', [codebook, codebook]), g.int64([1])], { keepdims: 0 });
  const dots = g.op('MatMul', [batch, g.op('Transpose', [codebook], { perm: [1, 0] })]);
  const distances = g.op('Sub', [norms, g.op('Mul', [dots, g.float([2], [])])]);
  g.op('ArgMin', [distances], { axis: 1, keepdims: 0 }, 'codes');
  g.output('codes', DataType.INT64, ['count']);
  return g.encode('reskv-nearest-entry');
}

/** Rows per run, so the [rows, C] distance matrix stays near 64 MiB whatever the batch. */
function rowsPerRun(entries: number): number {
  return Math.max(256, Math.floor((16 * 1024 * 1024) / entries));
}

/** An AssignNearest backed by one ONNX Runtime session (create once, reuse for every batch). */
export class OrtNearestEntry {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly provider: string,
    private readonly beforeRun: () => void,
  ) {}

  /** `beforeRun` is called before every run of the graph (a point where a background job may pause). */
  static async create(options: SessionOptionsInput = {}, beforeRun: () => void = () => {}): Promise<OrtNearestEntry> {
    const { session, provider } = await createSession(buildNearestEntryGraph(), options);
    return new OrtNearestEntry(session, provider, beforeRun);
  }

  readonly assign: AssignNearest = async (batch, codebook, { entries, dim }) => {
    const count = batch.length / dim;
    if (!Number.isInteger(count) || codebook.length !== entries * dim) {
      throw new RangeError(`nearest-entry search: batch of ${batch.length} values and codebook of ${codebook.length} do not fit ${entries} entries of ${dim}`);
    }
    const book = new ort.Tensor('float32', codebook, [entries, dim]);
    const codes = new Uint32Array(count);
    const step = rowsPerRun(entries);
    for (let from = 0; from < count; from += step) {
      const n = Math.min(step, count - from);
      this.beforeRun();
      const input = new ort.Tensor('float32', batch.subarray(from * dim, (from + n) * dim), [n, dim]);
      const out = (await this.session.run({ batch: input, codebook: book })).codes.data as BigInt64Array;
      for (let i = 0; i < n; i++) codes[from + i] = Number(out[i]);
    }
    return codes;
  };

  async release(): Promise<void> {
    await this.session.release();
  }
}
