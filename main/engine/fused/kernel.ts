// The fused attention kernel (kernel/attend.c built to kernel/attend.wasm) and the memory it works in:
// one WebAssembly memory per kernel instance, with a small allocator (power-of-two blocks reused
// through free lists) for the buffers that live there: the fp16 cache lanes, the coded cache (kernelStorage),
// the codebooks and each step's scratch. Growing the memory replaces its ArrayBuffer, so callers keep
// byte offsets and take fresh views (`f32`, `u8`, ...) after any allocation.
import { readFileSync } from 'node:fs';

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
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | null = null;

/** The built kernel's bytes (committed beside its C source). */
export function kernelWasmBytes(): Uint8Array {
  return readFileSync(new URL('./kernel/attend.wasm', import.meta.url));
}

function kernelModule(): object {
  compiled ??= new wasm.Module(kernelWasmBytes());
  return compiled;
}

interface KernelExports {
  attend(params: number): void;
  encode(params: number): void;
  __heap_base: { value: number };
}

export class FusedKernel {
  readonly memory: WasmMemory;
  private readonly exports: KernelExports;
  private top: number;
  /** Free blocks by size class (log2 of the block bytes). */
  private readonly free = new Map<number, number[]>();
  private readonly blockClass = new Map<number, number>();
  private liveBytes = 0;

  constructor() {
    this.memory = new wasm.Memory({ initial: 16 });
    const instance = new wasm.Instance(kernelModule(), { env: { memory: this.memory } });
    this.exports = instance.exports as unknown as KernelExports;
    this.top = align(Number(this.exports.__heap_base.value), 64);
  }

  /** Allocates `bytes` (16-byte aligned, zeroed); returns the offset. */
  alloc(bytes: number): number {
    const size = Math.max(64, 2 ** Math.ceil(Math.log2(bytes + SLACK)));
    const cls = Math.log2(size);
    let at = this.free.get(cls)?.pop();
    if (at === undefined) {
      at = this.top;
      this.top += size;
      const needed = this.top - this.memory.buffer.byteLength;
      if (needed > 0) this.memory.grow(Math.ceil(needed / PAGE));
    }
    new Uint8Array(this.memory.buffer, at, size).fill(0);
    this.blockClass.set(at, cls);
    this.liveBytes += size;
    return at;
  }

  release(at: number): void {
    const cls = this.blockClass.get(at);
    if (cls === undefined) throw new Error(`kernel memory: no block at ${at}`);
    this.blockClass.delete(at);
    this.liveBytes -= 2 ** cls;
    const list = this.free.get(cls) ?? [];
    list.push(at);
    this.free.set(cls, list);
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
    const cls = this.blockClass.get(at);
    if (cls === undefined) throw new Error(`kernel memory: no block at ${at}`);
    return 2 ** cls - SLACK;
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
    this.exports.attend(params);
  }

  encode(params: number): void {
    this.exports.encode(params);
  }
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
