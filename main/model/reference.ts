// Plain TypeScript forward pass, one token at a time with a KV cache, in the style of llama2.c's
// run.c: loops and float64 accumulation. Slow and obvious on purpose: tests compare graphs with it.
import type { ModelConfig } from './config.js';
import { attentionScale, attentionWindow, ropeInverseFrequencies, rotateRope, softcap } from './config.js';
import type { KvKind } from '../../quant/index.js';

type Vec = Float64Array;

/**
 * What the KV cache makes of a token's pre-RoPE key or value row [kvHeads*headDim] before attention
 * reads it (e.g. a quantize/dequantize round trip); identity when absent.
 */
export type KvTransform = (layer: number, kind: KvKind, row: Vec, position: number) => Vec;

export class ReferenceModel {
  /** Per layer, per cached position: the pre-RoPE key and the value as computed, [kvHeads*headDim]. */
  readonly preRopeKeys: Vec[][];
  readonly values: Vec[][];
  private readonly keys: Vec[][]; // what attention reads: transformed, then RoPE
  private readonly cachedValues: Vec[][];
  private readonly invFreq: Float64Array;

  constructor(
    readonly config: ModelConfig,
    private readonly w: ReadonlyMap<string, Float32Array>,
    private readonly kvTransform?: KvTransform,
  ) {
    const perLayer = () => Array.from({ length: config.numLayers }, (): Vec[] => []);
    this.preRopeKeys = perLayer();
    this.values = perLayer();
    this.keys = perLayer();
    this.cachedValues = perLayer();
    this.invFreq = ropeInverseFrequencies(config);
  }

  get position(): number {
    return this.keys[0].length;
  }

  /** Runs one token at the next position; returns its logits. */
  forward(token: number): Vec {
    const c = this.config;
    const pos = this.position;
    const embed = this.tensor('model.embed_tokens.weight');
    const x = new Float64Array(c.hiddenSize);
    for (let i = 0; i < c.hiddenSize; i++) x[i] = embed[token * c.hiddenSize + i] * c.embeddingScale;

    for (let l = 0; l < c.numLayers; l++) {
      const p = `model.layers.${l}.`;
      const xn = this.rmsNorm(x, `${p}input_layernorm.weight`);
      const q = this.linear(xn, `${p}self_attn.q_proj`);
      const kPre = this.linear(xn, `${p}self_attn.k_proj`);
      const v = this.linear(xn, `${p}self_attn.v_proj`);
      this.preRopeKeys[l].push(kPre);
      this.values[l].push(v);
      this.keys[l].push(this.rope(this.kvTransform ? this.kvTransform(l, 'key', kPre, pos) : kPre, c.numKvHeads, pos));
      this.cachedValues[l].push(this.kvTransform ? this.kvTransform(l, 'value', v, pos) : v);
      const attn = this.linear(this.attend(l, this.rope(q, c.numHeads, pos)), `${p}self_attn.o_proj`);
      // Llama: x + attn, then post_attention_layernorm feeds the MLP; Gemma-2: that norm is on attn
      add(x, c.sandwichNorms ? this.rmsNorm(attn, `${p}post_attention_layernorm.weight`) : attn);

      const hn = this.rmsNorm(x, `${p}${c.sandwichNorms ? 'pre_feedforward' : 'post_attention'}_layernorm.weight`);
      const gate = this.linear(hn, `${p}mlp.gate_proj`);
      const up = this.linear(hn, `${p}mlp.up_proj`);
      for (let i = 0; i < gate.length; i++) gate[i] = activate(c.activation, gate[i]) * up[i];
      const mlp = this.linear(gate, `${p}mlp.down_proj`);
      add(x, c.sandwichNorms ? this.rmsNorm(mlp, `${p}post_feedforward_layernorm.weight`) : mlp);
    }
    const xf = this.rmsNorm(x, 'model.norm.weight');
    const logits = this.linear(xf, c.tiedEmbeddings ? 'model.embed_tokens' : 'lm_head');
    const cap = c.logitSoftcap;
    return cap ? logits.map((v) => softcap(v, cap)) : logits;
  }

  private tensor(name: string): Float32Array {
    const t = this.w.get(name);
    if (!t) throw new Error(`reference forward: missing weight ${name}`);
    return t;
  }

  private rmsNorm(x: Vec, name: string): Vec {
    const g = this.tensor(name);
    let ss = 0;
    for (const v of x) ss += v * v;
    const inv = 1 / Math.sqrt(ss / x.length + this.config.normEps);
    const out = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] * inv * (this.config.normWeightOffset + g[i]);
    return out;
  }

  /** y = W x (+ b), W row-major [out][in] as in Hugging Face nn.Linear. */
  private linear(x: Vec, prefix: string): Vec {
    const wt = this.tensor(`${prefix}.weight`);
    const bias = this.w.get(`${prefix}.bias`);
    const n = x.length;
    const out = new Float64Array(wt.length / n);
    for (let o = 0; o < out.length; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < n; i++) s += wt[o * n + i] * x[i];
      out[o] = s;
    }
    return out;
  }

  private rope(x: Vec, heads: number, pos: number): Vec {
    const out = new Float64Array(x.length);
    rotateRope(this.config, this.invFreq, x, heads, pos, out);
    return out;
  }

  /** Causal softmax attention of this position's queries over the layer's cache (GQA). */
  private attend(layer: number, q: Vec): Vec {
    const c = this.config;
    const d = c.headDim;
    const keys = this.keys[layer];
    const values = this.cachedValues[layer];
    const group = c.numHeads / c.numKvHeads;
    const out = new Float64Array(c.numHeads * d);
    const scores = new Float64Array(keys.length);
    const scale = attentionScale(c);
    // keys older than the window are left out (this token is the newest, keys.length - 1)
    const window = attentionWindow(c, layer);
    const first = window === null ? 0 : Math.max(0, keys.length - window);
    for (let h = 0; h < c.numHeads; h++) {
      const kvh = Math.floor(h / group);
      let max = -Infinity;
      for (let t = first; t < keys.length; t++) {
        let s = 0;
        for (let i = 0; i < d; i++) s += q[h * d + i] * keys[t][kvh * d + i];
        scores[t] = c.attentionSoftcap ? softcap(s * scale, c.attentionSoftcap) : s * scale;
        max = Math.max(max, scores[t]);
      }
      let sum = 0;
      for (let t = first; t < keys.length; t++) sum += scores[t] = Math.exp(scores[t] - max);
      for (let t = first; t < keys.length; t++) {
        const a = scores[t] / sum;
        for (let i = 0; i < d; i++) out[h * d + i] += a * values[t][kvh * d + i];
      }
    }
    return out;
  }
}

function add(x: Vec, y: Vec): void {
  for (let i = 0; i < x.length; i++) x[i] += y[i];
}

function activate(kind: ModelConfig['activation'], x: number): number {
  if (kind === 'silu') return x / (1 + Math.exp(-x));
  // GeLU, tanh approximation (gelu_pytorch_tanh)
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** Greedy decoding with the reference model from `prompt`; returns the generated ids. */
export function referenceGreedy(model: ReferenceModel, prompt: readonly number[], steps: number): number[] {
  let logits: Vec = new Float64Array(0);
  for (const t of prompt) logits = model.forward(t);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    out.push(best);
    logits = model.forward(best);
  }
  return out;
}
