// Electron main process: IPC handlers the main process answers itself (native dialogs, the local API
// status). Only the app's own page may call them, and their arguments are validated with zod.
import { ipcMain, type IpcMainInvokeEvent } from 'electron';
import type { z } from 'zod';
import { isTrustedIpcSender } from './security.js';

export function handleChecked<A extends unknown[]>(channel: string, schema: z.ZodType<A>, devServerUrl: string | undefined, handler: (event: IpcMainInvokeEvent, ...args: A) => Promise<unknown>): void {
  ipcMain.handle(channel, (event, ...args: unknown[]) => {
    if (!isTrustedIpcSender(event.senderFrame, devServerUrl)) throw new Error(`${channel} refused: untrusted sender`);
    const parsed = schema.safeParse(args);
    if (!parsed.success) throw new Error(`invalid arguments for ${channel}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    return handler(event, ...parsed.data);
  });
}
