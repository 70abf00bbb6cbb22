// Finished runs of a job kind kept per model in <data>/<folder>/<model>.json (newest first, zod-checked
// when read back): depth sweeps, task checks. A damaged results file is reported, not thrown; the next
// finished run keeps it beside as <model>.json.damaged.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-file.js';
import { modelIdSchema } from '../model/model-id.js';

/** Runs kept per model (older ones are dropped when a new one is saved). */
export const keptRunsPerModel = 20;

export interface KeptRuns<R extends { model: string }> {
  read(dataDir: string, model: string): { model: string; runs: R[]; problem: string | null };
  keep(dataDir: string, run: R): void;
}

/** Kept runs in <data>/<folder>/, files tagged `format`, each run checked with `runSchema`. */
export function keptRuns<R extends { model: string }>(folder: string, format: string, runSchema: z.ZodType<R>, what: string): KeptRuns<R> {
  const fileSchema = z.strictObject({ format: z.literal(format), model: z.string(), runs: z.array(runSchema) });
  const fileOf = (dataDir: string, model: string) => join(dataDir, folder, `${modelIdSchema.parse(model)}.json`);
  const read = (dataDir: string, model: string) => {
    const file = fileOf(dataDir, model);
    if (!existsSync(file)) return { model, runs: [], problem: null };
    const damaged = `it is kept beside as .damaged when the next ${what} is saved`;
    try {
      const parsed = fileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
      if (parsed.success) return { model, runs: parsed.data.runs as R[], problem: null };
      const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
      return { model, runs: [], problem: `${file} is invalid (${issues}); ${damaged}` };
    } catch (err) {
      return { model, runs: [], problem: `${file} cannot be read (${(err as Error).message}); ${damaged}` };
    }
  };
  const keep = (dataDir: string, run: R) => {
    const file = fileOf(dataDir, run.model);
    const history = read(dataDir, run.model);
    if (history.problem) copyFileSync(file, `${file}.damaged`);
    const runs = [run, ...history.runs].slice(0, keptRunsPerModel);
    writeFileAtomic(file, `${JSON.stringify(fileSchema.parse({ format, model: run.model, runs }), null, 1)}\n`);
  };
  return { read, keep };
}
