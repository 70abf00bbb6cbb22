// Runs a model's `capture` graph (full-sequence forward, no past; see buildCaptureGraph) over a chunk
// of tokens and returns every layer's pre-RoPE keys and values as token rows [n, kvHeads*headDim]
// (heads concatenated head-major: the RVQ contract's coded unit).
import type * as ort from 'onnxruntime-node';
import type { ModelConfig } from '../../model/config.js';
import { checkGraphInputs, stepFeeds } from '../graph-feeds.js';
import { createSession } from '../session.js';
import type { SessionOptionsInput } from '../session.js';

export interface LayerKv {
  /** [n, kvHeads*headDim] pre-RoPE keys. */
  key: Float32Array;
  /** [n, kvHeads*headDim] values. */
  value: Float32Array;
}

export class KvCapture {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly config: ModelConfig,
  ) {
    checkGraphInputs(session, ['input_ids', 'attention_mask', 'position_ids'], 'capture');
    const missing = Array.from({ length: config.numLayers }, (_, i) => [`keys_pre_rope.${i}`, `values.${i}`])
      .flat()
      .filter((name) => !session.outputNames.includes(name));
    if (missing.length > 0) throw new Error(`not the capture graph: it lacks the outputs ${missing.slice(0, 4).join(', ')}`);
  }

  /** `graph` is the capture graph's file (a library model's manifest.graphs.capture) or its bytes. */
  static async open(graph: string | Uint8Array, config: ModelConfig, options: SessionOptionsInput = {}): Promise<KvCapture> {
    const { session } = await createSession(graph, options);
    return new KvCapture(session, config);
  }

  /** Runs tokens at positions 0..n-1 (n <= the context); returns each layer's K and V rows. */
  async run(tokens: readonly number[]): Promise<LayerKv[]> {
    const { numLayers, maxPositions, vocabSize } = this.config;
    if (tokens.length === 0 || tokens.length > maxPositions) throw new RangeError(`a capture chunk holds 1 to ${maxPositions} tokens (the model's context), got ${tokens.length}`);
    const bad = tokens.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) throw new RangeError(`token ${bad} is outside the vocabulary (0..${vocabSize - 1})`);
    const out = await this.session.run(stepFeeds(tokens, 0));
    return Array.from({ length: numLayers }, (_, i) => ({
      key: tokenRows(out[`keys_pre_rope.${i}`] as ort.Tensor),
      value: tokenRows(out[`values.${i}`] as ort.Tensor),
    }));
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** [1, kvHeads, n, headDim] (the graph's layout) -> [n, kvHeads*headDim] token rows. */
export function tokenRows(t: ort.Tensor): Float32Array {
  const [batch, heads, n, d] = t.dims;
  if (t.type !== 'float32' || t.dims.length !== 4 || batch !== 1) throw new Error(`captured K/V is ${t.type} [${t.dims.join(', ')}], expected float32 [1, kvHeads, n, headDim]`);
  const src = t.data as Float32Array;
  const rows = new Float32Array(n * heads * d);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < n; i++) rows.set(src.subarray((h * n + i) * d, (h * n + i + 1) * d), (i * heads + h) * d);
  }
  return rows;
}
