// Memory of the fused path's rvq cache (issue 15: the codes were held twice, in the store and again
// in a mirror in kernel memory): a KvCodeStore in kernel memory (kernelStorage, as the fused runtime
// opens it) filled as decoding fills it (a prefill, then one token a step, to every layer's K and V)
// on TinyLlama-1.1B's KV geometry (22 layers, 4 KV heads x 64) with the paper's setting at depth 8.
// Prints what the store holds and counts, the kernel memory it takes, and the process's memory.
// Usage: npm run bench:fused-memory [-- --context 8192]
import { parseArgs } from 'node:util';
import { parseRvqSpec, rvqCodeBytesPerToken, scalesPerToken } from '../../quant/index.js';
import { FusedKernel } from '../../main/engine/fused/kernel.js';
import { kernelStorage } from '../../main/engine/fused/kernel-storage.js';
import { KvCodeStore } from '../../main/engine/kv-code-store.js';
import { KV_KINDS } from '../../main/engine/kv-store.js';

const { values } = parseArgs({ options: { context: { type: 'string', default: '8192' } } });
const context = Number(values.context);
const layers = 22;
const spec = parseRvqSpec({ headDim: 64, numKvHeads: 4, groupSize: 32, codebookSize: 2048, depth: 8, grouping: 'strided', groupSpan: 'head', scale: 'head' });
const width = spec.numKvHeads * spec.headDim;
const verdict = (ok: boolean) => (ok ? 'MET' : 'MISSED');
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
const gc = (globalThis as { gc?: () => void }).gc;

gc?.();
const kernel = new FusedKernel();
const start = { kernel: kernel.allocatedBytes, heap: process.memoryUsage().arrayBuffers, rss: process.memoryUsage().rss };
const store = new KvCodeStore({ numLayers: layers, keySpec: spec, valueSpec: spec, storage: kernelStorage(kernel) });
const recordBytes = rvqCodeBytesPerToken(spec, 8);
const S = scalesPerToken(spec);
/** Appends n tokens to every layer's K and V as the graph's codes (their values do not change the bytes). */
const step = (n: number) => {
  const codes = { records: new Uint8Array(n * recordBytes).map((_, i) => (i * 37) & 0xff), depth: 8, scales: new Uint16Array(n * S).fill(0x3c00) };
  const rows = { data: new Float32Array(n * width), tokens: n, start: 0, count: n };
  for (let i = 0; i < layers; i++) for (const kind of KV_KINDS) store.append(i, kind, rows, codes);
};
step(Math.min(512, context));
while (store.length < context) step(1);
gc?.();
const bytes = store.bytes();
const now = process.memoryUsage();
const kernelLive = kernel.allocatedBytes - start.kernel;
// Node's arrayBuffers leaves WebAssembly memory out: what it adds is heap buffers
const heapBuffers = now.arrayBuffers - start.heap;
console.log(`rvq d8, ${layers} layers x K/V, ${spec.numKvHeads}x${spec.headDim} per token, ${context} tokens (gc ${gc ? 'run before each reading' : 'not exposed: run with node --expose-gc'}):`);
console.log(`  store holds ${mb(bytes.held)} MB (${(bytes.held / context).toFixed(0)} B/token; fp16 ${mb(bytes.fp16)} MB, ${(bytes.fp16 / bytes.held).toFixed(2)}x), counts ${mb(bytes.allocated)} MB allocated (power-of-two kernel blocks)`);
console.log(`  kernel memory: live blocks +${mb(kernelLive)} MB, whole memory ${mb(kernel.memory.buffer.byteLength)} MB (freed blocks stay in it for reuse; WebAssembly memory does not shrink)`);
console.log(`  process: heap ArrayBuffers besides kernel memory ${mb(heapBuffers)} MB, rss +${mb(now.rss - start.rss)} MB`);
console.log(`  the coded past is held once (the kernel's live blocks are the store's own, counted in its figures): ${verdict(kernelLive === bytes.allocated)}`);
console.log(`  no heap copy beside kernel memory (< 1% of held): ${verdict(heapBuffers < 0.01 * bytes.held)}`);
console.log(`  kernel memory within 2x of held bytes: ${mb(kernel.memory.buffer.byteLength)} MB vs ${mb(2 * bytes.held)} MB — ${verdict(kernel.memory.buffer.byteLength <= 2 * bytes.held)}`);
