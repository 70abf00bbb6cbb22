// The backend worker end to end (real worker thread, real model import) and its job machinery.
import { copyFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendEvent, JobSnapshot, ModelSummary } from '../../../main/api/types.js';
import type { Backend } from '../../../main/backend/client.js';
import { JobCancelledError, JobRegistry } from '../../../main/backend/jobs.js';
import { importIntoLibrary } from '../../../main/backend/models.js';
import { libraryDirIn } from '../../../main/model/library.js';
import { ApiArgumentError } from '../../../main/backend/errors.js';
import { startSourceBackend } from '../../support/backend.js';
import { fixtures, haveFixtures } from '../../support/shared.js';

describe('job registry', () => {
  it('runs a job to completion, publishing progress', async () => {
    const seen: JobSnapshot[] = [];
    const jobs = new JobRegistry((j) => seen.push(j));
    const job = jobs.start({ kind: 'sweep', title: 'count', model: 'm' }, (c) => {
      for (let i = 1; i <= 3; i++) c.report({ done: i, total: 3, unit: 'steps' });
      return 3;
    }, (n) => `${n} steps`);
    expect(job).toMatchObject({ state: 'running', kind: 'sweep', title: 'count', model: 'm' });
    await expect.poll(() => seen.at(-1)?.state).toBe('done');
    expect(seen.map((s) => s.progress?.done ?? null)).toEqual([null, 1, 2, 3, 3]);
    expect(seen.at(-1)?.message).toBe('3 steps');
    // an ETA at the rate so far while work remains (1 of 3 done: twice the time spent), none at the end
    expect(seen[1].progress?.secondsLeft).toBeGreaterThanOrEqual(0);
    expect(seen[3].progress?.secondsLeft).toBeUndefined();
  });

  it('stops a job that blocks its thread once the shared cancel flag is seen', async () => {
    const seen: JobSnapshot[] = [];
    let reports = 0;
    const jobs = new JobRegistry((j) => seen.push(j), () => reports >= 2);
    jobs.start({ kind: 'import', title: 'busy', model: null }, (c) => {
      for (;;) {
        reports++;
        c.report({ done: reports, total: 100, unit: 'steps' });
      }
    }, () => 'never');
    await expect.poll(() => seen.at(-1)?.state).toBe('cancelled');
    expect(reports).toBe(2);
  });

  it('reports a failing job with its error', async () => {
    const seen: JobSnapshot[] = [];
    const jobs = new JobRegistry((j) => seen.push(j));
    jobs.start({ kind: 'import', title: 'broken', model: null }, () => {
      throw new Error('disk on fire');
    }, () => '');
    await expect.poll(() => seen.at(-1)?.state).toBe('failed');
    expect(seen.at(-1)?.message).toBe('disk on fire');
    expect(() => jobs.cancel(99)).toThrow(/no job 99/);
  });
});

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('backend worker with the stories260K checkpoint', () => {
  let backend: Backend;
  let dataDir: string;
  let checkpoint: string;
  const events: BackendEvent[] = [];

  beforeAll(async () => {
    ({ backend, dataDir } = await startSourceBackend());
    backend.subscribe((e) => events.push(e));
    // llama2.c checkpoints are found with their tokenizer beside them.
    const source = await mkdtemp(join(tmpdir(), 'reskv-ckpt-'));
    checkpoint = join(source, 'stories260K.bin');
    await copyFile(fixtures.stories260K, checkpoint);
    await copyFile(fixtures.tok512, join(source, 'tok512.bin'));
  });

  afterAll(async () => {
    await backend?.close();
  });

  const jobDone = (id: number) => () => events.filter((e): e is Extract<BackendEvent, { type: 'job' }> => e.type === 'job' && e.job.id === id).at(-1)?.job;

  it('imports a checkpoint as a job with progress and lists it', async () => {
    const job = (await backend.call('models.import', [checkpoint])) as JobSnapshot;
    await expect.poll(() => jobDone(job.id)()?.state, { timeout: 30_000 }).toBe('done');
    const progress = events.flatMap((e) => (e.type === 'job' && e.job.id === job.id && e.job.progress ? [e.job.progress] : []));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatchObject({ unit: 'bytes' });
    expect(progress.at(-1)!.done).toBe(progress.at(-1)!.total);
    expect(events.some((e) => e.type === 'models-changed')).toBe(true);

    const models = (await backend.call('models.list', [])) as ModelSummary[];
    expect(models).toHaveLength(1);
    // 2 (K and V) x 5 layers x 4 KV heads x head_dim 8 x 2 bytes
    expect(models[0].info).toMatchObject({ architecture: 'llama', numLayers: 5, numKvHeads: 4, headDim: 8, kvBytesPerTokenFp16: 640, calibrations: [] });
  });

  it('fails the job of a truncated checkpoint with a message naming the file, and leaves the library as it was', async () => {
    const truncated = join(dataDir, 'truncated.bin');
    await writeFile(truncated, (await readFile(fixtures.stories260K)).subarray(0, 5000));
    await copyFile(fixtures.tok512, join(dataDir, 'tok512.bin'));
    const job = (await backend.call('models.import', [truncated])) as JobSnapshot;
    await expect.poll(() => jobDone(job.id)()?.state, { timeout: 30_000 }).toBe('failed');
    expect(jobDone(job.id)()?.message).toContain('truncated.bin');
    expect((await backend.call('models.list', [])) as ModelSummary[]).toHaveLength(1);
  });

  it('rejects bad arguments with the field named, and survives them', async () => {
    await expect(backend.call('models.import', [''])).rejects.toThrow(ApiArgumentError);
    await expect(backend.call('models.remove', ['no-such-model'])).rejects.toThrow(/no model 'no-such-model'/);
    await expect(backend.call('jobs.cancel', ['x'])).rejects.toThrow(/^Job: must be a number$/);
    expect(await backend.call('app.info', [])).toMatchObject({ dataDir });
  });

  it('removes a model', async () => {
    const [model] = (await backend.call('models.list', [])) as ModelSummary[];
    expect(await backend.call('models.remove', [model.id])).toEqual([]);
  });

  it('an import cancelled mid-way leaves no folder behind', async () => {
    const library = libraryDirIn(dataDir);
    let reports = 0;
    const control = {
      signal: new AbortController().signal,
      report: () => {
        if (++reports === 2) throw new JobCancelledError();
      },
    };
    await expect(importIntoLibrary(dataDir, checkpoint, control)).rejects.toThrow(JobCancelledError);
    expect(await readdir(library)).toEqual([]);
  });
});
