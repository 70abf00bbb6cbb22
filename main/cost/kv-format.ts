// KV cache formats the estimator compares, and their exact byte accounting for a whole model.
// Per-row figures come from quant/'s accounting (the same code that sizes the real cache); this
// module only multiplies by the rows a token writes: one K and one V row per layer.
import { z } from 'zod';
import { kvFigures, parseRvqSpec, RVQ_DEPTH_BYTES_PER_ROW, rvqBytesPerToken, rvqCodebookBytes, SCALAR_FORMATS, scalarBitsPerValue } from '../../quant/index.js';
import type { RvqSpec } from '../../quant/index.js';
import type { ModelGeometry } from './model-geometry.js';

const wholeNumber = z.number().int('must be a whole number');

export const DEFAULT_CODEBOOK_SIZE = 2048;
export const DEFAULT_GROUP_SIZE = 32;

export const kvFormatSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.enum(SCALAR_FORMATS) }),
  z.strictObject({
    kind: z.literal('rvq'),
    depth: wholeNumber,
    codebookSize: wholeNumber.default(DEFAULT_CODEBOOK_SIZE),
    groupSize: wholeNumber.default(DEFAULT_GROUP_SIZE),
    /** Which channels share a group; does not change the bytes. */
    grouping: z.enum(['contiguous', 'strided']).default('strided'),
    /** Default: groups inside each head when groupSize divides headDim, else across the token's heads. */
    groupSpan: z.enum(['head', 'token']).optional(),
    /** Default: one fp16 scale per head with head-span groups, per token with token-span groups. */
    scale: z.enum(['head', 'token', 'none']).optional(),
  }),
]);

export type KvFormat = z.output<typeof kvFormatSchema>;
export type KvFormatInput = z.input<typeof kvFormatSchema>;
export type RvqKvFormat = Extract<KvFormat, { kind: 'rvq' }>;

/** The quant/ spec of one layer's K (or V) rows for this model; throws naming the bad field. */
export function rvqSpecFor(format: RvqKvFormat, g: ModelGeometry): RvqSpec {
  const groupSpan = format.groupSpan ?? (g.headDim % format.groupSize === 0 ? 'head' : 'token');
  return parseRvqSpec({
    headDim: g.headDim,
    numKvHeads: g.numKvHeads,
    groupSize: format.groupSize,
    codebookSize: format.codebookSize,
    depth: format.depth,
    grouping: format.grouping,
    groupSpan,
    scale: format.scale ?? groupSpan,
  });
}

export interface KvAccounting {
  /** All layers, K and V, one token: every byte the cache holds for it (RVQ: its depth bytes too). */
  bytesPerToken: number;
  /** kvFigures of those bytes, as Chat and Tradeoffs show them for a measured cache. */
  bitsPerValue: number;
  compressionVsFp16: number;
  /** float32 codebooks of every layer's K and V quantizer: a fixed cost per model copy. */
  codebookBytes: number;
  /** Compute to encode one token's K and V (RVQ: nearest-entry search, 2*C*groupSize per group per stage). */
  encodeFlopsPerToken: number;
  /** How the bytes are made up and what they leave out; what the codebooks cost and imply. */
  notes: { bytes: string[]; codebooks: string[] };
}

export function kvAccounting(format: KvFormat, g: ModelGeometry): KvAccounting {
  const rowsPerToken = 2 * g.numLayers;
  const rowWidth = g.numKvHeads * g.headDim;
  const figures = (bytesPerToken: number) => {
    const { bitsPerValue, compression } = kvFigures({ tokens: 1, held: bytesPerToken, fp16: rowsPerToken * rowWidth * 2, codebooks: 0 });
    return { bytesPerToken, bitsPerValue, compressionVsFp16: compression };
  };
  if (format.kind === 'rvq') {
    const spec = rvqSpecFor(format, g);
    const rowBytes = rvqBytesPerToken(spec) + RVQ_DEPTH_BYTES_PER_ROW;
    const scales = spec.scale === 'head' ? `${spec.numKvHeads} fp16 scales` : spec.scale === 'token' ? '1 fp16 scale' : 'no scale';
    return {
      ...figures(rowsPerToken * rowBytes),
      codebookBytes: rowsPerToken * rvqCodebookBytes(spec),
      encodeFlopsPerToken: rowsPerToken * rowWidth * spec.depth * spec.codebookSize * 2,
      notes: {
        bytes: [
          `${rowBytes} B per layer per K/V row: ${rowWidth / spec.groupSize} groups x depth ${spec.depth} codes of ` +
            `${Math.log2(spec.codebookSize)} bits, padded to a byte, + ${scales} + ${RVQ_DEPTH_BYTES_PER_ROW} B of the token's depth`,
        ],
        codebooks: [
          `codebooks: ${rowsPerToken} quantizers x ${spec.depth} x ${spec.codebookSize} x ${spec.groupSize} float32, once per GPU`,
          `decode assumes fused dequantization: summing ${spec.depth} codebook entries per group of every cached token ` +
            '(gathers from on-chip cache) is not in the roofline; ResKV\'s own fused kernel (WebAssembly, CPU only) sums ' +
            'them for every cached token and measured several times slower than its fp16 path, and its GPU path has no ' +
            'such kernel, so take decode speed from the Tradeoffs view',
        ],
      },
    };
  }
  const bits = scalarBitsPerValue(format.kind);
  const notes: KvAccounting['notes'] = { bytes: [], codebooks: [] };
  if (format.kind !== 'fp16' && rowWidth % 32 !== 0) {
    notes.bytes.push(`row width ${rowWidth} is not a multiple of the 32-value blocks: real blocks would be padded`);
  }
  if (format.kind.startsWith('kivi')) {
    notes.bytes.push("excludes KIVI's full-precision window of recent tokens (128 in the paper) per sequence");
  }
  if (format.kind !== 'fp16') notes.bytes.push('quantization compute ignored (a few operations per value)');
  return { ...figures((rowsPerToken * rowWidth * bits) / 8), codebookBytes: 0, encodeFlopsPerToken: 0, notes };
}

/** The short name the CLI accepts and tables print: fp16, q4_0, kivi2, rvq:8, rvq:8:1024:32. */
export function kvFormatLabel(format: KvFormat): string {
  if (format.kind !== 'rvq') return format.kind;
  const defaults = format.codebookSize === DEFAULT_CODEBOOK_SIZE && format.groupSize === DEFAULT_GROUP_SIZE;
  return defaults ? `rvq:${format.depth}` : `rvq:${format.depth}:${format.codebookSize}:${format.groupSize}`;
}

export const KV_FORMAT_SYNTAX = `${SCALAR_FORMATS.join(', ')} or rvq:DEPTH[:CODEBOOK_SIZE[:GROUP_SIZE]] (defaults ${DEFAULT_CODEBOOK_SIZE}, ${DEFAULT_GROUP_SIZE})`;

/** Parses the short name back (not yet checked against a model: parseCostInput does that). */
export function parseKvFormatName(text: string): KvFormatInput {
  const name = text.trim().toLowerCase();
  const scalar = SCALAR_FORMATS.find((f) => f === name || f === name.replace('-', ''));
  if (scalar) return { kind: scalar };
  const rvq = /^rvq:(\d+)(?::(\d+)(?::(\d+))?)?$/.exec(name);
  if (!rvq) throw new Error(`unknown KV format '${text}': use ${KV_FORMAT_SYNTAX}`);
  return {
    kind: 'rvq',
    depth: Number(rvq[1]),
    codebookSize: rvq[2] === undefined ? DEFAULT_CODEBOOK_SIZE : Number(rvq[2]),
    groupSize: rvq[3] === undefined ? DEFAULT_GROUP_SIZE : Number(rvq[3]),
  };
}
