// DecoderStep over the `rvq` graph (buildRvqDecoderGraph): a KvCodeStore's zero-copy views go in as
// they are (past_codes [1, coded, R_d] at the live record depth, past_depths, past_scales, the fp16
// recent window), with `depth` each layer's K and V record depth (so the new tokens of a step are
// attended at their own layer's depth; each stored token's own depth caps it) and `window_size` the
// store's R. The new tokens come back both as records packed at the spec depth
// (new_codes, cut to the live depth by the store) and as raw pre-RoPE K/V, for the recent window
// (whose tokens the store's encoders code as they leave it). On a device session without a recent
// window the coded past stays in GPU memory between steps (present_* fed back, rvqDeviceOutputs):
// the host uploads only the new tokens' inputs and keeps its copy from new_codes/new_scales.
import * as ort from 'onnxruntime-node';
import { scalesPerToken, tokenWidth } from '../../quant/index.js';
import type { RvqSpec } from '../../quant/index.js';
import type { ModelConfig } from '../model/config.js';
import { recordBytesDim } from '../onnx/rvq-cache.js';
import type { DecoderStep } from './generate.js';
import { DevicePast, hostBytes } from './device-past.js';
import { checkGraphInputs, halfBits, halfTensor, inputType, logitsOf, stepFeeds } from './graph-feeds.js';
import type { Feeds } from './graph-feeds.js';
import { sameSpec } from './kv-code-store.js';
import type { KvCodeStore } from './kv-code-store.js';
import { KV_KINDS } from './kv-store.js';

/**
 * Whether an installed rvq graph has this version's inputs: a record size per layer and kind (so
 * layers may hold different depths), and int32 depths, lengths and positions (GPU-shaped). Earlier
 * graphs are rebuilt.
 */
export function isCurrentRvqGraph(session: ort.InferenceSession): boolean {
  const codes = session.inputMetadata.find((m) => m.name === 'past_codes.0.key');
  return (
    codes?.isTensor === true &&
    codes.shape[2] === recordBytesDim(0, 'key') &&
    inputType(session, 'depth') === 'int32' &&
    inputType(session, 'attention_mask') === 'int32' &&
    session.outputNames.includes('present_codes.0.key')
  );
}

/** The rvq graph's outputs a device session keeps in GPU memory: the coded past (present_*). */
export function rvqDeviceOutputs(outputs: readonly string[]): string[] {
  return outputs.filter((name) => name.startsWith('present_'));
}

export class RvqGraphDecoder implements DecoderStep<KvCodeStore> {
  readonly contextLength: number;
  readonly vocabSize: number;
  /** Bytes the last step fed from the host (uploaded, on a device). */
  uploadedBytes = 0;
  private readonly device: DevicePast;

  /**
   * `specs`: the key and value specs of the codebooks the graph was built with; `deviceOutputs`: the
   * session's outputs left on the device (rvqDeviceOutputs), [] on the CPU.
   */
  constructor(
    private readonly session: ort.InferenceSession,
    readonly config: ModelConfig,
    readonly specs: { keySpec: RvqSpec; valueSpec: RvqSpec },
    deviceOutputs: readonly string[] = [],
  ) {
    this.device = new DevicePast(deviceOutputs, (name) => name.replace('present_', 'past_'));
    this.contextLength = config.maxPositions;
    this.vocabSize = config.vocabSize;
    const names = Array.from({ length: config.numLayers }, (_, i) => KV_KINDS.flatMap((kind) => [`past_codes.${i}.${kind}`, `past_depths.${i}.${kind}`, `past_window.${i}.${kind}`])).flat();
    checkGraphInputs(session, ['input_ids', 'attention_mask', 'position_ids', 'depth', 'window_size', ...names], 'rvq');
    if (!isCurrentRvqGraph(session)) throw new Error('the rvq graph was built by an earlier version (one record size for every layer, int64 depths, or no present outputs); reinstall its codebook set');
    this.halfType = inputType(session, 'past_window.0.key');
  }

  /** float16, or float32 where the session runs the graph float16-free. */
  private readonly halfType: string | undefined;

  private checkStore(store: KvCodeStore): void {
    const { numLayers, keySpec, valueSpec } = store.options;
    if (numLayers !== this.config.numLayers) throw new Error(`store has ${numLayers} layers, the model ${this.config.numLayers}`);
    if (!sameSpec(keySpec, this.specs.keySpec) || !sameSpec(valueSpec, this.specs.valueSpec)) throw new Error("the store's RVQ specs differ from the graph's codebooks");
  }

  async step(tokens: readonly number[], store: KvCodeStore): Promise<Float32Array> {
    this.checkStore(store);
    const { numLayers } = this.config;
    const window = store.options.recentWindow ?? 0;
    const n = tokens.length;
    // with a recent window, tokens leaving it are coded by the host's encoders: the device cannot mirror that
    const mirror = window === 0;
    const onDevice = this.device.enabled && mirror ? this.device.feeds(store, store.length, store.revision) : null;
    const feeds: Feeds = { ...stepFeeds(tokens, store.length, 'int32'), window_size: new ort.Tensor('int32', Int32Array.of(window), [1]) };
    const depths = new Int32Array(2 * numLayers);
    for (let i = 0; i < numLayers; i++) {
      for (const kind of KV_KINDS) {
        const spec = kind === 'key' ? this.specs.keySpec : this.specs.valueSpec;
        const p = store.past(i, kind);
        depths[2 * i + (kind === 'key' ? 0 : 1)] = store.depth(i, kind);
        feeds[`past_window.${i}.${kind}`] = halfTensor(p.window, [1, p.windowTokens, tokenWidth(spec)], this.halfType);
        const name = (what: string) => `past_${what}.${i}.${kind}`;
        feeds[name('codes')] = onDevice?.[name('codes')] ?? new ort.Tensor('uint8', p.records, [1, p.codedTokens, p.recordBytes]);
        feeds[name('depths')] = onDevice?.[name('depths')] ?? new ort.Tensor('uint8', p.depths, [1, p.codedTokens]);
        if (scalesPerToken(spec)) feeds[name('scales')] = onDevice?.[name('scales')] ?? halfTensor(p.scales, [1, p.codedTokens, scalesPerToken(spec)], this.halfType);
      }
    }
    feeds.depth = new ort.Tensor('int32', depths, [2 * numLayers]);
    this.uploadedBytes = hostBytes(feeds);
    const out = await this.session.run(feeds);
    const logits = logitsOf(out, n, this.vocabSize);
    for (let i = 0; i < numLayers; i++) {
      for (const kind of KV_KINDS) {
        const spec = kind === 'key' ? this.specs.keySpec : this.specs.valueSpec;
        const raw = out[kind === 'key' ? `keys_pre_rope.${i}` : `values.${i}`] as ort.Tensor;
        const scales = out[`new_scales.${i}.${kind}`] as ort.Tensor | undefined;
        const scaleBits = scales ? halfBits(scales, `new_scales.${i}.${kind}`) : new Uint16Array(0);
        store.append(i, kind, { data: raw.data as Float32Array, tokens: n, start: 0, count: n }, {
          records: (out[`new_codes.${i}.${kind}`] as ort.Tensor).data as Uint8Array,
          depth: spec.depth,
          scales: scaleBits,
        });
      }
    }
    if (this.device.enabled) this.device.keep(out, store, store.length, store.revision, mirror);
    return logits;
  }

  /** Frees the cache held on the device (before the session is released). */
  releaseDevice(): void {
    this.device.dispose();
  }
}
