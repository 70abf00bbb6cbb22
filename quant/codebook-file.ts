// The codebook file (see the RVQ contract): safetensors with F32 tensors layers.{i}.key.codebooks and
// layers.{i}.value.codebooks of shape [depth, C, groupSize] and metadata reskv.format, reskv.layers,
// reskv.key_spec, reskv.value_spec (JSON RvqSpec; keys and values may differ).
import { decodeSafetensors, encodeSafetensors, float32Bytes, safetensorToFloat32 } from './safetensors.js';
import type { SafetensorEntry } from './safetensors.js';
import type { KvKind } from './quantizer.js';
import { parseRvqSpec } from './spec.js';
import type { RvqSpec } from './spec.js';

export const CODEBOOK_FORMAT = 'reskv-codebooks/1';

export interface LayerCodebooks {
  /** [depth, C, groupSize] for keys. */
  key: Float32Array;
  /** [depth, C, groupSize] for values. */
  value: Float32Array;
}

export interface CodebookSet {
  keySpec: RvqSpec;
  valueSpec: RvqSpec;
  layers: LayerCodebooks[];
}

function tensorName(layer: number, kind: KvKind): string {
  return `layers.${layer}.${kind}.codebooks`;
}

function codebookShape(spec: RvqSpec): number[] {
  return [spec.depth, spec.codebookSize, spec.groupSize];
}

export function encodeCodebooks(set: CodebookSet): Uint8Array {
  if (set.layers.length === 0) throw new Error('a codebook file needs at least one layer');
  const tensors: Record<string, SafetensorEntry> = {};
  set.layers.forEach((layer, i) => {
    for (const kind of ['key', 'value'] as const) {
      const spec = kind === 'key' ? set.keySpec : set.valueSpec;
      const shape = codebookShape(spec);
      const data = layer[kind];
      if (data.length !== shape[0] * shape[1] * shape[2]) {
        throw new Error(`layer ${i} ${kind} codebooks hold ${data.length} values, the ${kind} spec needs [${shape.join(', ')}]`);
      }
      tensors[tensorName(i, kind)] = { dtype: 'F32', shape, data: float32Bytes(data) };
    }
  });
  return encodeSafetensors(tensors, {
    'reskv.format': CODEBOOK_FORMAT,
    'reskv.layers': String(set.layers.length),
    'reskv.key_spec': JSON.stringify(set.keySpec),
    'reskv.value_spec': JSON.stringify(set.valueSpec),
  });
}

function specFromMetadata(metadata: Record<string, string>, key: string): RvqSpec {
  const text = metadata[key];
  if (text === undefined) throw new Error(`codebook file lacks metadata ${key}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`codebook file metadata ${key} is not JSON`, { cause: e });
  }
  try {
    return parseRvqSpec(json);
  } catch (e) {
    throw new Error(`codebook file metadata ${key}: ${(e as Error).message}`, { cause: e });
  }
}

/** What a codebook file's metadata declares (format checked): layer count and the key and value specs. */
export function codebookFileDeclaration(metadata: Record<string, string>): { layers: number; keySpec: RvqSpec; valueSpec: RvqSpec } {
  const format = metadata['reskv.format'];
  if (format !== CODEBOOK_FORMAT) throw new Error(`not a ResKV codebook file: reskv.format is ${format === undefined ? 'missing' : JSON.stringify(format)}, expected "${CODEBOOK_FORMAT}"`);
  const layers = Number(metadata['reskv.layers']);
  if (!Number.isInteger(layers) || layers < 1) throw new Error(`codebook file metadata reskv.layers must be a positive integer, got ${JSON.stringify(metadata['reskv.layers'])}`);
  return { layers, keySpec: specFromMetadata(metadata, 'reskv.key_spec'), valueSpec: specFromMetadata(metadata, 'reskv.value_spec') };
}

/** Parses and fully validates a codebook file (format, specs, every tensor's presence, dtype and shape, finiteness). */
export function decodeCodebooks(bytes: Uint8Array): CodebookSet {
  const file = decodeSafetensors(bytes);
  const { layers: layerCount, keySpec, valueSpec } = codebookFileDeclaration(file.metadata);
  const expectedNames = new Set<string>();
  const read = (layer: number, kind: KvKind): Float32Array => {
    const name = tensorName(layer, kind);
    expectedNames.add(name);
    const entry = file.tensors[name];
    if (!entry) throw new Error(`codebook file lacks tensor ${name} (metadata says ${layerCount} layers)`);
    const shape = codebookShape(kind === 'key' ? keySpec : valueSpec);
    if (entry.dtype !== 'F32' || entry.shape.join() !== shape.join()) {
      throw new Error(`codebook tensor ${name} is ${entry.dtype} [${entry.shape.join(', ')}], the ${kind} spec needs F32 [${shape.join(', ')}]`);
    }
    const values = safetensorToFloat32(entry);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`codebook tensor ${name} has a non-finite value at index ${bad}`);
    return values;
  };
  const layers = Array.from({ length: layerCount }, (_, i) => ({ key: read(i, 'key'), value: read(i, 'value') }));
  const extra = Object.keys(file.tensors).filter((name) => !expectedNames.has(name));
  if (extra.length > 0) throw new Error(`codebook file has unexpected tensors: ${extra.join(', ')}`);
  return { keySpec, valueSpec, layers };
}
