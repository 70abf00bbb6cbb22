// One layer's attention through the kernel: the parameter block and segment descriptors kernel/attend.c
// reads, RoPE tables in a call order (the channel order within a head the cached vectors use), and
// scratch buffers reused from step to step.
import type { ModelConfig } from '../../model/config.js';
import { ropeInverseFrequencies, ropePair } from '../../model/config.js';
import type { FusedKernel } from './kernel.js';

/** A run of cached tokens in kernel memory, in position order after the previous segment. */
export type KernelSegment =
  | { type: 'f16' | 'f32'; tokens: number; data: number; /** keys already turned by RoPE */ rotated?: boolean }
  | {
      type: 'coded';
      tokens: number;
      records: number;
      stride: number;
      scales: number;
      scaleCount: number;
      depths: number;
      depth: number;
      books: number;
      codebookSize: number;
      groupSize: number;
      bits: number;
    };

const SEGMENT_FIELDS = 16;
const PARAM_FIELDS = 18;
const segmentType = { coded: 0, f16: 1, f32: 2 } as const;
/** The RoPE partner (call position i ^ HALF_XOR) for which RopeTables keeps half tables (attend.c's score_coded). */
const HALF_XOR = 16;

/** Reusable kernel-memory blocks by name, grown (never shrunk) as calls need. */
export class Scratch {
  private readonly blocks = new Map<string, number>();

  constructor(private readonly kernel: FusedKernel) {}

  /** Offset of a block of at least `bytes` (contents undefined after growth). */
  block(name: string, bytes: number): number {
    const at = this.blocks.get(name);
    if (at !== undefined && this.kernel.capacity(at) >= bytes) return at;
    if (at !== undefined) this.kernel.release(at);
    const fresh = this.kernel.alloc(bytes);
    this.blocks.set(name, fresh);
    return fresh;
  }
}

/**
 * cos and signed sin tables [positions, headDim] in a call order (perm[i] = the head channel at call
 * position i), grown to the positions asked for, and the RoPE partner of each call position. Where the
 * partner is i ^ 16 (rotate-half, groups of 32 strided), also half tables [positions, headDim / 2] of
 * the positions without bit 16 (a pair shares its cos; its partner's sin is the negated one): the
 * kernel's coded keys read half the table bytes per token.
 */
export class RopeTables {
  private capacity = 0;
  private cosAt = 0;
  private sinAt = 0;
  private halfCosAt = 0;
  private halfSinAt = 0;
  readonly partnerAt: number;
  /** Partner of call position i is i ^ partnerXor when that holds with partnerXor >= 4 (SIMD), else 0. */
  readonly partnerXor: number;
  private readonly inverse: Float64Array;
  /** Whether the half tables exist: partner i ^ HALF_XOR, of the same frequency and the opposite sign. */
  private readonly half: boolean;

  constructor(
    private readonly kernel: FusedKernel,
    private readonly config: ModelConfig,
    private readonly perm: Int32Array,
  ) {
    const d = config.headDim;
    const position = new Int32Array(d);
    perm.forEach((channel, i) => (position[channel] = i));
    const partner = Int32Array.from(perm, (channel) => position[ropePair(config, channel).partner]);
    // layers.c's rope_rows turns a pair's two channels together, in place
    if (partner.some((p, i) => partner[p] !== i)) throw new Error('RoPE partners must come in pairs (each the partner of its partner)');
    const xor = partner[0] ^ 0;
    this.partnerXor = xor >= 4 && partner.every((p, i) => p === (i ^ xor)) ? xor : 0;
    this.half =
      this.partnerXor === HALF_XOR &&
      perm.every((channel, i) => {
        const [own, other] = [ropePair(config, channel), ropePair(config, perm[i ^ HALF_XOR])];
        return own.freq === other.freq && own.sign === -other.sign;
      });
    this.partnerAt = kernel.alloc(4 * d);
    kernel.i32(this.partnerAt, d).set(partner);
    this.inverse = ropeInverseFrequencies(config);
  }

  /** Turns `count` token rows [kvHeads * headDim] (call order) at kernel offset `at`, positions pos0.., in place, as the graphs' rope() does in float32. */
  turn(at: number, count: number, pos0: number, heads: number): void {
    const { cos, sin } = this.tables(pos0 + count);
    this.kernel.ropeRows(at, count, heads, this.config.headDim, pos0, { cos, sin, partner: this.partnerAt });
  }

  /** Offsets of the tables, covering positions [0, positions) (half tables 0 where there are none). */
  tables(positions: number): { cos: number; sin: number; halfCos: number; halfSin: number } {
    if (positions > this.capacity) this.grow(Math.max(positions, 2 * this.capacity, 256));
    return { cos: this.cosAt, sin: this.sinAt, halfCos: this.halfCosAt, halfSin: this.halfSinAt };
  }

  private grow(capacity: number): void {
    const { kernel, config, perm } = this;
    const d = config.headDim;
    if (this.capacity > 0) for (const at of [this.cosAt, this.sinAt, this.halfCosAt, this.halfSinAt]) if (at !== 0) kernel.release(at);
    this.cosAt = kernel.alloc(4 * capacity * d);
    this.sinAt = kernel.alloc(4 * capacity * d);
    const cos = kernel.f32(this.cosAt, capacity * d);
    const sin = kernel.f32(this.sinAt, capacity * d);
    // angles as the graphs compute them: float32 position x float32 inverse frequency
    const pairs = Array.from(perm, (channel) => ropePair(config, channel));
    const freqs = pairs.map((p) => Math.fround(this.inverse[p.freq]));
    for (let pos = 0; pos < capacity; pos++) {
      for (let i = 0; i < d; i++) {
        const angle = Math.fround(pos * freqs[i]);
        cos[pos * d + i] = Math.cos(angle);
        sin[pos * d + i] = pairs[i].sign * Math.sin(angle);
      }
    }
    this.halfCosAt = this.halfSinAt = 0;
    if (this.half) {
      this.halfCosAt = kernel.alloc(2 * capacity * d);
      this.halfSinAt = kernel.alloc(2 * capacity * d);
      const halfCos = kernel.f32(this.halfCosAt, (capacity * d) / 2);
      const halfSin = kernel.f32(this.halfSinAt, (capacity * d) / 2);
      const low = Array.from({ length: d }, (_, i) => i).filter((i) => (i & HALF_XOR) === 0);
      for (let pos = 0; pos < capacity; pos++) {
        low.forEach((i, k) => {
          halfCos[(pos * d) / 2 + k] = cos[pos * d + i];
          halfSin[(pos * d) / 2 + k] = sin[pos * d + i];
        });
      }
    }
    this.capacity = capacity;
  }
}

/**
 * Coded value segments of at least this many tokens per query and stage read are summed through
 * per-stage weight histograms (attend.c's attend_histogram): a fixed pass over each stage's codebook
 * instead of one codebook row per token and stage. Both ways cost about depth x tokens, but the
 * histograms' fixed part grows with the depth too, so the break-even is a token count per stage.
 * Measured one layer at a time (SmolLM2-135M geometry, C 2048, 1 thread): the two were equal near
 * 4500 tokens at depth 8 and 2200 at depth 4 (`npm run bench:kernel-values` finds the break-even).
 */
export const HISTOGRAM_TOKENS_PER_STAGE = tokensPerStage(process.env.RESKV_HISTOGRAM_TOKENS_PER_STAGE, 560);
/** attend.c's MAX_HISTOGRAM: codebook entries x groups per head of one histogram unit. */
const MAX_HISTOGRAM = 8192;

/** RESKV_HISTOGRAM_TOKENS_PER_STAGE (engine benchmarks A/B the two ways: 0 always, Infinity never), else `fallback`. */
function tokensPerStage(chosen: string | undefined, fallback: number): number {
  if (chosen === undefined || chosen === '') return fallback;
  const tokens = Number(chosen);
  if (Number.isNaN(tokens) || tokens < 0) throw new Error(`RESKV_HISTOGRAM_TOKENS_PER_STAGE must be a token count (or Infinity), got ${JSON.stringify(chosen)}`);
  return tokens;
}

export interface AttendOptions {
  /** Overrides HISTOGRAM_TOKENS_PER_STAGE (benchmarks and tests; 0: always, Infinity: never). */
  histogramTokensPerStage?: number;
}

/** Whether a coded value segment is summed through histograms for n queries. */
function histogram(segment: KernelSegment, n: number, headDim: number, tokensPerStage: number): boolean {
  if (segment.type !== 'coded' || segment.tokens < n * segment.depth * tokensPerStage) return false;
  return segment.groupSize % 8 === 0 && headDim % segment.groupSize === 0 && (segment.codebookSize * headDim) / segment.groupSize <= MAX_HISTOGRAM;
}

/**
 * Runs the kernel for one layer: queries q [n, heads, headDim] (pre-RoPE, key call order) at positions
 * qPos0.., over `segments` (keys and values paired, positions 0.. in order); returns the output
 * [n, heads, headDim] in the value call order (a view into scratch, valid until the next call).
 */
export function attendLayer(
  kernel: FusedKernel,
  scratch: Scratch,
  config: ModelConfig,
  rope: RopeTables,
  q: Float32Array,
  qPos0: number,
  segments: readonly { key: KernelSegment; value: KernelSegment }[],
  options: AttendOptions = {},
): Float32Array {
  const { numHeads: H, numKvHeads, headDim: d } = config;
  const n = q.length / (H * d);
  const total = segments.reduce((t, s) => t + s.key.tokens, 0);
  const histograms = segments.map((s) => histogram(s.value, n, d, options.histogramTokensPerStage ?? HISTOGRAM_TOKENS_PER_STAGE));
  // the histogram weights: [n, kvHeads, q heads of a KV head in 4s, tokens, 4] per histogram segment
  const histogramTokens = segments.reduce((t, s, g) => t + (histograms[g] ? s.value.tokens : 0), 0);
  const histogramFloats = n * numKvHeads * Math.ceil(H / numKvHeads / 4) * histogramTokens * 4;
  const tables = rope.tables(qPos0 + n);
  const paramsAt = scratch.block('params', 4 * PARAM_FIELDS);
  const segmentsAt = scratch.block('segments', 4 * SEGMENT_FIELDS * 2 * segments.length);
  const qAt = scratch.block('q', 4 * q.length);
  const outAt = scratch.block('out', 4 * q.length);
  const workAt = scratch.block('work', 4 * (n * H * total + n * H * d + 2 * d));
  const histogramAt = histogramFloats > 0 ? scratch.block('histogram', 4 * histogramFloats) : 0;
  kernel.f32(qAt, q.length).set(q);
  const descriptors = kernel.i32(segmentsAt, SEGMENT_FIELDS * 2 * segments.length);
  let position = 0;
  segments.forEach((pair, g) => {
    for (const [k, s] of [pair.key, pair.value].entries()) {
      const f = descriptors.subarray((2 * g + k) * SEGMENT_FIELDS, (2 * g + k + 1) * SEGMENT_FIELDS);
      f.fill(0);
      f[0] = segmentType[s.type];
      f[1] = s.tokens;
      f[2] = position;
      if (s.type === 'coded') {
        f.set([s.records, s.stride, s.scales, s.scaleCount, s.depths, s.depth, s.books, s.codebookSize, s.groupSize, s.bits], 3);
        if (k === 1) f[14] = histograms[g] ? 1 : 0;
      } else {
        f[3] = s.data;
        f[13] = s.rotated ? 1 : 0;
      }
    }
    position += pair.key.tokens;
  });
  const params = kernel.i32(paramsAt, PARAM_FIELDS);
  params.set([n, H, numKvHeads, d, qAt, qPos0, tables.cos, tables.sin, rope.partnerXor, rope.partnerAt, outAt, workAt, segmentsAt, segments.length]);
  new Float32Array(params.buffer, params.byteOffset + 14 * 4, 1)[0] = 1 / Math.sqrt(d);
  params[15] = histogramAt;
  params.set([tables.halfCos, tables.halfSin], 16);
  kernel.attend(paramsAt);
  return kernel.f32(outAt, q.length);
}
