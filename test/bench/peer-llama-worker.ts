// The llama.cpp side of bench:peer, run in a child process (forked by peer-llama-cpp.ts) so that its
// resident memory is its own. One model, one context per KV cache type asked for (f16, q8_0, q4_0), each
// holding the same random tokens; the parent asks it to fill them to a context length and to time
// greedy decode steps on one of them, interleaved with ResKV's measurements.
import type { LlamaContextSequence, Token } from 'node-llama-cpp';
import { createRng } from '../../quant/index.js';
import { loadLlamaCpp } from '../support/llama-cpp.js';

export const llamaKvTypes = ['F16', 'Q8_0', 'Q4_0'] as const;
export type LlamaKvType = (typeof llamaKvTypes)[number];

export type WorkerRequest =
  | { type: 'open'; modelPath: string; contextSize: number; threads: number; vocabSize: number; kvTypes: readonly LlamaKvType[] }
  | { type: 'fill'; context: number }
  | { type: 'measure'; kv: LlamaKvType; steps: number; inputToken: number }
  | { type: 'close' };

export type WorkerReply =
  | { type: 'ready'; build: string }
  | { type: 'unavailable'; reason: string }
  | { type: 'opened'; contexts: { kv: LlamaKvType; contextSize: number; flashAttention: boolean; threads: number }[] }
  | { type: 'filled'; seconds: number }
  /** Per decoded token (the input token's step excluded); llama.cpp's state size at the context length. */
  | { type: 'measured'; latenciesMs: number[]; stateBytes: number; residentBytes: number }
  | { type: 'failed'; message: string };

const reply = (message: WorkerReply) => process.send!(message);

async function serve(): Promise<void> {
  const cpp = await loadLlamaCpp();
  if (!cpp.ok) {
    reply({ type: 'unavailable', reason: cpp.reason });
    process.disconnect();
    return;
  }
  const { llama } = cpp;
  reply({ type: 'ready', build: `llama.cpp release ${llama.llamaCppRelease.release} as node-llama-cpp's binary names it (${llama.buildType} CPU binary; ${llama.systemInfo.trim()})` });
  const sequences = new Map<LlamaKvType, LlamaContextSequence>();
  const rng = createRng(7);
  let vocabSize = 0;

  const handle = async (request: WorkerRequest): Promise<WorkerReply | null> => {
    if (request.type === 'open') {
      vocabSize = request.vocabSize;
      const model = await llama.loadModel({ modelPath: request.modelPath, gpuLayers: 0 });
      for (const kv of request.kvTypes) {
        // flash attention: llama.cpp needs it for a quantized V cache; on for all three so one kernel is compared
        const context = await model.createContext({ contextSize: request.contextSize, threads: { ideal: request.threads, min: request.threads }, flashAttention: true, experimentalKvCacheKeyType: kv, experimentalKvCacheValueType: kv });
        sequences.set(kv, context.getSequence());
      }
      return {
        type: 'opened',
        contexts: request.kvTypes.map((kv) => {
          const context = sequences.get(kv)!.context;
          return { kv, contextSize: context.contextSize, flashAttention: context.flashAttention === true, threads: context.idealThreads };
        }),
      };
    }
    if (request.type === 'fill') {
      const started = performance.now();
      const have = [...sequences.values()][0].nextTokenIndex;
      // random ids past the control and byte tokens; the same tokens in every context
      const tokens = Array.from({ length: request.context - have }, () => (259 + rng.int(vocabSize - 259)) as Token);
      for (const sequence of sequences.values()) {
        if (sequence.nextTokenIndex !== have) throw new Error(`the ${sequence.context.kvCacheKeyType} context holds ${sequence.nextTokenIndex} tokens, the first ${have}`);
        await sequence.evaluateWithoutGeneratingNewTokens(tokens);
      }
      return { type: 'filled', seconds: (performance.now() - started) / 1000 };
    }
    if (request.type === 'measure') {
      const sequence = sequences.get(request.kv)!;
      const context = sequence.nextTokenIndex;
      const latencies: number[] = [];
      let last = performance.now();
      for await (const token of sequence.evaluate([request.inputToken as Token], { temperature: 0 })) {
        void token;
        const now = performance.now();
        latencies.push(now - last);
        last = now;
        if (latencies.length === request.steps + 1) break;
      }
      if (latencies.length !== request.steps + 1) throw new Error(`llama.cpp stopped after ${latencies.length} of ${request.steps + 1} tokens`);
      await sequence.eraseContextTokenRanges([{ start: context, end: sequence.nextTokenIndex }]);
      return { type: 'measured', latenciesMs: latencies.slice(1), stateBytes: sequence.context.stateSize, residentBytes: process.memoryUsage.rss() };
    }
    await llama.dispose();
    process.disconnect();
    return null;
  };

  process.on('message', (request: WorkerRequest) => {
    handle(request).then(
      (answer) => answer && reply(answer),
      (e: unknown) => reply({ type: 'failed', message: (e as Error).message }),
    );
  });
}

if (process.send) await serve();
