// Local-API requests queued or running (backend worker), by request id: each has an abort signal
// that a cancel trips, whether the request is still queued or already generating.
export class RequestRegistry {
  private readonly requests = new Map<string, AbortController>();

  /** Registers a request (ids are unique while queued or running) and returns its signal. */
  add(requestId: string): AbortSignal {
    if (this.requests.has(requestId)) throw new Error(`a request '${requestId}' is already queued or running`);
    const controller = new AbortController();
    this.requests.set(requestId, controller);
    return controller.signal;
  }

  remove(requestId: string): void {
    this.requests.delete(requestId);
  }

  /** Trips the request's signal; false when no such request is queued or running. */
  cancel(requestId: string): boolean {
    const controller = this.requests.get(requestId);
    controller?.abort();
    return controller !== undefined;
  }
}
