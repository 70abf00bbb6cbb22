// Serves the built renderer (out/renderer) for headless mode and browser tests (plain Node), and finds
// its files for Electron's app:// protocol. Only files under the root are served; the strict CSP
// travels as a header too.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { contentSecurityPolicyHeader } from '../content-security-policy.js';
import { decodeUrlPath } from './http-io.js';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

export interface StaticFile {
  path: string;
  headers: Record<string, string>;
}

/**
 * The regular file under `root` that a URL path names (percent-encoded, as in a URL; `/` is
 * index.html) with its response headers, or null when there is none or the path leaves `root`.
 * Malformed percent-encoding throws HttpError 400.
 */
export async function findStaticFile(root: string, encodedPath: string): Promise<StaticFile | null> {
  const pathname = decodeUrlPath(encodedPath);
  const file = join(root, normalize(pathname === '/' ? '/index.html' : pathname));
  if (!file.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) return null;
  return {
    path: file,
    headers: {
      'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
      'content-length': String(info.size),
      'content-security-policy': contentSecurityPolicyHeader,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    },
  };
}

/** Answers GET/HEAD for a file under `root`. Returns false if not found. */
export async function serveStaticFile(root: string, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const found = await findStaticFile(root, new URL(req.url ?? '/', 'http://localhost').pathname);
  if (!found) return false;
  res.writeHead(200, found.headers);
  if (req.method === 'HEAD') res.end();
  else createReadStream(found.path).pipe(res);
  return true;
}
