// A task check of an imported model: every item of a task file scored under fp16 (the reference) and
// each chosen cache (scalar formats, every rvq set at each depth), accuracy against fp16 on the same
// items with a paired interval, the items whose outcome changed, and long-generation drift. One rvq
// graph session serves all depths of a set (stores carry the depth), as in the depth sweep.
import type { ChangedTaskItem, TaskCacheResult, TaskComparison, TaskDrift, TaskKind } from '../../task-results.js';
import { loadLibraryTokenizer } from '../../model/library.js';
import type { ModelManifest } from '../../model/manifest.js';
import { openCacheRuntime } from '../cache-runtime.js';
import type { CacheChoice, CacheRuntime } from '../cache-runtime.js';
import { storeAtDepth } from '../depth-sweep.js';
import type { EvaluatedFormat } from '../evaluate.js';
import type { SessionOptionsInput } from '../session.js';
import { measureDrift } from './drift.js';
import { itemInput, scoreItem } from './scoring.js';
import type { ItemOutcome, TaskTokenizer } from './scoring.js';
import { comparePaired } from './statistics.js';
import type { TaskItem } from './task-file.js';

export interface TaskPlan {
  /** Caches compared with fp16 (an fp16 entry is ignored: it is always the reference). */
  caches: CacheChoice[];
  /** RVQ depths; empty: 1..the set's depth. */
  depths: number[];
  drift: { prompts: number; tokens: number };
  seed: number;
  bootstrapSamples?: number;
}

export interface TaskProgress {
  done: number;
  total: number;
  stage: string;
}

export interface TaskCheck {
  items: { line: number; kind: TaskKind; prompt: string; expected: string }[];
  caches: TaskCacheResult[];
  changed: ChangedTaskItem[];
  drift: TaskDrift[];
  provider: string;
}

interface Lined extends EvaluatedFormat {
  runtime: CacheRuntime;
  depth: number | null;
}

/** The text an item is shown by: its prompt, or its last chat message. */
export function itemPrompt(item: TaskItem): string {
  return item.prompt ?? item.messages?.[item.messages.length - 1].content ?? '';
}

/** What a right answer is: the right choice, or the generation answer with its match. */
export function itemExpected(item: TaskItem): string {
  return item.kind === 'choice' ? item.choices[item.answer] : `${item.match}: ${item.answer}`;
}

/** fp16, then each cache; rvq caches at every asked depth. */
async function openLineup(folder: string, manifest: ModelManifest, plan: TaskPlan, session: SessionOptionsInput | undefined, runtimes: CacheRuntime[]): Promise<Lined[]> {
  const lineup: Lined[] = [];
  const open = async (choice: CacheChoice) => {
    const runtime = await openCacheRuntime(folder, manifest, choice, session);
    runtimes.push(runtime);
    return runtime;
  };
  for (const choice of [{ format: 'fp16' } as CacheChoice, ...plan.caches.filter((c) => c.format !== 'fp16')]) {
    const runtime = await open(choice);
    if (runtime.format !== 'rvq' || runtime.rvq?.only) {
      lineup.push({ name: runtime.label, decoder: runtime.decoder, createStore: () => runtime.stores.create(), runtime, depth: null });
      continue;
    }
    const setDepth = Math.min(runtime.rvq!.set.keySpec.depth, runtime.rvq!.set.valueSpec.depth);
    const depths = plan.depths.length > 0 ? plan.depths : Array.from({ length: setDepth }, (_, i) => i + 1);
    for (const depth of depths) {
      storeAtDepth(runtime, depth); // checks the depth before any scoring
      lineup.push({ name: `${runtime.label} d${depth}`, decoder: runtime.decoder, createStore: () => storeAtDepth(runtime, depth), runtime, depth });
    }
  }
  return lineup;
}

function comparisons(items: readonly TaskItem[], reference: readonly ItemOutcome[], outcomes: readonly ItemOutcome[], plan: TaskPlan): TaskComparison[] {
  const kinds = (['choice', 'generation'] as const).filter((k) => items.some((i) => i.kind === k));
  const groups: (TaskKind | 'all')[] = kinds.length > 1 ? [...kinds, 'all'] : kinds;
  return groups.map((kind) => {
    const picked = items.flatMap((item, i) => (kind === 'all' || item.kind === kind ? [i] : []));
    const stats = comparePaired(
      picked.map((i) => reference[i].correct),
      picked.map((i) => outcomes[i].correct),
      { seed: plan.seed, samples: plan.bootstrapSamples },
    );
    return { kind, ...stats };
  });
}

/** Scores `items` under fp16 and every cache of the plan, then measures drift. */
export async function runTaskCheck(
  folder: string,
  manifest: ModelManifest,
  items: readonly TaskItem[],
  plan: TaskPlan,
  options: { session?: SessionOptionsInput; signal?: AbortSignal; onProgress?: (p: TaskProgress) => void } = {},
): Promise<TaskCheck> {
  const { signal, onProgress } = options;
  const tokenizer = loadLibraryTokenizer(folder, manifest) as TaskTokenizer;
  const hasTemplate = (tokenizer as { hasChatTemplate?: boolean }).hasChatTemplate === true;
  const chatLine = items.find((i) => i.messages);
  if (chatLine && !hasTemplate) throw new Error(`line ${chatLine.line} gives chat messages, but ${manifest.id} has no chat template: give a prompt instead`);
  const runtimes: CacheRuntime[] = [];
  try {
    const lineup = await openLineup(folder, manifest, plan, options.session, runtimes);
    const driftInputs = items.slice(0, plan.drift.prompts).map((item) => itemInput(item, tokenizer));
    const total = items.length * lineup.length + driftInputs.length * lineup.length;
    let done = 0;
    const outcomes: ItemOutcome[][] = [];
    for (const format of lineup) {
      const own: ItemOutcome[] = [];
      for (const item of items) {
        if (signal?.aborted) throw new Error('task check cancelled');
        own.push(await scoreItem(format, item, tokenizer, signal));
        onProgress?.({ done: ++done, total, stage: `items under ${format.name}` });
      }
      outcomes.push(own);
    }
    const reference = outcomes[0];
    const caches: TaskCacheResult[] = lineup.map((format, k) => ({
      label: format.name,
      format: format.runtime.format,
      depth: format.depth,
      outcomes: outcomes[k],
      comparisons: k === 0 ? [] : comparisons(items, reference, outcomes[k], plan),
    }));
    const changed: ChangedTaskItem[] = lineup.slice(1).flatMap((format, j) =>
      items.flatMap((item, i) => {
        const own = outcomes[j + 1][i];
        if (own.correct === reference[i].correct) return [];
        return [{ cache: format.name, line: item.line, kind: item.kind, prompt: itemPrompt(item), expected: itemExpected(item), referenceAnswer: reference[i].answer, answer: own.answer, referenceCorrect: reference[i].correct }];
      }),
    );
    const drift =
      driftInputs.length === 0
        ? []
        : await measureDrift(lineup[0], lineup.slice(1), driftInputs, tokenizer, {
            tokens: plan.drift.tokens,
            signal,
            onStep: () => onProgress?.({ done: ++done, total, stage: 'long-generation drift' }),
          });
    return {
      items: items.map((item) => ({ line: item.line, kind: item.kind, prompt: itemPrompt(item), expected: itemExpected(item) })),
      caches,
      changed,
      drift: drift.map((d, k) => ({ label: d.name, depth: lineup[k + 1].depth, firstDivergence: d.firstDivergence, medianFirstDivergence: d.medianFirstDivergence, klByPosition: d.klByPosition, meanKl: d.meanKl })),
      provider: runtimes[0].provider,
    };
  } finally {
    for (const runtime of runtimes) await runtime.release();
  }
}
