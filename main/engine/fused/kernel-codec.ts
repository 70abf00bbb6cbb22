// One layer's RVQ codebooks for K or V in kernel memory: laid out [depth, C, groupSize] for the
// attention's row sums and [depth][C/4][groupSize][4] with -|c|^2/2 for the kernel's greedy encoder.
// Encodes token rows as quant's RvqCodec does (fp16 std scales, grouping, greedy stages), so it also
// serves a KvCodeStore as its encoder for tokens leaving the recent window.
import { codeBits, float16BitsToFloat32, groupLayout, rowsToGroups } from '../../../quant/index.js';
import type { GroupLayout, RvqEncoded, RvqSpec } from '../../../quant/index.js';
import type { FusedKernel } from './kernel.js';

const ENCODE_FIELDS = 10;

/**
 * The call order of a spec (perm[i] = the head channel at position i of a head's group-order
 * vector), or null when groups do not keep each head's channels together in one order for all heads
 * (then the fused path cannot attend the codes; the graph path can).
 */
export function headCallOrder(spec: RvqSpec): Int32Array | null {
  const { channelMap } = groupLayout(spec);
  const d = spec.headDim;
  const perm = Int32Array.from(channelMap.subarray(0, d));
  for (let i = 0; i < channelMap.length; i++) {
    const head = Math.floor(i / d);
    if (channelMap[i] !== head * d + perm[i % d]) return null;
  }
  return perm;
}

export class KernelRvqCodec {
  readonly layout: GroupLayout;
  readonly booksAt: number;
  readonly bits: number;
  private readonly encodeBooksAt: number;
  private readonly biasAt: number;

  constructor(
    private readonly kernel: FusedKernel,
    readonly spec: RvqSpec,
    codebooks: Float32Array,
  ) {
    const { depth: D, codebookSize: C, groupSize: gs } = spec;
    this.layout = groupLayout(spec);
    this.bits = codeBits(spec);
    this.booksAt = kernel.alloc(4 * codebooks.length);
    this.encodeBooksAt = kernel.alloc(4 * codebooks.length);
    this.biasAt = kernel.alloc(4 * D * C);
    kernel.f32(this.booksAt, codebooks.length).set(codebooks);
    const interleaved = kernel.f32(this.encodeBooksAt, codebooks.length);
    const bias = kernel.f32(this.biasAt, D * C);
    for (let s = 0; s < D; s++) {
      for (let c = 0; c < C; c++) {
        let norm = 0;
        for (let t = 0; t < gs; t++) {
          const v = codebooks[(s * C + c) * gs + t];
          norm += v * v;
          interleaved[s * C * gs + (c >> 2) * 4 * gs + 4 * t + (c & 3)] = v;
        }
        bias[s * C + c] = -norm / 2;
      }
    }
  }

  /**
   * Greedy codes of token rows [tokens, W] (channel order) to `depth` stages, with the rows as the
   * codes read back (`decoded`, [tokens, W] in group order, scales applied).
   */
  encodeDecoded(rows: Float32Array, depth = this.spec.depth): { encoded: RvqEncoded; decoded: Float32Array } {
    const { kernel, layout } = this;
    const { width, groups, scalesPerToken: S, scaleSpan } = layout;
    const tokens = rows.length / width;
    const vectors = new Float32Array(rows.length);
    const scales = new Uint16Array(tokens * S);
    rowsToGroups(layout, rows, tokens, vectors, scales);
    const vectorsAt = kernel.alloc(4 * rows.length);
    const codesAt = kernel.alloc(4 * tokens * depth * groups);
    const decodedAt = kernel.alloc(4 * rows.length);
    const paramsAt = kernel.alloc(4 * ENCODE_FIELDS);
    try {
      kernel.f32(vectorsAt, rows.length).set(vectors);
      const { codebookSize: C, groupSize: gs } = this.spec;
      kernel.i32(paramsAt, ENCODE_FIELDS).set([vectorsAt, tokens * groups, groups, this.encodeBooksAt, this.biasAt, C, gs, depth, codesAt, decodedAt]);
      kernel.encode(paramsAt);
      const codes = kernel.u32(codesAt, tokens * depth * groups).slice();
      const decoded = kernel.f32(decodedAt, rows.length).slice();
      if (S > 0) {
        for (let t = 0; t < tokens; t++) {
          for (let s = 0; s < S; s++) {
            const factor = float16BitsToFloat32(scales[t * S + s]);
            // head-aligned call order: scale s covers positions [s * span, (s + 1) * span) of the row
            for (let k = t * width + s * scaleSpan; k < t * width + (s + 1) * scaleSpan; k++) decoded[k] *= factor;
          }
        }
      }
      return { encoded: { tokens, depth, codes, scales }, decoded };
    } finally {
      for (const at of [vectorsAt, codesAt, decodedAt, paramsAt]) kernel.release(at);
    }
  }

  /** RvqTokenEncoder: codes only. */
  encode(rows: Float32Array, depth = this.spec.depth): RvqEncoded {
    return this.encodeDecoded(rows, depth).encoded;
  }
}
