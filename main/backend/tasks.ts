// Task checks for the Tasks view (backend worker): checks the request (model, task file, caches), runs
// the engine's task check (main/engine/tasks/run-tasks.ts) as a 'tasks' job with progress, cancel and
// ETA, and keeps every finished run in <data>/tasks/<model>.json (kept-runs.ts).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { JobSnapshot, TaskHistory, TaskRun, TaskRunOptions } from '../api/types.js';
import { cacheFormats, parseCacheChoice } from '../engine/cache-runtime.js';
import { findLibraryModel } from '../engine/engine-model.js';
import { runTaskCheck } from '../engine/tasks/run-tasks.js';
import { TaskFileError, readTaskFile } from '../engine/tasks/task-file.js';
import type { TaskItem } from '../engine/tasks/task-file.js';
import { readManifest } from '../model/manifest.js';
import { ApiArgumentError } from './errors.js';
import type { JobRegistry } from './jobs.js';
import { keptRuns } from './kept-runs.js';
import { modelIdSchema } from '../model/model-id.js';
import { libraryFor, loadSettings } from './settings.js';
import type { Same } from '../api/same-type.js';
import { jobThreads } from './interactive.js';

const count = (min: number, max: number) => z.number().int('must be a whole number').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

export const taskRunOptionsSchema = z.strictObject({
  taskPath: z.string().trim().min(1, 'give the path of a task file (JSONL) on this machine').max(4096),
  formats: z.array(z.string().min(1).max(200)).min(1, 'choose at least one cache to compare with fp16').max(64),
  depths: z.array(count(1, 64)).max(64),
  driftPrompts: count(0, 1000),
  driftTokens: count(1, 4096),
  seed: count(0, 2 ** 32 - 1),
});

const kind = z.enum(['choice', 'generation']);
const finite = z.number().finite();
const comparisonSchema = z.strictObject({
  kind: z.enum(['choice', 'generation', 'all']),
  items: z.number().int(),
  accuracy: finite,
  referenceAccuracy: finite,
  difference: finite,
  interval: z.tuple([finite, finite]),
  lost: z.number().int(),
  gained: z.number().int(),
  mcnemarP: finite,
  verdict: z.enum(['drop', 'no significant change', 'gain']),
});
const runSchema = z.strictObject({
  id: z.string(),
  model: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  options: taskRunOptionsSchema,
  file: z.strictObject({ path: z.string(), sha256: z.string() }),
  items: z.array(z.strictObject({ line: z.number().int(), kind, prompt: z.string(), expected: z.string() })),
  caches: z.array(
    z.strictObject({
      label: z.string(),
      format: z.enum(cacheFormats),
      depth: z.number().int().nullable(),
      outcomes: z.array(z.strictObject({ correct: z.boolean(), answer: z.string() })),
      comparisons: z.array(comparisonSchema),
    }),
  ),
  changed: z.array(
    z.strictObject({ cache: z.string(), line: z.number().int(), kind, prompt: z.string(), expected: z.string(), referenceAnswer: z.string(), answer: z.string(), referenceCorrect: z.boolean() }),
  ),
  drift: z.array(
    z.strictObject({
      label: z.string(),
      depth: z.number().int().nullable(),
      firstDivergence: z.array(z.number().int().nullable()),
      medianFirstDivergence: finite,
      klByPosition: z.array(finite),
      meanKl: finite,
    }),
  ),
});

// Compile-time checks: what is read back is exactly the API's types.
const typesMatch: [Same<z.infer<typeof runSchema>, TaskRun>, Same<z.infer<typeof taskRunOptionsSchema>, TaskRunOptions>] = [true, true];
void typesMatch;

const kept = keptRuns<TaskRun>('tasks', 'reskv-tasks/1', runSchema, 'task check');

/** The kept task checks of `model`, newest first. */
export function readTaskHistory(dataDir: string, model: string): TaskHistory {
  return kept.read(dataDir, model);
}

/** Checks the request (model, task file, caches) and starts the task-check job. */
export function startTaskCheck(dataDir: string, jobs: JobRegistry, model: string, options: TaskRunOptions): JobSnapshot {
  const folder = findLibraryModel(modelIdSchema.parse(model), libraryFor(dataDir));
  const manifest = readManifest(folder);
  let items: TaskItem[];
  try {
    items = readTaskFile(options.taskPath);
  } catch (err) {
    // the caller's file is at fault: a bad-arguments error (HTTP 400) naming its line and field
    if (err instanceof TaskFileError) throw new ApiArgumentError(err.message);
    throw err;
  }
  const sha256 = createHash('sha256').update(readFileSync(options.taskPath)).digest('hex');
  const caches = options.formats.map((name) => parseCacheChoice(name));
  if (caches.some((c) => c.format === 'rvq') && Object.keys(manifest.rvq).length === 0) throw new ApiArgumentError(`model ${model} has no codebook sets yet: calibrate one first (Models view), or compare scalar formats only`);
  const { providers, threads } = loadSettings(dataDir).settings;
  const startedAt = new Date().toISOString();
  return jobs.start(
    { kind: 'tasks', title: `Task check of ${model} on ${options.taskPath}`, model },
    async (control) => {
      const check = await runTaskCheck(
        folder,
        manifest,
        items,
        { caches, depths: options.depths, drift: { prompts: options.driftPrompts, tokens: options.driftTokens }, seed: options.seed },
        // a task check measures quality, not speed: it runs on at most half the cores, leaving chat the rest
        { session: { providers, threads: jobThreads(threads) }, signal: control.signal, onProgress: ({ done, total, stage }) => control.report({ done, total, unit: 'steps', stage }) },
      );
      const run: TaskRun = {
        id: `tasks-${startedAt.replace(/[:.]/g, '-')}`,
        model,
        startedAt,
        finishedAt: new Date().toISOString(),
        options,
        file: { path: options.taskPath, sha256 },
        items: check.items,
        caches: check.caches,
        changed: check.changed,
        drift: check.drift,
      };
      kept.keep(dataDir, run);
      return run;
    },
    (run) => `${run.items.length} items under ${run.caches.length} caches; ${run.changed.length} outcomes changed; kept`,
  );
}
