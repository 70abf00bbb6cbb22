// Electron security policy as pure data and functions (no Electron import), so plain-Node tests can
// assert it. Follows Electron's security checklist: isolation, sandbox, no Node in the renderer,
// strict CSP, no remote content, navigation / new windows / permissions denied.
import type { WebPreferences } from 'electron';

/** Strict CSP for the renderer: only the app's own files; no inline script, no remote anything. */
export const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Directives browsers honour only as an HTTP header (not in a <meta> CSP), for the headless server. */
export const headerOnlyCspDirectives = "frame-ancestors 'none'";

/**
 * Development-only CSP: Vite's dev server injects an inline React Refresh preamble and talks to its
 * own websocket. Never used in a built app.
 */
export const devContentSecurityPolicy = contentSecurityPolicy
  .replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
  .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
  .replace("connect-src 'self'", "connect-src 'self' ws://localhost:* ws://127.0.0.1:*");

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

/** IPC is answered only for the app's own page (file:// bundle, or the dev server in development). */
export function isTrustedIpcSender(frameUrl: string, devServerUrl: string | undefined): boolean {
  if (frameUrl.startsWith('file://')) return true;
  if (!devServerUrl || !URL.canParse(frameUrl)) return false;
  return new URL(frameUrl).origin === new URL(devServerUrl).origin;
}

/** Requests the renderer may make: its own bundled files and the dev server in development. */
export function isRequestAllowed(url: string, devServerUrl: string | undefined): boolean {
  if (url.startsWith('file://') || url.startsWith('devtools://') || url.startsWith('data:') || url.startsWith('blob:')) {
    return true;
  }
  if (devServerUrl) {
    const dev = new URL(devServerUrl);
    const target = new URL(url);
    return target.hostname === dev.hostname && target.port === dev.port;
  }
  return false;
}
