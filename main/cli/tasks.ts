// `reskv tasks`: does compression hurt *your* tasks? Scores a JSONL task file (multiple choice by
// log-likelihood, generation by greedy decoding and a match) under fp16 and each cache, prints accuracy
// against fp16 on the same items with a 95% paired-bootstrap interval and McNemar's p, the items whose
// outcome changed, and long-generation drift (first divergence, KL along fp16's text).
import { parseCacheChoice } from '../engine/cache-runtime.js';
import type { CacheChoice } from '../engine/cache-runtime.js';
import { textTable } from '../engine/evaluate-library.js';
import { runTaskCheck } from '../engine/tasks/run-tasks.js';
import type { TaskCheck } from '../engine/tasks/run-tasks.js';
import { TaskFileError, readTaskFile } from '../engine/tasks/task-file.js';
import type { TaskItem } from '../engine/tasks/task-file.js';
import { readManifest } from '../model/manifest.js';
import type { CliCommand } from './command.js';
import { CliUsageError } from './command.js';
import { asUsage, modelArgs, modelOptions, numberList, numberOption } from './engine-args.js';
import { parseOptions } from './parse-options.js';

export const defaultTaskFormats = ['q8_0', 'q4_0', 'kivi2', 'rvq'];

const help = `usage: reskv tasks --model <id|path> --file TASKS.jsonl [options]

Scores every item of a task file under fp16 and each cache, and compares accuracy with fp16 on the
same items. One JSON object per line:
  {"prompt": "...", "choices": [" a", " b"], "answer": 0}       multiple choice: the likeliest choice
                                                                (teacher-forced log-likelihood) wins
  {"prompt": "...", "answer": "...", "match": "contains"}       generation: greedy up to "stop" strings
                                                                or "max_tokens" (default 32); match is
                                                                exact, contains (default) or regex
  "messages": [{"role": "user", "content": "..."}] instead of "prompt": chat models' template.
  --model M           a model id in the library, a library model folder, or a checkpoint
  --library DIR       library folder (default: $RESKV_LIBRARY or the per-user data folder)
  --file F            the task file (JSONL)
  --formats LIST      caches compared with fp16 (default ${defaultTaskFormats.join(',')}): fp16 is always the
                      reference; q8_0, q4_0, kivi2, rvq, rvq:<set>, rvq:<set>/keys|/values
  --depths LIST       rvq depths, e.g. 1,2,4,8 (default: 1..the set's depth)
  --drift-prompts N   long-generation drift over the file's first N prompts (default 8; 0: none)
  --drift-tokens N    greedy tokens per drift prompt (default 64)
  --seed S            seed of the paired bootstrap (default 0)
  --threads N         ONNX Runtime threads
  --json              results as JSON`;

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
const signedPercent = (x: number) => `${x > 0 ? '+' : ''}${(100 * x).toFixed(1)}`;

/** Accuracy per cache and item kind, against fp16. */
export function accuracyTable(check: TaskCheck): string {
  const header = ['cache', 'items', 'kind', 'accuracy', 'fp16', 'diff (pts)', '95% CI (pts)', 'lost', 'gained', 'McNemar p', 'verdict'];
  const rows = check.caches.slice(1).flatMap((cache) =>
    cache.comparisons.map((c) => [
      cache.label,
      String(c.items),
      c.kind,
      percent(c.accuracy),
      percent(c.referenceAccuracy),
      signedPercent(c.difference),
      `[${signedPercent(c.interval[0])}, ${signedPercent(c.interval[1])}]`,
      String(c.lost),
      String(c.gained),
      c.mcnemarP.toFixed(3),
      c.verdict,
    ]),
  );
  return textTable([header, ...rows]);
}

/** First divergence and KL along fp16's greedy text, per cache. */
export function driftTable(check: TaskCheck, tokens: number): string {
  const header = ['cache', 'median 1st divergence', 'never diverged', 'divergence positions', 'mean KL', 'KL 1st quarter', 'KL last quarter'];
  const quarter = (values: number[], last: boolean) => {
    const n = Math.max(1, Math.floor(values.length / 4));
    const part = last ? values.slice(-n) : values.slice(0, n);
    return (part.reduce((a, b) => a + b, 0) / part.length).toFixed(5);
  };
  const rows = check.drift.map((d) => {
    const never = d.firstDivergence.filter((p) => p === null).length;
    const positions = d.firstDivergence.map((p) => (p === null ? `>${tokens - 1}` : String(p))).join(' ');
    return [d.label, `${d.medianFirstDivergence >= tokens ? '>=' : ''}${d.medianFirstDivergence}`, `${never}/${d.firstDivergence.length}`, positions, d.meanKl.toFixed(5), quarter(d.klByPosition, false), quarter(d.klByPosition, true)];
  });
  return textTable([header, ...rows]);
}

function changedLines(check: TaskCheck, limit: number): string[] {
  const clip = (text: string) => JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
  const lines = check.changed.slice(0, limit).map((c) => `  ${c.cache} line ${c.line} (${c.referenceCorrect ? 'lost' : 'gained'}): ${clip(c.prompt)} fp16 ${clip(c.referenceAnswer)} -> ${clip(c.answer)} (expected ${clip(c.expected)})`);
  if (check.changed.length > limit) lines.push(`  ... ${check.changed.length - limit} more (--json lists all)`);
  return lines;
}

function readItems(path: string): TaskItem[] {
  try {
    return readTaskFile(path);
  } catch (e) {
    if (e instanceof TaskFileError) throw new CliUsageError(e.message);
    throw e;
  }
}

export const tasksCommand: CliCommand = {
  name: 'tasks',
  summary: 'accuracy on your own task file (multiple choice, generation) and long-generation drift per cache and depth, against fp16',
  async run(args) {
    const { values, positionals } = parseOptions({
      args,
      allowPositionals: true,
      options: { ...modelOptions, file: { type: 'string' }, formats: { type: 'string' }, depths: { type: 'string' }, 'drift-prompts': { type: 'string' }, 'drift-tokens': { type: 'string' }, seed: { type: 'string' } },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    if (positionals.length > 0) throw new CliUsageError(`unexpected argument '${positionals[0]}' (see --help)`);
    if (values.cache !== undefined || values.depth !== undefined || values.window !== undefined) throw new CliUsageError('tasks compares caches: use --formats and --depths');
    if (!values.file) throw new CliUsageError('--file is required (see --help)');
    const items = readItems(values.file);
    const caches: CacheChoice[] = (values.formats ?? defaultTaskFormats.join(',')).split(',').map((name) => {
      try {
        return parseCacheChoice(name.trim());
      } catch (e) {
        throw new CliUsageError(`--formats: ${(e as Error).message}`);
      }
    });
    const depths = values.depths === undefined ? [] : numberList('depths', values.depths);
    const driftPrompts = numberOption('drift-prompts', values['drift-prompts']) ?? 8;
    const driftTokens = numberOption('drift-tokens', values['drift-tokens']) ?? 64;
    const seed = numberOption('seed', values.seed) ?? 0;
    if (driftPrompts < 0) throw new CliUsageError(`--drift-prompts must be at least 0, got ${driftPrompts}`);
    if (driftTokens < 1) throw new CliUsageError(`--drift-tokens must be at least 1, got ${driftTokens}`);
    const { folder, session } = modelArgs(values);
    const manifest = readManifest(folder);
    let lastShown = 0;
    const check = await asUsage(() =>
      runTaskCheck(folder, manifest, items, { caches, depths, drift: { prompts: driftPrompts, tokens: driftTokens }, seed }, {
        session,
        onProgress: ({ done, total, stage }) => {
          if (Date.now() - lastShown < 250 && done < total) return;
          lastShown = Date.now();
          process.stderr.write(`\r${`${done} / ${total}: ${stage}`.padEnd(70)}`);
        },
      }),
    );
    process.stderr.write('\n');
    if (values.json) {
      console.log(JSON.stringify({ model: manifest.id, file: values.file, driftTokens, seed, ...check }, null, 2));
      return 0;
    }
    const kinds = (['choice', 'generation'] as const).map((k) => `${items.filter((i) => i.kind === k).length} ${k === 'choice' ? 'multiple-choice' : 'generation'}`);
    console.log(`${manifest.id}: ${items.length} items of ${values.file} (${kinds.join(', ')}); fp16 is the reference; 95% CI: paired bootstrap, seed ${seed}`);
    console.log(accuracyTable(check));
    console.log(`\nitems whose outcome changed against fp16: ${check.changed.length}`);
    for (const line of changedLines(check, 20)) console.log(line);
    if (check.drift.length > 0) {
      console.log(`\nlong-generation drift: ${check.drift[0].firstDivergence.length} prompts, ${driftTokens} greedy tokens each; KL(fp16 || cache) along fp16's text, nats`);
      console.log(driftTable(check, driftTokens));
    }
    return 0;
  },
};
