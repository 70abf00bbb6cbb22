// Electron-only IPC handlers that need the main process's own windows: native file pickers and the
// PDF export of the PoC report. Arguments are validated; only the app's own page may call them.
import { BrowserWindow, dialog, ipcMain, type IpcMainInvokeEvent } from 'electron';
import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { exportReportPdfChannel, pickCheckpointChannel, pickTextFilesChannel } from '../api/methods.js';
import { isTrustedIpcSender } from './security.js';

const pickArgs = z.tuple([z.enum(['file', 'folder'])]);
const exportArgs = z.tuple([z.string().min(1).max(50_000_000), z.string().regex(/^[\w.-]{1,200}\.pdf$/, 'must be a plain file name ending in .pdf')]);

function checked<A extends unknown[]>(channel: string, schema: z.ZodType<A>, devServerUrl: string | undefined, handler: (event: IpcMainInvokeEvent, ...args: A) => Promise<unknown>) {
  ipcMain.handle(channel, (event, ...args: unknown[]) => {
    if (!isTrustedIpcSender(event.senderFrame?.url ?? '', devServerUrl)) throw new Error(`${channel} refused: untrusted sender`);
    const parsed = schema.safeParse(args);
    if (!parsed.success) throw new Error(`invalid arguments for ${channel}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    return handler(event, ...parsed.data);
  });
}

export function registerDialogHandlers(devServerUrl: string | undefined): void {
  checked(pickCheckpointChannel, pickArgs, devServerUrl, async (event, kind) => {
    const window = BrowserWindow.fromWebContents(event.sender);
    const options: Electron.OpenDialogOptions = {
      title: kind === 'file' ? 'Choose a llama2.c checkpoint (.bin)' : 'Choose a Hugging Face model folder',
      properties: [kind === 'file' ? 'openFile' : 'openDirectory'],
    };
    const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });

  checked(pickTextFilesChannel, z.tuple([]), devServerUrl, async (event) => {
    const window = BrowserWindow.fromWebContents(event.sender);
    const options: Electron.OpenDialogOptions = {
      title: 'Choose calibration text files (documents separated by <|endoftext|>)',
      properties: ['openFile', 'multiSelections'],
      filters: [{ name: 'Text', extensions: ['txt', 'md'] }, { name: 'All files', extensions: ['*'] }],
    };
    const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
    return result.canceled ? [] : result.filePaths;
  });

  checked(exportReportPdfChannel, exportArgs, devServerUrl, async (event, html, suggestedName) => {
    // The report is static HTML: render it in a hidden, script-less, sandboxed window.
    const printer = new BrowserWindow({ show: false, webPreferences: { javascript: false, sandbox: true, contextIsolation: true, nodeIntegration: false } });
    try {
      await printer.loadURL(`data:text/html;base64,${Buffer.from(html).toString('base64')}`);
      const pdf = await printer.webContents.printToPDF({ printBackground: true, landscape: true });
      const owner = BrowserWindow.fromWebContents(event.sender);
      const options = { defaultPath: suggestedName, filters: [{ name: 'PDF', extensions: ['pdf'] }] };
      const target = owner ? await dialog.showSaveDialog(owner, options) : await dialog.showSaveDialog(options);
      if (target.canceled || !target.filePath) return null;
      await writeFile(target.filePath, pdf);
      return target.filePath;
    } finally {
      printer.destroy();
    }
  });
}
