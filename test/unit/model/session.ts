// Test helpers: run a decoder graph through onnxruntime-node (batch 1) and compare with the reference.
import * as ort from 'onnxruntime-node';
import type { ModelConfig } from '../../../main/model/config.js';
import type { ReferenceModel } from '../../../main/model/reference.js';
import { stepFeeds } from '../../../main/engine/graph-feeds.js';

/** input_ids / attention_mask / position_ids for ids appended after past cached tokens (int32 for the rvq graph). */
export { stepFeeds };

export type Feeds = Record<string, ort.Tensor>;


export function emptyFpCache(c: ModelConfig, type: 'float32' | 'float16' = 'float32'): Feeds {
  const feeds: Feeds = {};
  const empty = type === 'float32' ? new Float32Array(0) : new Uint16Array(0);
  for (let i = 0; i < c.numLayers; i++) {
    for (const kind of ['key', 'value']) feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor(type, empty, [1, c.numKvHeads, 0, c.headDim]);
  }
  return feeds;
}

/** present.* outputs renamed to the next step's past_key_values.* inputs. */
export function presentAsPast(out: ort.InferenceSession.OnnxValueMapType): Feeds {
  const feeds: Feeds = {};
  for (const [name, t] of Object.entries(out)) if (name.startsWith('present.')) feeds[name.replace('present.', 'past_key_values.')] = t as ort.Tensor;
  return feeds;
}

export function argmax(a: ArrayLike<number>, from = 0, to = a.length): number {
  let best = from;
  for (let i = from + 1; i < to; i++) if (a[i] > a[best]) best = i;
  return best - from;
}

/** Max |graph - reference| over the rows of `logits` [n, vocab], feeding `ids` to the reference. */
export function maxLogitError(ref: ReferenceModel, ids: readonly number[], logits: Float32Array): number {
  const v = ref.config.vocabSize;
  let worst = 0;
  ids.forEach((t, row) => {
    const r = ref.forward(t);
    for (let j = 0; j < v; j++) worst = Math.max(worst, Math.abs(r[j] - logits[row * v + j]));
  });
  return worst;
}

/** Greedy decoding through the fp graph with its KV cache, from `prompt`. */
export async function graphGreedy(session: ort.InferenceSession, c: ModelConfig, prompt: readonly number[], steps: number): Promise<number[]> {
  let cache = emptyFpCache(c);
  let past = 0;
  let ids = [...prompt];
  const generated: number[] = [];
  for (let i = 0; i < steps; i++) {
    const out = await session.run({ ...stepFeeds(ids, past), ...cache });
    const logits = out.logits.data as Float32Array;
    const next = argmax(logits, (ids.length - 1) * c.vocabSize, ids.length * c.vocabSize);
    generated.push(next);
    cache = presentAsPast(out);
    past += ids.length;
    ids = [next];
  }
  return generated;
}
