import { describe, expect, it } from 'vitest';
import { CODEBOOK_FORMAT, decodeCodebooks, encodeCodebooks } from '../../../quant/codebook-file.js';
import type { CodebookSet } from '../../../quant/codebook-file.js';
import { decodeSafetensors, encodeSafetensors } from '../../../quant/safetensors.js';
import { parseRvqSpec } from '../../../quant/spec.js';
import { createRng } from '../../../quant/prng.js';

const keySpec = parseRvqSpec({ headDim: 8, numKvHeads: 2, groupSize: 4, codebookSize: 4, depth: 2, grouping: 'strided', groupSpan: 'head', scale: 'head' });
const valueSpec = { ...keySpec, grouping: 'contiguous' as const, depth: 3 };
const rng = createRng(2);
const books = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
const set: CodebookSet = {
  keySpec,
  valueSpec,
  layers: [
    { key: books(2 * 4 * 4), value: books(3 * 4 * 4) },
    { key: books(2 * 4 * 4), value: books(3 * 4 * 4) },
  ],
};

/** Re-encodes a valid file with tensors or metadata changed. */
function tampered(edit: (file: ReturnType<typeof decodeSafetensors>) => void): Uint8Array {
  const file = decodeSafetensors(encodeCodebooks(set));
  edit(file);
  return encodeSafetensors(file.tensors, file.metadata);
}

describe('codebook file', () => {
  it('round-trips keys and values of every layer with their specs', () => {
    const bytes = encodeCodebooks(set);
    const file = decodeSafetensors(bytes);
    expect(file.metadata['reskv.format']).toBe(CODEBOOK_FORMAT);
    expect(file.metadata['reskv.layers']).toBe('2');
    expect(file.tensors['layers.1.value.codebooks'].shape).toEqual([3, 4, 4]);
    expect(decodeCodebooks(bytes)).toEqual(set);
  });

  it('refuses to write codebooks that do not match the spec', () => {
    expect(() => encodeCodebooks({ ...set, layers: [{ key: books(5), value: set.layers[0].value }] })).toThrow(/layer 0 key codebooks hold 5 values/);
    expect(() => encodeCodebooks({ ...set, layers: [] })).toThrow(/at least one layer/);
  });

  it.each([
    ['a foreign format', (f: ReturnType<typeof decodeSafetensors>) => (f.metadata['reskv.format'] = 'other/1'), /not a ResKV codebook file: reskv.format is "other\/1"/],
    ['a missing format', (f: ReturnType<typeof decodeSafetensors>) => delete f.metadata['reskv.format'], /reskv.format is missing/],
    ['a bad layer count', (f: ReturnType<typeof decodeSafetensors>) => (f.metadata['reskv.layers'] = 'two'), /reskv.layers must be a positive integer/],
    ['more layers than tensors', (f: ReturnType<typeof decodeSafetensors>) => (f.metadata['reskv.layers'] = '3'), /lacks tensor layers.2.key.codebooks/],
    ['an invalid spec', (f: ReturnType<typeof decodeSafetensors>) => (f.metadata['reskv.key_spec'] = JSON.stringify({ ...keySpec, codebookSize: 3 })), /reskv.key_spec: Invalid RVQ spec: codebookSize: must be a power of two/],
    ['a spec that is not JSON', (f: ReturnType<typeof decodeSafetensors>) => (f.metadata['reskv.value_spec'] = '{'), /reskv.value_spec is not JSON/],
    ['a spec/shape mismatch', (f: ReturnType<typeof decodeSafetensors>) => (f.metadata['reskv.value_spec'] = JSON.stringify({ ...valueSpec, depth: 2 })), /layers.0.value.codebooks is F32 \[3, 4, 4\], the value spec needs F32 \[2, 4, 4\]/],
    ['a wrong dtype', (f: ReturnType<typeof decodeSafetensors>) => (f.tensors['layers.0.key.codebooks'] = { dtype: 'I32', shape: [2, 4, 4], data: new Uint8Array(128) }), /is I32/],
    ['a stray tensor', (f: ReturnType<typeof decodeSafetensors>) => (f.tensors.extra = { dtype: 'U8', shape: [1], data: new Uint8Array(1) }), /unexpected tensors: extra/],
    ['a NaN entry', (f: ReturnType<typeof decodeSafetensors>) => (f.tensors['layers.1.key.codebooks'] = { dtype: 'F32', shape: [2, 4, 4], data: new Uint8Array(new Float32Array(32).fill(NaN).buffer) }), /layers.1.key.codebooks has a non-finite value at index 0/],
  ])('rejects %s', (_, edit, message) => {
    expect(() => decodeCodebooks(tampered(edit))).toThrow(message);
  });

  it('rejects a truncated file', () => {
    const bytes = encodeCodebooks(set);
    expect(() => decodeCodebooks(bytes.subarray(0, bytes.length - 4))).toThrow(/beyond the .* data bytes in the file \(truncated\?\)/);
  });
});
