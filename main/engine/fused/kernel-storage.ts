// Kernel memory as a BlockStorage: growable buffers (a KvCodeStore's records) that live where the
// kernel reads them, so the coded past is held once. A block no longer referenced is given back to
// the kernel when it is collected; release gives it back at once.
import type { BlockStorage, ByteBlock } from '../growable.js';
import type { FusedKernel } from './kernel.js';

const blocksOf = new FinalizationRegistry<{ kernel: FusedKernel; at: number }>(({ kernel, at }) => kernel.release(at));

export function kernelStorage(kernel: FusedKernel): BlockStorage {
  return {
    alloc(bytes): ByteBlock {
      const at = kernel.alloc(bytes);
      const capacity = kernel.capacity(at);
      const block: ByteBlock = {
        capacity,
        allocatedBytes: kernel.blockBytes(at),
        view: () => kernel.u8(at, capacity),
        release: () => {
          blocksOf.unregister(block);
          kernel.release(at);
        },
      };
      blocksOf.register(block, { kernel, at }, block);
      return block;
    },
  };
}

/** Offset in `kernel`'s memory of a view from a kernelStorage block (0 for an empty view, which the kernel does not read). */
export function kernelOffset(kernel: FusedKernel, view: ArrayBufferView): number {
  if (view.byteLength === 0) return 0;
  if (view.buffer !== kernel.memory.buffer) throw new Error("the store's coded tokens are not in this kernel's memory: create it with the fused path's store factory");
  return view.byteOffset;
}
