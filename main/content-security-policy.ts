// The renderer's Content Security Policy, one definition for every way the page is served: the
// build's <meta> tag (electron.vite.config.ts), the app:// protocol in Electron and the headless HTTP
// server (both also send it as a header). Dependency-free, so any layer may import it.

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

/** Directives browsers honour only as an HTTP header (not in a <meta> CSP). */
export const headerOnlyCspDirectives = "frame-ancestors 'none'";

/** The `Content-Security-Policy` response header for the app's files. */
export const contentSecurityPolicyHeader = `${contentSecurityPolicy}; ${headerOnlyCspDirectives}`;

/**
 * Development-only CSP: Vite's dev server injects an inline React Refresh preamble and talks to its
 * own websocket. Never used in a built app.
 */
export const devContentSecurityPolicy = contentSecurityPolicy
  .replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
  .replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
  .replace("connect-src 'self'", "connect-src 'self' ws://localhost:* ws://127.0.0.1:*");
