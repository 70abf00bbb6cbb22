// llama.cpp through node-llama-cpp, an optional dev dependency (bench:peer and the GGUF export test):
// CPU only, prebuilt npm binaries only (never a source build or download). Absent or unloadable,
// callers skip with the reason printed.
import type * as NodeLlamaCpp from 'node-llama-cpp';
import type { Llama } from 'node-llama-cpp';

export type LlamaCppModule = typeof NodeLlamaCpp;

export type LlamaCppLoad = { ok: true; module: LlamaCppModule; llama: Llama } | { ok: false; reason: string };

export async function loadLlamaCpp(): Promise<LlamaCppLoad> {
  let module: LlamaCppModule;
  try {
    module = await import('node-llama-cpp');
  } catch (e) {
    return { ok: false, reason: `node-llama-cpp is not installed (npm install --save-dev node-llama-cpp): ${(e as Error).message}` };
  }
  try {
    const llama = await module.getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: module.LlamaLogLevel.error });
    return { ok: true, module, llama };
  } catch (e) {
    return { ok: false, reason: `node-llama-cpp has no working prebuilt CPU binary here: ${(e as Error).message}` };
  }
}
