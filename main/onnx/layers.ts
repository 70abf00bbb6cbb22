// Transformer building blocks as ONNX subgraphs (opset 18, standard operators only), shared by the
// fp, capture and rvq decoder graphs. Activations are float32; weights may be stored as float16 and
// are cast to float32 where used.
import { float32ArrayToFloat16 } from '../../quant/index.js';
import type { ModelConfig } from '../model/config.js';
import { attentionScale, ropeInverseFrequencies, ropePair } from '../model/config.js';
import type { WeightSource } from '../model/weights.js';
import type { GraphBuilder } from './builder.js';
import { DataType } from './builder.js';

export type WeightType = 'float32' | 'float16';

/** Graph-building context for one model: the builder, the config and where weights come from. */
export class ModelGraph {
  constructor(
    readonly g: GraphBuilder,
    readonly config: ModelConfig,
    private readonly weights: WeightSource,
    readonly weightType: WeightType,
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

  /** y = x W^T + b for a Hugging Face nn.Linear weight [out, in] (stored transposed, [in, out]). */
  linear(x: string, prefix: string, outFeatures: number, inFeatures: number): string {
    const w = this.weight(`${prefix}.weight`, [inFeatures, outFeatures], (t) => transpose(t, outFeatures, inFeatures), '.T');
    const y = this.g.op('MatMul', [x, w]);
    const hasBias = this.weights.shapes.has(`${prefix}.bias`);
    return hasBias ? this.g.op('Add', [y, this.weight(`${prefix}.bias`, [outFeatures])]) : y;
  }

  /** RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * (offset + w); offset folded into w. */
  rmsNorm(x: string, name: string): string {
    const { g, config } = this;
    const offset = config.normWeightOffset;
    const w = this.weight(name, [config.hiddenSize], offset ? (t) => t.map((v) => v + offset) : undefined);
    const meanSquare = g.op('ReduceMean', [g.op('Mul', [x, x]), g.int64([-1])], { keepdims: 1 });
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [meanSquare, g.float([config.normEps], [])])])]);
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
