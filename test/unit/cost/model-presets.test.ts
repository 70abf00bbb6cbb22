// Built-in model geometries: parameter counts from the geometry against the published sizes.
import { describe, expect, it } from 'vitest';
import { forwardFlopsPerToken, matmulParameters, modelGeometrySchema, parameterBreakdown } from '../../../main/cost/model-geometry.js';
import { findModelPreset, modelPresets } from '../../../main/cost/model-presets.js';

describe('model presets', () => {
  it('covers the models the issue names, each citing its config.json', () => {
    expect(modelPresets.map((p) => p.id)).toEqual(['llama-3-8b', 'llama-3-70b', 'llama-3.2-1b', 'mistral-7b-v0.1', 'gemma-7b', 'qwen2.5-7b', 'smollm2-135m']);
    for (const p of modelPresets) {
      expect(modelGeometrySchema.parse(p.geometry)).toEqual(p.geometry);
      expect(p.geometry.source).toMatch(/^[\w.-]+\/[\w.-]+ config\.json/);
    }
  });

  it.each(modelPresets.map((p) => [p.id, p] as const))('%s: parameters from the geometry within 1.5%% of the published size', (_id, preset) => {
    const total = parameterBreakdown(preset.geometry).total;
    expect(Math.abs(total - preset.publishedParameters) / preset.publishedParameters).toBeLessThan(0.015);
  });

  it('matches exact safetensors totals where known (untied, tied, q/k/v biases, head_dim != hidden/heads)', () => {
    const exact: Record<string, number> = {
      'llama-3-8b': 8_030_261_248,
      'llama-3-70b': 70_553_706_496,
      'llama-3.2-1b': 1_235_814_400,
      'mistral-7b-v0.1': 7_241_732_096,
      'gemma-7b': 8_537_680_896,
      'qwen2.5-7b': 7_615_616_512,
      'smollm2-135m': 134_515_008,
    };
    for (const [id, n] of Object.entries(exact)) expect(parameterBreakdown(findModelPreset(id)!.geometry).total, id).toBe(n);
  });

  it('streams the lm_head but not an untied input embedding per token', () => {
    const untied = parameterBreakdown(findModelPreset('llama-3-8b')!.geometry);
    expect(matmulParameters(untied)).toBe(untied.total - 128_256 * 4096);
    const tied = parameterBreakdown(findModelPreset('gemma-7b')!.geometry);
    expect(tied.lmHead).toBe(0);
    expect(matmulParameters(tied)).toBe(tied.total);
  });

  it('counts attention FLOPs per attended position: 4 x layers x heads x head_dim', () => {
    const g = findModelPreset('llama-3-8b')!.geometry;
    const p = parameterBreakdown(g);
    expect(forwardFlopsPerToken(g, p, 1000) - forwardFlopsPerToken(g, p, 0)).toBe(4 * 32 * 32 * 128 * 1000);
  });

  it('finds presets by id or name, case-insensitively', () => {
    expect(findModelPreset('Llama-3-8B')?.id).toBe('llama-3-8b');
    expect(findModelPreset('gpt-2')).toBeUndefined();
  });

  it('rejects a geometry whose KV heads do not divide the heads, naming the field', () => {
    const bad = { ...findModelPreset('llama-3-8b')!.geometry, numKvHeads: 5 };
    const result = modelGeometrySchema.safeParse(bad);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0].path).toEqual(['numKvHeads']);
  });
});
