// The fused kernel's helper thread: a worker that instantiates the kernel module on the same shared
// memory, with its own stack, and runs one task at a time on request. Requests and answers pass
// through a few int32 words in that memory (Atomics.wait / notify): the caller posts a task, runs its
// own half, then blocks until the helper's answer; no message passing on the hot path.
import { Worker } from 'node:worker_threads';

/** Control words. */
const enum Word {
  /** Set to 1 by the helper once its instance is up. */
  Ready,
  /** Bumped by the caller for each task. */
  Posted,
  /** Set by the helper to the task number it finished. */
  Done,
  /** 0 ok, 1 the task threw. */
  Failed,
  Task,
  Args,
}
const CONTROL_WORDS = Word.Args + 4;
const STACK_BYTES = 256 * 1024;
/** A kernel task that has not answered in this long is taken as a dead helper. */
const ANSWER_MS = 60_000;

const tasks = { stop: 0, encode: 1, keys: 2, values: 3 } as const;
export type HelperTask = Exclude<keyof typeof tasks, 'stop'>;

// plain JavaScript, run with eval in the worker (no loader needed)
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, stack } = workerData;
const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports;
kernel.__stack_pointer.value = stack;
const c = new Int32Array(memory.buffer, control, ${CONTROL_WORDS});
Atomics.store(c, ${Word.Ready}, 1);
for (let seen = 0; ; ) {
  Atomics.wait(c, ${Word.Posted}, seen);
  seen = Atomics.load(c, ${Word.Posted});
  const task = c[${Word.Task}], a = c[${Word.Args}], b = c[${Word.Args + 1}], x = c[${Word.Args + 2}], y = c[${Word.Args + 3}];
  if (task === ${tasks.stop}) break;
  try {
    if (task === ${tasks.encode}) kernel.encode_range(a, b, x);
    else if (task === ${tasks.keys}) kernel.attend_keys(a, b, x);
    else kernel.attend_values(a, b, x, y);
    c[${Word.Failed}] = 0;
  } catch {
    c[${Word.Failed}] = 1;
  }
  Atomics.store(c, ${Word.Done}, seen);
  Atomics.notify(c, ${Word.Done});
}
`;

export class KernelHelper {
  private readonly control: Int32Array;
  private readonly worker: Worker;
  private posted = 0;
  private closed = false;

  constructor(module: object, memory: { buffer: ArrayBuffer }, alloc: (bytes: number) => number) {
    const control = alloc(4 * CONTROL_WORDS);
    const stack = alloc(STACK_BYTES) + STACK_BYTES;
    // a shared memory's buffer never detaches: this view stays valid as the memory grows
    this.control = new Int32Array(memory.buffer, control, CONTROL_WORDS);
    this.worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { module, memory, control, stack } });
    this.worker.unref();
    this.worker.on('error', () => (this.closed = true));
  }

  /** Whether tasks can be posted: the helper is up and not closed. */
  get ready(): boolean {
    return !this.closed && Atomics.load(this.control, Word.Ready) === 1;
  }

  /** Posts a task (kernel export arguments); answer with wait() before posting another. */
  run(task: HelperTask, ...args: number[]): void {
    this.post(tasks[task], args);
  }

  /** Blocks until the posted task is done; throws if it failed or the helper stopped answering. */
  wait(): void {
    const c = this.control;
    const deadline = Date.now() + ANSWER_MS;
    for (let done = Atomics.load(c, Word.Done); done !== this.posted; done = Atomics.load(c, Word.Done)) {
      if (Date.now() > deadline) {
        this.closed = true;
        throw new Error(`the kernel's helper thread did not answer task ${this.posted} within ${ANSWER_MS / 1000} s`);
      }
      Atomics.wait(c, Word.Done, done, 1000);
    }
    if (c[Word.Failed] !== 0) throw new Error("the kernel's helper thread failed its task (a trap in attend.wasm)");
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.post(tasks.stop, []);
  }

  private post(task: number, args: number[]): void {
    const c = this.control;
    c[Word.Task] = task;
    args.forEach((a, i) => (c[Word.Args + i] = a));
    this.posted++;
    Atomics.store(c, Word.Posted, this.posted);
    Atomics.notify(c, Word.Posted);
  }
}
