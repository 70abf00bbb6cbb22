// The fused kernel's helper thread: a worker that instantiates the kernel module on the same shared
// memory, with its own stack, and joins one task at a time on request. Requests and answers pass
// through a few int32 words in that memory (Atomics.wait / notify); no message passing on the hot path.
// A task's work is shared through a chunk counter (kernel `*_shared` exports): the caller posts the
// task, takes chunks itself, then either withdraws the task if the helper has not picked it up yet
// (a busy machine did not schedule it: the caller did all the chunks and waits for nothing) or waits
// for the helper's last chunk.
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
  /** Idle, Posted, Running or Withdrawn (State below). */
  State,
  /** The chunk counter the kernel's shared exports take chunks from. */
  Next,
  Task,
  /** Polls the helper makes for the next task after this one before it sleeps (SPIN). */
  Spin,
  Args,
}
const CONTROL_WORDS = Word.Args + 4;
const State = { idle: 0, posted: 1, running: 2, withdrawn: 3 } as const;
const STACK_BYTES = 256 * 1024;
/** A kernel task that has not answered in this long is taken as a dead helper. */
const ANSWER_MS = 60_000;

/**
 * Polls of the posted word the helper makes after a task posted with `spin` before it sleeps: a
 * decode step on the kernel layers posts ~150 tasks of 0.05-0.5 ms back to back with a little work
 * between them, and waking a sleeping helper for each costs tens of microseconds (bench:gemv, the same
 * protocol: with no spin on a loaded machine the helper joined no task in time). Otherwise it sleeps
 * at once: on the split graph's path a segment run follows, whose pool wants both cores. The caller
 * polls the done word less before it sleeps: a helper descheduled mid-chunk needs the core back.
 */
const SPIN = { helper: 20000, caller: 2000 } as const;

const tasks = { stop: 0, encode: 1, keys: 2, values: 3, pair: 4, gemv: 5 } as const;
const exportOf = { encode: 'encode_shared', keys: 'attend_keys_shared', values: 'attend_values_shared', pair: 'encode_pair_shared', gemv: 'gemv_shared' } as const;
export type HelperTask = Exclude<keyof typeof tasks, 'stop'>;

// plain JavaScript, run with eval in the worker (no loader needed)
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, stack } = workerData;
const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports;
kernel.__stack_pointer.value = stack;
const c = new Int32Array(memory.buffer, control, ${CONTROL_WORDS});
Atomics.store(c, ${Word.Ready}, 1);
for (let seen = 0, spin = 0; ; ) {
  for (let i = 0; i < spin && Atomics.load(c, ${Word.Posted}) === seen; i++);
  Atomics.wait(c, ${Word.Posted}, seen);
  seen = Atomics.load(c, ${Word.Posted});
  // the caller may have withdrawn the task (it did every chunk itself)
  if (Atomics.compareExchange(c, ${Word.State}, ${State.posted}, ${State.running}) !== ${State.posted}) continue;
  // the task claimed is the latest posted (its number is stored before its state)
  seen = Atomics.load(c, ${Word.Posted});
  const task = c[${Word.Task}], a = c[${Word.Args}], b = c[${Word.Args + 1}], x = c[${Word.Args + 2}], y = c[${Word.Args + 3}];
  if (task === ${tasks.stop}) break;
  spin = c[${Word.Spin}];
  try {
    if (task === ${tasks.encode}) kernel.${exportOf.encode}(a, b, x);
    else if (task === ${tasks.keys}) kernel.${exportOf.keys}(a, b, x);
    else if (task === ${tasks.values}) kernel.${exportOf.values}(a, b, x, y);
    else if (task === ${tasks.gemv}) kernel.${exportOf.gemv}(a, b, x);
    else kernel.${exportOf.pair}(a, b, x, y);
    c[${Word.Failed}] = 0;
  } catch {
    c[${Word.Failed}] = 1;
  }
  // idle before done: a caller that sees done may post the next task at once, and an idle stored
  // after that would overwrite its posted state (never claimed; the caller waits until ANSWER_MS)
  Atomics.store(c, ${Word.State}, ${State.idle});
  Atomics.store(c, ${Word.Done}, seen);
  Atomics.notify(c, ${Word.Done});
}
`;

export class KernelHelper {
  private readonly control: Int32Array;
  /** Byte offset of the chunk counter, for the kernel's shared exports. */
  readonly nextAt: number;
  private readonly worker: Worker;
  private posted = 0;
  private closed = false;

  constructor(module: object, memory: { buffer: ArrayBuffer }, alloc: (bytes: number) => number) {
    const control = alloc(4 * CONTROL_WORDS);
    const stack = alloc(STACK_BYTES) + STACK_BYTES;
    // a shared memory's buffer never detaches: this view stays valid as the memory grows
    this.control = new Int32Array(memory.buffer, control, CONTROL_WORDS);
    this.nextAt = control + 4 * Word.Next;
    this.worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { module, memory, control, stack } });
    this.worker.unref();
    this.worker.on('error', () => (this.closed = true));
  }

  /** Whether tasks can be posted: the helper is up and not closed. */
  get ready(): boolean {
    return !this.closed && Atomics.load(this.control, Word.Ready) === 1;
  }

  /**
   * Runs a shared task with the helper: offers it (the kernel export's arguments after the counter and
   * chunk size: `rest`), takes chunks on this thread (`work`, given the chunk counter's offset, calls the
   * same export), then finishes it (see finish). `spin`: the helper polls for the next task a while
   * before it sleeps (SPIN). Returns the milliseconds this thread waited for the helper after its own chunks.
   */
  share(task: HelperTask, params: number, size: number, rest: readonly number[], work: (next: number) => void, spin = false): number {
    Atomics.store(this.control, Word.Next, 0);
    this.control[Word.Spin] = spin ? SPIN.helper : 0;
    this.post(tasks[task], [params, this.nextAt, size, ...rest]);
    try {
      work(this.nextAt);
    } catch (error) {
      this.finish();
      throw error;
    }
    return this.finish();
  }

  /** Runs a shared task's chunks on this thread alone (`work` as for share): the same chunks, no helper. */
  alone(work: (next: number) => void): void {
    Atomics.store(this.control, Word.Next, 0);
    work(this.nextAt);
  }

  /**
   * Withdraws the task if the helper has not started it, else blocks until it is done; throws if it
   * failed or the helper stopped answering. Returns the milliseconds it waited (0 when withdrawn).
   */
  private finish(): number {
    const c = this.control;
    if (Atomics.compareExchange(c, Word.State, State.posted, State.withdrawn) === State.posted) return 0;
    const started = performance.now();
    for (let i = 0; i < SPIN.caller && Atomics.load(c, Word.Done) !== this.posted; i++);
    const deadline = Date.now() + ANSWER_MS;
    for (let done = Atomics.load(c, Word.Done); done !== this.posted; done = Atomics.load(c, Word.Done)) {
      if (Date.now() > deadline) {
        this.closed = true;
        throw new Error(`the kernel's helper thread did not answer task ${this.posted} within ${ANSWER_MS / 1000} s`);
      }
      Atomics.wait(c, Word.Done, done, 1000);
    }
    if (c[Word.Failed] !== 0) throw new Error("the kernel's helper thread failed its task (a trap in attend.wasm)");
    return performance.now() - started;
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
    // the state last: a helper that claims it finds the task's number already stored
    Atomics.store(c, Word.State, State.posted);
    Atomics.notify(c, Word.Posted);
  }
}
