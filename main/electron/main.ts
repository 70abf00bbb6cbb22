// Electron main-process entry: creates the one window and applies the security policy.
// Everything that does not need Electron lives elsewhere in main/ and runs in plain Node too.
import { app, BrowserWindow, ipcMain, protocol, session, type WebContents } from 'electron';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { apiMethodNames, backendEventChannel, ipcChannelFor, localApiStatusChannel } from '../api/methods.js';
import type { BackendEvent, Settings, SettingsState } from '../api/types.js';
import { startBackend, type Backend } from '../backend/client.js';
import { defaultDataDir } from '../data-dir.js';
import { LocalApiServer } from '../server/local-api.js';
import { appEntryUrl, appFileFor, appScheme } from './app-protocol.js';
import { registerDialogHandlers } from './dialogs.js';
import { handleChecked } from './ipc.js';
import {
  isNavigationAllowed,
  isPermissionGranted,
  isRequestAllowed,
  isTrustedIpcSender,
  rendererDevServerUrl,
  secureWebPreferences,
  windowOpenDecision,
} from './security.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const rendererDir = join(here, '../renderer');
const devServerUrl = rendererDevServerUrl(app.isPackaged, process.env);

function registerIpcHandlers(backend: Backend): void {
  for (const name of apiMethodNames) {
    ipcMain.handle(ipcChannelFor(name), (event, ...args: unknown[]) => {
      if (!isTrustedIpcSender(event.senderFrame, devServerUrl)) throw new Error(`IPC ${name} refused: untrusted sender`);
      return backend.call(name, args);
    });
  }
  // Backend events go to every window (there is one).
  backend.subscribe((event) => {
    for (const window of BrowserWindow.getAllWindows()) window.webContents.send(backendEventChannel, event);
  });
}

/** The OpenAI-compatible API on loopback while Settings enables it, following every settings change. */
function startLocalApi(backend: Backend): void {
  const localApi = new LocalApiServer(backend);
  handleChecked(localApiStatusChannel, z.tuple([]), devServerUrl, async () => localApi.status);
  localApi.onStatus((status) => {
    const event: BackendEvent = { type: 'local-api-status', status };
    for (const window of BrowserWindow.getAllWindows()) window.webContents.send(backendEventChannel, event);
  });
  const apply = (settings: Settings) =>
    localApi.apply(settings.localApi).then(
      (url) => url && console.log(`ResKV local API: ${url}v1`),
      (err: unknown) => console.error((err as Error).message),
    );
  backend.call('settings.get', []).then(
    (state) => apply((state as SettingsState).settings),
    (err: unknown) => console.error(`the local API stays off: settings cannot be read (${(err as Error).message})`),
  );
  backend.subscribe((event) => {
    if (event.type === 'settings-changed') void apply(event.settings);
  });
  app.on('will-quit', () => void localApi.close());
}

/** Every web contents the app ever creates (windows, the PDF printer, anything else): no navigation, no new windows, no webviews. */
function guardWebContents(contents: WebContents): void {
  contents.setWindowOpenHandler(windowOpenDecision);
  contents.on('will-navigate', (event, url) => {
    if (!isNavigationAllowed(url)) event.preventDefault();
  });
  contents.on('will-frame-navigate', (event) => {
    if (!event.isMainFrame && !isNavigationAllowed(event.url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

/** The built renderer through app://reskv/, with the CSP as a response header. */
function serveAppProtocol(): void {
  protocol.handle(appScheme, async (request) => {
    const found = await appFileFor(request.url, rendererDir);
    if (!found) return new Response('not found', { status: 404 });
    return new Response(await readFile(found.path), { headers: found.headers });
  });
}

function hardenSession(): void {
  session.defaultSession.setPermissionRequestHandler((_wc, permission, callback) => callback(isPermissionGranted(permission)));
  session.defaultSession.setPermissionCheckHandler((_wc, permission) => isPermissionGranted(permission));
  session.defaultSession.webRequest.onBeforeRequest((details, callback) =>
    callback({ cancel: !isRequestAllowed(details.url, devServerUrl) }),
  );
}

function createWindow(): void {
  const window = new BrowserWindow({
    width: 1280,
    height: 820,
    title: 'ResKV',
    show: false,
    webPreferences: secureWebPreferences(join(here, '../preload/index.cjs')),
  });
  window.once('ready-to-show', () => window.show());
  void window.loadURL(devServerUrl ?? appEntryUrl);
}

// Before ready: app:// is a standard, secure scheme (an origin of its own, fetch within it).
protocol.registerSchemesAsPrivileged([{ scheme: appScheme, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
app.enableSandbox();
app.on('web-contents-created', (_event, contents) => guardWebContents(contents));
void app.whenReady().then(() => {
  serveAppProtocol();
  hardenSession();
  // The backend (engine, import, calibration) runs in a worker thread, never on this one.
  const backend = startBackend(new URL('./backend-worker.js', import.meta.url), { name: app.getName(), version: app.getVersion(), dataDir: defaultDataDir() });
  app.on('will-quit', () => void backend.close());
  registerIpcHandlers(backend);
  startLocalApi(backend);
  registerDialogHandlers(devServerUrl);
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});
app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
