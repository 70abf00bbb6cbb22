// DecoderStep over the `rvq` graph (buildRvqDecoderGraph): a KvCodeStore's zero-copy views go in as
// they are (past_codes [1, coded, R_d] at the live record depth, past_depths, past_scales, the fp16
// recent window), with `depth` each layer's K and V record depth (so the new tokens of a step are
// attended at their own layer's depth; each stored token's own depth caps it) and `window_size` the
// store's R. The new tokens come back both as records packed at the spec depth
// (new_codes, cut to the live depth by the store) and as raw pre-RoPE K/V, for the recent window
// (whose tokens the store's encoders code as they leave it).
import * as ort from 'onnxruntime-node';
import { scalesPerToken, tokenWidth } from '../../quant/index.js';
import type { RvqSpec } from '../../quant/index.js';
import type { ModelConfig } from '../model/config.js';
import { recordBytesDim } from '../onnx/rvq-cache.js';
import type { DecoderStep } from './generate.js';
import { checkGraphInputs, logitsOf, stepFeeds } from './graph-feeds.js';
import type { Feeds } from './graph-feeds.js';
import { sameSpec } from './kv-code-store.js';
import type { KvCodeStore } from './kv-code-store.js';
import { KV_KINDS } from './kv-store.js';

const int64 = (value: number) => new ort.Tensor('int64', BigInt64Array.of(BigInt(value)), [1]);

/**
 * Whether an installed rvq graph has this version's inputs: a record size per layer and kind (so
 * layers may hold different depths) and `depth` per layer and kind. Earlier graphs are rebuilt.
 */
export function isCurrentRvqGraph(session: ort.InferenceSession): boolean {
  const codes = session.inputMetadata.find((m) => m.name === 'past_codes.0.key');
  return codes?.isTensor === true && codes.shape[2] === recordBytesDim(0, 'key');
}

export class RvqGraphDecoder implements DecoderStep<KvCodeStore> {
  readonly contextLength: number;
  readonly vocabSize: number;

  /** `specs`: the key and value specs of the codebooks the graph was built with. */
  constructor(
    private readonly session: ort.InferenceSession,
    readonly config: ModelConfig,
    readonly specs: { keySpec: RvqSpec; valueSpec: RvqSpec },
  ) {
    this.contextLength = config.maxPositions;
    this.vocabSize = config.vocabSize;
    const names = Array.from({ length: config.numLayers }, (_, i) => KV_KINDS.flatMap((kind) => [`past_codes.${i}.${kind}`, `past_depths.${i}.${kind}`, `past_window.${i}.${kind}`])).flat();
    checkGraphInputs(session, ['input_ids', 'attention_mask', 'position_ids', 'depth', 'window_size', ...names], 'rvq');
    if (!isCurrentRvqGraph(session)) throw new Error('the rvq graph was built by an earlier version (one record size for every layer); reinstall its codebook set');
  }

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
    const feeds: Feeds = { ...stepFeeds(tokens, store.length), window_size: int64(window) };
    const depths = new BigInt64Array(2 * numLayers);
    for (let i = 0; i < numLayers; i++) {
      for (const kind of KV_KINDS) {
        const spec = kind === 'key' ? this.specs.keySpec : this.specs.valueSpec;
        const p = store.past(i, kind);
        depths[2 * i + (kind === 'key' ? 0 : 1)] = BigInt(store.depth(i, kind));
        feeds[`past_codes.${i}.${kind}`] = new ort.Tensor('uint8', p.records, [1, p.codedTokens, p.recordBytes]);
        feeds[`past_depths.${i}.${kind}`] = new ort.Tensor('uint8', p.depths, [1, p.codedTokens]);
        if (scalesPerToken(spec)) feeds[`past_scales.${i}.${kind}`] = new ort.Tensor('float16', p.scales, [1, p.codedTokens, scalesPerToken(spec)]);
        feeds[`past_window.${i}.${kind}`] = new ort.Tensor('float16', p.window, [1, p.windowTokens, tokenWidth(spec)]);
      }
    }
    feeds.depth = new ort.Tensor('int64', depths, [2 * numLayers]);
    const out = await this.session.run(feeds);
    const logits = logitsOf(out, n, this.vocabSize);
    for (let i = 0; i < numLayers; i++) {
      for (const kind of KV_KINDS) {
        const spec = kind === 'key' ? this.specs.keySpec : this.specs.valueSpec;
        const raw = out[kind === 'key' ? `keys_pre_rope.${i}` : `values.${i}`] as ort.Tensor;
        const scales = out[`new_scales.${i}.${kind}`] as ort.Tensor | undefined;
        store.append(i, kind, { data: raw.data as Float32Array, tokens: n, start: 0, count: n }, {
          records: (out[`new_codes.${i}.${kind}`] as ort.Tensor).data as Uint8Array,
          depth: spec.depth,
          scales: (scales?.data as Uint16Array | undefined) ?? new Uint16Array(0),
        });
      }
    }
    return logits;
  }
}
