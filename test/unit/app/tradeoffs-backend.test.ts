// Residual-depth sweeps through the backend worker on the real stories260K model (two small codebook
// sets, strided and contiguous keys): bad requests refused with clear messages, a sweep's points kept
// and read back by a restarted backend, a damaged results file reported and kept aside, cancellation.
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendEvent, JobSnapshot, TradeoffHistory, TradeoffSweepOptions } from '../../../main/api/types.js';
import type { Backend } from '../../../main/backend/client.js';
import { parseRvqSpec, rvqBytesPerToken } from '../../../quant/index.js';
import { calibrateModel } from '../../../main/engine/calibration/calibrate.js';
import { importStories260K, startSourceBackend } from '../../support/backend.js';
import { fixtures, haveFixtures } from '../../support/shared.js';

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample))('tradeoff sweeps through the backend worker (stories260K)', () => {
  let backend: Backend;
  let dataDir: string;
  const events: BackendEvent[] = [];
  const options: TradeoffSweepOptions = {
    textPath: fixtures.validSample,
    maxTokens: 96,
    codebookSets: [],
    maxDepth: 3,
    scalarBaselines: true,
    latencyContext: 32,
    latencySteps: 4,
    latencyRounds: 3,
  };
  const finished = async (job: JobSnapshot) => {
    const end = () => events.find((e): e is Extract<BackendEvent, { type: 'job' }> => e.type === 'job' && e.job.id === job.id && e.job.state !== 'running');
    while (!end()) await new Promise((r) => setTimeout(r, 50));
    return end()!.job;
  };
  const history = () => backend.call('tradeoffs.list', ['stories260K']) as Promise<TradeoffHistory>;

  beforeAll(async () => {
    ({ backend, dataDir } = await startSourceBackend());
    backend.subscribe((e) => events.push(e));
    await importStories260K(backend, dataDir);
    // Groups of 16 over the token's 32 channels: strided and contiguous keys group differently.
    const folder = join(dataDir, 'models', 'stories260K');
    const text = { kind: 'files' as const, paths: [fixtures.validSample] };
    await calibrateModel(folder, { text, settings: { depth: 4, codebookSize: 64, groupSize: 16, maxVectors: 2000, name: 'strided' } });
    await calibrateModel(folder, { text, settings: { depth: 4, codebookSize: 64, groupSize: 16, maxVectors: 2000, name: 'contiguous', keyGrouping: 'contiguous' } });
  }, 300_000);

  afterAll(async () => {
    await backend?.close();
  });

  it('refuses bad requests, naming the problem', async () => {
    await expect(backend.call('tradeoffs.run', ['../etc', options])).rejects.toThrow(/^Model: must be the id of a model/);
    await expect(backend.call('tradeoffs.run', ['stories260K', { ...options, maxTokens: 1 }])).rejects.toThrow(/^Tokens to score: must be at least 2$/);
    await expect(backend.call('tradeoffs.run', ['stories260K', { ...options, textPath: '' }])).rejects.toThrow(/^Text file: give the path of a text file/);
    await expect(backend.call('tradeoffs.run', ['stories260K', { ...options, extra: 1 }])).rejects.toThrow(/^Sweep: has unknown field extra$/);
    await expect(backend.call('tradeoffs.run', ['no-such-model', options])).rejects.toThrow(/no model 'no-such-model'/);
    await expect(backend.call('tradeoffs.run', ['stories260K', { ...options, textPath: join(dataDir, 'missing.txt') }])).rejects.toThrow(/text file .*missing\.txt: ENOENT/);
    await expect(backend.call('tradeoffs.run', ['stories260K', { ...options, codebookSets: ['nope'] }])).rejects.toThrow(/no codebook set 'nope' \(installed: contiguous, strided\)/);
    await expect(backend.call('tradeoffs.run', ['stories260K', { ...options, latencyContext: 500, latencySteps: 16 }])).rejects.toThrow(/exceed stories260K's 512 positions/);
    const empty = join(dataDir, 'empty.txt');
    await writeFile(empty, '  <|endoftext|>  ');
    await expect(backend.call('tradeoffs.run', ['stories260K', { ...options, textPath: empty }])).rejects.toThrow(/text file .*empty\.txt is empty/);
    expect((await history()).runs).toEqual([]);
  });

  it('measures fp16, the scalar formats and both sets at each depth, and keeps the run', async () => {
    const job = (await backend.call('tradeoffs.run', ['stories260K', options])) as JobSnapshot;
    expect(job).toMatchObject({ kind: 'sweep', model: 'stories260K' });
    const done = await finished(job);
    expect(done.state, done.message ?? '').toBe('done');
    const progress = events.flatMap((e) => (e.type === 'job' && e.job.id === job.id && e.job.state === 'running' && e.job.progress ? [e.job.progress] : []));
    expect(progress.some((p) => p.unit === 'tokens')).toBe(true);
    // 10 caches, 3 interleaved rounds each
    expect(progress.filter((p) => p.unit === 'points').map((p) => p.done)).toEqual(Array.from({ length: 31 }, (_, i) => i));

    const { runs, problem } = await history();
    expect(problem).toBeNull();
    expect(runs).toHaveLength(1);
    const [run] = runs;
    expect(run.text).toMatchObject({ file: 'tinystories-valid-sample.txt', tokens: 96, positions: 95 });
    expect(run.machine.provider).toBe('cpu');
    expect(run.geometry).toMatchObject({ name: 'stories260K', numLayers: 5, numKvHeads: 4, headDim: 8, vocabSize: 512, maxPositions: 512 });
    // fp16: 5 layers x K,V x 4 heads x 8 dims x 2 bytes per token
    expect(run.fp16BytesPerToken).toBe(640);
    expect(run.points.map((p) => p.label)).toEqual(['fp16', 'q8_0', 'q4_0', 'kivi2', 'rvq:contiguous d1', 'rvq:contiguous d2', 'rvq:contiguous d3', 'rvq:strided d1', 'rvq:strided d2', 'rvq:strided d3']);
    const fp16 = run.points[0];
    expect(fp16).toMatchObject({ kvBytesPerToken: 640, bitsPerValue: 16, perplexityChangePercent: 0, meanKl: 0, top1Agreement: 1 });
    expect(fp16.decodeMsPerToken).toBeGreaterThan(0);
    // the latency of every point: median of 3 rounds, within their range; nothing else ran meanwhile
    for (const p of run.points) {
      expect(p.decodeMsRange?.rounds).toBe(3);
      expect(p.decodeMsRange!.low).toBeLessThanOrEqual(p.decodeMsPerToken);
      expect(p.decodeMsRange!.high).toBeGreaterThanOrEqual(p.decodeMsPerToken);
      expect(p.decodeTokensPerSecond).toBeCloseTo(1000 / p.decodeMsPerToken, 6);
    }
    expect(run.latencyDuringJobs).toEqual([]);
    const strided = run.points.filter((p) => p.rvq?.set === 'strided');
    expect(strided.map((p) => p.rvq)).toEqual([1, 2, 3].map((depth) => ({ set: 'strided', depth, maxDepth: 4, keyGrouping: 'strided', valueGrouping: 'contiguous', codebookSize: 64, groupSize: 16 })));
    expect(run.points.find((p) => p.rvq?.set === 'contiguous')?.rvq?.keyGrouping).toBe('contiguous');
    // Measured bytes match quant's accounting: 10 rows (5 layers, K and V) of codes and scales, plus
    // one depth byte per row.
    const spec = parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 16, codebookSize: 64, depth: 4, grouping: 'strided', groupSpan: 'token', scale: 'token' });
    expect(strided.map((p) => p.kvBytesPerToken)).toEqual([1, 2, 3].map((d) => 10 * (rvqBytesPerToken(spec, d) + 1)));
    expect(strided.map((p) => p.bitsPerValue)).toEqual([1, 2, 3].map((d) => (8 * (rvqBytesPerToken(spec, d) + 1)) / 32));
    // Different key grouping gives different codes, hence different quality.
    const contiguous = run.points.filter((p) => p.rvq?.set === 'contiguous');
    expect(contiguous.map((p) => p.meanKl)).not.toEqual(strided.map((p) => p.meanKl));

    // A restarted backend reads the kept run back unchanged.
    await backend.close();
    ({ backend } = await startSourceBackend(dataDir));
    events.length = 0; // job ids start again at 1
    backend.subscribe((e) => events.push(e));
    expect((await history()).runs).toEqual(runs);
  });

  it('reports a damaged results file, keeps it aside on the next sweep, and honours a cancel', async () => {
    const file = join(dataDir, 'tradeoffs', 'stories260K.json');
    await writeFile(file, '{"format":"reskv-tradeoffs/1","model":"stories260K","runs":[{"id":3}]}');
    const damaged = await history();
    expect(damaged.runs).toEqual([]);
    expect(damaged.problem).toMatch(/stories260K\.json is invalid \(runs\.0\.\w+: .*\)/);

    const job = (await backend.call('tradeoffs.run', ['stories260K', { ...options, codebookSets: ['strided'], scalarBaselines: false, maxDepth: 2 }])) as JobSnapshot;
    expect((await finished(job)).state).toBe('done');
    expect(await readFile(`${file}.damaged`, 'utf8')).toContain('"id":3');
    const after = await history();
    expect(after.problem).toBeNull();
    expect(after.runs.map((r) => r.points.map((p) => p.label))).toEqual([['fp16', 'rvq:strided d1', 'rvq:strided d2']]);

    const long = (await backend.call('tradeoffs.run', ['stories260K', { ...options, maxTokens: 100_000 }])) as JobSnapshot;
    await backend.call('jobs.cancel', [long.id]);
    expect((await finished(long)).state).toBe('cancelled');
    expect((await history()).runs).toHaveLength(1);
    expect(existsSync(file)).toBe(true);
  });

  it('flags latency measured while another job ran', async () => {
    const small = { ...options, codebookSets: ['strided'], scalarBaselines: false, maxDepth: 1 };
    const jobs = (await Promise.all([backend.call('tradeoffs.run', ['stories260K', small]), backend.call('tradeoffs.run', ['stories260K', small])])) as JobSnapshot[];
    for (const job of jobs) expect((await finished(job)).state).toBe('done');
    const flagged = (await history()).runs.slice(0, 2).flatMap((r) => r.latencyDuringJobs ?? []);
    // the other sweep ran during at least the first one's latency phase (a job never flags itself: job-overlap.test.ts)
    expect(flagged.length).toBeGreaterThan(0);
    for (const title of flagged) expect(title).toMatch(/^Depth sweep of stories260K on tinystories-valid-sample\.txt$/);
  });
});
