// DecoderStep over the `fp` graph built with a float16 KV cache (buildDecoderGraph, cacheType
// 'float16'): the store's fp16 past goes in as past_key_values.{i}.key/value [1, kvHeads, past,
// headDim] without a copy, and present.{i}.* (past + new) comes back: the fp16 store keeps it as its
// buffer, a scalar store quantizes the new tokens out of it. Works with
// any Fp16PastStore: the fp16 baseline, and the scalar formats (which quantize what they store).
// On a device session (present.* left in GPU memory, fpDeviceOutputs) an fp16 store's past stays on
// the device between steps and the store appends the new tokens from new.{i}.* instead.
import type * as ort from 'onnxruntime-node';
import { DevicePast, hostBytes } from './device-past.js';
import type { ModelConfig } from '../model/config.js';
import type { DecoderStep } from './generate.js';
import { checkGraphInputs, halfBits, halfTensor, inputType, logitsOf, stepFeeds } from './graph-feeds.js';
import type { Feeds } from './graph-feeds.js';
import { KV_KINDS } from './kv-store.js';
import type { Fp16PastStore } from './kv-store.js';

/** The fp graph's outputs a device session keeps in GPU memory: present.* (where the graph has new.* for the host). */
export function fpDeviceOutputs(outputs: readonly string[]): string[] {
  return outputs.includes('new.0.key') ? outputs.filter((name) => name.startsWith('present.')) : [];
}

export class FpGraphDecoder implements DecoderStep<Fp16PastStore> {
  readonly contextLength: number;
  readonly vocabSize: number;
  /** Bytes the last step fed from the host (uploaded, on a device). */
  uploadedBytes = 0;
  private readonly device: DevicePast;

  /** `deviceOutputs`: the session's outputs left on the device (fpDeviceOutputs), [] on the CPU. */
  constructor(
    private readonly session: ort.InferenceSession,
    readonly config: ModelConfig,
    deviceOutputs: readonly string[] = [],
  ) {
    this.device = new DevicePast(deviceOutputs, (name) => name.replace('present.', 'past_key_values.'));
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
    // only the fp16 store holds exactly what the graph computed (a scalar store quantizes it)
    const mirror = store.format === 'fp16';
    const onDevice = this.device.enabled && mirror ? this.device.feeds(store, past, 0) : null;
    const feeds: Feeds = stepFeeds(tokens, past);
    for (let i = 0; i < numLayers; i++) {
      for (const kind of KV_KINDS) {
        const name = `past_key_values.${i}.${kind}`;
        feeds[name] = onDevice?.[name] ?? halfTensor(store.fp16Past(i, kind), [1, H, past, D], this.halfType);
      }
    }
    this.uploadedBytes = hostBytes(feeds);
    const out = await this.session.run(feeds);
    const logits = logitsOf(out, n, this.vocabSize);
    for (let i = 0; i < numLayers; i++) {
      for (const kind of KV_KINDS) {
        if (this.device.enabled) {
          const name = `new.${i}.${kind}`;
          store.append(i, kind, { data: halfBits(out[name] as ort.Tensor, name), tokens: n, start: 0, count: n });
        } else {
          const name = `present.${i}.${kind}`;
          store.append(i, kind, { data: halfBits(out[name] as ort.Tensor, name), tokens: past + n, start: past, count: n, pastIsStore: true });
        }
      }
    }
    if (this.device.enabled) this.device.keep(out, store, store.length, 0, mirror);
    return logits;
  }

  /** Frees the cache held on the device (before the session is released). */
  releaseDevice(): void {
    this.device.dispose();
  }
}
