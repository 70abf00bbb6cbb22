// Test doubles for the generation loop ONLY (not models, not the ONNX decoder): a tiny deterministic
// DecoderStep whose logits depend on what its store holds, and a character tokenizer.
import { float16BitsToFloat32 } from '../../../quant/index.js';
import { Fp16KvStore } from '../../../main/engine/fp16-kv-store.js';
import type { DecoderStep } from '../../../main/engine/generate.js';

export const VOCAB = ['<eos>', 'a', 'b', 'c', 'd', 'e', 'f', 'g'];

/** Decodes ids to their pieces; `eosIds` end generation and decode to nothing. */
export function charTokenizer(eosIds: number[] = [0]) {
  return {
    eosIds,
    decode: (ids: readonly number[]) => ids.filter((id) => !eosIds.includes(id)).map((id) => VOCAB[id]).join(''),
  };
}

/**
 * One layer, one KV head of one channel: each token stores its id as key and value. The logits of
 * position p favour (sum of the stored values + p) mod 8 (logit 4, others 0), so the output
 * depends on the cache it was handed. E.g. prompt [1, 2] -> 4, 1, 3, 7, 7, ... greedily.
 */
export class SumDecoder implements DecoderStep<Fp16KvStore> {
  readonly vocabSize = VOCAB.length;
  readonly calls: number[][] = [];
  /** Called before each step (tests use it to abort or fail mid-run). */
  beforeStep: (call: number, store: Fp16KvStore) => void = () => {};

  constructor(readonly contextLength = 64) {}

  static store(): Fp16KvStore {
    return new Fp16KvStore({ numLayers: 1, numKvHeads: 1, headDim: 1 });
  }

  async step(tokens: readonly number[], store: Fp16KvStore): Promise<Float32Array> {
    this.calls.push([...tokens]);
    const logits = new Float32Array(tokens.length * this.vocabSize);
    for (let i = 0; i < tokens.length; i++) {
      this.beforeStep(this.calls.length, store);
      const position = store.length;
      for (const kind of ['key', 'value'] as const) store.append(0, kind, { data: Float32Array.of(tokens[i]), tokens: 1, start: 0, count: 1 });
      const sum = Array.from(store.fp16Past(0, 'value'), float16BitsToFloat32).reduce((a, b) => a + b, 0);
      logits[i * this.vocabSize + ((sum + position) % this.vocabSize)] = 4;
    }
    return logits;
  }
}
