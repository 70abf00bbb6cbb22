// The Hugging Face Optimum step inputs every decoder graph takes (batch 1, no padding):
// input_ids [1, n], attention_mask [1, past + n] of ones, position_ids [1, n] = past .. past + n - 1
// (int64, or int32 in graphs shaped for a GPU); and the cache's float16 tensors as a session takes
// them (float32 with the same values where the graph runs float16-free).
import * as ort from 'onnxruntime-node';
import { float16ArrayToFloat32, float32ArrayToFloat16 } from '../../quant/index.js';

export type Feeds = Record<string, ort.Tensor>;

export type IndexType = 'int64' | 'int32';

export function indexTensor(values: readonly number[], dims: readonly number[], type: IndexType = 'int64'): ort.Tensor {
  return type === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims) : new ort.Tensor('int32', Int32Array.from(values), dims);
}

export function stepFeeds(tokens: readonly number[], past: number, index: IndexType = 'int64'): Feeds {
  const n = tokens.length;
  return {
    input_ids: indexTensor(tokens, [1, n]),
    attention_mask: indexTensor(new Array<number>(past + n).fill(1), [1, past + n], index),
    position_ids: indexTensor(Array.from({ length: n }, (_, i) => past + i), [1, n], index),
  };
}

/** The element type a session declares for input `name` (undefined when it has none). */
export function inputType(session: ort.InferenceSession, name: string): string | undefined {
  const meta = session.inputMetadata.find((m) => m.name === name);
  return meta?.isTensor ? meta.type : undefined;
}

/** fp16 values (bits) as a tensor of `type`: float16 as they are, float32 converted (exact). */
export function halfTensor(bits: Uint16Array, dims: readonly number[], type: string | undefined): ort.Tensor {
  return type === 'float32' ? new ort.Tensor('float32', float16ArrayToFloat32(bits), dims) : new ort.Tensor('float16', bits, dims);
}

/** A float16 output's bits; a float32 one (a float16-free graph's, fp16-representable) converted exactly. */
export function halfBits(tensor: ort.Tensor, name: string): Uint16Array {
  if (tensor.type === 'float16') return tensor.data as Uint16Array;
  if (tensor.type === 'float32') return float32ArrayToFloat16(tensor.data as Float32Array);
  throw new Error(`${name} is ${tensor.type}, expected float16 values`);
}

/** Throws unless the session declares every input name the decoder will feed. */
export function checkGraphInputs(session: ort.InferenceSession, names: readonly string[], graph: string): void {
  const missing = names.filter((name) => !session.inputNames.includes(name));
  if (missing.length > 0) throw new Error(`not the ${graph} graph: it lacks the inputs ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ', ...' : ''}`);
}

/** The float32 logits output, checked to be [1, n, vocab]. */
export function logitsOf(out: ort.InferenceSession.OnnxValueMapType, n: number, vocabSize: number): Float32Array {
  const logits = out.logits as ort.Tensor;
  if (logits.type !== 'float32' || logits.data.length !== n * vocabSize) throw new Error(`graph logits are ${logits.type} [${logits.dims.join(', ')}], expected float32 [1, ${n}, ${vocabSize}]`);
  return logits.data as Float32Array;
}
