// Finds the backend: Electron's preload bridge, or the headless server's HTTP bridge on the same
// origin (`reskv serve`), or none (the page opened from a plain file server).
import type { BackendEvent, ResKvBridge } from '../../../main/api/types.js';

const tokenKey = 'reskv.token';

/** The headless server prints its URL with `#token=...`; keep it for this tab and hide it. */
function takeToken(): string | null {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (match) {
    sessionStorage.setItem(tokenKey, decodeURIComponent(match[1]));
    history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(tokenKey);
}

async function callHttp(method: string, args: unknown[], token: string | null): Promise<unknown> {
  const response = await fetch(`./api/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(args),
  });
  const body = (await response.json().catch(() => null)) as { result?: unknown; error?: { message: string } } | null;
  if (!response.ok || !body || 'error' in body) {
    throw new Error(body?.error?.message ?? `ResKV server answered ${response.status} for ${method}`);
  }
  return body.result;
}

/**
 * Reads the server-sent event stream of `GET ./api/events` (with fetch, so the bearer token travels in
 * a header) and reconnects after a drop until unsubscribed.
 */
function subscribeHttp(token: string | null, listener: (event: BackendEvent) => void): () => void {
  const controller = new AbortController();
  const read = async () => {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch('./api/events', { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: controller.signal });
        if (!response.ok || !response.body) throw new Error(`events answered ${response.status}`);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (block.startsWith('data: ')) listener(JSON.parse(block.slice(6)) as BackendEvent);
          }
        }
      } catch {
        // dropped or refused: retry below unless unsubscribed
      }
      if (!controller.signal.aborted) await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void read();
  return () => controller.abort();
}

/** `bridge.area.action(...args)` becomes `POST ./api/area.action` with the arguments as JSON. */
function httpBridge(token: string | null): ResKvBridge {
  const area = (name: string) =>
    new Proxy({}, { get: (_target, action) => (...args: unknown[]) => callHttp(`${name}.${String(action)}`, args, token) });
  const events: ResKvBridge['events'] = { subscribe: (listener) => subscribeHttp(token, listener) };
  // The Electron-only areas are absent: no native dialogs in a browser (the Models view shows a path
  // field instead), and the headless server is itself the local API.
  const electronOnly = new Set<string | symbol>(['dialogs', 'localApi']);
  return new Proxy({}, { get: (_target, name) => (name === 'events' ? events : electronOnly.has(name) ? undefined : area(String(name))) }) as ResKvBridge;
}

export async function connectBridge(): Promise<ResKvBridge | null> {
  if (window.reskv) return window.reskv;
  const bridge = httpBridge(takeToken());
  try {
    await bridge.app.info();
    return bridge;
  } catch {
    return null;
  }
}
