// Transformer building blocks as ONNX subgraphs (opset 18), shared by the fp, capture and rvq decoder
// graphs. Activations are float32; weights may be stored as float16 (cast to float32 where used) or,
// for linear layers, block-quantized to 8 or 4 bits and multiplied by com.microsoft MatMulNBits.
import type { BlockQuantSpec } from '../../quant/weight-quant.js';
import { blocksPerRow, quantizeRows, zeroPointBytesPerRow } from '../../quant/weight-quant.js';
import { float32ArrayToFloat16 } from '../../quant/index.js';
import type { ModelConfig } from '../model/config.js';
import { attentionScale, ropeInverseFrequencies, ropePair } from '../model/config.js';
import type { WeightSource, WeightType } from '../model/weights.js';
import { classifierQuantSpec, forEachRowSlice, isQuantized, linearQuantSpecs } from '../model/weights.js';
import type { GraphBuilder } from './builder.js';
import { DataType } from './builder.js';

export type { WeightType } from '../model/weights.js';

/** Graph-building context for one model: the builder, the config and where weights come from. */
export class ModelGraph {
  constructor(
    readonly g: GraphBuilder,
    readonly config: ModelConfig,
    private readonly weights: WeightSource,
    readonly weightType: WeightType,
    /** Quantized formats: the linear layers' block size and zero points (default linearQuantSpecs). */
    private readonly linearSpec: BlockQuantSpec | null = isQuantized(weightType) ? linearQuantSpecs[weightType] : null,
    /**
     * MatMulNBits' accuracy_level: 4 multiplies with int8-quantized activations (ONNX Runtime's fast
     * CPU kernels; measured 13.7 ms vs 61 ms at level 0 for 4-bit [1x2048]x[2048x4096], and 20 vs
     * 462 ms for 8-bit, whose level-0 path dequantizes the whole matrix every call); 0 computes in
     * float32 (exact against the dequantized weights).
     */
    private readonly accuracyLevel = 4,
    /**
     * 'fusable': RMSNorm as Pow, ReduceMean, Add, Sqrt, Div, Mul, the pattern ONNX Runtime fuses into one
     * SimplifiedLayerNormalization (the split segments, which run on sleeping pools: measured 5-7% less
     * time a fused step). 'elementwise' (default): Mul, Reciprocal..., which it leaves as seven
     * operators; the whole-step graphs keep it (on ORT's spinning pool the fused form measured slower
     * under load, untested idle).
     */
    private readonly norm: 'fusable' | 'elementwise' = 'elementwise',
  ) {}

  /** A checkpoint tensor (optionally transformed at build time) as a float32 graph value. */
  weight(name: string, dims: readonly number[], transform?: (w: Float32Array) => Float32Array, suffix = ''): string {
    const read = () => {
      const w = this.weights.read(name);
      return transform ? transform(w) : w;
    };
    if (this.weightType === 'float32') {
      return this.g.initializer(name + suffix, DataType.FLOAT, dims, () => bytesOf(read()));
    }
    const stored = this.g.initializer(name + suffix, DataType.FLOAT16, dims, () => bytesOf(float32ArrayToFloat16(read())));
    return this.g.op('Cast', [stored], { to: DataType.FLOAT });
  }

  /**
   * y = x W^T + b for a Hugging Face nn.Linear weight [out, in]: float weights are stored transposed
   * ([in, out]) for MatMul; quantized ones keep [out, in], MatMulNBits' layout.
   */
  linear(x: string, prefix: string, outFeatures: number, inFeatures: number): string {
    const y = this.linearSpec
      ? this.quantizedMatMul(x, `${prefix}.weight`, outFeatures, inFeatures, this.linearSpec)
      : this.g.op('MatMul', [x, this.weight(`${prefix}.weight`, [inFeatures, outFeatures], (t) => transpose(t, outFeatures, inFeatures), '.T')]);
    const hasBias = this.weights.shapes.has(`${prefix}.bias`);
    return hasBias ? this.g.op('Add', [y, this.weight(`${prefix}.bias`, [outFeatures])]) : y;
  }

  /** Token embeddings of int64 ids; a float16 table is gathered as stored and only the rows are cast. */
  embed(ids: string): string {
    const { g, config } = this;
    const name = 'model.embed_tokens.weight';
    const dims = [config.vocabSize, config.hiddenSize];
    if (this.weightType === 'float32') return g.op('Gather', [g.initializer(name, DataType.FLOAT, dims, () => bytesOf(this.rowsAs(name, Float32Array, (r) => r))), ids]);
    const table = g.initializer(name, DataType.FLOAT16, dims, () => bytesOf(this.rowsAs(name, Uint16Array, float32ArrayToFloat16)));
    return g.op('Cast', [g.op('Gather', [table, ids])], { to: DataType.FLOAT });
  }

  /** logits [rows, vocab] = x E^T for x [rows, hidden], E the classifier (the embedding when tied). */
  classifier(x: string): string {
    const { g, config } = this;
    const name = config.tiedEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
    const dims = [config.vocabSize, config.hiddenSize];
    if (isQuantized(this.weightType)) return this.quantizedMatMul(x, name, config.vocabSize, config.hiddenSize, classifierQuantSpec);
    // Gemm(transB) so a tied embedding is stored once
    const head = config.tiedEmbeddings ? this.embedTable() : this.weight(name, dims);
    return g.op('Gemm', [x, head], { transB: 1 });
  }

  /** The embedding as a float32 value (float16 tables cast), for the classifier of tied models. */
  private embedTable(): string {
    const { g, config } = this;
    const name = 'model.embed_tokens.weight';
    const dims = [config.vocabSize, config.hiddenSize];
    if (this.weightType === 'float32') return g.initializer(name, DataType.FLOAT, dims, () => bytesOf(this.rowsAs(name, Float32Array, (r) => r)));
    return g.op('Cast', [g.initializer(name, DataType.FLOAT16, dims, () => bytesOf(this.rowsAs(name, Uint16Array, float32ArrayToFloat16)))], { to: DataType.FLOAT });
  }

  /** A whole tensor converted a slice of rows at a time (no float32 copy of a large table). */
  private rowsAs<T extends Float32Array | Uint16Array>(name: string, Type: { new (n: number): T }, convert: (rows: Float32Array) => T): T {
    const out = new Type(this.weights.shapes.get(name)!.reduce((a, b) => a * b, 1));
    let at = 0;
    forEachRowSlice(this.weights, name, (rows) => {
      out.set(convert(rows), at);
      at += rows.length;
    });
    return out;
  }

  /**
   * x W^T through MatMulNBits for W [n, k] quantized per `spec`; quantized a slice of rows at a time
   * into the codes, scales and zero points (stored as `<name>.q<bits>`, `.scales`, `.zero_points`).
   */
  private quantizedMatMul(x: string, name: string, n: number, k: number, spec: BlockQuantSpec): string {
    const { g } = this;
    const blocks = blocksPerRow(k, spec);
    const blob = (spec.blockSize * spec.bits) / 8;
    const zpRow = zeroPointBytesPerRow(k, spec);
    const base = `${name}.q${spec.bits}b${spec.blockSize}`;
    let quantized: { packed: Uint8Array; scales: Float32Array; zeroPoints: Uint8Array | null } | null = null;
    // the three initializers come from one pass over the rows, made when the first is written
    const quantize = () => {
      if (quantized) return quantized;
      const all = { packed: new Uint8Array(n * blocks * blob), scales: new Float32Array(n * blocks), zeroPoints: spec.symmetric ? null : new Uint8Array(n * zpRow) };
      forEachRowSlice(this.weights, name, (rows, start, count) => {
        const part = quantizeRows(rows, count, k, spec);
        all.packed.set(part.packed, start * blocks * blob);
        all.scales.set(part.scales, start * blocks);
        if (all.zeroPoints && part.zeroPoints) all.zeroPoints.set(part.zeroPoints, start * zpRow);
      });
      return (quantized = all);
    };
    const inputs = [
      x,
      g.initializer(base, DataType.UINT8, [n, blocks, blob], () => quantize().packed),
      g.initializer(`${base}.scales`, DataType.FLOAT, [n * blocks], () => bytesOf(quantize().scales)),
    ];
    if (!spec.symmetric) inputs.push(g.initializer(`${base}.zero_points`, DataType.UINT8, [n * zpRow], () => quantize().zeroPoints!));
    return g.op('MatMulNBits', inputs, { K: k, N: n, bits: spec.bits, block_size: spec.blockSize, accuracy_level: this.accuracyLevel }, undefined, 'com.microsoft');
  }

  /** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * (offset + w); offset folded into w (operators: see `norm`). */
  rmsNorm(x: string, name: string): string {
    const { g, config } = this;
    const offset = config.normWeightOffset;
    const w = this.weight(name, [config.hiddenSize], offset ? (t) => t.map((v) => v + offset) : undefined);
    const eps = g.float([config.normEps], []);
    if (this.norm === 'fusable') {
      const rms = g.op('Sqrt', [g.op('Add', [g.op('ReduceMean', [g.op('Pow', [x, g.float([2], [])]), g.int64([-1])], { keepdims: 1 }), eps])]);
      return g.op('Mul', [g.op('Div', [x, rms]), w]);
    }
    const meanSquare = g.op('ReduceMean', [g.op('Mul', [x, x]), g.int64([-1])], { keepdims: 1 });
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [meanSquare, eps])])]);
    return g.op('Mul', [g.op('Mul', [x, inv]), w]);
  }

  activation(x: string): string {
    const { g } = this;
    if (this.config.activation === 'silu') return g.op('Mul', [x, g.op('Sigmoid', [x])]);
    // GeLU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
    const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, g.float([0.044715], [])])]), g.float([Math.sqrt(2 / Math.PI)], [])]);
    return g.op('Mul', [g.op('Mul', [x, g.float([0.5], [])]), g.op('Add', [g.op('Tanh', [inner]), g.float([1], [])])]);
  }

  /** cap * tanh(x / cap) (Gemma-2's soft-capping). */
  softcap(x: string, cap: number): string {
    const { g } = this;
    return g.op('Mul', [g.op('Tanh', [g.op('Mul', [x, g.float([1 / cap], [])])]), g.float([cap], [])]);
  }

  /**
   * cos and sin tables [batch, 1, n, headDim] for int64 positions [batch, n]; the sin table carries
   * each channel's rotation sign (ropePair), so rope() needs no signs of its own.
   */
  ropeTables(positions: string): { cos: string; sin: string } {
    const { g, config } = this;
    const inv = ropeInverseFrequencies(config);
    const pairs = Array.from({ length: config.headDim }, (_, c) => ropePair(config, c));
    const angles = g.op('Mul', [g.op('Unsqueeze', [g.op('Cast', [positions], { to: DataType.FLOAT }), g.int64([-1])]), g.float(pairs.map((p) => inv[p.freq]))]);
    const head = g.int64([1]);
    const signedSin = g.op('Mul', [g.op('Sin', [angles]), g.float(pairs.map((p) => p.sign))]);
    return { cos: g.op('Unsqueeze', [g.op('Cos', [angles]), head]), sin: g.op('Unsqueeze', [signedSin, head]) };
  }

  /**
   * RoPE on x [batch, heads, n, headDim]: x cos + partner(x) sin, where partner(x) puts each channel's
   * rotation partner in its place. Partners are the two halves of blocks (half-split pairing: one
   * block of the head; interleaved: blocks of 2 channels), so partner(x) swaps the halves of x viewed
   * [.., blocks, 2, half]: a Split and a Concat, block copies (cheaper than the permutation as a
   * MatMul or a Gather per channel when every past key turns at every step).
   */
  rope(x: string, tables: { cos: string; sin: string }): string {
    const { g, config } = this;
    const d = config.headDim;
    // channel 0's partner is the distance between partners: 1 (interleaved) or d / 2 (half-split)
    const half = ropePair(config, 0).partner;
    const blocks = g.op('Reshape', [x, g.int64([0, 0, 0, d / (2 * half), 2, half])]);
    const [first, second] = g.opN('Split', [blocks], 2, { axis: 4, num_outputs: 2 });
    const partners = g.op('Reshape', [g.op('Concat', [second, first], { axis: 4 }), g.int64([0, 0, 0, d])]);
    return g.op('Add', [g.op('Mul', [x, tables.cos]), g.op('Mul', [partners, tables.sin])]);
  }

  /** [batch, n, heads*headDim] -> [batch, heads, n, headDim] */
  splitHeads(x: string, heads: number): string {
    const { g } = this;
    return g.op('Transpose', [g.op('Reshape', [x, g.int64([0, 0, heads, this.config.headDim])])], { perm: [0, 2, 1, 3] });
  }

  /**
   * Scaled dot-product attention with grouped-query heads: queries [batch, heads, n, d], keys and
   * values [batch, kvHeads, total, d], `allowed` [batch, 1, n, total] bool. Query heads are grouped
   * per KV head by a reshape (head h uses KV head floor(h / group)), so K/V are never repeated.
   */
  attention(q: string, keys: string, values: string, allowed: string): string {
    const { g, config } = this;
    const { numHeads: h, numKvHeads: kvh, headDim: d } = config;
    const grouped = g.op('Reshape', [q, g.int64([0, kvh, -1, d])]);
    const scaled = g.op('Mul', [grouped, g.float([attentionScale(config)], [])]);
    const scores = g.op('MatMul', [scaled, g.op('Transpose', [keys], { perm: [0, 1, 3, 2] })]);
    const capped = config.attentionSoftcap ? this.softcap(scores, config.attentionSoftcap) : scores;
    const perHead = g.op('Reshape', [capped, g.int64([0, h, -1, 0])]);
    const masked = g.op('Where', [allowed, perHead, g.float([-3.0e38], [])]);
    const probs = g.op('Reshape', [g.op('Softmax', [masked], { axis: -1 }), g.int64([0, kvh, -1, 0])]);
    const out = g.op('Reshape', [g.op('MatMul', [probs, values]), g.int64([0, h, -1, d])]);
    return g.op('Reshape', [g.op('Transpose', [out], { perm: [0, 2, 1, 3] }), g.int64([0, 0, h * d])]);
  }
}

export function bytesOf(a: Float32Array | Uint16Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** [rows, cols] row-major -> [cols, rows] */
function transpose(t: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(t.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = t[r * cols + c];
  return out;
}
