// The real backend worker, run from source (TypeScript through tsx), with a fresh data folder.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, type Backend } from '../../main/backend/client.js';

export async function startSourceBackend(dataDir?: string): Promise<{ backend: Backend; dataDir: string }> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'reskv-data-')));
  const backend = startBackend(new URL('../../main/backend/worker-from-source.js', import.meta.url), { name: 'ResKV', version: 'test', dataDir: dir });
  return { backend, dataDir: dir };
}
