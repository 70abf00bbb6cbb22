// The validated RVQ spec for ONE layer and ONE of K/V (see the RVQ contract).
// A coded token row has W = numKvHeads * headDim channels (heads concatenated head-major); it is split
// into units (one per head for groupSpan 'head', the whole row for 'token'), each unit into groups of
// groupSize channels, and every group is coded with the same depth-stage residual quantizer.
import { z } from 'zod';

const MAX_CODEBOOK_SIZE = 65536;
const MAX_DEPTH = 64;
const MAX_WIDTH = 1 << 20;

const positiveInt = (max: number) => z.number().int('must be an integer').min(1, 'must be at least 1').max(max, `must be at most ${max}`);

export const rvqSpecSchema = z
  .strictObject({
    headDim: positiveInt(MAX_WIDTH),
    numKvHeads: positiveInt(4096),
    groupSize: positiveInt(MAX_WIDTH),
    codebookSize: z
      .number()
      .int('must be an integer')
      .min(2, 'must be at least 2')
      .max(MAX_CODEBOOK_SIZE, `must be at most ${MAX_CODEBOOK_SIZE}`)
      .refine((c) => (c & (c - 1)) === 0, 'must be a power of two'),
    depth: positiveInt(MAX_DEPTH),
    grouping: z.enum(['contiguous', 'strided']),
    groupSpan: z.enum(['head', 'token']),
    scale: z.enum(['head', 'token', 'none']),
  })
  .superRefine((s, ctx) => {
    const unitWidth = s.groupSpan === 'head' ? s.headDim : s.headDim * s.numKvHeads;
    if (unitWidth % s.groupSize !== 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['groupSize'],
        message: `${s.groupSize} must divide the ${s.groupSpan === 'head' ? 'headDim' : 'token width numKvHeads*headDim'} (${unitWidth})`,
      });
    }
    const scaledWidth = s.scale === 'head' ? s.headDim : s.headDim * s.numKvHeads;
    if (s.scale !== 'none' && scaledWidth < 2) {
      ctx.addIssue({ code: 'custom', path: ['scale'], message: `'${s.scale}' needs at least 2 channels for an unbiased std, has ${scaledWidth}` });
    }
  });

export type RvqSpec = z.infer<typeof rvqSpecSchema>;
export type RvqGrouping = RvqSpec['grouping'];
export type RvqGroupSpan = RvqSpec['groupSpan'];
export type RvqScaleMode = RvqSpec['scale'];

/** Validates an untrusted spec; the error names every offending field. */
export function parseRvqSpec(input: unknown): RvqSpec {
  const result = rvqSpecSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
  throw new Error(`Invalid RVQ spec: ${problems.join('; ')}`);
}

/** W: channels in one coded token row. */
export function tokenWidth(spec: RvqSpec): number {
  return spec.numKvHeads * spec.headDim;
}

/** Channels per grouping unit (one head, or the whole token row). */
export function unitWidth(spec: RvqSpec): number {
  return spec.groupSpan === 'head' ? spec.headDim : tokenWidth(spec);
}

/** G: groups per token row. */
export function groupsPerToken(spec: RvqSpec): number {
  return tokenWidth(spec) / spec.groupSize;
}

/** Bits per code, log2(C). */
export function codeBits(spec: RvqSpec): number {
  return Math.log2(spec.codebookSize);
}

/** fp16 scales stored per token row. */
export function scalesPerToken(spec: RvqSpec): number {
  return spec.scale === 'head' ? spec.numKvHeads : spec.scale === 'token' ? 1 : 0;
}

/** Throws unless depth is an integer from 1 to `available` (the stages stored or encoded). */
export function checkDepth(depth: number, available: number): void {
  if (!Number.isInteger(depth) || depth < 1 || depth > available) {
    throw new RangeError(`depth must be an integer from 1 to ${available}, got ${depth}`);
  }
}
