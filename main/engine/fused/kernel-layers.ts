// A decode step's dense layers in the fused kernel, without ONNX Runtime: the float32 weights held in
// kernel memory, every matrix product a GEMV task of the kernel (matmul.c, row chunks shared with its
// helper thread), the small elementwise work (each residual add with the RMSNorm after it, SiLU x up:
// layers.c) in the kernel too; only the embedding row and q/k/v biases are JavaScript on views of the
// same memory. Per layer: norm, q|k|v (one
// task), the caller's attention, o + residual, norm, gate|up (one task), SiLU x up, down + residual;
// then the final norm and the classifier. One token only: a prompt's rows are a matrix product, where
// ONNX Runtime's GEMM is far faster than a GEMV per row (the split graph keeps those).
import type { ModelConfig } from '../../model/config.js';
import type { WeightType } from '../../model/weights.js';
import type { FusedKernel, GemvProduct, GemvTask } from './kernel.js';

/** Writes tensor `name` (Hugging Face name and layout: [rows, cols] = [out, in], float32; a vector has cols 1) into `into`, of rows * cols floats. */
export type LayerWeightReader = (name: string, into: Float32Array, rows: number, cols: number) => void;

/** The weights do not fit the kernel memory (4 GiB): the caller keeps the split graph's segments. */
export class KernelLayersTooLarge extends Error {}

/** Layer i's attention for one token: (i, q [heads*d], k, v [kvHeads*d], pre-RoPE) -> output [heads*d]. */
export type TokenAttention = (i: number, q: Float32Array, k: Float32Array, v: Float32Array) => Float32Array;

/** What of `config` or `weightType` the kernel layers lack, or null when they compute the model exactly. */
export function kernelLayersGap(config: ModelConfig, weightType: WeightType): string | null {
  if (weightType !== 'float32') return `${weightType} weights (the kernel layers read float32)`;
  if (config.activation !== 'silu') return `the ${config.activation} activation`;
  if (config.sandwichNorms) return 'sandwich norms';
  if (config.logitSoftcap) return 'logit soft-capping';
  if (config.normWeightOffset !== 0) return 'a norm weight offset';
  return null;
}

/** A [rows, cols] matrix (or a vector: cols 1) at a byte offset in kernel memory. */
interface Tensor {
  at: number;
  rows: number;
  cols: number;
}

interface LayerTensors {
  inputNorm: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  bias: { q: Tensor; k: Tensor; v: Tensor } | null;
  o: Tensor;
  mlpNorm: Tensor;
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

/** The step's rows in kernel memory (byte offsets), each written by one operation and read by the next. */
interface Rows {
  /** The residual stream [hidden]. */
  x: number;
  /** x normed [hidden] (the q|k|v, gate|up and classifier input). */
  normed: number;
  q: number;
  k: number;
  v: number;
  attn: number;
  /** o or down output [hidden], added to x. */
  sum: number;
  gate: number;
  up: number;
  logits: number;
}

export class KernelLayers {
  private readonly tasks: { qkv: GemvTask; o: GemvTask; gateUp: GemvTask; down: GemvTask }[];
  private readonly classifier: GemvTask;

  private constructor(
    readonly kernel: FusedKernel,
    readonly config: ModelConfig,
    private readonly layers: LayerTensors[],
    private readonly finalNorm: Tensor,
    private readonly embedding: Tensor,
    private readonly rows: Rows,
    classifier: Tensor,
    /** Bytes of kernel memory the weights take. */
    readonly weightBytes: number,
  ) {
    const product = (w: Tensor, x: number, y: number): GemvProduct => ({ w: w.at, x, y, rows: w.rows, cols: w.cols });
    const r = rows;
    this.tasks = layers.map((l) => ({
      qkv: kernel.gemvTask([product(l.q, r.normed, r.q), product(l.k, r.normed, r.k), product(l.v, r.normed, r.v)]),
      o: kernel.gemvTask([product(l.o, r.attn, r.sum)]),
      gateUp: kernel.gemvTask([product(l.gate, r.normed, r.gate), product(l.up, r.normed, r.up)]),
      down: kernel.gemvTask([product(l.down, r.gate, r.sum)]),
    }));
    this.classifier = kernel.gemvTask([product(classifier, r.normed, r.logits)]);
  }

  /**
   * The model's weights read into one block of kernel memory, sized from the config before anything
   * is read: throws (naming the bytes) when they would pass the kernel memory's 4 GiB.
   */
  static load(kernel: FusedKernel, config: ModelConfig, read: LayerWeightReader): KernelLayers {
    const { hiddenSize: hidden, numHeads, numKvHeads, headDim, intermediateSize: inter, vocabSize, numLayers } = config;
    const q = numHeads * headDim;
    const kv = numKvHeads * headDim;
    const names: { name: string; rows: number; cols: number }[] = [];
    const add = (name: string, rows: number, cols = 1) => names.push({ name, rows, cols }) - 1;
    const layerIndex = Array.from({ length: numLayers }, (_, i) => {
      const p = `model.layers.${i}.`;
      return {
        inputNorm: add(`${p}input_layernorm.weight`, hidden),
        q: add(`${p}self_attn.q_proj.weight`, q, hidden),
        k: add(`${p}self_attn.k_proj.weight`, kv, hidden),
        v: add(`${p}self_attn.v_proj.weight`, kv, hidden),
        bias: config.qkvBias ? { q: add(`${p}self_attn.q_proj.bias`, q), k: add(`${p}self_attn.k_proj.bias`, kv), v: add(`${p}self_attn.v_proj.bias`, kv) } : null,
        o: add(`${p}self_attn.o_proj.weight`, hidden, q),
        mlpNorm: add(`${p}post_attention_layernorm.weight`, hidden),
        gate: add(`${p}mlp.gate_proj.weight`, inter, hidden),
        up: add(`${p}mlp.up_proj.weight`, inter, hidden),
        down: add(`${p}mlp.down_proj.weight`, hidden, inter),
      };
    });
    const finalNorm = add('model.norm.weight', hidden);
    const embedding = add('model.embed_tokens.weight', vocabSize, hidden);
    const classifier = config.tiedEmbeddings ? embedding : add('lm_head.weight', vocabSize, hidden);
    // each tensor on a 16-byte boundary (SIMD loads)
    const floats = names.map((t) => Math.ceil((t.rows * t.cols) / 4) * 4);
    const weightBytes = 4 * floats.reduce((a, b) => a + b, 0);
    const rowFloats = { x: hidden, normed: hidden, q, k: kv, v: kv, attn: q, sum: hidden, gate: inter, up: inter, logits: vocabSize };
    const rowBytes = 4 * Object.values(rowFloats).reduce((a, b) => a + Math.ceil(b / 4) * 4, 0);
    let base: number;
    try {
      base = kernel.alloc(weightBytes + rowBytes, true);
    } catch (error) {
      throw new KernelLayersTooLarge(`kernel layers: the float32 weights (${weightBytes} bytes) do not fit the kernel memory`, { cause: error });
    }
    const tensors: Tensor[] = [];
    let at = base;
    names.forEach((t, i) => {
      read(t.name, kernel.f32(at, t.rows * t.cols), t.rows, t.cols);
      tensors.push({ at, rows: t.rows, cols: t.cols });
      at += 4 * floats[i];
    });
    const rows = {} as Rows;
    for (const [name, count] of Object.entries(rowFloats)) {
      rows[name as keyof Rows] = at;
      at += 4 * Math.ceil(count / 4) * 4;
    }
    const layers = layerIndex.map((l) => ({
      inputNorm: tensors[l.inputNorm],
      q: tensors[l.q],
      k: tensors[l.k],
      v: tensors[l.v],
      bias: l.bias && { q: tensors[l.bias.q], k: tensors[l.bias.k], v: tensors[l.bias.v] },
      o: tensors[l.o],
      mlpNorm: tensors[l.mlpNorm],
      gate: tensors[l.gate],
      up: tensors[l.up],
      down: tensors[l.down],
    }));
    return new KernelLayers(kernel, config, layers, tensors[finalNorm], tensors[embedding], rows, tensors[classifier], weightBytes);
  }

  /** x += the row at `add` (unless 0), then normed = RMSNorm(x) * weight. */
  private norm(add: number, weight: Tensor): void {
    const { hiddenSize, normEps } = this.config;
    this.kernel.residualNorm(this.rows.x, add, weight.at, this.rows.normed, hiddenSize, normEps);
  }

  private f32(at: number, length: number): Float32Array {
    return this.kernel.f32(at, length);
  }

  private vector(t: Tensor): Float32Array {
    return this.kernel.f32(t.at, t.rows * t.cols);
  }

  /** One token through every layer (`attention` between each layer's q|k|v and its o): the logits [vocab] (a copy). */
  step(token: number, attention: TokenAttention): Float32Array {
    const { kernel, rows: r, config, layers } = this;
    const { hiddenSize: hidden, vocabSize, embeddingScale } = config;
    if (!Number.isInteger(token) || token < 0 || token >= vocabSize) throw new RangeError(`token id ${token} is outside the vocabulary (0..${vocabSize - 1})`);
    const x = this.f32(r.x, hidden);
    const row = this.f32(this.embedding.at + 4 * token * hidden, hidden);
    for (let j = 0; j < hidden; j++) x[j] = row[j] * embeddingScale;
    this.norm(0, layers[0].inputNorm);
    kernel.spinning = true;
    try {
      this.layersStep(attention);
    } finally {
      kernel.spinning = false;
    }
    kernel.gemv(this.classifier);
    return this.f32(r.logits, vocabSize).slice();
  }

  /** Every layer, from the first one's normed input to the final norm's output. */
  private layersStep(attention: TokenAttention): void {
    const { kernel, rows: r, config, layers } = this;
    const { numHeads, numKvHeads, headDim, intermediateSize: inter } = config;
    const q = numHeads * headDim;
    const kv = numKvHeads * headDim;
    layers.forEach((l, i) => {
      const tasks = this.tasks[i];
      kernel.gemv(tasks.qkv);
      // views of kernel memory: a shared memory (the GEMV builds' only kind) keeps them valid when the attention grows it
      const [qRow, kRow, vRow] = [this.f32(r.q, q), this.f32(r.k, kv), this.f32(r.v, kv)];
      if (l.bias) {
        addInto(qRow, this.vector(l.bias.q));
        addInto(kRow, this.vector(l.bias.k));
        addInto(vRow, this.vector(l.bias.v));
      }
      this.f32(r.attn, q).set(attention(i, qRow, kRow, vRow));
      kernel.gemv(tasks.o);
      this.norm(r.sum, l.mlpNorm);
      kernel.gemv(tasks.gateUp);
      // gate <- SiLU(gate) * up: the down product's input
      kernel.siluMul(r.gate, r.up, inter);
      kernel.gemv(tasks.down);
      // each residual add is done with the norm after it: the next layer's input norm, after the last layer the final norm
      this.norm(r.sum, i + 1 < layers.length ? layers[i + 1].inputNorm : this.finalNorm);
    });
  }
}

function addInto(to: Float32Array, from: Float32Array): void {
  for (let j = 0; j < to.length; j++) to[j] += from[j];
}
