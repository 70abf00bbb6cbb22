// One layer's RVQ codebooks for K or V in kernel memory: laid out [depth, C, groupSize] for the
// attention's row sums, and for the kernel's greedy encoder either [depth][C/4][groupSize][4] with
// -|c|^2/2 (exact search: every entry scored) or a cluster index of each stage's book (approximate
// search: k-means clusters of the entries, only the clusters nearest the residual scored; attend.c's
// encode_index). Encodes token rows as quant's RvqCodec does (fp16 std scales, grouping, greedy stages;
// the same codes with the exact search), so it also serves a KvCodeStore as its encoder for tokens
// leaving the recent window.
import { codeBits, float16BitsToFloat32, groupLayout, rowsToGroups } from '../../../quant/index.js';
import type { GroupLayout, RvqEncoded, RvqSpec } from '../../../quant/index.js';
import { Scratch } from './attention.js';
import type { FusedKernel } from './kernel.js';

const ENCODE_FIELDS = 12;
const INDEX_FIELDS = 9;
const SCREEN_FIELDS = 5;
/**
 * The screen is judged after this many searches (vector x stage): where more than SCREEN_GIVE_UP blocks of 4
 * entries per search fell within its bound and were rescored, the codec encodes with the exact search from
 * then on (the same codes). Trained stories260K keys (groups of 8) rescored ~430 blocks per search and
 * screened 2.3x slower than exact; random SmolLM2-geometry books rescore ~1 entry.
 */
const SCREEN_TRIAL = 4096;
const SCREEN_GIVE_UP = 64;
/** attend.c's MAX_SCREENED: the screen's score buffer holds this many entries. */
const MAX_SCREENED = 4096;

const scratches = new WeakMap<FusedKernel, Scratch>();

/**
 * One Scratch per kernel for the codecs' calls (they run one at a time): blocks reused from call to
 * call instead of an allocation and release of 4 blocks per call (~1 ms a decode step of 60 calls),
 * holding the largest call's bytes (~1.7 KiB a token at 192 channels, depth 8).
 */
function scratchOf(kernel: FusedKernel): Scratch {
  let scratch = scratches.get(kernel);
  if (!scratch) {
    scratch = new Scratch(kernel);
    scratches.set(kernel, scratch);
  }
  return scratch;
}

/**
 * The encoder's nearest-entry search: `exact` scores every entry of a stage's book in float32;
 * `screened` scores every entry from an int8 copy with an error bound and rescores exactly only the
 * entries that may be the best (the same codes as `exact`, from a quarter of the bytes); `clustered`
 * (approximate) splits each book into `clusters` k-means clusters (`iterations` Lloyd rounds when the
 * codebooks are loaded) and scores only the entries of the `probes` clusters whose centroids are
 * nearest the residual.
 */
export type EncodeSearch = { kind: 'exact' } | { kind: 'screened' } | { kind: 'clustered'; clusters: number; probes: number; iterations: number };

export const EXACT_SEARCH: EncodeSearch = { kind: 'exact' };
export const SCREENED_SEARCH: EncodeSearch = { kind: 'screened' };
export const CLUSTERED_SEARCH: Extract<EncodeSearch, { kind: 'clustered' }> = { kind: 'clustered', clusters: 64, probes: 8, iterations: 6 };

/**
 * The search chosen by RESKV_ENCODE_SEARCH: `exact`, `screened`, `clustered` (the default settings) or
 * `clustered:CLUSTERS:PROBES`; unset: `fallback` (a codec's: defaultSearch).
 */
export function encodeSearchFromEnv(fallback: EncodeSearch, value = process.env.RESKV_ENCODE_SEARCH): EncodeSearch {
  if (value === undefined || value === '') return fallback;
  if (value === 'exact') return EXACT_SEARCH;
  if (value === 'screened') return SCREENED_SEARCH;
  if (value === 'clustered') return CLUSTERED_SEARCH;
  const match = /^clustered:(\d+):(\d+)$/.exec(value);
  if (match) {
    const search: EncodeSearch = { ...CLUSTERED_SEARCH, clusters: Number(match[1]), probes: Number(match[2]) };
    checkSearch(search, Infinity, 4);
    return search;
  }
  throw new Error(`RESKV_ENCODE_SEARCH must be exact, screened, clustered or clustered:CLUSTERS:PROBES, got ${JSON.stringify(value)}`);
}

/** Why attend.c cannot run `search` on these books (MAX_SCREENED, MAX_CLUSTERS, MAX_PROBES, MAX_GROUP), or null. */
function searchGap(search: EncodeSearch, codebookSize: number, groupSize: number): string | null {
  if (search.kind === 'exact') return null;
  if (groupSize > 64 || groupSize % 4 !== 0) return `the ${search.kind} search takes groups of up to 64 channels, a multiple of 4, got ${groupSize}`;
  if (search.kind === 'screened') return codebookSize > MAX_SCREENED || codebookSize < 4 ? `the screened search takes codebooks of 4 to ${MAX_SCREENED} entries (blocks of 4), got ${codebookSize}` : null;
  const { clusters, probes } = search;
  if (!Number.isInteger(clusters) || clusters % 4 !== 0 || clusters < 4 || clusters > Math.min(512, codebookSize)) return `clusters must be a multiple of 4 in 4..${Math.min(512, codebookSize)}, got ${clusters}`;
  if (!Number.isInteger(probes) || probes < 1 || probes > Math.min(64, clusters)) return `probes must be in 1..${Math.min(64, clusters)}, got ${probes}`;
  return null;
}

function checkSearch(search: EncodeSearch, codebookSize: number, groupSize: number): void {
  const gap = searchGap(search, codebookSize, groupSize);
  if (gap) throw new Error(`encode search: ${gap}`);
}

/** The default search: screened (the exact codes, faster) where the kernel can screen the books, else exact. */
export function defaultSearch(spec: RvqSpec): EncodeSearch {
  return searchGap(SCREENED_SEARCH, spec.codebookSize, spec.groupSize) ? EXACT_SEARCH : SCREENED_SEARCH;
}

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

/** An encode's codes and the rows they read back (see encodeDecoded). */
export interface EncodedRows {
  encoded: RvqEncoded;
  decoded: Float32Array;
}

/** One encode call's blocks in kernel memory, between prepare and collect. */
interface EncodeCall {
  paramsAt: number;
  codesAt: number;
  decodedAt: number;
  tokens: number;
  depth: number;
  length: number;
  scales: Uint16Array;
}

export class KernelRvqCodec {
  readonly layout: GroupLayout;
  readonly booksAt: number;
  readonly bits: number;
  /** Exact search (or a screen given up): books interleaved by 4; else 0. */
  private encodeBooksAt = 0;
  /** Exact and screened search: -|c|^2/2 per entry; else 0. */
  private readonly biasAt: number = 0;
  /** Clustered search: the index's field block (attend.c I_ fields); else 0. */
  private readonly indexAt: number = 0;
  /** Screened search: the screen's field block (attend.c X_ fields); else 0, also once given up. */
  private screenAt = 0;
  /** Searches (vector x stage) screened so far, until the screen is judged; -1 once judged. */
  private screened = 0;
  /** Each call's blocks, reused: see scratchOf. */
  private readonly scratch: Scratch;

  constructor(
    private readonly kernel: FusedKernel,
    readonly spec: RvqSpec,
    codebooks: Float32Array,
    readonly search: EncodeSearch = encodeSearchFromEnv(defaultSearch(spec)),
  ) {
    const { depth: D, codebookSize: C, groupSize: gs } = spec;
    checkSearch(search, C, gs);
    this.scratch = scratchOf(kernel);
    this.layout = groupLayout(spec);
    this.bits = codeBits(spec);
    this.booksAt = kernel.alloc(4 * codebooks.length);
    kernel.f32(this.booksAt, codebooks.length).set(codebooks);
    if (search.kind === 'clustered') {
      this.indexAt = this.buildIndex(search);
      return;
    }
    this.biasAt = kernel.alloc(4 * D * C);
    const bias = kernel.f32(this.biasAt, D * C);
    for (let e = 0; e < D * C; e++) {
      let norm = 0;
      for (let t = 0; t < gs; t++) norm += codebooks[e * gs + t] ** 2;
      bias[e] = -norm / 2;
    }
    if (search.kind === 'screened') {
      this.screenAt = this.buildScreen(codebooks, bias);
      return;
    }
    this.encodeBooksAt = this.interleave(codebooks);
  }

  /** The books interleaved by 4 ([depth][C/4][groupSize][4]) for the exact search; returns their offset. */
  private interleave(codebooks: Float32Array): number {
    const { depth: D, codebookSize: C, groupSize: gs } = this.spec;
    const at = this.kernel.alloc(4 * codebooks.length);
    const interleaved = this.kernel.f32(at, codebooks.length);
    for (let s = 0; s < D; s++) {
      for (let c = 0; c < C; c++) {
        for (let t = 0; t < gs; t++) interleaved[s * C * gs + (c >> 2) * 4 * gs + 4 * t + (c & 3)] = codebooks[(s * C + c) * gs + t];
      }
    }
    return at;
  }

  /** The search in use: the one asked for, or exact once a screen was given up (see SCREEN_GIVE_UP). */
  get searching(): EncodeSearch['kind'] {
    return this.screenAt === 0 && this.search.kind === 'screened' ? 'exact' : this.search.kind;
  }

  /**
   * Before a call of `searches` searches: once the calls before have made SCREEN_TRIAL, keeps the screen or
   * gives it up for the exact search (judged once).
   */
  private judgeScreen(searches: number): void {
    if (this.screenAt === 0 || this.screened < 0) return;
    if (this.screened < SCREEN_TRIAL) {
      this.screened += searches;
      return;
    }
    const { kernel } = this;
    const [codesAt, channelAt, stageAt, , rescored] = kernel.i32(this.screenAt, SCREEN_FIELDS);
    if (rescored > SCREEN_GIVE_UP * this.screened) {
      const books = kernel.f32(this.booksAt, this.spec.depth * this.spec.codebookSize * this.spec.groupSize).slice();
      this.encodeBooksAt = this.interleave(books);
      for (const at of [codesAt, channelAt, stageAt, this.screenAt]) kernel.release(at);
      this.screenAt = 0;
    }
    this.screened = -1;
  }

  /**
   * The int8 screen: per stage and channel a scale (max(max |channel|, 1e-30) / 127: every code in
   * -127..127, every channel within scale/2), the entries' codes in the kernel's pair layout, and per
   * stage the largest |codes|_1 and |bias| (the kernel's error bound).
   */
  private buildScreen(codebooks: Float32Array, bias: Float32Array): number {
    const { kernel } = this;
    const { depth: D, codebookSize: C, groupSize: gs } = this.spec;
    const screenAt = kernel.alloc(4 * SCREEN_FIELDS);
    const [codesAt, channelAt, stageAt] = [D * C * gs, 4 * D * gs, 4 * D * 2].map((bytes) => kernel.alloc(bytes));
    kernel.i32(screenAt, SCREEN_FIELDS).set([codesAt, channelAt, stageAt, this.booksAt, 0]);
    const codes = new Int8Array(kernel.memory.buffer, codesAt, D * C * gs);
    const channel = kernel.f32(channelAt, D * gs);
    const limits = kernel.f32(stageAt, D * 2);
    for (let s = 0; s < D; s++) {
      const scale = channel.subarray(s * gs, (s + 1) * gs);
      for (let c = 0; c < C; c++) for (let t = 0; t < gs; t++) scale[t] = Math.max(scale[t], Math.abs(codebooks[(s * C + c) * gs + t]));
      for (let t = 0; t < gs; t++) scale[t] = Math.max(scale[t], 1e-30) / 127;
      let l1 = 0;
      let largest = 0;
      for (let c = 0; c < C; c++) {
        // entry c's channels (2k, 2k+1) at block c/4, pair k, lane c%4: byte 8k + 2(c%4) of the block
        const block = (s * C + (c & ~3)) * gs;
        let sum = 0;
        for (let t = 0; t < gs; t++) {
          const code = Math.round(codebooks[(s * C + c) * gs + t] / scale[t]);
          codes[block + 8 * (t >> 1) + 2 * (c & 3) + (t & 1)] = code;
          sum += Math.abs(code);
        }
        l1 = Math.max(l1, sum);
        largest = Math.max(largest, Math.abs(bias[s * C + c]));
      }
      limits.set([l1, largest], 2 * s);
    }
    return screenAt;
  }

  /** The cluster index of every stage book (k-means in the kernel); returns its field block. */
  private buildIndex({ clusters: K, probes, iterations }: { clusters: number; probes: number; iterations: number }): number {
    const { kernel } = this;
    const { depth: D, codebookSize: C, groupSize: gs } = this.spec;
    const padded = C + 3 * K;
    const indexAt = kernel.alloc(4 * INDEX_FIELDS);
    const arrays = [4 * D * K * gs, 4 * D * K, 4 * D * padded * gs, 4 * D * padded, 4 * D * padded, 4 * D * (K + 1)].map((bytes) => kernel.alloc(bytes));
    kernel.i32(indexAt, INDEX_FIELDS).set([K, probes, ...arrays, padded]);
    const scratchAt = kernel.alloc(4 * (K * gs + K + C));
    try {
      kernel.encodeIndex(indexAt, this.booksAt, D, C, gs, iterations, scratchAt);
    } finally {
      kernel.release(scratchAt);
    }
    return indexAt;
  }

  /**
   * Greedy codes of token rows [tokens, W] (channel order) to `depth` stages, with the rows as the
   * codes read back (`decoded`, [tokens, W] in group order, scales applied).
   */
  encodeDecoded(rows: Float32Array, depth = this.spec.depth): EncodedRows {
    const call = this.prepare(rows, depth, 'encode');
    this.kernel.encode(call.paramsAt);
    return this.collect(call);
  }

  /**
   * encodeDecoded of these rows and of `other`'s rows (a layer's keys and values) in one kernel call:
   * with the helper thread, one hand-off for both. The same codes and rows as two encodeDecoded calls.
   */
  encodeDecodedWith(rows: Float32Array, depth: number, other: KernelRvqCodec, otherRows: Float32Array, otherDepth: number): [EncodedRows, EncodedRows] {
    if (other.kernel !== this.kernel) throw new Error('encodeDecodedWith: the two codecs belong to different kernel instances');
    const call = this.prepare(rows, depth, 'encode');
    const otherCall = other.prepare(otherRows, otherDepth, 'encode.other');
    this.kernel.encodePair(call.paramsAt, otherCall.paramsAt);
    return [this.collect(call), other.collect(otherCall)];
  }

  /** Groups and scales `rows` into the scratch blocks named by `slot` and fills the kernel's encode fields. */
  private prepare(rows: Float32Array, depth: number, slot: string): EncodeCall {
    const { kernel, layout } = this;
    const { width, groups, scalesPerToken: S } = layout;
    const tokens = rows.length / width;
    this.judgeScreen(tokens * groups * depth);
    const vectors = new Float32Array(rows.length);
    const scales = new Uint16Array(tokens * S);
    rowsToGroups(layout, rows, tokens, vectors, scales);
    const vectorsAt = this.scratch.block(`${slot}.vectors`, 4 * rows.length);
    const codesAt = this.scratch.block(`${slot}.codes`, 4 * tokens * depth * groups);
    const decodedAt = this.scratch.block(`${slot}.decoded`, 4 * rows.length);
    const paramsAt = this.scratch.block(`${slot}.params`, 4 * ENCODE_FIELDS);
    kernel.f32(vectorsAt, rows.length).set(vectors);
    const { codebookSize: C, groupSize: gs } = this.spec;
    kernel.i32(paramsAt, ENCODE_FIELDS).set([vectorsAt, tokens * groups, groups, this.encodeBooksAt, this.biasAt, C, gs, depth, codesAt, decodedAt, this.indexAt, this.screenAt]);
    return { paramsAt, codesAt, decodedAt, tokens, depth, length: rows.length, scales };
  }

  /** The codes and scaled rows of a finished call. */
  private collect({ codesAt, decodedAt, tokens, depth, length, scales }: EncodeCall): EncodedRows {
    const { kernel, layout } = this;
    const { width, groups, scalesPerToken: S, scaleSpan } = layout;
    const codes = kernel.u32(codesAt, tokens * depth * groups).slice();
    const decoded = kernel.f32(decodedAt, length).slice();
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
  }

  /** RvqTokenEncoder: codes only. */
  encode(rows: Float32Array, depth = this.spec.depth): RvqEncoded {
    return this.encodeDecoded(rows, depth).encoded;
  }
}
