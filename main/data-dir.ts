// Where ResKV keeps its data on this machine (plain Node or Electron main): the model library,
// user hardware entries, conversations, measurements. Shared by the CLI and the app.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** RESKV_DATA_DIR, else the platform's per-user application data folder. */
export function defaultDataDir(): string {
  if (process.env.RESKV_DATA_DIR) return process.env.RESKV_DATA_DIR;
  const home = homedir();
  if (process.platform === 'win32') return join(process.env.APPDATA ?? join(home, 'AppData', 'Roaming'), 'ResKV');
  if (process.platform === 'darwin') return join(home, 'Library', 'Application Support', 'ResKV');
  return join(process.env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'reskv');
}
