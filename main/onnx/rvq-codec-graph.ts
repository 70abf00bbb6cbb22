// The RVQ codec of quant/ (contract: scale by fp16 std, group channels, residual stages, stage-major
// codes bit-packed LSB-first at log2(C) bits) expressed as ONNX subgraphs, so a decoder graph can
// read and write its KV cache as codes. Index tables are fixed at build time; `depth` is a runtime
// int32 [1] tensor. Token tensors are [batch, n, ...]. GPU-shaped: no int64 and no bit operations
// (WebGPU has neither), codes are unpacked and packed with exact float arithmetic on small integers.
import type { RvqSpec } from '../../quant/index.js';
import { codeBits, groupsPerToken, rvqCodeBytesPerToken, scalesPerToken, tokenWidth, unitWidth } from '../../quant/index.js';
import type { GraphBuilder } from './builder.js';
import { DataType } from './builder.js';
import { bytesOf } from './layers.js';

const largestHalf = 65504;

export class RvqGraphCodec {
  readonly codeBytes: number;
  readonly numScales: number;
  private readonly bits: number;
  private readonly groups: number;
  private readonly width: number;
  /** [depth, C + 1, groupSize] float32 initializer: each stage's codebook and a zero row at index C */
  private readonly books: string;

  /** `codebooks` is [depth, C, groupSize] float32 (quant's layout); `name` names the initializer. */
  constructor(
    private readonly g: GraphBuilder,
    readonly spec: RvqSpec,
    private readonly codebooks: Float32Array,
    name: string,
  ) {
    this.bits = codeBits(spec);
    this.groups = groupsPerToken(spec);
    this.width = tokenWidth(spec);
    this.codeBytes = rvqCodeBytesPerToken(spec);
    this.numScales = scalesPerToken(spec);
    this.books = g.initializer(name, DataType.FLOAT, [spec.depth, spec.codebookSize + 1, spec.groupSize], () => bytesOf(withZeroRows(spec, codebooks)));
  }

  /**
   * uint8 [b, n, R] -> int32 codes [b, n, depth, G]: code i = (bytes from bit i*b on) >> shift & mask.
   * One MatMul of the bytes (as float) against a [R, codes] table of powers of two assembles each
   * code's bytes already shifted right: v = sum_k byte_k 2^(8k - shift), exact in float32 as codes have
   * at most 16 bits (so touch at most 3 bytes: a 24-bit integer part over a shift-bit fraction, 24 bits
   * in all). Floor drops the fraction; subtracting floor(v / 2^bits) 2^bits drops the next codes' bits.
   * R may be the record size of any depth d <= spec.depth (a stage-major record's depth-d prefix is
   * its first R_d bytes): the table is cut to R rows, and the missing stages read as 0.
   */
  unpack(bytes: string): string {
    const { g, bits } = this;
    const count = this.spec.depth * this.groups;
    const assemble = new Array<number>(this.codeBytes * count).fill(0);
    for (let i = 0; i < count; i++) {
      const first = i * bits;
      for (let j = Math.floor(first / 8); j <= Math.floor((first + bits - 1) / 8); j++) assemble[j * count + i] = 2 ** (8 * j - first);
    }
    const rows = g.op('Slice', [g.float(assemble, [this.codeBytes, count]), g.int64([0]), g.op('Shape', [bytes], { start: 2, end: 3 }), g.int64([0])]);
    const shifted = g.op('MatMul', [g.op('Cast', [bytes], { to: DataType.FLOAT }), rows]);
    const codes = remainder(g, g.op('Floor', [shifted]), 2 ** bits);
    return g.op('Reshape', [g.op('Cast', [codes], { to: DataType.INT32 }), g.int64([0, 0, this.spec.depth, this.groups])]);
  }

  /**
   * int32 codes [b, n, depth, G] -> uint8 [b, n, codeBytes]; each byte sums the disjoint bit pieces of
   * the codes overlapping it, a piece being (code >> right << left) mod 256, in float (exact: below 2^23).
   */
  pack(codes: string): string {
    const { g, bits } = this;
    const count = this.spec.depth * this.groups;
    const pieceCode: number[] = [];
    const rightShift: number[] = [];
    const leftShift: number[] = [];
    const byteOfPiece: number[] = [];
    for (let i = 0; i < count; i++) {
      const first = i * bits;
      for (let j = Math.floor(first / 8); j <= Math.floor((first + bits - 1) / 8); j++) {
        pieceCode.push(i);
        rightShift.push(Math.max(0, 8 * j - first));
        leftShift.push(Math.max(0, first - 8 * j));
        byteOfPiece.push(j);
      }
    }
    const flat = g.op('Cast', [g.op('Reshape', [codes, g.int64([0, 0, count])])], { to: DataType.FLOAT });
    const pieces = g.op('Gather', [flat, g.int32(pieceCode)], { axis: 2 });
    const shifted = g.op('Floor', [g.op('Mul', [pieces, g.float(rightShift.map((r) => 2 ** -r))])]);
    const masked = remainder(g, g.op('Mul', [shifted, g.float(leftShift.map((l) => 2 ** l))]), 256);
    // [pieces, bytes] 0/1 matrix; the sums are integers below 256, exact in float32
    const gatherToBytes = new Array<number>(pieceCode.length * this.codeBytes).fill(0);
    byteOfPiece.forEach((j, p) => (gatherToBytes[p * this.codeBytes + j] = 1));
    const summed = g.op('MatMul', [masked, g.float(gatherToBytes, [pieceCode.length, this.codeBytes])]);
    return g.op('Cast', [summed], { to: DataType.UINT8 });
  }

  /**
   * Rows [b, n, W] float from int32 codes [b, n, depth, G] (unpack's) and fp16 scales [b, n, S] (null
   * for scale 'none'): sum the entries of the first `depth` stages, put channels back from their
   * groups, multiply by the scales. `tokenDepths` (uint8 [b, n], optional) limits each token to the
   * stages it holds. Each stage is its own Gather over that stage's codebook (with its zero row at
   * index C), summed by Adds: one stage's codebook and sums stay in cache, where one Gather of every
   * stage reduced afterwards writes and reads depth times more memory (slower at long contexts).
   * A stage past a token's depth reads the zero row: Max(code, C) with codes below C.
   */
  dequantize(codes: string, scales: string | null, depth: string, tokenDepths: string | null = null): string {
    const { g, spec } = this;
    const { depth: D, codebookSize: C } = spec;
    const held = tokenDepths ? g.op('Min', [g.op('Cast', [tokenDepths], { to: DataType.INT32 }), depth]) : depth;
    const dead = g.op('GreaterOrEqual', [g.int32(Array.from({ length: D }, (_, s) => s), [1, 1, D, 1]), g.op('Unsqueeze', [held, g.int64([-1, -2])])]);
    const floor = g.op('Mul', [g.op('Cast', [dead], { to: DataType.INT32 }), g.int32([C], [])]);
    const stages = g.opN('Split', [g.op('Max', [codes, floor])], D, { axis: 2, num_outputs: D });
    const summed = stages.map((index, s) => g.op('Gather', [this.stageBook(s), index])).reduce((sum, entries) => g.op('Add', [sum, entries]));
    const rows = this.regroup(summed, 'toRows');
    return scales ? this.applyScales(rows, 'Mul', g.op('Cast', [scales], { to: DataType.FLOAT })) : rows;
  }

  /**
   * Greedy residual encoding of rows [b, n, W]: scale by the fp16-rounded unbiased std (zero -> 1),
   * group, then per stage nearest entry = ArgMax(<r, c> - ||c||^2/2) (one Gemm with the norms as
   * bias) and subtract it. Returns codes int32 [b, n, depth, G], the fp16 scales [b, n, S] (null for
   * 'none') and `decoded`, the rows as dequantize would read them back at `depth` (the chosen
   * entries of the first `depth` stages summed, so no second lookup).
   */
  quantize(rows: string, depth: string): { codes: string; scales: string | null; decoded: string } {
    const { g, spec } = this;
    const { depth: D, codebookSize: C, groupSize } = spec;
    let scaled = rows;
    let scales: string | null = null;
    let divisor: string | null = null;
    if (this.numScales > 0) {
      const span = this.width / this.numScales;
      const segments = g.op('Reshape', [rows, g.int64([0, 0, this.numScales, span])]);
      const deviation = g.op('Sub', [segments, g.op('ReduceMean', [segments, g.int64([-1])], { keepdims: 1 })]);
      const variance = g.op('Div', [g.op('ReduceSum', [g.op('Mul', [deviation, deviation]), g.int64([-1])], { keepdims: 0 }), g.float([span - 1], [])]);
      const rounded = g.op('Cast', [g.op('Cast', [g.op('Min', [g.op('Sqrt', [variance]), g.float([largestHalf], [])])], { to: DataType.FLOAT16 })], { to: DataType.FLOAT });
      divisor = g.op('Where', [g.op('Equal', [rounded, g.float([0], [])]), g.float([1], []), rounded]);
      scales = g.op('Cast', [divisor], { to: DataType.FLOAT16 });
      scaled = this.applyScales(rows, 'Div', divisor);
    }
    // group vectors as a matrix [b * n * G, groupSize]
    let residual = g.op('Reshape', [this.regroup(scaled, 'toGroups'), g.int64([-1, groupSize])]);
    const stageCodes: string[] = [];
    const stageEntries: string[] = [];
    for (let s = 0; s < D; s++) {
      // the zero row (index C) must never win: its score is the lowest float
      const negHalfNorms = new Array<number>(C + 1).fill(0);
      negHalfNorms[C] = -3.0e38;
      for (let c = 0; c < C; c++) {
        for (let t = 0; t < groupSize; t++) negHalfNorms[c] -= this.codebooks[(s * C + c) * groupSize + t] ** 2 / 2;
      }
      const book = this.stageBook(s);
      const code = g.op('Cast', [g.op('ArgMax', [g.op('Gemm', [residual, book, g.float(negHalfNorms)], { transB: 1 })], { axis: 1, keepdims: 0 })], { to: DataType.INT32 });
      const entry = g.op('Gather', [book, code]);
      stageCodes.push(code);
      stageEntries.push(entry);
      if (s + 1 < D) residual = g.op('Sub', [residual, entry]);
    }
    // codes of all stages, stage-major [D * b * n * G] -> [b, n, D, G]
    const tokens = g.op('Shape', [rows], { start: 0, end: 2 });
    const stageMajor = g.op('Reshape', [g.op('Concat', stageCodes, { axis: 0 }), g.op('Concat', [g.int64([D]), tokens, g.int64([this.groups])], { axis: 0 })]);
    const codes = g.op('Transpose', [stageMajor], { perm: [1, 2, 0, 3] });
    // the entries of the first `depth` stages summed: [D, b * n * G, groupSize] masked by stage < depth
    const kept = g.op('Cast', [g.op('Less', [g.int32(Array.from({ length: D }, (_, s) => s), [D, 1, 1]), depth])], { to: DataType.FLOAT });
    const entries = g.op('Reshape', [g.op('Concat', stageEntries, { axis: 0 }), g.int64([D, -1, groupSize])]);
    const summed = g.op('ReduceSum', [g.op('Mul', [entries, kept]), g.int64([0])], { keepdims: 0 });
    const decodedRows = this.regroup(g.op('Reshape', [summed, g.op('Concat', [tokens, g.int64([this.width])], { axis: 0 })]), 'toRows');
    const decoded = divisor ? this.applyScales(decodedRows, 'Mul', divisor) : decodedRows;
    return { codes, scales, decoded };
  }

  /** Stage s's codebook and zero row, [C + 1, groupSize] (constant: folded when the session loads). */
  private stageBook(s: number): string {
    return this.g.op('Gather', [this.books, this.g.int64([s], [])], { axis: 0 });
  }

  /** rows [b, n, W] (op) scales [b, n, S]: each scale covers W/S consecutive channels. */
  private applyScales(rows: string, op: 'Mul' | 'Div', scales: string): string {
    const { g } = this;
    const segments = g.op('Reshape', [rows, g.int64([0, 0, this.numScales, this.width / this.numScales])]);
    return g.op('Reshape', [g.op(op, [segments, g.op('Unsqueeze', [scales, g.int64([-1])])]), g.int64([0, 0, this.width])]);
  }

  /**
   * Token rows [b, n, W] <-> group vectors flattened [b, n, G*groupSize]. Contiguous groups are the
   * rows as they are. Strided groups (channel j + t*P of a unit is position t of group j, with P
   * groups per unit) are a unit viewed [groupSize, P] and transposed; the way back views [P, groupSize].
   */
  private regroup(x: string, to: 'toGroups' | 'toRows'): string {
    const { g, spec } = this;
    if (spec.grouping === 'contiguous') return g.op('Reshape', [x, g.int64([0, 0, this.width])]);
    const units = this.width / unitWidth(spec);
    const perUnit = unitWidth(spec) / spec.groupSize;
    const dims = to === 'toGroups' ? [spec.groupSize, perUnit] : [perUnit, spec.groupSize];
    const view = g.op('Reshape', [x, g.int64([0, 0, units, ...dims])]);
    return g.op('Reshape', [g.op('Transpose', [view], { perm: [0, 1, 2, 4, 3] }), g.int64([0, 0, this.width])]);
  }
}

/** x mod m for whole numbers x >= 0 held exactly in float32 and m a power of two: x - floor(x / m) m. */
function remainder(g: GraphBuilder, x: string, m: number): string {
  return g.op('Sub', [x, g.op('Mul', [g.op('Floor', [g.op('Mul', [x, g.float([1 / m], [])])]), g.float([m], [])])]);
}

/** quant's [depth, C, groupSize] books -> [depth, C + 1, groupSize] with a zero row after each stage. */
function withZeroRows(spec: RvqSpec, books: Float32Array): Float32Array {
  const { depth, codebookSize: C, groupSize } = spec;
  const padded = new Float32Array(depth * (C + 1) * groupSize);
  for (let s = 0; s < depth; s++) padded.set(books.subarray(s * C * groupSize, (s + 1) * C * groupSize), s * (C + 1) * groupSize);
  return padded;
}
