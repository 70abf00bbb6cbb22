// The Electron security settings (pure functions, asserted without Electron).
import { describe, expect, it } from 'vitest';
import {
  contentSecurityPolicy,
  isNavigationAllowed,
  isPermissionGranted,
  isRequestAllowed,
  isTrustedIpcSender,
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

  it('has a strict CSP: nothing inline, nothing remote', () => {
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
  });

  it('denies navigation, new windows and permissions', () => {
    expect(isNavigationAllowed('https://example.com/')).toBe(false);
    expect(isNavigationAllowed('file:///etc/passwd')).toBe(false);
    expect(windowOpenDecision()).toEqual({ action: 'deny' });
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal']) expect(isPermissionGranted(p)).toBe(false);
  });

  it('blocks remote requests, allowing only local files and the dev server', () => {
    expect(isRequestAllowed('file:///opt/ResKV/resources/app.asar/out/renderer/index.html', undefined)).toBe(true);
    expect(isRequestAllowed('https://fonts.googleapis.com/css', undefined)).toBe(false);
    expect(isRequestAllowed('http://localhost:5173/src/main.tsx', 'http://localhost:5173')).toBe(true);
    expect(isRequestAllowed('http://localhost:8080/', 'http://localhost:5173')).toBe(false);
    expect(isRequestAllowed('https://example.com/', 'http://localhost:5173')).toBe(false);
  });
});

describe('IPC senders', () => {
  it('answers only the app page', () => {
    expect(isTrustedIpcSender('file:///opt/ResKV/resources/app.asar/out/renderer/index.html', undefined)).toBe(true);
    expect(isTrustedIpcSender('https://evil.example/', undefined)).toBe(false);
    expect(isTrustedIpcSender('http://localhost:5173/', 'http://localhost:5173')).toBe(true);
    expect(isTrustedIpcSender('http://localhost:5174/', 'http://localhost:5173')).toBe(false);
    expect(isTrustedIpcSender('', undefined)).toBe(false);
  });
});
