// Exact KV byte accounting per format for whole models, against figures computed by hand.
import { describe, expect, it } from 'vitest';
import { kvAccounting, kvFormatLabel, kvFormatSchema, parseKvFormatName } from '../../../main/cost/kv-format.js';
import type { KvFormatInput } from '../../../main/cost/kv-format.js';
import type { ModelGeometry } from '../../../main/cost/model-geometry.js';
import { findModelPreset } from '../../../main/cost/model-presets.js';

const llama3_8b = findModelPreset('llama-3-8b')!.geometry;
const account = (format: KvFormatInput, g: ModelGeometry = llama3_8b) => kvAccounting(kvFormatSchema.parse(format), g);

describe('KV bytes per token, Llama-3-8B (32 layers, 8 KV heads, head_dim 128)', () => {
  it('fp16 = 2 x 32 layers x 8 heads x 128 x 2 bytes = 131,072', () => {
    expect(account({ kind: 'fp16' }).bytesPerToken).toBe(2 * 32 * 8 * 128 * 2);
    expect(account({ kind: 'fp16' }).bytesPerToken).toBe(131_072);
  });

  it('q8_0 is 8.5 and q4_0 4.5 bits per value (32-value blocks + one fp16 scale)', () => {
    const q8 = account({ kind: 'q8_0' });
    const q4 = account({ kind: 'q4_0' });
    expect(q8.bitsPerValue).toBe(8.5);
    expect(q4.bitsPerValue).toBe(4.5);
    // 65,536 values per token: q8_0 2,048 blocks x 34 B, q4_0 2,048 blocks x 18 B.
    expect(q8.bytesPerToken).toBe(2048 * 34);
    expect(q4.bytesPerToken).toBe(2048 * 18);
    expect(account({ kind: 'kivi2' }).bitsPerValue).toBe(3);
  });

  it('RVQ depth 8, C 2048, groups of 32 = 23,616 bytes (5.55x): 44 B of codes + 2 B scale per head + the depth byte', () => {
    const rvq = account({ kind: 'rvq', depth: 8 });
    // Per layer, per K/V: 8 heads x 4 groups x 8 stages x 11 bits = 2,816 bits = 352 B, + 8 fp16 scales + 1 depth byte.
    expect(rvq.bytesPerToken).toBe(2 * 32 * (352 + 16 + 1));
    expect(rvq.bytesPerToken).toBe(23_616);
    expect(rvq.bitsPerValue).toBe((8 * 369) / 1024);
    expect(rvq.compressionVsFp16.toFixed(2)).toBe('5.55');
  });

  it('RVQ at depth 4 keeps the scales and the depth byte and halves the codes', () => {
    expect(account({ kind: 'rvq', depth: 4 }).bytesPerToken).toBe(2 * 32 * (176 + 16 + 1));
  });

  it('counts codebooks once per model copy: 64 quantizers x depth x C x group x 4 bytes', () => {
    expect(account({ kind: 'rvq', depth: 8 }).codebookBytes).toBe(64 * 8 * 2048 * 32 * 4);
    expect(account({ kind: 'rvq', depth: 8 }).codebookBytes).toBe(128 * 2 ** 20);
    expect(account({ kind: 'q4_0' }).codebookBytes).toBe(0);
  });

  it("says RVQ's decode speed is a fused-kernel assumption, not what ResKV's own engine achieves", () => {
    expect(account({ kind: 'rvq', depth: 8 }).notes.codebooks.join(' ')).toMatch(/assumes fused dequantization.*measured several times slower than its fp16 path.*Tradeoffs view/);
  });

  it('a head_dim-8 model groups across its KV heads with one scale per token (stories260K: 14 B per row)', () => {
    const tiny: ModelGeometry = { ...llama3_8b, name: 'stories260K-like', numLayers: 5, numHeads: 8, numKvHeads: 4, headDim: 8, hiddenSize: 64 };
    const rvq = account({ kind: 'rvq', depth: 8 }, tiny);
    expect(rvq.bytesPerToken).toBe(2 * 5 * (11 + 2 + 1));
    expect(rvq.bitsPerValue).toBe(3.5);
  });
});

describe('KV format names', () => {
  it('round-trips the CLI names', () => {
    for (const name of ['fp16', 'q8_0', 'q4_0', 'kivi2', 'rvq:8', 'rvq:4:1024:16']) {
      expect(kvFormatLabel(kvFormatSchema.parse(parseKvFormatName(name)))).toBe(name);
    }
    expect(parseKvFormatName('KIVI-2')).toEqual({ kind: 'kivi2' });
    expect(parseKvFormatName('rvq:8:2048:32')).toEqual({ kind: 'rvq', depth: 8, codebookSize: 2048, groupSize: 32 });
  });

  it('rejects unknown names, saying what is accepted', () => {
    expect(() => parseKvFormatName('q5_1')).toThrow(/unknown KV format 'q5_1'.*rvq:DEPTH/);
    expect(() => parseKvFormatName('rvq:')).toThrow(/unknown KV format/);
  });
});
