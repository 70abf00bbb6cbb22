// DecoderStep over the `fp` graph built with a float16 KV cache (buildDecoderGraph, cacheType
// 'float16'): the store's fp16 past goes in as past_key_values.{i}.key/value [1, kvHeads, past,
// headDim] without a copy, and present.{i}.* (past + new) comes back: the fp16 store keeps it as its
// buffer, a scalar store quantizes the new tokens out of it. Works with
// any Fp16PastStore: the fp16 baseline, and the scalar formats (which quantize what they store).
import type * as ort from 'onnxruntime-node';
import type { ModelConfig } from '../model/config.js';
import type { DecoderStep } from './generate.js';
import { checkGraphInputs, halfBits, halfTensor, inputType, logitsOf, stepFeeds } from './graph-feeds.js';
import type { Feeds } from './graph-feeds.js';
import { KV_KINDS } from './kv-store.js';
import type { Fp16PastStore } from './kv-store.js';

export class FpGraphDecoder implements DecoderStep<Fp16PastStore> {
  readonly contextLength: number;
  readonly vocabSize: number;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly config: ModelConfig,
  ) {
    this.contextLength = config.maxPositions;
    this.vocabSize = config.vocabSize;
    const names = Array.from({ length: config.numLayers }, (_, i) => KV_KINDS.map((kind) => `past_key_values.${i}.${kind}`)).flat();
    checkGraphInputs(session, ['input_ids', 'attention_mask', 'position_ids', ...names], 'fp');
    this.halfType = inputType(session, 'past_key_values.0.key');
  }

  /** float16, or float32 where the session runs the graph float16-free. */
  private readonly halfType: string | undefined;

  async step(tokens: readonly number[], store: Fp16PastStore): Promise<Float32Array> {
    const { numLayers, numKvHeads: H, headDim: D } = this.config;
    const g = store.geometry;
    if (g.numLayers !== numLayers || g.numKvHeads !== H || g.headDim !== D) {
      throw new Error(`store geometry ${JSON.stringify(g)} does not match the model (${numLayers} layers, ${H} KV heads of ${D})`);
    }
    const past = store.length;
    const n = tokens.length;
    const feeds: Feeds = stepFeeds(tokens, past);
    for (let i = 0; i < numLayers; i++) {
      for (const kind of KV_KINDS) feeds[`past_key_values.${i}.${kind}`] = halfTensor(store.fp16Past(i, kind), [1, H, past, D], this.halfType);
    }
    const out = await this.session.run(feeds);
    const logits = logitsOf(out, n, this.vocabSize);
    for (let i = 0; i < numLayers; i++) {
      for (const kind of KV_KINDS) {
        const name = `present.${i}.${kind}`;
        const present = halfBits(out[name] as ort.Tensor, name);
        store.append(i, kind, { data: present, tokens: past + n, start: past, count: n, pastIsStore: true });
      }
    }
    return logits;
  }
}
