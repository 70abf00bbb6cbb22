// The parent's handle on the llama.cpp worker (peer-llama-worker.ts): forks it under tsx and asks it
// one thing at a time.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { WorkerReply, WorkerRequest } from './peer-llama-worker.js';

type Answer<T extends WorkerReply['type']> = Extract<WorkerReply, { type: T }>;

export class LlamaCppWorker {
  private constructor(
    private readonly child: ChildProcess,
    /** llama.cpp's release and binary, as the worker reports them. */
    readonly build: string,
  ) {}

  /** Starts the worker; the reason instead when node-llama-cpp or its prebuilt binary is absent. */
  static async start(): Promise<LlamaCppWorker | { reason: string }> {
    const child = fork(fileURLToPath(new URL('./peer-llama-worker.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'] });
    const first = await nextReply(child);
    if (first.type === 'unavailable') return { reason: first.reason };
    if (first.type !== 'ready') throw new Error(`llama.cpp worker: expected ready, got ${JSON.stringify(first)}`);
    return new LlamaCppWorker(child, first.build);
  }

  async ask<T extends WorkerReply['type']>(request: WorkerRequest, expected: T): Promise<Answer<T>> {
    const answer = nextReply(this.child);
    this.child.send(request);
    const got = await answer;
    if (got.type === 'failed') throw new Error(`llama.cpp worker, ${request.type}: ${got.message}`);
    if (got.type !== expected) throw new Error(`llama.cpp worker answered ${got.type} to ${request.type}`);
    return got as Answer<T>;
  }

  /**
   * Stops (true) or resumes (false) the worker process, so that none of llama.cpp's threads runs or
   * spins while ResKV is measured. POSIX signals: false where the platform has none (Windows).
   */
  pause(paused: boolean): boolean {
    if (process.platform === 'win32') return false;
    this.child.kill(paused ? 'SIGSTOP' : 'SIGCONT');
    return true;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.pause(false);
    const exited = once(this.child, 'exit');
    this.child.send({ type: 'close' } satisfies WorkerRequest);
    await exited;
  }
}

function nextReply(child: ChildProcess): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: WorkerReply) => {
      child.off('exit', onExit);
      resolve(message);
    };
    const onExit = (code: number | null) => {
      child.off('message', onMessage);
      reject(new Error(`the llama.cpp worker exited (code ${code}) before answering`));
    };
    child.once('message', onMessage);
    child.once('exit', onExit);
  });
}
