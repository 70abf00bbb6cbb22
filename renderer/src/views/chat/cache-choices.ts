// The KV cache formats a conversation of a model can use: fp16, the scalar formats, and RVQ with
// each of the model's calibrated codebook sets.
import type { ModelSummary } from '../../../../main/api/types.js';

export function cacheChoices(model: ModelSummary | undefined): string[] {
  return ['fp16', 'q8_0', 'q4_0', 'kivi2', ...(model?.info?.calibrations ?? []).map((c) => `rvq:${c.name}`)];
}
