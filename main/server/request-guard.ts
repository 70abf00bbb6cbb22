// Cross-site request defence for the loopback server (plain Node). A web page on any other site can
// make a browser send "simple" requests (a POST with a text/plain or form body, no preflight) to
// 127.0.0.1; only the bearer token would stop them, and the token is optional. So every request that
// may change state must come from the app's own origin (or from no browser at all: no Origin header)
// and carry a JSON body, which a cross-site page cannot send without a CORS preflight that this server
// never grants.
import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-io.js';

/** Methods that only read: every other method is treated as changing state. */
const readOnlyMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

export function changesState(method: string | undefined): boolean {
  return !readOnlyMethods.has(method ?? 'GET');
}

/** The origins a page served by this server has: `http://127.0.0.1:PORT` and `http://localhost:PORT`. */
export function servedOrigins(port: number): Set<string> {
  return new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);
}

/** `application/json`, with or without parameters such as `; charset=utf-8`. */
export function isJsonContentType(header: string | undefined): boolean {
  const mediaType = header?.split(';')[0].trim().toLowerCase();
  return mediaType === 'application/json';
}

/**
 * Throws 403 for a request from another origin and 415 for a body that is not JSON. Call it for every
 * request that `changesState`. `Sec-Fetch-Site` (sent by current browsers) is checked too, so a browser
 * that leaves Origin out of a cross-site request is still refused.
 */
export function refuseForeignRequest(req: IncomingMessage, allowedOrigins: ReadonlySet<string>): void {
  const origin = req.headers.origin;
  if (origin !== undefined && !allowedOrigins.has(origin)) {
    throw new HttpError(403, `cross-origin request refused: Origin ${origin} is not this app's (${[...allowedOrigins].join(' or ')})`, { code: 'forbidden_origin' });
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new HttpError(403, `cross-site request refused (Sec-Fetch-Site: ${String(site)})`, { code: 'forbidden_origin' });
  }
  if (!isJsonContentType(req.headers['content-type'])) {
    const given = req.headers['content-type'] ?? 'none';
    throw new HttpError(415, `requests that change state must send Content-Type: application/json (got ${given})`, { code: 'unsupported_media_type' });
  }
}
