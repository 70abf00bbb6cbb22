// DecoderStep wrapper that runs a multi-token step as single-token steps (see SingleTokenSteps).
import type { DecoderStep } from './generate.js';
import type { KvStore } from './kv-store.js';

/**
 * The fp graph attends a step's new tokens to each other's keys/values as computed, before any store
 * quantizes them; stepping one token at a time makes every token attend to the quantized past (and its
 * own K/V as computed), as in decoding. Runtimes of the fp graph with a quantizing store (q8_0, q4_0,
 * KIVI, one-kind RVQ) step so, whatever chunk they are given; the rvq graph codes a step's new tokens
 * itself.
 */
export class SingleTokenSteps<S extends KvStore> implements DecoderStep<S> {
  readonly contextLength: number;
  readonly vocabSize: number;

  constructor(private readonly inner: DecoderStep<S>) {
    this.contextLength = inner.contextLength;
    this.vocabSize = inner.vocabSize;
  }

  async step(tokens: readonly number[], store: S, options: { allLogits?: boolean } = {}): Promise<Float32Array> {
    const V = this.vocabSize;
    const logits = new Float32Array((options.allLogits ? tokens.length : 1) * V);
    for (let i = 0; i < tokens.length; i++) {
      const row = (await this.inner.step([tokens[i]], store)).subarray(0, V);
      if (options.allLogits) logits.set(row, i * V);
      else if (i === tokens.length - 1) logits.set(row);
    }
    return logits;
  }
}
