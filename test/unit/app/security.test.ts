// The Electron security settings (pure functions, asserted without Electron).
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy, contentSecurityPolicyHeader } from '../../../main/content-security-policy.js';
import { appEntryUrl, appFileFor, originOf } from '../../../main/electron/app-protocol.js';
import {
  isNavigationAllowed,
  isPermissionGranted,
  isRequestAllowed,
  isTrustedIpcSender,
  rendererDevServerUrl,
  secureWebPreferences,
  windowOpenDecision,
} from '../../../main/electron/security.js';

describe('Electron security policy', () => {
  it('isolates and sandboxes the renderer with no Node access', () => {
    const prefs = secureWebPreferences('/app/preload.cjs');
    expect(prefs).toMatchObject({
      preload: '/app/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });

  it('has a strict CSP: nothing inline, nothing remote; the header adds frame-ancestors', () => {
    const directives = Object.fromEntries(
      contentSecurityPolicy.split(';').map((d) => {
        const [name, ...sources] = d.trim().split(/\s+/);
        return [name, sources];
      }),
    );
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['script-src']).toEqual(["'self'"]);
    expect(directives['object-src']).toEqual(["'none'"]);
    expect(contentSecurityPolicy).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
    expect(contentSecurityPolicyHeader).toBe(`${contentSecurityPolicy}; frame-ancestors 'none'`);
  });

  it('denies navigation, new windows and permissions', () => {
    expect(isNavigationAllowed('https://example.com/')).toBe(false);
    expect(isNavigationAllowed('file:///etc/passwd')).toBe(false);
    expect(windowOpenDecision()).toEqual({ action: 'deny' });
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal']) expect(isPermissionGranted(p)).toBe(false);
  });

  it('blocks remote requests and local files, allowing only the app:// origin and the dev server', () => {
    expect(isRequestAllowed('app://reskv/assets/index.js', undefined)).toBe(true);
    expect(isRequestAllowed('file:///opt/ResKV/resources/app.asar/out/renderer/index.html', undefined)).toBe(false);
    expect(isRequestAllowed('file:///etc/passwd', undefined)).toBe(false);
    expect(isRequestAllowed('app://other/index.html', undefined)).toBe(false);
    expect(isRequestAllowed('https://fonts.googleapis.com/css', undefined)).toBe(false);
    expect(isRequestAllowed('data:image/png;base64,AAAA', undefined)).toBe(true);
    expect(isRequestAllowed('http://localhost:5173/src/main.tsx', 'http://localhost:5173')).toBe(true);
    expect(isRequestAllowed('ws://localhost:5173/', 'http://localhost:5173')).toBe(true);
    expect(isRequestAllowed('ws://localhost:8080/', 'http://localhost:5173')).toBe(false);
    expect(isRequestAllowed('http://localhost:8080/', 'http://localhost:5173')).toBe(false);
    expect(isRequestAllowed('https://example.com/', 'http://localhost:5173')).toBe(false);
  });

  it('honours ELECTRON_RENDERER_URL only in an unpackaged app and only on loopback', () => {
    const dev = { ELECTRON_RENDERER_URL: 'http://localhost:5173' };
    expect(rendererDevServerUrl(false, dev)).toBe('http://localhost:5173');
    expect(rendererDevServerUrl(false, { ELECTRON_RENDERER_URL: 'http://127.0.0.1:5173/' })).toBe('http://127.0.0.1:5173/');
    expect(rendererDevServerUrl(true, dev)).toBeUndefined();
    expect(rendererDevServerUrl(false, { ELECTRON_RENDERER_URL: 'https://evil.example/' })).toBeUndefined();
    expect(rendererDevServerUrl(false, { ELECTRON_RENDERER_URL: 'file:///tmp/page.html' })).toBeUndefined();
    expect(rendererDevServerUrl(false, { ELECTRON_RENDERER_URL: 'not a url' })).toBeUndefined();
    expect(rendererDevServerUrl(false, {})).toBeUndefined();
  });
});

describe('IPC senders', () => {
  const mainFrame = (url: string) => ({ url, parent: null });
  it("answers only the app's main frame, by its exact origin", () => {
    expect(isTrustedIpcSender(mainFrame(appEntryUrl), undefined)).toBe(true);
    expect(isTrustedIpcSender(mainFrame('app://reskv/index.html#/chat'), undefined)).toBe(true);
    // any file:// page used to pass
    expect(isTrustedIpcSender(mainFrame('file:///opt/ResKV/resources/app.asar/out/renderer/index.html'), undefined)).toBe(false);
    expect(isTrustedIpcSender(mainFrame('file:///tmp/downloaded.html'), undefined)).toBe(false);
    expect(isTrustedIpcSender(mainFrame('app://reskv.evil/index.html'), undefined)).toBe(false);
    expect(isTrustedIpcSender(mainFrame('app://other/index.html'), undefined)).toBe(false);
    expect(isTrustedIpcSender(mainFrame('https://evil.example/'), undefined)).toBe(false);
    expect(isTrustedIpcSender(mainFrame(''), undefined)).toBe(false);
    // a subframe, even of the app's own origin, and a frame already gone
    expect(isTrustedIpcSender({ url: appEntryUrl, parent: {} }, undefined)).toBe(false);
    expect(isTrustedIpcSender(null, undefined)).toBe(false);
  });

  it('answers the dev server page only when a dev server is in use', () => {
    expect(isTrustedIpcSender(mainFrame('http://localhost:5173/'), 'http://localhost:5173')).toBe(true);
    expect(isTrustedIpcSender(mainFrame('http://localhost:5173/'), undefined)).toBe(false);
    expect(isTrustedIpcSender(mainFrame('http://localhost:5174/'), 'http://localhost:5173')).toBe(false);
  });
});

describe('app:// protocol', () => {
  it('names origins as Electron compares them', () => {
    expect(originOf('app://reskv/assets/x.js')).toBe('app://reskv');
    expect(originOf('http://localhost:5173/x')).toBe('http://localhost:5173');
    expect(originOf('nonsense')).toBeNull();
  });

  it('serves files of the renderer folder with the CSP header, and nothing outside it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'reskv-app-'));
    const rendererDir = join(root, 'renderer');
    await mkdir(join(rendererDir, 'assets'), { recursive: true });
    await writeFile(join(rendererDir, 'index.html'), '<!doctype html>');
    await writeFile(join(rendererDir, 'assets', 'index.js'), 'void 0');
    await writeFile(join(root, 'secret.txt'), 'not for the page');

    const index = await appFileFor('app://reskv/', rendererDir);
    expect(index?.path).toBe(join(rendererDir, 'index.html'));
    expect(index?.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'content-security-policy': contentSecurityPolicyHeader, 'x-content-type-options': 'nosniff' });
    expect((await appFileFor('app://reskv/assets/index.js?v=1', rendererDir))?.headers['content-type']).toBe('text/javascript; charset=utf-8');

    for (const url of [
      'app://reskv/%2e%2e/secret.txt',
      'app://reskv/..%2fsecret.txt',
      'app://reskv/../secret.txt',
      'app://reskv/assets/%2e%2e/%2e%2e/secret.txt',
      'app://reskv/%',
      'app://reskv/assets',
      'app://reskv/missing.js',
      'app://other/index.html',
      `file://${join(rendererDir, 'index.html')}`,
      'not a url',
    ]) {
      expect(await appFileFor(url, rendererDir), url).toBeNull();
    }
  });
});
