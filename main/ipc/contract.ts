// Argument schemas for every IPC channel. The main process parses each call's arguments with these
// before acting (Electron security checklist: validate every IPC message).
import { z } from 'zod';
import { ipcChannels, type IpcChannel } from './channels.js';

export const ipcArgSchemas = {
  [ipcChannels.appInfo]: z.tuple([]),
} satisfies Record<IpcChannel, z.ZodType<unknown[]>>;

export class IpcArgumentError extends Error {}

/** Parses one call's arguments; throws IpcArgumentError naming the channel and the problem. */
export function parseIpcArgs<C extends IpcChannel>(channel: C, args: unknown[]): z.infer<(typeof ipcArgSchemas)[C]> {
  const result = ipcArgSchemas[channel].safeParse(args);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(arguments)'}: ${i.message}`).join('; ');
    throw new IpcArgumentError(`invalid arguments for ${channel}: ${issues}`);
  }
  return result.data;
}
