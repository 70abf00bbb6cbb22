// Tests that stop a reply mid-stream hold it there rather than race the decode. The backend they start
// with a gate (startSourceBackend(dataDir, gate)) runs the real worker (main/backend/worker.ts, from
// source, through reply-gate-worker.js), whose thread waits right after posting a streamed piece (a chat
// token, a completion delta) while the gate is held, until a permit lets one more piece through or the
// gate opens. Calls posted meanwhile (a cancel) wait in the worker's queue, and the generation reads its
// queue before the reply's next token: what the test does at a held piece lands at the next token however
// fast the model decodes. The gate's state is one Int32 in shared memory: -1 open, n >= 0 pieces that
// may still pass.
import type { Backend } from '../../main/backend/client.js';

const open = -1;

/** The worker's side: after a streamed piece, waits for a permit (taking it) or an open gate. */
export function passGate(permits: Int32Array): void {
  for (;;) {
    const left = Atomics.load(permits, 0);
    if (left === open) return;
    if (left === 0) Atomics.wait(permits, 0, 0);
    else if (Atomics.compareExchange(permits, 0, left, left - 1) === left) return;
  }
}

/** A backend whose calls are recorded by method name, in order. */
export type RecordedBackend = Backend & { readonly calls: readonly string[] };

export class ReplyGate {
  /** Handed to the worker (see startSourceBackend). */
  readonly shared = new SharedArrayBuffer(4);
  private readonly permits = new Int32Array(this.shared);

  constructor() {
    Atomics.store(this.permits, 0, open);
  }

  /** From now on the worker stops after each streamed piece it posts. */
  hold(): void {
    Atomics.store(this.permits, 0, 0);
  }

  /** Lets one more piece through when held (nothing when open). */
  pass(): void {
    if (Atomics.load(this.permits, 0) === open) return;
    Atomics.add(this.permits, 0, 1);
    Atomics.notify(this.permits, 0);
  }

  open(): void {
    Atomics.store(this.permits, 0, open);
    Atomics.notify(this.permits, 0);
  }

  /**
   * `backend` for a server under test: each call it makes lets one more piece through, so a held worker
   * reads the call before the held reply's next token and answers it; the calls are recorded, so a
   * test can wait for one (a cancel the server sends when its client leaves).
   */
  serving(backend: Backend): RecordedBackend {
    const calls: string[] = [];
    return {
      calls,
      call: (method, args) => {
        calls.push(method);
        const answer = backend.call(method, args);
        this.pass();
        return answer;
      },
      subscribe: (listener) => backend.subscribe(listener),
      close: () => backend.close(),
    };
  }
}
