// Electron-only IPC handlers that need the main process's own windows: native file pickers and the
// PDF export of the PoC report. Arguments are validated; only the app's own page may call them.
import { BrowserWindow, dialog } from 'electron';
import { writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { exportReportPdfChannel, pickCheckpointChannel, pickTextFilesChannel } from '../api/methods.js';
import { handleChecked } from './ipc.js';

const pickArgs = z.tuple([z.enum(['file', 'folder'])]);
const exportArgs = z.tuple([z.string().min(1).max(50_000_000), z.string().regex(/^[\w.-]{1,200}\.pdf$/, 'must be a plain file name ending in .pdf')]);

export function registerDialogHandlers(devServerUrl: string | undefined): void {
  handleChecked(pickCheckpointChannel, pickArgs, devServerUrl, async (event, kind) => {
    const window = BrowserWindow.fromWebContents(event.sender);
    const options: Electron.OpenDialogOptions = {
      title: kind === 'file' ? 'Choose a llama2.c checkpoint (.bin)' : 'Choose a Hugging Face model folder',
      properties: [kind === 'file' ? 'openFile' : 'openDirectory'],
    };
    const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });

  handleChecked(pickTextFilesChannel, z.tuple([]), devServerUrl, async (event) => {
    const window = BrowserWindow.fromWebContents(event.sender);
    const options: Electron.OpenDialogOptions = {
      title: 'Choose calibration text files (documents separated by <|endoftext|>)',
      properties: ['openFile', 'multiSelections'],
      filters: [{ name: 'Text', extensions: ['txt', 'md'] }, { name: 'All files', extensions: ['*'] }],
    };
    const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
    return result.canceled ? [] : result.filePaths;
  });

  handleChecked(exportReportPdfChannel, exportArgs, devServerUrl, async (event, html, suggestedName) => {
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
