// The headless ResKV server (plain Node): serves the built renderer and its HTTP bridge on loopback.
// Binds 127.0.0.1 only, checks the Host header (DNS-rebinding defence), optional bearer token.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Backend } from '../backend/client.js';
import { ApiArgumentError, isApiMethodName } from '../backend/methods.js';
import { serveStaticFile } from './static-files.js';

export interface HeadlessServerOptions {
  /** 0 picks a free port. */
  port: number;
  /** Folder of the built renderer (out/renderer). */
  rendererDir: string;
  /** When set, every /api request needs `Authorization: Bearer <token>`. */
  token?: string;
  backend: Backend;
  /** Largest accepted request body in bytes. */
  maxBodyBytes?: number;
}

export interface HeadlessServer {
  url: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, `request body larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text.length === 0 ? [] : (JSON.parse(text) as unknown);
  } catch {
    throw new HttpError(400, 'request body is not valid JSON');
  }
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith('Bearer ') ? header.slice(7) : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startHeadlessServer(options: HeadlessServerOptions): Promise<HeadlessServer> {
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
  let allowedHosts: Set<string> = new Set();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!allowedHosts.has(req.headers.host ?? '')) throw new HttpError(421, 'unexpected Host header: ResKV answers on loopback only');
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (pathname.startsWith('/api/')) {
      if (options.token && !tokenMatches(req.headers.authorization, options.token)) throw new HttpError(401, 'missing or wrong bearer token');
      if (pathname === '/api/events') {
        streamEvents(req, res);
        return;
      }
      if (req.method !== 'POST') throw new HttpError(405, 'API methods are called with POST');
      const name = pathname.slice('/api/'.length);
      if (!isApiMethodName(name)) throw new HttpError(404, `unknown API method '${name}'`);
      const args = await readJsonBody(req, maxBodyBytes);
      sendJson(res, 200, { result: await options.backend.call(name, args) });
      return;
    }
    if (!(await serveStaticFile(options.rendererDir, req, res))) throw new HttpError(404, `not found: ${pathname}`);
  }

  /** Backend events as server-sent events, one `data:` line of JSON each, until the client leaves. */
  function streamEvents(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') throw new HttpError(405, 'events are read with GET');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': connected\n\n');
    const unsubscribe = options.backend.subscribe((event) => res.write(`data: ${JSON.stringify(event)}\n\n`));
    req.on('close', unsubscribe);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : err instanceof ApiArgumentError ? 400 : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) sendJson(res, status, { error: { message } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
