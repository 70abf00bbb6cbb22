// Request and response plumbing shared by the server's routes (plain Node): JSON bodies with a size
// limit, bearer tokens, and errors in OpenAI's shape `{error: {message, type, param, code}}` (the
// renderer's bridge reads `error.message` of the same body).
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The request field at fault, and a machine-readable code, as OpenAI's errors carry them. */
    readonly detail: { param?: string; code?: string } = {},
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

const defaultCodes: Record<number, string> = {
  401: 'invalid_api_key',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'request_too_large',
  421: 'misdirected_request',
};

/** The OpenAI-style error body for an HTTP status. */
export function errorBody(status: number, message: string, detail: HttpError['detail'] = {}) {
  const type = status === 401 ? 'authentication_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param: detail.param ?? null, code: detail.code ?? defaultCodes[status] ?? null } };
}

export function sendError(res: ServerResponse, status: number, message: string, detail?: HttpError['detail']): void {
  // a refused body may still be arriving: answer, then close the connection rather than read it
  if (status === 413) res.setHeader('connection', 'close');
  sendJson(res, status, errorBody(status, message, detail));
}

/**
 * The request body parsed as JSON; `empty` when there is none. A body over `maxBytes` is refused
 * (413) as soon as its declared length or the bytes received pass the limit.
 */
export function readJsonBody(req: IncomingMessage, maxBytes: number, empty: unknown): Promise<unknown> {
  const tooLarge = () => new HttpError(413, `request body larger than ${maxBytes} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume(); // discard the rest
        reject(tooLarge());
      } else chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim().length === 0) return resolve(empty);
      try {
        resolve(JSON.parse(text) as unknown);
      } catch {
        reject(new HttpError(400, 'request body is not valid JSON'));
      }
    });
  });
}

/** The decoded form of a URL path or part of one; malformed percent-encoding (`/%`) is a 400. */
export function decodeUrlPath(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new HttpError(400, `malformed percent-encoding in the URL path ${JSON.stringify(encoded)}`, { code: 'invalid_url' });
  }
}

export function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
