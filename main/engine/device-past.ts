// The cache kept in a GPU's memory between steps: a device session's gpu-buffer outputs (the past plus
// the new tokens) are the next step's past inputs, so a step uploads only its new tokens' inputs. The
// host never reads those tensors (reading a gpu-buffer tensor aborted Node on WebGPU/SwiftShader): the
// host store stays the source of truth, appended from the step's small CPU outputs, and the device copy
// is fed only while it still mirrors that store (same store, same length, same revision). Anything else
// (another store, a truncation, a depth change, a restored conversation) uploads the store once.
import type * as ort from 'onnxruntime-node';
import type { Feeds } from './graph-feeds.js';

export class DevicePast {
  private held: { store: object; length: number; revision: number; tensors: Feeds } | null = null;

  /**
   * `outputs`: the session's device outputs; `inputOf` names the past input each one feeds.
   */
  constructor(
    readonly outputs: readonly string[],
    private readonly inputOf: (output: string) => string,
  ) {}

  get enabled(): boolean {
    return this.outputs.length > 0;
  }

  /** The device tensors as past inputs when they mirror `store` at `length`/`revision`; else null (and they are freed). */
  feeds(store: object, length: number, revision: number): Feeds | null {
    const held = this.held;
    if (held && held.store === store && held.length === length && held.revision === revision) return held.tensors;
    this.dispose();
    return null;
  }

  /**
   * After a run whose store is now at `length`/`revision`: keeps the run's device outputs as the next
   * past (when `mirror`), frees the tensors the run was fed, and frees the outputs not kept.
   */
  keep(out: ort.InferenceSession.OnnxValueMapType, store: object, length: number, revision: number, mirror: boolean): void {
    this.dispose();
    const tensors: Feeds = {};
    for (const name of this.outputs) tensors[this.inputOf(name)] = out[name] as ort.Tensor;
    if (mirror) this.held = { store, length, revision, tensors };
    else for (const t of Object.values(tensors)) t.dispose();
  }

  /** Frees the device copy (the next step uploads the store). */
  dispose(): void {
    if (this.held) for (const t of Object.values(this.held.tensors)) t.dispose();
    this.held = null;
  }
}

/** Bytes of the feeds that live on the host, i.e. what a run uploads to a device. */
export function hostBytes(feeds: Feeds): number {
  let bytes = 0;
  for (const t of Object.values(feeds)) if (t.location === 'cpu') bytes += (t.data as ArrayBufferView).byteLength;
  return bytes;
}
