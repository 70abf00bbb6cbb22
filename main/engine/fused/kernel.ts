// The fused kernel (kernel/attend.c: attention and encode, and kernel/matmul.c: the float32 GEMV of the
// kernel layers, built together to kernel/attend.wasm) and the memory it works in:
// one shared WebAssembly memory per kernel instance, with a small allocator (power-of-two blocks; freed
// ranges merged with their free neighbours and reused best-fit, so the blocks a growing buffer leaves
// behind hold its later, larger ones) for the buffers that live there: the fp16 cache lanes, the coded
// cache (kernelStorage), the codebooks, the kernel layers' weights (one exact block) and each step's scratch. Growing the memory replaces its buffer object, so callers keep
// byte offsets and take fresh views (`f32`, `u8`, ...) after any allocation.
// With 2 threads a helper worker instantiates the same module on the same memory (its own stack) and
// shares each call: chunks of an encode's group vectors, of an attention's tokens (key and value
// passes) and of a GEMV's rows, taken in turn from a counter, each chunk's result independent of the thread that took it
// (kernel-helper.ts). Calls stay synchronous; a helper the machine did not schedule in time is left out.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { KernelHelper } from './kernel-helper.js';
import type { HelperTask } from './kernel-helper.js';

const PAGE = 65536;
/** Bytes read past a buffer's end by the kernel's unaligned 4-byte code reads. */
const SLACK = 16;

// lib ES2022 declares no WebAssembly API: the few parts used, typed here
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const compiled = new WeakMap<Uint8Array, object>();

/** The built kernel's bytes (committed beside its C source). */
export function kernelWasmBytes(): Uint8Array {
  return readFileSync(new URL('./kernel/attend.wasm', import.meta.url));
}

let committed: Uint8Array | null = null;

function kernelModule(bytes: Uint8Array): object {
  let module = compiled.get(bytes);
  if (!module) {
    module = new wasm.Module(bytes);
    compiled.set(bytes, module);
  }
  return module;
}

/** The kernel's exports (attend.c); the phase exports are absent from builds before threads. */
export interface KernelExports {
  attend(params: number): void;
  encode(params: number): void;
  attend_tokens?(params: number): number;
  attend_begin?(params: number): void;
  attend_softmax?(params: number): void;
  attend_end?(params: number, parts: number, count: number): void;
  attend_histogram_units?(params: number): number;
  attend_keys_shared?(params: number, next: number, size: number): void;
  attend_values_shared?(params: number, next: number, size: number, parts: number): void;
  encode_shared?(params: number, next: number, size: number): void;
  encode_pair_shared?(params: number, next: number, size: number, other: number): void;
  encode_index?(index: number, books: number, depth: number, codebookSize: number, groupSize: number, iterations: number, scratch: number): void;
  gemv?(params: number): void;
  gemv_shared?(params: number, next: number, size: number): void;
  residual_norm?(x: number, add: number, w: number, out: number, n: number, eps: number): void;
  silu_mul?(gate: number, up: number, n: number): void;
  rope_rows?(x: number, count: number, heads: number, d: number, pos0: number, cos: number, sin: number, partner: number): void;
  to_half?(x: number, out: number, n: number): void;
  __heap_base: { value: number };
  __stack_pointer?: { value: number };
}

/** 4 GiB: the most a wasm32 shared memory can be declared to grow to (pages are reserved lazily). */
const MAX_PAGES = 65536;
/** Below these a call runs on one thread: the handoff would cost more than the half it saves. */
const MIN_SPLIT = { tokens: 64, vectors: 2, rows: 128 };
/**
 * In a kernel layers step, a task whose helper kept this thread waiting longer than this (ms; a chunk
 * takes well under 0.5 ms, so the helper was descheduled mid-chunk) is late; a second late task
 * within SOLO_CALLS calls of the first makes the next SOLO_CALLS calls (about one step of SmolLM2-135M:
 * 4 GEMVs and an attention a layer) run on this thread alone, then sharing is tried again. bench:step
 * with one core kept busy: the kernel layers on 1 thread took 0.88-0.95x the segments' step, on 2
 * threads 1.12-1.18x; idle, 2 threads are the faster (1 thread 1.2-1.4x). A longer solo spell (1000
 * GEMVs) widened the idle spread (p75 64 ms against 50 at 128 tokens). One late task alone is no sign
 * of a busy core: on the idle VM bench:peer saw one every ~5 steps (2.3-4 ms, 17 in its run).
 */
const LATE_MS = 2;
const SOLO_CALLS = 180;
/**
 * A GEMV task's row chunks are at most 1/GEMV_CHUNKS of its rows (at least MIN_SPLIT.rows / 2: fewer
 * atomic takes on large matrices); matmul.c makes the last ones smaller (a quarter of the rows left), so
 * the two threads finish close together: on the idle VM the caller's wait for the helper fell from
 * ~1.4 to ~0.5 ms a step (fp16, 128 tokens), the step ~1% faster (the other thread's bandwidth rises
 * while one waits).
 */
const GEMV_CHUNKS = 32;

/** One product y = W x of a GEMV task: byte offsets in kernel memory of W [rows, cols] (row-major, float32), x [cols] and y [rows]. */
export interface GemvProduct {
  w: number;
  x: number;
  y: number;
  rows: number;
  cols: number;
}

/** A GEMV task's parameter block in kernel memory (matmul.c's layout) and its rows as the kernel numbers them. */
export interface GemvTask {
  params: number;
  rows: number;
}

export interface KernelOptions {
  /** Threads per call: 1, or 2 with a helper worker (by default 2 where the machine has 2 cores, or RESKV_KERNEL_THREADS). */
  threads?: 1 | 2;
}

function defaultThreads(): 1 | 2 {
  const chosen = process.env.RESKV_KERNEL_THREADS;
  if (chosen === '1' || chosen === '2') return chosen === '1' ? 1 : 2;
  if (chosen) throw new Error(`RESKV_KERNEL_THREADS must be 1 or 2, got ${JSON.stringify(chosen)}`);
  return availableParallelism() >= 2 ? 2 : 1;
}

export class FusedKernel {
  readonly memory: WasmMemory;
  private readonly exports: KernelExports;
  private top: number;
  /** Free ranges below `top`, by offset, none adjacent (released neighbours are merged). */
  private readonly free: { at: number; size: number }[] = [];
  private readonly blockSize = new Map<number, number>();
  private liveBytes = 0;
  private readonly helper: KernelHelper | null = null;
  /**
   * While set, the helper polls for the next task a while after each before it sleeps: for runs of
   * tasks back to back (a kernel layers step), not between segment runs (their pool wants the cores).
   */
  spinning = false;
  /** Calls left to run without the helper after it was late twice (LATE_MS). */
  private soloCalls = 0;
  /** Shared calls made, and the count when the helper was last late (LATE_MS). */
  private sharedCalls = 0;
  private lateAt = -Infinity;
  /** An attention's values by token chunk, [chunks, n, heads, headDim] float32. */
  private partsAt = 0;

  /** `wasmBytes`: another build of the kernel (benchmarks compare builds); the committed one by default. */
  constructor(wasmBytes?: Uint8Array, options: KernelOptions = {}) {
    committed ??= kernelWasmBytes();
    const module = kernelModule(wasmBytes ?? committed);
    let memory = new wasm.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    let instance;
    try {
      instance = new wasm.Instance(module, { env: { memory } });
    } catch {
      // a build before threads imports an unshared memory
      memory = new wasm.Memory({ initial: 16 });
      instance = new wasm.Instance(module, { env: { memory } });
    }
    this.memory = memory;
    this.exports = instance.exports as unknown as KernelExports;
    this.top = align(Number(this.exports.__heap_base.value), 64);
    const threads = options.threads ?? defaultThreads();
    if (threads === 2 && this.exports.encode_shared && this.exports.__stack_pointer) {
      this.helper = new KernelHelper(module, memory, (bytes) => this.alloc(bytes));
    }
  }

  /** Whether calls are being split with the helper thread (it starts asynchronously). */
  get threads(): 1 | 2 {
    return this.helper?.ready ? 2 : 1;
  }

  /** Stops the helper thread (calls then run on one thread). */
  close(): void {
    this.helper?.close();
  }

  /**
   * Allocates `bytes` (64-byte aligned, zeroed); returns the offset. Blocks are rounded up to a power
   * of two (a growing buffer's later sizes fit the blocks it leaves), or `exact`ly (to 64 bytes: the
   * weights, allocated once). Throws when the memory would pass 4 GiB.
   */
  alloc(bytes: number, exact = false): number {
    const size = exact ? align(bytes + SLACK, 64) : Math.max(64, 2 ** Math.ceil(Math.log2(bytes + SLACK)));
    let at: number;
    let best = -1;
    this.free.forEach((range, i) => {
      if (range.size >= size && (best < 0 || range.size < this.free[best].size)) best = i;
    });
    if (best >= 0) {
      const range = this.free[best];
      at = range.at;
      range.at += size;
      range.size -= size;
      if (range.size === 0) this.free.splice(best, 1);
    } else {
      if (this.top + size > MAX_PAGES * PAGE) throw new RangeError(`kernel memory: ${bytes} more bytes would pass its 4 GiB (${this.top} in use)`);
      at = this.top;
      this.top += size;
      const needed = this.top - this.memory.buffer.byteLength;
      if (needed > 0) this.memory.grow(Math.ceil(needed / PAGE));
    }
    new Uint8Array(this.memory.buffer, at, size).fill(0);
    this.blockSize.set(at, size);
    this.liveBytes += size;
    return at;
  }

  release(at: number): void {
    const size = this.blockSize.get(at);
    if (size === undefined) throw new Error(`kernel memory: no block at ${at}`);
    this.blockSize.delete(at);
    this.liveBytes -= size;
    // insert by offset, merged with a free range ending where it starts and one starting where it ends
    let i = this.free.findIndex((range) => range.at > at);
    if (i < 0) i = this.free.length;
    const range = { at, size };
    const next = this.free[i];
    if (next && at + size === next.at) {
      range.size += next.size;
      this.free.splice(i, 1);
    }
    const previous = this.free[i - 1];
    if (previous && previous.at + previous.size === at) {
      previous.size += range.size;
      i -= 1;
    } else this.free.splice(i, 0, range);
    // a free range at the top lowers it
    const last = this.free[i];
    if (i === this.free.length - 1 && last.at + last.size === this.top) {
      this.top = last.at;
      this.free.pop();
    }
  }

  /** Bytes of the live blocks (their power-of-two sizes). */
  get allocatedBytes(): number {
    return this.liveBytes;
  }

  /** Bytes the block at `at` takes (its power-of-two size). */
  blockBytes(at: number): number {
    return this.capacity(at) + SLACK;
  }

  /** Usable bytes of the block at `at`. */
  capacity(at: number): number {
    const size = this.blockSize.get(at);
    if (size === undefined) throw new Error(`kernel memory: no block at ${at}`);
    return size - SLACK;
  }

  u8(at: number, length: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, at, length);
  }

  u16(at: number, length: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, at, length);
  }

  i32(at: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, at, length);
  }

  u32(at: number, length: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, at, length);
  }

  f32(at: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, at, length);
  }

  attend(params: number): void {
    const e = this.exports;
    const helper = this.helperNow();
    const total = this.helper ? e.attend_tokens!(params) : 0;
    if (!this.helper || total < MIN_SPLIT.tokens) {
      e.attend(params);
      return;
    }
    // chunked by the token count alone, whether the helper joins or not (starting up, a solo spell): the
    // values are summed per chunk and the chunks added in order, so the output does not depend on timing
    // up to 8 chunks of at least MIN_SPLIT.tokens / 2 tokens, the values of each (and of each histogram unit) in its own output
    const size = Math.ceil(total / Math.min(8, Math.ceil((2 * total) / MIN_SPLIT.tokens)));
    const chunks = Math.ceil(total / size) + (e.attend_histogram_units?.(params) ?? 0);
    // the block's first fields: n, heads, kvHeads, headDim
    const [n, heads, , d] = this.i32(params, 4);
    const bytes = 4 * chunks * n * heads * d;
    if (this.partsAt === 0 || this.capacity(this.partsAt) < bytes) {
      if (this.partsAt !== 0) this.release(this.partsAt);
      this.partsAt = this.alloc(bytes);
    }
    const { partsAt } = this;
    const split = (task: HelperTask, rest: readonly number[], work: (next: number) => void) => (helper ? this.share(helper, task, params, size, rest, work) : this.helper!.alone(work));
    e.attend_begin!(params);
    split('keys', [], (next) => e.attend_keys_shared!(params, next, size));
    e.attend_softmax!(params);
    split('values', [partsAt], (next) => e.attend_values_shared!(params, next, size, partsAt));
    e.attend_end!(params, partsAt, chunks);
  }

  /** Builds a cluster index of stage books for the approximate encode (attend.c's encode_index). */
  encodeIndex(index: number, books: number, depth: number, codebookSize: number, groupSize: number, iterations: number, scratch: number): void {
    if (!this.exports.encode_index) throw new Error('this kernel build has no approximate encode (encode_index)');
    this.exports.encode_index(index, books, depth, codebookSize, groupSize, iterations, scratch);
  }

  encode(params: number): void {
    const e = this.exports;
    const helper = this.helperNow();
    // the block's second field: the vector count
    const count = this.i32(params, 2)[1];
    if (!helper || count < MIN_SPLIT.vectors) {
      e.encode(params);
      return;
    }
    const size = encodeChunk(count);
    this.share(helper, 'encode', params, size, [], (next) => e.encode_shared!(params, next, size));
  }

  /** Two encodes (a layer's keys and values) as one call: with the helper, one hand-off for both. */
  encodePair(params: number, other: number): void {
    const e = this.exports;
    const helper = this.helperNow();
    const count = Math.max(this.i32(params, 2)[1], this.i32(other, 2)[1]);
    if (!helper || !e.encode_pair_shared || count < MIN_SPLIT.vectors) {
      e.encode(params);
      e.encode(other);
      return;
    }
    const size = encodeChunk(count);
    this.share(helper, 'pair', params, size, [other], (next) => e.encode_pair_shared!(params, next, size, other));
  }

  /** Writes a GEMV task's parameter block: products that read their inputs before any writes its output (q, k and v of one x). */
  gemvTask(products: readonly GemvProduct[]): GemvTask {
    const at = this.alloc(4 * (1 + 5 * products.length), true);
    const words = this.i32(at, 1 + 5 * products.length);
    words[0] = products.length;
    products.forEach((p, i) => words.set([p.w, p.x, p.y, p.rows, p.cols], 1 + 5 * i));
    // rows as matmul.c numbers them: each product's rounded up to a multiple of 8
    return { params: at, rows: products.reduce((sum, p) => sum + align(p.rows, 8), 0) };
  }

  /** x += add (unless `add` is 0), then out = RMSNorm(x) * w, over rows of n floats at these offsets (layers.c). */
  residualNorm(x: number, add: number, w: number, out: number, n: number, eps: number): void {
    if (!this.exports.residual_norm) throw new Error('this kernel build has no layer steps (layers.c)');
    this.exports.residual_norm(x, add, w, out, n, eps);
  }

  /** gate = SiLU(gate) * up over n floats at these offsets (layers.c). */
  siluMul(gate: number, up: number, n: number): void {
    if (!this.exports.silu_mul) throw new Error('this kernel build has no layer steps (layers.c)');
    this.exports.silu_mul(gate, up, n);
  }

  /** Turns token rows [count, heads, d] at x (call order) at positions pos0.. by RoPE in place, with RopeTables' tables and partners (layers.c). */
  ropeRows(x: number, count: number, heads: number, d: number, pos0: number, tables: { cos: number; sin: number; partner: number }): void {
    if (!this.exports.rope_rows) throw new Error('this kernel build has no RoPE rows (layers.c)');
    this.exports.rope_rows(x, count, heads, d, pos0, tables.cos, tables.sin, tables.partner);
  }

  /** out = the n float32 values at x rounded to float16 bits, as quant's float32ArrayToFloat16 (layers.c). */
  toHalf(x: number, out: number, n: number): void {
    if (!this.exports.to_half) throw new Error('this kernel build has no float16 rounding (layers.c)');
    this.exports.to_half(x, out, n);
  }

  /** Runs a GEMV task, with the helper taking row chunks when there is one and the task is large enough. */
  gemv({ params, rows }: GemvTask): void {
    const e = this.exports;
    if (!e.gemv || !e.gemv_shared) throw new Error('this kernel build has no GEMV (matmul.c)');
    const helper = this.helperNow();
    if (!helper || rows < MIN_SPLIT.rows) {
      e.gemv(params);
      return;
    }
    // chunks start on 8-row blocks, so every row is summed the same way whichever thread takes it
    const size = Math.max(MIN_SPLIT.rows / 2, align(rows / GEMV_CHUNKS, 8));
    this.share(helper, 'gemv', params, size, [], (next) => e.gemv_shared!(params, next, size));
  }

  /** The helper for the call being made, or null: none, not up yet, or a solo spell after it was late (LATE_MS). */
  private helperNow(): KernelHelper | null {
    if (!this.helper?.ready) return null;
    if (this.soloCalls === 0) return this.helper;
    this.soloCalls--;
    return null;
  }

  /** A shared task; in a kernel layers step (spinning), a helper that kept this thread waiting past LATE_MS twice within SOLO_CALLS calls starts a solo spell. */
  private share(helper: KernelHelper, task: HelperTask, params: number, size: number, rest: readonly number[], work: (next: number) => void): void {
    const waited = helper.share(task, params, size, rest, work, this.spinning);
    this.sharedCalls++;
    if (!this.spinning || waited <= LATE_MS) return;
    if (this.sharedCalls - this.lateAt <= SOLO_CALLS) this.soloCalls = SOLO_CALLS;
    this.lateAt = this.sharedCalls;
  }
}

/** Vectors per chunk of an encode of `count`: one token's vectors in 2 chunks; more in up to 8 chunks of whole 4-vector passes. */
function encodeChunk(count: number): number {
  return count <= 8 ? Math.ceil(count / 2) : 4 * Math.ceil(count / 32);
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
