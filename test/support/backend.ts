// The real backend worker, run from source (TypeScript through tsx), with a fresh data folder whose
// settings name the CPU provider (so results do not depend on the machine's GPUs).
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BackendEvent, JobSnapshot } from '../../main/api/types.js';
import { startBackend, type Backend } from '../../main/backend/client.js';
import { calibrateModel } from '../../main/engine/calibration/calibrate.js';
import type { BackendHost } from '../../main/backend/protocol.js';
import { defaultSettings, saveSettings } from '../../main/backend/settings.js';
import type { ReplyGate } from './reply-gate.js';
import { fixtures } from './shared.js';

/**
 * With `gate`, the worker's streamed pieces pass it (reply-gate.ts); its shared memory rides to the
 * worker with the host's facts, which the real worker passes over.
 */
export async function startSourceBackend(dataDir?: string, gate?: ReplyGate): Promise<{ backend: Backend; dataDir: string }> {
  let dir = dataDir;
  if (dir === undefined) {
    dir = await mkdtemp(join(tmpdir(), 'reskv-data-'));
    saveSettings(dir, { ...defaultSettings, providers: ['cpu'] });
  }
  const host = { name: 'ResKV', version: 'test', dataDir: dir };
  const backend = gate
    ? startBackend(new URL('./reply-gate-worker.js', import.meta.url), { ...host, replyGate: gate.shared } as BackendHost)
    : startBackend(new URL('../../main/backend/worker-from-source.js', import.meta.url), host);
  return { backend, dataDir: dir };
}

/** Imports the stories260K fixture through the backend (as the Models view does); its library folder. */
export async function importStories260K(backend: Backend, dataDir: string): Promise<string> {
  const events: BackendEvent[] = [];
  const unsubscribe = backend.subscribe((e) => events.push(e));
  const source = await mkdtemp(join(tmpdir(), 'reskv-ckpt-'));
  await copyFile(fixtures.stories260K, join(source, 'stories260K.bin'));
  await copyFile(fixtures.tok512, join(source, 'tok512.bin'));
  const job = (await backend.call('models.import', [join(source, 'stories260K.bin')])) as JobSnapshot;
  let end: BackendEvent | undefined;
  while (!(end = events.find((e) => e.type === 'job' && e.job.id === job.id && e.job.state !== 'running'))) await new Promise((r) => setTimeout(r, 50));
  unsubscribe();
  if (end.type === 'job' && end.job.state !== 'done') throw new Error(`importing stories260K ${end.job.state}: ${end.job.message ?? ''}`);
  return join(dataDir, 'models', 'stories260K');
}

/** A small RVQ codebook set for the imported stories260K, `rvq:small` (depth 4, 256 entries, 4000 vectors: quick; the benchmarks calibrate properly). */
export async function calibrateStoriesSmall(folder: string): Promise<void> {
  await calibrateModel(folder, { text: { kind: 'files', paths: [fixtures.validSample] }, settings: { depth: 4, codebookSize: 256, maxVectors: 4000, name: 'small' } });
}
