// ResKV's loopback HTTP server (plain Node): the OpenAI-compatible API under /v1 and, for headless
// mode, the built renderer with its HTTP bridge (/api/<method>, /api/events).
// Binds 127.0.0.1 only, checks the Host header (DNS-rebinding defence), refuses state-changing requests
// from other origins or without a JSON body (cross-site request defence), optional bearer token.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isApiMethodName } from '../api/methods.js';
import type { Backend } from '../backend/client.js';
import { ApiArgumentError } from '../backend/errors.js';
import { HttpError, readJsonBody, sendError, sendJson, tokenMatches } from './http-io.js';
import { handleOpenAiRequest } from './openai.js';
import { changesState, refuseForeignRequest, servedOrigins } from './request-guard.js';
import { serveStaticFile } from './static-files.js';

export interface HeadlessServerOptions {
  /** 0 picks a free port. */
  port: number;
  /**
   * Folder of the built renderer (out/renderer): the server also serves it and its bridge (headless
   * mode). null: the OpenAI-compatible API alone (the desktop app's local API).
   */
  rendererDir: string | null;
  /** When set, every /api and /v1 request needs `Authorization: Bearer <token>`. */
  token?: string;
  backend: Backend;
  /** Largest accepted request body in bytes. */
  maxBodyBytes?: number;
}

export interface HeadlessServer {
  url: string;
  close(): Promise<void>;
}

export async function startHeadlessServer(options: HeadlessServerOptions): Promise<HeadlessServer> {
  const { backend, rendererDir, token } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
  let allowedHosts: Set<string> = new Set();
  let allowedOrigins: Set<string> = new Set();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!allowedHosts.has(req.headers.host ?? '')) throw new HttpError(421, 'unexpected Host header: ResKV answers on loopback only');
    if (changesState(req.method)) refuseForeignRequest(req, allowedOrigins);
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    const isApi = pathname === '/v1' || pathname.startsWith('/v1/');
    const isBridge = rendererDir !== null && pathname.startsWith('/api/');
    if ((isApi || isBridge) && token && !tokenMatches(req.headers.authorization, token)) throw new HttpError(401, 'missing or wrong bearer token');
    if (isApi) return handleOpenAiRequest(backend, req, res, pathname, maxBodyBytes);
    if (isBridge) {
      if (pathname === '/api/events') return streamEvents(req, res);
      if (req.method !== 'POST') throw new HttpError(405, 'API methods are called with POST');
      const name = pathname.slice('/api/'.length);
      if (!isApiMethodName(name)) throw new HttpError(404, `unknown API method '${name}'`);
      const args = await readJsonBody(req, maxBodyBytes, []);
      return sendJson(res, 200, { result: await backend.call(name, args) });
    }
    if (rendererDir === null || !(await serveStaticFile(rendererDir, req, res))) throw new HttpError(404, `not found: ${pathname}`);
  }

  /** Backend events as server-sent events, one `data:` line of JSON each, until the client leaves. */
  function streamEvents(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET') throw new HttpError(405, 'events are read with GET');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(': connected\n\n');
    const unsubscribe = backend.subscribe((event) => res.write(`data: ${JSON.stringify(event)}\n\n`));
    res.on('close', unsubscribe);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : err instanceof ApiArgumentError ? 400 : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (!res.headersSent) sendError(res, status, message, err instanceof HttpError ? err.detail : undefined);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  allowedOrigins = servedOrigins(port);
  allowedHosts = new Set([...allowedOrigins].map((origin) => new URL(origin).host));
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
