// The desktop app's local API (plain Node; the Electron main process drives it): an API-only loopback
// server (no renderer, no bridge) kept in step with settings.localApi — started, restarted on a new
// port or token, stopped when disabled. Its status (off, listening, failed and why) goes to listeners
// so Settings can show it.
import type { LocalApiStatus, Settings } from '../api/types.js';
import type { Backend } from '../backend/client.js';
import { startHeadlessServer, type HeadlessServer } from './http-server.js';

type LocalApiSettings = Settings['localApi'];

export class LocalApiServer {
  private running: { server: HeadlessServer; port: number; token: string | null } | null = null;
  /** Settings changes apply one after another. */
  private queue: Promise<unknown> = Promise.resolve();
  private current: LocalApiStatus = { state: 'off' };
  private readonly listeners = new Set<(status: LocalApiStatus) => void>();

  constructor(private readonly backend: Backend) {}

  get status(): LocalApiStatus {
    return this.current;
  }

  /** Calls `listener` with every new status; returns the unsubscribe function. */
  onStatus(listener: (status: LocalApiStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Matches the server to the settings; resolves to its URL (null when disabled). */
  apply(settings: LocalApiSettings): Promise<string | null> {
    const next = this.queue.then(() => this.reconcile(settings));
    this.queue = next.catch(() => undefined);
    next.then(
      (url) => this.publish(url ? { state: 'listening', url } : { state: 'off' }),
      (err: unknown) => this.publish({ state: 'failed', error: (err as Error).message }),
    );
    return next;
  }

  private publish(status: LocalApiStatus): void {
    this.current = status;
    for (const listener of this.listeners) listener(status);
  }

  private async reconcile({ enabled, port, token }: LocalApiSettings): Promise<string | null> {
    const current = this.running;
    if (current && enabled && current.port === port && current.token === token) return current.server.url;
    if (current) {
      this.running = null;
      await current.server.close();
    }
    if (!enabled) return null;
    try {
      const server = await startHeadlessServer({ port, rendererDir: null, backend: this.backend, ...(token ? { token } : {}) });
      this.running = { server, port, token };
      return server.url;
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? `port ${port} is in use: choose another in Settings` : (err as Error).message;
      throw new Error(`the local API cannot listen on 127.0.0.1:${port}: ${reason}`, { cause: err });
    }
  }

  close(): Promise<unknown> {
    return this.apply({ enabled: false, port: 0, token: null });
  }
}
