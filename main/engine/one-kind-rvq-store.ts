// OneKindRvqStore: RVQ on the keys only or the values only, the other kind kept as fp16 — the ablation
// that shows which of K and V the quantization costs. It runs through the fp graph like the scalar
// baselines (scalar-kv-store.ts): the quantized kind's new tokens are coded with quant's RvqCodec and
// the set's codebooks at the layer's depth, the token records (codes + fp16 scales, byte for byte what
// the rvq cache stores) are kept, and their decoding is what the graph reads back (as fp16, counted in
// `allocated` and `fedPerStep`, not in `held`). Keys are coded pre-RoPE as in the paper: the fp graph
// hands back post-RoPE keys, so each token is turned back at its position (RoPE is a rotation),
// coded, decoded and turned again. The graph is stepped one token at a time (SingleTokenSteps) so
// that every token attends to the coded past; its own K/V it attends as computed (the rvq graph
// attends those coded too: a one-token difference, the same for keys-only and values-only).
import { z } from 'zod';
import { rvqBytesPerToken, rvqCodeBytesPerToken, rvqSpecSchema } from '../../quant/index.js';
import type { RvqCodec, RvqSpec, SafetensorEntry } from '../../quant/index.js';
import type { ModelConfig } from '../model/config.js';
import { ropeInverseFrequencies, rotateRope } from '../model/config.js';
import { Fp16Past } from './fp16-past.js';
import { withCapacity } from './growable.js';
import { tokenMajorFloat32, tokenRowsAsKvRows } from './kv-rows.js';
import { sameSpec } from './kv-code-store.js';
import { KV_KINDS, checkComplete, checkLayer, checkTruncation, kvBytes, sumKvBytes } from './kv-store.js';
import type { Fp16PastStore, KvBytes, KvGeometry, KvKind, KvRows } from './kv-store.js';
import { asUint16, blobJson, blobTensor, bytesOf, decodeBlob, encodeBlob, kvStoreBlob } from './store-blob.js';

export interface OneKindRvqOptions {
  config: ModelConfig;
  /** The kind that is RVQ-coded; the other stays fp16. */
  quantized: KvKind;
  spec: RvqSpec;
  /** One codec per layer (the set's codebooks of the quantized kind). */
  codecs: readonly RvqCodec[];
  /** Stages kept per layer. */
  depths: readonly number[];
}

/** Turns token-major rows [tokens, kvHeads*headDim] of positions first.. by RoPE, or back. */
type RowRotation = (rows: Float32Array, first: number, inverse: boolean) => void;

function keyRotation(config: ModelConfig): RowRotation {
  const invFreq = ropeInverseFrequencies(config);
  const W = config.numKvHeads * config.headDim;
  const turned = new Float32Array(W);
  return (rows, first, inverse) => {
    for (let t = 0; t < rows.length / W; t++) {
      const row = rows.subarray(t * W, (t + 1) * W);
      rotateRope(config, invFreq, row, config.numKvHeads, first + t, turned, inverse);
      row.set(turned);
    }
  };
}

/** One layer's coded kind: token records at a fixed depth, and their decoding as the graph's fp16 past. */
class CodedLane {
  readonly past: Fp16Past;
  records: Uint8Array = new Uint8Array(0);
  private readonly recordBytes: number;

  constructor(
    readonly codec: RvqCodec,
    readonly depth: number,
    private readonly geometry: KvGeometry,
    private readonly rotation: RowRotation | null,
  ) {
    this.past = new Fp16Past(geometry.numKvHeads, geometry.headDim);
    this.recordBytes = rvqBytesPerToken(codec.spec, depth);
  }

  get length(): number {
    return this.past.length;
  }

  append(rows: KvRows): void {
    const first = this.length;
    const x = tokenMajorFloat32(rows, this.geometry.numKvHeads, this.geometry.headDim);
    this.rotation?.(x, first, true);
    const encoded = this.codec.encode(x, this.depth);
    const bytes = this.codec.toRecords(encoded);
    this.records = withCapacity(this.records, (first + rows.count) * this.recordBytes, first * this.recordBytes);
    this.records.set(bytes, first * this.recordBytes);
    this.show(this.codec.decode(encoded), first);
  }

  /** Appends decoded pre-RoPE rows of positions first.. to the graph's past. */
  private show(decoded: Float32Array, first: number): void {
    this.rotation?.(decoded, first, false);
    this.past.append(tokenRowsAsKvRows(decoded, this.geometry.numKvHeads, this.geometry.headDim));
  }

  truncate(length: number): void {
    this.past.truncate(length);
  }

  view(): Uint8Array {
    return this.records.subarray(0, this.length * this.recordBytes);
  }

  load(records: Uint8Array): void {
    this.records = records;
    this.show(this.codec.decode(this.codec.fromRecords(records, this.depth)), 0);
  }

  bytes(): KvBytes {
    const n = this.length;
    const codes = n * rvqCodeBytesPerToken(this.codec.spec, this.depth);
    const fed = this.past.view().byteLength;
    return kvBytes({ tokens: n, codes, scales: n * this.recordBytes - codes, uncoded: 0, bookkeeping: 0, fp16: fed, allocated: this.records.length + fed, fedPerStep: fed });
  }
}

function fp16PastBytes(lane: Fp16Past): KvBytes {
  const b = lane.view().byteLength;
  return kvBytes({ tokens: lane.length, codes: 0, scales: 0, uncoded: b, bookkeeping: 0, fp16: b, allocated: b, fedPerStep: b });
}

const depthsSchema = z.array(z.number().int());

export class OneKindRvqStore implements Fp16PastStore {
  readonly format: 'rvq-keys' | 'rvq-values';
  readonly geometry: KvGeometry;
  private readonly coded: CodedLane[];
  private readonly plain: Fp16Past[];

  constructor(readonly options: OneKindRvqOptions) {
    const { config, quantized, spec, codecs, depths } = options;
    this.geometry = { numLayers: config.numLayers, numKvHeads: config.numKvHeads, headDim: config.headDim };
    if (codecs.length !== config.numLayers || depths.length !== config.numLayers) throw new RangeError(`${config.numLayers} layers need as many codecs and depths, got ${codecs.length} and ${depths.length}`);
    if (spec.numKvHeads !== config.numKvHeads || spec.headDim !== config.headDim) throw new Error(`the ${quantized} spec (${spec.numKvHeads} heads of ${spec.headDim}) does not fit the model (${config.numKvHeads} of ${config.headDim})`);
    depths.forEach((d, i) => {
      if (!Number.isInteger(d) || d < 1 || d > spec.depth) throw new RangeError(`layer ${i} depth must be a whole number from 1 to ${spec.depth}, got ${d}`);
      if (!sameSpec(codecs[i].spec, spec)) throw new Error(`layer ${i}'s codec has another spec than the ${quantized}s'`);
    });
    this.format = quantized === 'key' ? 'rvq-keys' : 'rvq-values';
    const rotation = quantized === 'key' ? keyRotation(config) : null;
    this.coded = codecs.map((codec, i) => new CodedLane(codec, depths[i], this.geometry, rotation));
    this.plain = codecs.map(() => new Fp16Past(config.numKvHeads, config.headDim));
  }

  get length(): number {
    return this.plain[0].length;
  }

  private lane(layer: number, kind: KvKind): CodedLane | Fp16Past {
    checkLayer(this.geometry, layer);
    return kind === this.options.quantized ? this.coded[layer] : this.plain[layer];
  }

  append(layer: number, kind: KvKind, rows: KvRows): void {
    this.lane(layer, kind).append(rows);
  }

  /** [kvHeads, tokens, headDim] fp16: the decoded codes of the quantized kind, the kept fp16 of the other. */
  fp16Past(layer: number, kind: KvKind): Uint16Array {
    const lane = this.lane(layer, kind);
    return lane instanceof CodedLane ? lane.past.view() : lane.view();
  }

  truncate(length: number): void {
    checkTruncation(this.length, length);
    for (let i = 0; i < this.geometry.numLayers; i++) for (const kind of KV_KINDS) this.lane(i, kind).truncate(length);
  }

  bytes(): KvBytes {
    return sumKvBytes([...this.coded.map((l) => l.bytes()), ...this.plain.map(fp16PastBytes)]);
  }

  private lanesByLayer(): Record<KvKind, { length: number }>[] {
    return this.coded.map((coded, i) => (this.options.quantized === 'key' ? { key: coded, value: this.plain[i] } : { key: this.plain[i], value: coded }));
  }

  save(): Uint8Array {
    checkComplete(this.lanesByLayer(), this.length);
    const { numKvHeads: H, headDim: D } = this.geometry;
    const { quantized, spec } = this.options;
    const plain = quantized === 'key' ? 'value' : 'key';
    const tensors: Record<string, SafetensorEntry> = {};
    this.coded.forEach((lane, i) => {
      const records = lane.view();
      tensors[`layers.${i}.${quantized}.records`] = { dtype: 'U8', shape: [records.length], data: records };
      tensors[`layers.${i}.${plain}`] = { dtype: 'F16', shape: [H, this.length, D], data: bytesOf(this.plain[i].view()) };
    });
    const metadata = { 'reskv.spec': JSON.stringify(spec), 'reskv.depths': JSON.stringify(this.coded.map((l) => l.depth)), 'reskv.tokens': String(this.length) };
    return encodeBlob(kvStoreBlob(this.format), metadata, tensors);
  }

  /** Restores a snapshot into a store configured as `options` (same kind and spec; its saved depths). */
  static restore(bytes: Uint8Array, options: OneKindRvqOptions): OneKindRvqStore {
    const { quantized, spec, config } = options;
    const blob = decodeBlob(bytes, kvStoreBlob(quantized === 'key' ? 'rvq-keys' : 'rvq-values'));
    const saved = blobJson(blob, 'reskv.spec', rvqSpecSchema);
    if (!sameSpec(saved, spec)) throw new Error(`saved KV cache ${quantized} spec ${JSON.stringify(saved)} differs from this model's ${JSON.stringify(spec)}`);
    const depths = blobJson(blob, 'reskv.depths', depthsSchema);
    const tokens = blobJson(blob, 'reskv.tokens', z.number().int().nonnegative());
    const store = new OneKindRvqStore({ ...options, depths });
    const plain = quantized === 'key' ? 'value' : 'key';
    store.coded.forEach((lane, i) => {
      lane.load(blobTensor(blob, `layers.${i}.${quantized}.records`, 'U8', [tokens * rvqBytesPerToken(spec, depths[i])]));
      store.plain[i].load(asUint16(blobTensor(blob, `layers.${i}.${plain}`, 'F16', [config.numKvHeads, tokens, config.headDim])));
    });
    return store;
  }
}
