// The headless server: renderer files and the API bridge on loopback, with validation at the boundary.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
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
let dataDir: string;

beforeAll(async () => {
  const rendererDir = await mkdtemp(join(tmpdir(), 'reskv-renderer-'));
  await writeFile(join(rendererDir, 'index.html'), '<!doctype html><title>ResKV</title>');
  ({ backend, dataDir } = await startSourceBackend());
  server = await startHeadlessServer({ port: 0, rendererDir, backend, maxBodyBytes: 1024 });
  secured = await startHeadlessServer({ port: 0, rendererDir, backend, token: 'correct-horse' });
});

afterAll(async () => {
  await server?.close();
  await secured?.close();
  await backend?.close();
});

/**
 * Raw request so tests can send what fetch would not (a forged Host or Origin header, a huge body).
 * A POST says `Content-Type: application/json` unless `headers` set another.
 */
function send(base: string, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  const url = new URL(path, base);
  const method = init.method ?? 'GET';
  const headers = { ...(method === 'POST' ? { 'content-type': 'application/json' } : {}), ...init.headers };
  return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
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

  it.each(['/%', '/%E0%A4%A', '/assets/%zz.js', '/v1/models/%'])('answers malformed percent-encoding (%s) with 400, not 500', async (path) => {
    const res = await send(server.url, path);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body).error).toMatchObject({ code: 'invalid_url', message: expect.stringMatching(/malformed percent-encoding/) });
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

describe('cross-site requests (a web page in the browser posting to 127.0.0.1)', () => {
  /** A folder the library lists as a model: it carries a ResKV manifest (damaged, so removable only). */
  async function plantModel(id: string): Promise<string> {
    const folder = join(dataDir, 'models', id);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'manifest.json'), JSON.stringify({ format: 'reskv-model/1', id }));
    return folder;
  }
  const origin = () => new URL(server.url).origin;

  it('refuses a cross-site text/plain POST that used to delete a model (403), and the model stays', async () => {
    const folder = await plantModel('victim');
    const forged = await send(server.url, '/api/models.remove', {
      method: 'POST',
      body: '["victim"]',
      headers: { origin: 'https://evil.example', 'content-type': 'text/plain' },
    });
    expect(forged.status).toBe(403);
    expect(JSON.parse(forged.body).error.message).toMatch(/Origin https:\/\/evil\.example/);
    expect(existsSync(folder)).toBe(true);
  });

  it.each([
    ['another site', { origin: 'https://evil.example' }],
    ['a sandboxed frame or file:// page (Origin: null)', { origin: 'null' }],
    ['another port on loopback', { origin: 'http://127.0.0.1:1' }],
    ['loopback without the port', { origin: 'http://127.0.0.1' }],
    ['a browser that left Origin out but marks the request cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['a same-site page (another loopback port)', { 'sec-fetch-site': 'same-site' }],
  ])('refuses a JSON POST from %s with 403', async (_case, headers) => {
    const folder = await plantModel('victim');
    const res = await send(server.url, '/api/models.remove', { method: 'POST', body: '["victim"]', headers });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error.code).toBe('forbidden_origin');
    expect(existsSync(folder)).toBe(true);
  });

  it.each([
    ['text/plain', 'text/plain;charset=UTF-8'],
    ['form', 'application/x-www-form-urlencoded'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['JSON-ish', 'application/jsonp'],
  ])('refuses a %s body with 415, even from the app origin', async (_case, contentType) => {
    const folder = await plantModel('victim');
    const res = await send(server.url, '/api/models.remove', { method: 'POST', body: '["victim"]', headers: { origin: origin(), 'content-type': contentType } });
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body).error.message).toMatch(/Content-Type: application\/json/);
    expect(existsSync(folder)).toBe(true);
  });

  it('refuses a POST without Content-Type (415)', async () => {
    const res = await send(server.url, '/api/app.info', { method: 'POST', body: '[]', headers: { 'content-type': '' } });
    expect(res.status).toBe(415);
  });

  it('runs a same-origin JSON call (as the React app sends it), from either served host name', async () => {
    const folder = await plantModel('victim');
    const ok = await send(server.url, '/api/models.remove', {
      method: 'POST',
      body: '["victim"]',
      headers: { origin: origin(), 'content-type': 'application/json; charset=utf-8', 'sec-fetch-site': 'same-origin' },
    });
    expect(ok.status).toBe(200);
    expect(existsSync(folder)).toBe(false);
    const port = new URL(server.url).port;
    const viaLocalhost = await send(server.url, '/api/app.info', { method: 'POST', body: '[]', headers: { host: `localhost:${port}`, origin: `http://localhost:${port}` } });
    expect(viaLocalhost.status).toBe(200);
  });

  it('guards /v1 the same way; a JSON client without Origin (the openai client) still gets through', async () => {
    const body = JSON.stringify({ model: 'none', messages: [{ role: 'user', content: 'hi' }] });
    expect((await send(server.url, '/v1/chat/completions', { method: 'POST', body, headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect((await send(server.url, '/v1/chat/completions', { method: 'POST', body, headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    // past the guard: the model is looked up (none in this library)
    const plain = await send(server.url, '/v1/chat/completions', { method: 'POST', body });
    expect(plain.status).toBe(404);
    expect(JSON.parse(plain.body).error.code).toBe('model_not_found');
  });

  it('keeps the bearer token as a second lock: same-origin JSON without it is still 401', async () => {
    const res = await send(secured.url, '/api/app.info', { method: 'POST', body: '[]', headers: { origin: new URL(secured.url).origin } });
    expect(res.status).toBe(401);
  });
});
