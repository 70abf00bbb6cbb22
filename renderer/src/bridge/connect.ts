// Finds the backend: Electron's preload bridge, or the headless server's HTTP bridge on the same
// origin (`reskv serve`), or none (the page opened from a plain file server).
import type { ResKvBridge } from '../../../main/api/types.js';

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

/** `bridge.area.action(...args)` becomes `POST ./api/area.action` with the arguments as JSON. */
function httpBridge(token: string | null): ResKvBridge {
  const area = (name: string) =>
    new Proxy({}, { get: (_target, action) => (...args: unknown[]) => callHttp(`${name}.${String(action)}`, args, token) });
  return new Proxy({}, { get: (_target, name) => area(String(name)) }) as ResKvBridge;
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
