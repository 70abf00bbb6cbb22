// The task requirement of the acceptable-depth choice: when the operator asks for "no significant task
// drop", the caches whose overall accuracy dropped significantly against fp16 in the model's task check
// (the one the Tasks view shows) are left out of the choice.
import { useEffect, useMemo } from 'react';
import type { ResKvBridge } from '../../../../main/api/types.js';
import { shownTaskRun, useTasks } from '../../state/tasks.js';
import { useTradeoffs } from '../../state/tradeoffs.js';
import { overall } from './TaskResults.js';

export interface TaskRequirement {
  /** Labels ("rvq:default d2", "q4_0") that dropped significantly. */
  drops: ReadonlySet<string>;
  /** What the requirement rests on, for the operator. */
  note: string;
}

/** null when the operator does not require it; loads the model's task checks when needed. */
export function useTaskRequirement(bridge: ResKvBridge | null, model: string | null): TaskRequirement | null {
  const required = useTradeoffs((s) => s.requireNoTaskDrop);
  const loaded = useTasks((s) => (model ? s.histories[model] !== undefined : true));
  const load = useTasks((s) => s.load);
  const run = useTasks((s) => shownTaskRun(s, model));
  useEffect(() => {
    if (required && bridge && model && !loaded) void load(bridge, model);
  }, [required, bridge, model, loaded, load]);
  return useMemo(() => {
    if (!required) return null;
    if (!run) return { drops: new Set(), note: `No task check of ${model ?? 'this model'} kept yet (Tasks view): the task requirement has nothing to rest on.` };
    const drops = new Set(run.caches.filter((c) => overall(c.comparisons)?.verdict === 'drop').map((c) => c.label));
    return { drops, note: `Task requirement: no significant accuracy drop against fp16 on ${run.file.path} (${run.items.length} items, checked ${run.finishedAt.slice(0, 16).replace('T', ' ')} UTC)${drops.size > 0 ? `; left out: ${[...drops].join(', ')}` : '; no cache dropped'}.` };
  }, [required, run, model]);
}
