// DecoderStep of the fused CPU path: the split graph (weights in ONNX Runtime) and, between its
// segments, each layer's attention in the WebAssembly kernel over the cache where it lies: a
// KernelFp16KvStore's fp16 rows, or a KvCodeStore's codes (held in kernel memory, kernelStorage) and
// recent window. New tokens are attended as the rvq graph attends them, as a later step reads them back:
// fp16-rounded when they fall in the recent window, else coded at the layer's depth and decoded (the
// same codes the store keeps); the fp16 cache attends them as computed, as the fp graph does.
import * as ort from 'onnxruntime-node';
import { float16ArrayToFloat32, float32ArrayToFloat16, packCodes, rvqCodeBytesPerToken, scalesPerToken } from '../../../quant/index.js';
import type { CodebookSet, RvqSpec } from '../../../quant/index.js';
import type { ModelConfig } from '../../model/config.js';
import type { DecoderStep } from '../generate.js';
import { checkGraphInputs } from '../graph-feeds.js';
import { KvCodeStore, sameSpec } from '../kv-code-store.js';
import type { PackedRecords } from '../kv-code-store.js';
import { KV_KINDS } from '../kv-store.js';
import type { KvKind, KvStore } from '../kv-store.js';
import { RopeTables, Scratch, attendLayer } from './attention.js';
import type { KernelSegment } from './attention.js';
import { KernelRvqCodec, headCallOrder } from './kernel-codec.js';
import type { FusedKernel } from './kernel.js';
import { KernelFp16KvStore } from './kernel-fp16-store.js';
import type { KernelLayers } from './kernel-layers.js';
import { kernelOffset } from './kernel-storage.js';
import { segmentOutputs } from './split-graph.js';

type Outputs = ort.InferenceSession.OnnxValueMapType;

/** The RVQ side: the codebook set's codecs in kernel memory and each kind's call order. */
export interface FusedCodebooks {
  kernel: FusedKernel;
  set: CodebookSet;
  codecs: Record<KvKind, KernelRvqCodec>[];
  order: Record<KvKind, Int32Array>;
}

/** Kernel codecs of a codebook set, or null when a spec's groups do not keep heads together (graph path only). */
export function fusedCodebooks(kernel: FusedKernel, set: CodebookSet): FusedCodebooks | null {
  const key = headCallOrder(set.keySpec);
  const value = headCallOrder(set.valueSpec);
  const fits = (spec: RvqSpec) => spec.groupSize % 4 === 0 && spec.codebookSize % 4 === 0 && spec.headDim % 4 === 0;
  if (!key || !value || !fits(set.keySpec) || !fits(set.valueSpec)) return null;
  const codecs = set.layers.map((l) => ({ key: new KernelRvqCodec(kernel, set.keySpec, l.key), value: new KernelRvqCodec(kernel, set.valueSpec, l.value) }));
  return { kernel, set, codecs, order: { key, value } };
}

export class FusedDecoder implements DecoderStep<KvStore> {
  readonly contextLength: number;
  readonly vocabSize: number;
  private readonly scratch: Scratch;
  private readonly identity: Int32Array;
  private readonly tables: { fp16: RopeTables; rvq: RopeTables | null };
  constructor(
    /** The split graph's segments 0..numLayers (buildSplitSegment). */
    private readonly sessions: readonly ort.InferenceSession[],
    readonly config: ModelConfig,
    readonly kernel: FusedKernel,
    private readonly codebooks: FusedCodebooks | null = null,
    /** The dense layers in the same kernel: a one-token step then runs no segment (prompts still do). */
    private readonly layers: KernelLayers | null = null,
  ) {
    this.contextLength = config.maxPositions;
    this.vocabSize = config.vocabSize;
    if (layers && (layers.config !== config || layers.kernel !== kernel)) throw new Error("the kernel layers belong to another model or kernel");
    if (sessions.length !== config.numLayers + 1) throw new Error(`the split graph has ${config.numLayers + 1} segments, got ${sessions.length} sessions`);
    sessions.forEach((session, i) => checkGraphInputs(session, i === 0 ? ['input_ids'] : ['resid', 'attn'], `split segment ${i}`));
    const { headDim } = config;
    this.scratch = new Scratch(kernel);
    this.identity = Int32Array.from({ length: headDim }, (_, i) => i);
    this.tables = { fp16: new RopeTables(kernel, config, this.identity), rvq: codebooks ? new RopeTables(kernel, config, codebooks.order.key) : null };
  }

  private async segment(i: number, feeds: Record<string, ort.Tensor>): Promise<Outputs> {
    return this.sessions[i].run(feeds, segmentOutputs(this.config, i));
  }

  async step(tokens: readonly number[], store: KvStore): Promise<Float32Array> {
    const { numLayers, numHeads: H, headDim: d, hiddenSize } = this.config;
    const n = tokens.length;
    const past = store.length;
    const layer = this.layerAttention(store, n, past);
    if (n === 1 && this.layers) return this.layers.step(tokens[0], layer);
    let out = await this.segment(0, { input_ids: new ort.Tensor('int64', BigInt64Array.from(tokens, (t) => BigInt(t)), [1, n]) });
    for (let i = 0; i < numLayers; i++) {
      const [q, k, v] = this.projections((out[`qkv.${i}`] as ort.Tensor).data as Float32Array, n);
      const attn = layer(i, q, k, v);
      const resid = out[`hidden.${i}`] as ort.Tensor;
      out = await this.segment(i + 1, { resid: new ort.Tensor('float32', resid.data as Float32Array, [1, n, hiddenSize]), attn: new ort.Tensor('float32', attn, [1, n, H * d]) });
    }
    const logits = out.logits as ort.Tensor;
    if (logits.data.length !== n * this.vocabSize) throw new Error(`split graph logits are [${logits.dims.join(', ')}], expected [1, ${n}, ${this.vocabSize}]`);
    return logits.data as Float32Array;
  }

  /** A segment's qkv token rows as q [n, heads*d], k and v [n, kvHeads*d]: views for one token, copies for several. */
  private projections(qkv: Float32Array, n: number): Float32Array[] {
    const { numHeads: H, numKvHeads: KVH, headDim: d } = this.config;
    const widths = [H * d, KVH * d, KVH * d];
    const row = (H + 2 * KVH) * d;
    if (qkv.length !== n * row) throw new Error(`a split segment's qkv holds ${qkv.length} values, expected ${n} rows of ${row}`);
    let start = 0;
    return widths.map((width) => {
      const at = start;
      start += width;
      if (n === 1) return qkv.subarray(at, at + width);
      const rows = new Float32Array(n * width);
      for (let t = 0; t < n; t++) rows.set(qkv.subarray(t * row + at, t * row + at + width), t * width);
      return rows;
    });
  }

  /** The per-layer attention for this store: (layer, q, k, v token rows) -> attention output [n, heads*d]. */
  private layerAttention(store: KvStore, n: number, past: number): (i: number, q: Float32Array, k: Float32Array, v: Float32Array) => Float32Array {
    const { numHeads: H, numKvHeads: KVH, headDim: d } = this.config;
    const W = KVH * d;
    if (store instanceof KernelFp16KvStore) {
      if (store.kernel !== this.kernel) throw new Error('the fp16 store belongs to another kernel instance');
      // one step's buffers, reused by its layers (a segment run reads attn before the next layer writes it)
      const attn = new Float32Array(n * H * d);
      const newAt = { key: this.scratch.block('new.key', 4 * n * W), value: this.scratch.block('new.value', 4 * n * W) };
      return (i, q, k, v) => {
        // the fp16 cache holds keys turned by RoPE (as the fp graph's present), so past keys are not turned again
        this.kernel.f32(newAt.key, n * W).set(k);
        this.tables.fp16.turn(newAt.key, n, past, KVH);
        this.kernel.f32(newAt.value, n * W).set(v);
        attn.set(
          attendLayer(this.kernel, this.scratch, this.config, this.tables.fp16, q, past, [
            { key: { type: 'f16', tokens: past, data: store.rowsAt(i, 'key'), rotated: true }, value: { type: 'f16', tokens: past, data: store.rowsAt(i, 'value') } },
            { key: { type: 'f32', tokens: n, data: newAt.key, rotated: true }, value: { type: 'f32', tokens: n, data: newAt.value } },
          ]),
        );
        store.appendTokenRowsAt(i, 'key', newAt.key, n);
        store.appendTokenRowsAt(i, 'value', newAt.value, n);
        return attn;
      };
    }
    if (store instanceof KvCodeStore) return this.codedAttention(store, n, past);
    throw new Error(`the fused decoder reads a kernel fp16 store or an RVQ code store, not a ${store.format} store`);
  }

  private codedAttention(store: KvCodeStore, n: number, past: number): (i: number, q: Float32Array, k: Float32Array, v: Float32Array) => Float32Array {
    const cb = this.codebooks;
    if (!cb || !this.tables.rvq) throw new Error('this fused decoder has no codebooks: open it with the rvq cache');
    const { numLayers, keySpec, valueSpec, recentWindow = 0 } = store.options;
    if (numLayers !== this.config.numLayers) throw new Error(`store has ${numLayers} layers, the model ${this.config.numLayers}`);
    if (!sameSpec(keySpec, cb.set.keySpec) || !sameSpec(valueSpec, cb.set.valueSpec)) throw new Error("the store's RVQ specs differ from the decoder's codebooks");
    const { numHeads: H, numKvHeads: KVH, headDim: d } = this.config;
    const W = KVH * d;
    const rope = this.tables.rvq;
    const { kernel, scratch } = this;
    // new tokens the step codes at once (the rest enter the window); all but the depth is the same for every layer
    const coded = Math.max(0, n - recentWindow);
    const S = { key: scalesPerToken(keySpec), value: scalesPerToken(valueSpec) };
    // one step's buffers, reused by its layers (the store copies what it appends; a segment run reads attn before the next layer writes it)
    const qCall = new Float32Array(n * H * d);
    const attn = new Float32Array(n * H * d);
    const scales = { key: new Uint16Array(n * S.key), value: new Uint16Array(n * S.value) };
    const records = { key: new Uint8Array(n * rvqCodeBytesPerToken(keySpec)), value: new Uint8Array(n * rvqCodeBytesPerToken(valueSpec)) };
    return (i, q, k, v) => {
      const fresh = { key: k, value: v };
      const appended = {} as Record<KvKind, PackedRecords>;
      // codes of the new tokens first: the encode allocates kernel memory, which may move views taken before it
      const { key, value } = cb.codecs[i];
      const encoded = coded > 0 ? key.encodeDecodedWith(k.subarray(0, coded * W), store.depth(i, 'key'), value, v.subarray(0, coded * W), store.depth(i, 'value')) : null;
      const results = encoded && { key: encoded[0], value: encoded[1] };
      for (const kind of KV_KINDS) {
        const codec = cb.codecs[i][kind];
        const depth = store.depth(i, kind);
        const recordBytes = rvqCodeBytesPerToken(codec.spec, depth);
        const packed = { records: records[kind].subarray(0, n * recordBytes), depth, scales: scales[kind] };
        if (results) {
          const result = results[kind];
          packed.scales.set(result.encoded.scales);
          const codes = result.encoded.codes;
          const G = codes.length / (coded * depth);
          for (let t = 0; t < coded; t++) packCodes(codes.subarray(t * depth * G, (t + 1) * depth * G), codec.bits, packed.records.subarray(t * recordBytes, (t + 1) * recordBytes));
        }
        appended[kind] = packed;
      }
      // scratch blocks before any view (an allocation may move the memory under a view); a window holds at most recentWindow tokens
      const blocks = { key: { window: scratch.block('window.key', 2 * recentWindow * W), fresh: scratch.block('new.key', 4 * n * W) }, value: { window: scratch.block('window.value', 2 * recentWindow * W), fresh: scratch.block('new.value', 4 * n * W) } };
      const segments = { coded: {} as Record<KvKind, KernelSegment>, window: {} as Record<KvKind, KernelSegment>, fresh: {} as Record<KvKind, KernelSegment> };
      for (const kind of KV_KINDS) {
        const codec = cb.codecs[i][kind];
        const spec = codec.spec;
        const perm = cb.order[kind];
        const p = store.past(i, kind);
        const { window: windowAt, fresh: freshAt } = blocks[kind];
        const at = (view: ArrayBufferView) => kernelOffset(kernel, view);
        segments.coded[kind] = { type: 'coded', tokens: p.codedTokens, records: at(p.records), stride: p.recordBytes, scales: at(p.scales), scaleCount: S[kind], depths: at(p.depths), depth: appended[kind].depth, books: codec.booksAt, codebookSize: spec.codebookSize, groupSize: spec.groupSize, bits: codec.bits };
        segments.window[kind] = { type: 'f16', tokens: p.windowTokens, data: windowAt };
        segments.fresh[kind] = { type: 'f32', tokens: n, data: freshAt };
        // the window and the new tokens in call order: coded ones as their codes read back, the rest fp16-rounded as the window will hold them
        if (p.windowTokens > 0) permuteRows(p.window, kernel.u16(windowAt, p.windowTokens * W), perm, d);
        const rows = kernel.f32(freshAt, n * W);
        if (results) rows.set(results[kind].decoded);
        if (coded < n) permuteRows(float16ArrayToFloat32(float32ArrayToFloat16(fresh[kind].subarray(coded * W))), rows.subarray(coded * W), perm, d);
      }
      // queries into the key call order, the output back from the value call order
      permuteRows(q, qCall, cb.order.key, d);
      const pair = (part: keyof typeof segments) => ({ key: segments[part].key, value: segments[part].value });
      const out = attendLayer(kernel, scratch, this.config, rope, qCall, past, [pair('coded'), pair('window'), pair('fresh')]);
      unpermuteRows(out, attn, cb.order.value, d);
      for (const kind of KV_KINDS) store.appendTokenRows(i, kind, fresh[kind], appended[kind]);
      return attn;
    };
  }
}

/** to[r * d + c] = from[r * d + perm[c]] for every row of d (a channel order within a head). */
function permuteRows(from: ArrayLike<number>, to: Float32Array | Uint16Array, perm: Int32Array, d: number): void {
  for (let r = 0; r < to.length; r += d) for (let c = 0; c < d; c++) to[r + c] = from[r + perm[c]];
}

/** The inverse of permuteRows: to[r * d + perm[c]] = from[r * d + c]. */
function unpermuteRows(from: Float32Array, to: Float32Array, perm: Int32Array, d: number): void {
  for (let r = 0; r < to.length; r += d) for (let c = 0; c < d; c++) to[r + perm[c]] = from[r + c];
}
