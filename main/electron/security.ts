// Electron security policy as pure data and functions (no Electron import), so plain-Node tests can
// assert it. Follows Electron's security checklist: isolation, sandbox, no Node in the renderer,
// strict CSP, the app's pages from the app:// protocol only, no remote content, navigation / new
// windows / webviews / permissions denied, IPC answered for the app's main frame only.
import type { WebPreferences } from 'electron';
import { appOrigin, originOf } from './app-protocol.js';

/**
 * The Vite dev server to load the renderer from: ELECTRON_RENDERER_URL (set by `electron-vite dev`),
 * only in an unpackaged app and only on loopback. A packaged app always loads its own files.
 */
export function rendererDevServerUrl(isPackaged: boolean, env: Record<string, string | undefined>): string | undefined {
  const url = env.ELECTRON_RENDERER_URL;
  if (isPackaged || !url || !URL.canParse(url)) return undefined;
  const { protocol, hostname } = new URL(url);
  return protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(hostname) ? url : undefined;
}

export function secureWebPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    navigateOnDragDrop: false,
    spellcheck: false,
  };
}

/** Every navigation away from the loaded page is denied; the app is a single page. */
export function isNavigationAllowed(_targetUrl: string): boolean {
  return false;
}

/** `window.open` and target=_blank links never create windows. */
export function windowOpenDecision(): { action: 'deny' } {
  return { action: 'deny' };
}

/** No web permission (camera, notifications, geolocation, ...) is ever granted. */
export function isPermissionGranted(_permission: string): boolean {
  return false;
}

/** The origin the app's own page has: app://reskv, or the dev server's in development. */
function isAppOrigin(origin: string | null, devServerUrl: string | undefined): boolean {
  return origin !== null && (origin === appOrigin || (devServerUrl !== undefined && origin === originOf(devServerUrl)));
}

/**
 * IPC is answered only for the app's own page: the window's main frame (never a subframe) whose
 * origin is exactly the app's. `frame` is Electron's sender frame (null once it is gone).
 */
export function isTrustedIpcSender(frame: { url: string; parent: unknown } | null | undefined, devServerUrl: string | undefined): boolean {
  if (!frame || frame.parent !== null) return false;
  return isAppOrigin(originOf(frame.url), devServerUrl);
}

/** Requests the renderer may make: the app's own files, inline data, devtools, and the dev server in development. */
export function isRequestAllowed(url: string, devServerUrl: string | undefined): boolean {
  if (url.startsWith('devtools://') || url.startsWith('data:') || url.startsWith('blob:')) return true;
  const origin = originOf(url);
  if (isAppOrigin(origin, devServerUrl)) return true;
  // Vite's hot-reload websocket talks to the dev server's host and port
  return devServerUrl !== undefined && origin !== null && origin.replace(/^ws/, 'http') === originOf(devServerUrl);
}
