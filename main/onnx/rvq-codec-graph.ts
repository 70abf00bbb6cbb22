// The RVQ codec of quant/ (contract: scale by fp16 std, group channels, residual stages, stage-major
// codes bit-packed LSB-first at log2(C) bits) expressed as ONNX subgraphs, so a decoder graph can
// read and write its KV cache as codes. Index tables are fixed at build time; `depth` is a runtime
// int32 tensor. Token tensors are [batch, n, ...]. GPU-shaped: no int64 and no bit operations on
// tensors that grow with the context (WebGPU has neither); codes are unpacked and packed with exact
// float arithmetic on small integers. Compact: ONNX Runtime's session creation grows faster than
// linearly with the node count, so each step is as few nodes as it can be (one Gather decodes every
// stage of every group, one Gemm + ArgMax per encode stage covers every group).
import type { RvqSpec } from '../../quant/index.js';
import { codeBits, groupsPerToken, rvqCodeBytesPerToken, scalesPerToken, tokenWidth, unitWidth } from '../../quant/index.js';
import type { Dim, GraphBuilder } from './builder.js';
import { DataType } from './builder.js';
import { bytesOf } from './layers.js';

const largestHalf = 65504;
/** A std at or below this rounds to fp16 zero (2^-25 is the tie between 0 and the smallest subnormal, ties to even). */
const halfZeroBound = 2 ** -25;

export class RvqGraphCodec {
  readonly codeBytes: number;
  readonly numScales: number;
  private readonly bits: number;
  private readonly groups: number;
  private readonly width: number;
  /** Stage s's codebook and a zero row at index C, [C + 1, groupSize] float32 initializers. */
  private readonly stageBooks: string[];
  /** The stage books stacked, [depth * (C + 1), groupSize] (a constant Concat, folded when the session loads). */
  private readonly books: string;

  /** `codebooks` is [depth, C, groupSize] float32 (quant's layout); `name` prefixes the initializers. */
  constructor(
    private readonly g: GraphBuilder,
    readonly spec: RvqSpec,
    private readonly codebooks: Float32Array,
    name: string,
  ) {
    const { depth, codebookSize: C, groupSize } = spec;
    this.bits = codeBits(spec);
    this.groups = groupsPerToken(spec);
    this.width = tokenWidth(spec);
    this.codeBytes = rvqCodeBytesPerToken(spec);
    this.numScales = scalesPerToken(spec);
    this.stageBooks = Array.from({ length: depth }, (_, s) => {
      const rows = new Float32Array((C + 1) * groupSize);
      rows.set(codebooks.subarray(s * C * groupSize, (s + 1) * C * groupSize));
      return g.initializer(`${name}.${s}`, DataType.FLOAT, [C + 1, groupSize], () => bytesOf(rows));
    });
    this.books = g.op('Concat', this.stageBooks, { axis: 0 });
  }

  /**
   * Greedy residual encoding of rows [b, n, W] (float32): scale by the fp16-rounded unbiased std (zero
   * -> 1), group, then per stage nearest entry = ArgMax(<r, c> - ||c||^2/2) over every group at once
   * (one Gemm with the norms as bias) and subtract it. Returns the codes [b, n, G * D] float (a token's
   * group-major: group j, stage s at j * D + s), the packed code bytes [b, n, codeBytes] float (whole
   * numbers below 256; the caller casts) and the fp16 scales [b, n, S] (null for 'none'). `tokens`
   * names b and n (see GraphBuilder.shape).
   */
  encode(rows: string, tokens: readonly [Dim, Dim]): { codes: string; bytes: string; scales: string | null } {
    const { g, spec } = this;
    const { depth: D, codebookSize: C, groupSize } = spec;
    let scaled = rows;
    let scales: string | null = null;
    if (this.numScales > 0) {
      const span = this.width / this.numScales;
      const segments = g.op('Reshape', [rows, g.int64([0, 0, this.numScales, span])]);
      const deviation = g.op('Sub', [segments, g.op('ReduceMean', [segments, g.int64([-1])], { keepdims: 1 })]);
      const variance = g.op('Div', [g.op('ReduceSum', [g.op('Mul', [deviation, deviation]), g.int64([-1])], { keepdims: 1 }), g.float([span - 1], [])]);
      const std = g.op('Min', [g.op('Sqrt', [variance]), g.float([largestHalf], [])]);
      // a std that rounds to fp16 zero counts as 1, decided before rounding so the graph rounds once
      const half = g.op('Cast', [g.op('Where', [g.op('LessOrEqual', [std, g.float([halfZeroBound], [])]), g.float([1], []), std])], { to: DataType.FLOAT16 });
      scales = g.op('Reshape', [half, g.int64([0, 0, this.numScales])]);
      scaled = g.op('Div', [segments, g.op('Cast', [half], { to: DataType.FLOAT })]);
    }
    // group vectors as a matrix [b * n * G, groupSize], row g of each token its group g
    let residual = g.shape(this.regroup(scaled, 'toGroups', [-1, groupSize]), DataType.FLOAT, [`new_group_vectors.${this.groups}`, groupSize]);
    const stageCodes: string[] = [];
    for (let s = 0; s < D; s++) {
      // the zero row (index C) must never win: its score is the lowest float
      const negHalfNorms = new Array<number>(C + 1).fill(0);
      negHalfNorms[C] = -3.0e38;
      for (let c = 0; c < C; c++) {
        for (let t = 0; t < groupSize; t++) negHalfNorms[c] -= this.codebooks[(s * C + c) * groupSize + t] ** 2 / 2;
      }
      // [M, 1] int64 codes; GatherND reads their entries as [M, groupSize]
      const code = g.op('ArgMax', [g.op('Gemm', [residual, this.stageBooks[s], g.float(negHalfNorms)], { transB: 1 })], { axis: 1, keepdims: 1 });
      stageCodes.push(code);
      if (s + 1 < D) residual = g.op('Sub', [residual, g.op('GatherND', [this.stageBooks[s], code])]);
    }
    // [M, D] -> [b, n, G * D]: a token's codes group-major (pack reads them in stage-major order)
    const shape = g.op('Concat', [g.op('Shape', [rows], { start: 0, end: 2 }), g.int64([this.groups * D])], { axis: 0 });
    const codes = g.shape(g.op('Reshape', [g.op('Cast', [g.op('Concat', stageCodes, { axis: 1 })], { to: DataType.FLOAT }), shape]), DataType.FLOAT, [...tokens, this.groups * D]);
    return { codes, bytes: this.pack(codes), scales };
  }

  /**
   * Codes [b, n, G * D] float (group-major: code of group j, stage s at j * D + s) -> bytes [b, n,
   * codeBytes] float. Byte k sums the pieces of the codes overlapping it: a piece of code c is its
   * bits r .. r + len moved to bit l, (c >> r mod 2^len) << l = floor(c 2^-r) 2^l - floor(c 2^-(r+len))
   * 2^(len+l), so one MatMul of the floors against a table of those weights sums every byte. Exact in
   * float32: every term is an integer below 2^23 (codes have at most 16 bits, l < 8) and a byte sums
   * a few of them, so no partial sum in any order reaches 2^24.
   */
  private pack(codes: string): string {
    const { g, bits } = this;
    const { depth: D } = this.spec;
    const position: number[] = [];
    const scale: number[] = [];
    const weights: number[][] = [];
    for (let i = 0; i < D * this.groups; i++) {
      // stream order is stage-major (s * G + j); codes arrive group-major
      const s = Math.floor(i / this.groups);
      const j = i % this.groups;
      const first = i * bits;
      for (let k = Math.floor(first / 8); k <= Math.floor((first + bits - 1) / 8); k++) {
        const r = Math.max(0, 8 * k - first);
        const l = Math.max(0, first - 8 * k);
        const len = Math.min(bits, 8 * k + 8 - first) - r;
        for (const [shift, weight] of [[r, 2 ** l], [r + len, -(2 ** (len + l))]]) {
          position.push(j * D + s);
          scale.push(2 ** -shift);
          weights.push(Array.from({ length: this.codeBytes }, (_, b) => (b === k ? weight : 0)));
        }
      }
    }
    const terms = g.op('Floor', [g.op('Mul', [g.op('Gather', [codes, g.int32(position)], { axis: 2 }), g.float(scale)])]);
    return g.op('MatMul', [terms, g.float(weights.flat(), [position.length, this.codeBytes])]);
  }

  /**
   * Bytes [b, n, R] float (whole numbers below 256) -> codes [b, n, D * G] float, stage-major as
   * quant stores them. R may be the record size of any depth d <= spec.depth (a stage-major record's
   * depth-d prefix is its first R_d bytes): the table is cut to R rows and the missing stages' codes
   * are whatever the cut left (the decode masks stages past a token's depth). One MatMul against a
   * [R, codes] table of powers of two assembles each code's bytes already shifted right: v = sum_k
   * byte_k 2^(8k - shift), exact in float32 as codes have at most 16 bits (so touch at most 3 bytes: a
   * 24-bit integer part over a shift-bit fraction, 24 bits in all). Floor drops the fraction;
   * subtracting floor(v / 2^bits) 2^bits drops the next codes' bits. `recordBytes` is R as an int64
   * [1] tensor (by default read from `bytes`).
   */
  unpack(bytes: string, recordBytes = this.g.op('Shape', [bytes], { start: 2, end: 3 })): string {
    const { g, bits } = this;
    const count = this.spec.depth * this.groups;
    const assemble = new Array<number>(this.codeBytes * count).fill(0);
    for (let i = 0; i < count; i++) {
      const first = i * bits;
      for (let j = Math.floor(first / 8); j <= Math.floor((first + bits - 1) / 8); j++) assemble[j * count + i] = 2 ** (8 * j - first);
    }
    const rows = g.op('Slice', [g.float(assemble, [this.codeBytes, count]), g.int64([0]), recordBytes, g.int64([0])]);
    const shifted = g.op('Floor', [g.op('MatMul', [bytes, rows])]);
    // x mod 2^bits for whole numbers x held exactly in float32: x - floor(x / 2^bits) 2^bits
    const m = 2 ** bits;
    return g.op('Sub', [shifted, g.op('Mul', [g.op('Floor', [g.op('Mul', [shifted, g.float([1 / m], [])])]), g.float([m], [])])]);
  }

  /**
   * Rows [b, n, W] float from codes [b, n, D * G] float (unpack's) and scales [b, n, S] float (null for
   * scale 'none'): the entries of the first `depth` stages summed, channels put back from their
   * groups, times the scales. `tokenDepths` (int32 [b, n], optional) limits each token to the stages it
   * holds. One Gather of every stage from the stacked books, a stage past a token's depth reading its
   * zero row, and a ReduceSum over the stages (its float summation order is ONNX Runtime's, not
   * necessarily quant/'s stage by stage: sums agree to rounding).
   */
  dequantize(codes: string, scales: string | null, depth: string, tokenDepths: string | null = null): string {
    const { g, spec } = this;
    const { depth: D, codebookSize: C, groupSize } = spec;
    const stageOf = Array.from({ length: D * this.groups }, (_, i) => Math.floor(i / this.groups));
    const held = tokenDepths ? g.op('Unsqueeze', [g.op('Min', [tokenDepths, depth]), g.int64([-1])]) : depth;
    const live = g.op('Less', [g.int32(stageOf), held]);
    // stage s's code c is row s (C + 1) + c of the stacked books, its zero row s (C + 1) + C
    const index = g.op('Where', [live, g.op('Add', [codes, g.float(stageOf.map((s) => s * (C + 1)))]), g.float(stageOf.map((s) => s * (C + 1) + C))]);
    const entries = g.op('Gather', [this.books, g.op('Cast', [index], { to: DataType.INT32 })]);
    const summed = g.op('ReduceSum', [g.op('Reshape', [entries, g.int64([0, 0, D, this.groups * groupSize])]), g.int64([2])], { keepdims: 0 });
    if (!scales) return this.regroup(summed, 'toRows', [0, 0, this.width]);
    const segments = this.regroup(summed, 'toRows', [0, 0, this.numScales, this.width / this.numScales]);
    return g.op('Reshape', [g.op('Mul', [segments, g.op('Unsqueeze', [scales, g.int64([-1])])]), g.int64([0, 0, this.width])]);
  }

  /**
   * Token rows [b, n, ...] <-> group vectors [b, n, G*groupSize], reshaped to `shape`. Contiguous
   * groups are the rows as they are. Strided groups (channel j + t*P of a unit is position t of group
   * j, with P groups per unit) are a unit viewed [groupSize, P] and transposed; the way back views
   * [P, groupSize].
   */
  private regroup(x: string, to: 'toGroups' | 'toRows', shape: number[]): string {
    const { g, spec } = this;
    if (spec.grouping === 'contiguous') return g.op('Reshape', [x, g.int64(shape)]);
    const units = this.width / unitWidth(spec);
    const perUnit = unitWidth(spec) / spec.groupSize;
    const dims = to === 'toGroups' ? [spec.groupSize, perUnit] : [perUnit, spec.groupSize];
    const view = g.op('Reshape', [x, g.int64([0, 0, units, ...dims])]);
    return g.op('Reshape', [g.op('Transpose', [view], { perm: [0, 1, 2, 4, 3] }), g.int64(shape)]);
  }
}
