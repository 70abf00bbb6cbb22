// The Hugging Face Optimum step inputs every decoder graph takes (batch 1, no padding):
// input_ids [1, n], attention_mask [1, past + n] of ones, position_ids [1, n] = past .. past + n - 1.
import * as ort from 'onnxruntime-node';

export type Feeds = Record<string, ort.Tensor>;

function int64(values: readonly number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

export function stepFeeds(tokens: readonly number[], past: number): Feeds {
  const n = tokens.length;
  return {
    input_ids: int64(tokens, [1, n]),
    attention_mask: int64(new Array<number>(past + n).fill(1), [1, past + n]),
    position_ids: int64(Array.from({ length: n }, (_, i) => past + i), [1, n]),
  };
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
