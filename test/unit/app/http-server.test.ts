// The headless server: renderer files and the API bridge on loopback, with validation at the boundary.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SettingsState } from '../../../main/api/types.js';
import type { Backend } from '../../../main/backend/client.js';
import { startHeadlessServer, type HeadlessServer } from '../../../main/server/http-server.js';
import { startSourceBackend } from '../../support/backend.js';

let server: HeadlessServer;
let secured: HeadlessServer;
let backend: Backend;

beforeAll(async () => {
  const rendererDir = await mkdtemp(join(tmpdir(), 'reskv-renderer-'));
  await writeFile(join(rendererDir, 'index.html'), '<!doctype html><title>ResKV</title>');
  ({ backend } = await startSourceBackend());
  server = await startHeadlessServer({ port: 0, rendererDir, backend, maxBodyBytes: 1024 });
  secured = await startHeadlessServer({ port: 0, rendererDir, backend, token: 'correct-horse' });
});

afterAll(async () => {
  await server?.close();
  await secured?.close();
  await backend?.close();
});

/** Raw request so tests can send what fetch would not (a forged Host header, a huge body). */
function send(base: string, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const url = new URL(path, base);
  return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

describe('headless server', () => {
  it('listens on 127.0.0.1 only', () => {
    expect(new URL(server.url).hostname).toBe('127.0.0.1');
  });

  it('serves the renderer with the strict CSP header', async () => {
    const res = await send(server.url, '/');
    expect(res.status).toBe(200);
    expect(res.body).toContain('<title>ResKV</title>');
    expect(String(res.headers['content-security-policy'])).toContain("script-src 'self'");
  });

  it('does not serve files outside the renderer folder', async () => {
    expect((await send(server.url, '/../../../../etc/passwd')).status).toBe(404);
    expect((await send(server.url, '/%2e%2e/%2e%2e/etc/passwd')).status).toBe(404);
  });

  it('answers API calls with validated arguments', async () => {
    const ok = await send(server.url, '/api/app.info', { method: 'POST', body: '[]' });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).result).toMatchObject({ name: 'ResKV', version: 'test', electron: null });

    const badArgs = await send(server.url, '/api/app.info', { method: 'POST', body: '[1]' });
    expect(badArgs.status).toBe(400);
    expect(JSON.parse(badArgs.body).error.message).toContain('app.info');

    const badJson = await send(server.url, '/api/app.info', { method: 'POST', body: '{not json' });
    expect(badJson.status).toBe(400);
    expect(JSON.parse(badJson.body).error.message).toMatch(/not valid JSON/);

    expect((await send(server.url, '/api/nope.nothing', { method: 'POST', body: '[]' })).status).toBe(404);
    expect((await send(server.url, '/api/app.info')).status).toBe(405);
    expect((await send(server.url, '/api/app.info', { method: 'POST', body: 'x'.repeat(5000) })).status).toBe(413);
  });

  it('refuses a foreign Host header (DNS rebinding)', async () => {
    const res = await send(server.url, '/api/app.info', { method: 'POST', body: '[]', headers: { host: 'evil.example:80' } });
    expect(res.status).toBe(421);
  });

  it('requires the bearer token when one is set', async () => {
    expect((await send(secured.url, '/api/app.info', { method: 'POST', body: '[]' })).status).toBe(401);
    const wrong = await send(secured.url, '/api/app.info', { method: 'POST', body: '[]', headers: { authorization: 'Bearer wrong-horse!' } });
    expect(wrong.status).toBe(401);
    const right = await send(secured.url, '/api/app.info', { method: 'POST', body: '[]', headers: { authorization: 'Bearer correct-horse' } });
    expect(right.status).toBe(200);
    // the OpenAI-compatible API on the same address takes the same token
    expect((await send(secured.url, '/v1/models')).status).toBe(401);
    const models = await send(secured.url, '/v1/models', { headers: { authorization: 'Bearer correct-horse' } });
    expect(models.status).toBe(200);
    expect(JSON.parse(models.body)).toEqual({ object: 'list', data: [] });
  });

  it('streams backend events until the client leaves', async () => {
    const controller = new AbortController();
    const res = await fetch(new URL('/api/events', server.url), { signal: controller.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const { settings } = (await backend.call('settings.get', [])) as SettingsState;
    await backend.call('settings.save', [settings]);
    let text = '';
    while (!text.includes('settings-changed')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain(`data: ${JSON.stringify({ type: 'settings-changed', settings })}`);
    controller.abort();
  });
});
