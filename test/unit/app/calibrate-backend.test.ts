// models.calibrate / models.removeCalibration through the real backend worker on stories260K: bad
// arguments named, a small calibration on the bundled sample with progress, the set listed from its
// file, cancel and failure leaving the installed set alone, one calibration per model, removal.
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendEvent, CalibrationPlan, CalibrationRequest, ChatSession, JobSnapshot, ModelSummary } from '../../../main/api/types.js';
import type { Backend } from '../../../main/backend/client.js';
import { ApiArgumentError } from '../../../main/backend/errors.js';
import { importStories260K, startSourceBackend } from '../../support/backend.js';
import { fixtures, haveFixtures } from '../../support/shared.js';

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512))('codebook calibration from the app', () => {
  let backend: Backend;
  let dataDir: string;
  const events: BackendEvent[] = [];
  const small = { name: 'small', depth: 2, codebookSize: 256, maxVectors: 1000, kmeansIterations: 3 };
  const sample: CalibrationRequest = { text: { kind: 'sample' }, settings: small };

  const jobEvents = (id: number) => events.flatMap((e) => (e.type === 'job' && e.job.id === id ? [e.job] : []));
  /** The job's last snapshot once it stopped running (the test's or hook's timeout bounds the wait). */
  const finished = async (job: JobSnapshot) => {
    while ((jobEvents(job.id).at(-1)?.state ?? 'running') === 'running') await new Promise((r) => setTimeout(r, 50));
    return jobEvents(job.id).at(-1)!;
  };
  const model = async () => ((await backend.call('models.list', [])) as ModelSummary[])[0];

  beforeAll(async () => {
    ({ backend, dataDir } = await startSourceBackend());
    backend.subscribe((e) => events.push(e));
    await importStories260K(backend, dataDir);
  });

  afterAll(async () => {
    await backend?.close();
  });

  it('offers the CLI defaults and the bundled sample for a new calibration', async () => {
    const { info } = await model();
    expect(info?.calibrations).toEqual([]);
    expect(info?.calibrationDefaults).toEqual({
      settings: { name: 'default', depth: 8, codebookSize: 2048, groupSize: 32, keyGrouping: 'strided', valueGrouping: 'contiguous', seed: 0, maxVectors: 65536 },
      selfGeneratedTokens: 16384,
      sample: { name: 'reskv-sample-stories.txt', about: expect.stringContaining('written for ResKV'), documents: 25, bytes: expect.any(Number) },
    });
  });

  it('plans a calibration before it runs: the sample is too short for the defaults, and settings sized for it', async () => {
    const defaults = (await model()).info!.calibrationDefaults.settings;
    const plan = (await backend.call('models.planCalibration', ['stories260K', { text: { kind: 'sample' }, settings: defaults }])) as CalibrationPlan;
    expect(plan.estimated).toBe(false);
    // stories260K: one group per token, so the sample's tokens are its vectors per layer (the 3,858 on the old sample)
    expect(plan.vectorsPerLayer).toBe(plan.textTokens);
    expect(plan.vectorsPerEntry).toBeLessThan(32);
    expect(plan.warning).toContain(`only ${(plan.textTokens / 2048).toFixed(1)} training vectors per codebook entry (${plan.textTokens} vectors for 2048 entries`);
    expect(plan.sized.codebookSize).toBe(2 ** Math.floor(Math.log2(plan.textTokens / 32)));
    expect(plan.seconds.train).toBeGreaterThan(0);
    const sized = (await backend.call('models.planCalibration', ['stories260K', { text: { kind: 'sample' }, settings: { ...defaults, ...plan.sized } }])) as CalibrationPlan;
    expect(sized.warning).toBeNull();
    expect(sized.seconds.train).toBeLessThan(plan.seconds.train);
    const dataFree = (await backend.call('models.planCalibration', ['stories260K', { text: { kind: 'self-generated', tokens: 100_000 }, settings: defaults }])) as CalibrationPlan;
    expect(dataFree).toMatchObject({ textTokens: 100_000, tokensSampled: 65536, warning: null });
    // enough text for 2048 entries; a slow (or busy) machine may halve them to fit the time budget
    expect([256, 512, 1024, 2048]).toContain(dataFree.sized.codebookSize);
    expect(dataFree.sized.maxVectors).toBeGreaterThanOrEqual(32 * dataFree.sized.codebookSize);
  });

  it.each([
    [{ ...sample, settings: { ...small, depth: 0 } }, ApiArgumentError, /^Depth: must be at least 1$/],
    [{ ...sample, settings: { ...small, name: '../x' } }, ApiArgumentError, /^Set name: may hold only/],
    [{ ...sample, settings: { ...small, keyGrouping: 'diagonal' } }, ApiArgumentError, /^Key grouping: must be one of strided, contiguous$/],
    [{ text: { kind: 'files', paths: [] }, settings: small }, ApiArgumentError, /^Text files: choose at least one text file$/],
    [{ text: { kind: 'self-generated', tokens: 0 }, settings: small }, ApiArgumentError, /^Tokens to sample: must be at least 1$/],
    [{ text: { kind: 'web' }, settings: small }, ApiArgumentError, /^Calibration text kind: is none of the accepted kinds$/],
    [{ ...sample, settings: { ...small, codebookSize: 1000 } }, Error, /codebookSize: must be a power of two/],
    [{ ...sample, settings: { ...small, groupSize: 5 } }, Error, /groupSize: 5 must divide the token width/],
    [{ ...sample, settings: { ...small, maxVectors: 100 } }, Error, /maxVectors 100 tokens give 100 group vectors per layer, fewer than the 256 codebook entries/],
    [{ text: { kind: 'files', paths: ['/no/such/text.txt'] }, settings: small }, Error, /calibration text \/no\/such\/text\.txt is not a file/],
  ])('rejects %j before starting a job, naming the problem', async (request, type, message) => {
    const call = backend.call('models.calibrate', ['stories260K', request]);
    await expect(call).rejects.toThrow(type);
    await expect(call).rejects.toThrow(message);
  });

  it('rejects an unknown model', async () => {
    await expect(backend.call('models.calibrate', ['no-such-model', sample])).rejects.toThrow(/no model 'no-such-model'/);
    await expect(backend.call('models.calibrate', ['../stories260K', sample])).rejects.toThrow(/^Model: must be the id of a model/);
  });

  it('calibrates on the bundled sample with progress, and lists the set as its file records it', async () => {
    const job = (await backend.call('models.calibrate', ['stories260K', sample])) as JobSnapshot;
    expect(job).toMatchObject({ kind: 'calibrate', state: 'running' });
    const done = await finished(job);
    expect(done.state).toBe('done');
    // 1000 one-group tokens for 256 entries: too few per entry, and the result says so
    expect(done.message).toMatch(
      /^codebook set "small": \d+(\.\d+)? bits\/value for keys, \d+(\.\d+)? for values, from 1000 tokens sampled per layer\. Warning: only 3\.9 training vectors per codebook entry \(1000 vectors for 256 entries; .*codebook size of at most 16$/,
    );
    // one figure for the whole run, never going back, with an ETA once under way; stages carry no second percentage
    const progress = jobEvents(job.id).flatMap((j) => (j.progress ? [j.progress] : []));
    expect(progress.every((p) => p.total === 1 && p.unit === 'of the calibration' && !p.stage?.includes('%'))).toBe(true);
    expect(progress.map((p) => p.done)).toEqual(progress.map((p) => p.done).sort((a, b) => a - b));
    expect(progress.some((p) => p.secondsLeft !== undefined)).toBe(true);
    const stages = jobEvents(job.id).flatMap((j) => (j.progress?.stage ? [j.progress.stage] : []));
    expect(stages.some((s) => s.startsWith('capturing K/V'))).toBe(true);
    expect(stages.some((s) => /^training .*layer \d+ (key|value)s, stage \d/.test(s))).toBe(true);
    expect(stages.at(-1)).toBe('saving codebooks and installing the rvq graph');
    expect(events.filter((e) => e.type === 'models-changed').length).toBeGreaterThanOrEqual(2);

    const [set] = (await model()).info!.calibrations;
    // stories260K: 4 KV heads x head_dim 8 = 32 channels, one group of 32 per token (token span, one fp16 scale)
    const quantizer = { depth: 2, codebookSize: 256, groupSize: 32, groupSpan: 'token', scale: 'token', bitsPerValue: (2 * 8 + 16) / 32 };
    expect(set).toEqual({
      name: 'small',
      key: { ...quantizer, grouping: 'strided' },
      value: { ...quantizer, grouping: 'contiguous' },
      codebookFileBytes: expect.any(Number),
      source: { kind: 'text', files: [{ file: 'reskv-sample-stories.txt', sha256: expect.stringMatching(/^[0-9a-f]{64}$/), documents: 25 }] },
      tokensSampled: 1000,
      seed: 0,
      problem: null,
    });
    // 5 layers x K and V x depth 2 x 256 entries x 32 float32 values, plus the header
    expect(set.codebookFileBytes).toBeGreaterThan(5 * 2 * 2 * 256 * 32 * 4);
  });

  it('a set calibrated again is what new conversations load; an open one keeps its codebooks', async () => {
    const greedy = { maxTokens: 8, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: null, stop: [] };
    const before = (await backend.call('chat.start', ['stories260K', 'rvq:small', null])) as ChatSession;
    expect(before.open?.info.maxDepth).toBe(2);
    const job = (await backend.call('models.calibrate', ['stories260K', { ...sample, settings: { ...small, depth: 3 } }])) as JobSnapshot;
    expect((await finished(job)).state).toBe('done');
    const after = (await backend.call('chat.start', ['stories260K', 'rvq:small', null])) as ChatSession;
    expect(after.open?.info.maxDepth).toBe(3);
    const reply = (await backend.call('chat.send', [before.id, 'Once upon a time', greedy])) as ChatSession;
    expect(reply.open?.info.maxDepth).toBe(2);
    expect(reply.messages.at(-1)?.role).toBe('assistant');
    for (const { id } of [before, after]) await backend.call('chat.remove', [id]);
  });

  it('a cancelled calibration leaves the installed set and no stray files; one calibration per model at a time', async () => {
    const folder = join(dataDir, 'models', 'stories260K');
    const before = (await readdir(folder)).sort();
    const job = (await backend.call('models.calibrate', ['stories260K', { text: { kind: 'self-generated', tokens: 1_000_000 }, settings: { ...small, name: 'cancelled' } }])) as JobSnapshot;
    await expect(backend.call('models.calibrate', ['stories260K', sample])).rejects.toThrow(/being calibrated already/);
    await expect(backend.call('models.removeCalibration', ['stories260K', 'small'])).rejects.toThrow(/being calibrated/);
    await expect.poll(() => jobEvents(job.id).some((j) => j.progress?.stage?.startsWith('sampling calibration text')), { timeout: 30_000 }).toBe(true);
    await backend.call('jobs.cancel', [job.id]);
    expect((await finished(job)).state).toBe('cancelled');
    expect((await model()).info!.calibrations.map((c) => c.name)).toEqual(['small']);
    expect((await readdir(folder)).sort()).toEqual(before);
  });

  it('a failed calibration says why and leaves the installed set', async () => {
    const tiny = join(dataDir, 'tiny.txt');
    await writeFile(tiny, 'Once upon a time.');
    const job = (await backend.call('models.calibrate', ['stories260K', { text: { kind: 'files', paths: [tiny] }, settings: { ...small, name: 'tiny' } }])) as JobSnapshot;
    const failed = await finished(job);
    expect(failed.state).toBe('failed');
    expect(failed.message).toMatch(/fewer than the 256 codebook entries: give more text or a smaller codebook size/);
    expect((await model()).info!.calibrations.map((c) => c.name)).toEqual(['small']);
  });

  it('removes a set with its files', async () => {
    await expect(backend.call('models.removeCalibration', ['stories260K', 'nope'])).rejects.toThrow(/has no codebook set 'nope'/);
    const [after] = (await backend.call('models.removeCalibration', ['stories260K', 'small'])) as ModelSummary[];
    expect(after.info!.calibrations).toEqual([]);
    expect((await readdir(join(dataDir, 'models', 'stories260K'))).filter((f) => f.includes('small'))).toEqual([]);
  });
});
