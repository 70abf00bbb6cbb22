// The Report's tradeoff section: the operator's acceptable perplexity increase, the depth it chooses,
// and the sweep shown in the Tradeoffs view (the newest kept one unless another was picked there).
import { useEffect, useMemo } from 'react';
import type { ResKvBridge } from '../../../../main/api/types.js';
import { useModels } from '../../state/models.js';
import { calibratedModels, shownModel, shownRun, useTradeoffs } from '../../state/tradeoffs.js';
import { useTaskRequirement } from '../tasks/task-drops.js';
import { TradeoffResults } from './TradeoffCharts.js';
import { acceptableDepth, parseAcceptableLoss } from './tradeoff-curves.js';

export function ReportTradeoffs({ bridge }: { bridge: ResKvBridge }) {
  const models = useModels((s) => s.models);
  const selected = useTradeoffs((s) => s.model);
  const model = shownModel(useMemo(() => calibratedModels(models), [models]), selected);
  const loaded = useTradeoffs((s) => (model ? s.histories[model.id] !== undefined : true));
  const load = useTradeoffs((s) => s.load);
  const run = useTradeoffs((s) => shownRun(s, model?.id ?? null));
  const acceptableText = useTradeoffs((s) => s.acceptableLoss);
  useEffect(() => {
    if (model && !loaded) void load(bridge, model.id);
  }, [bridge, model, loaded, load]);

  const acceptable = parseAcceptableLoss(acceptableText);
  const tasks = useTaskRequirement(bridge, model?.id ?? null);
  const chosen = run && acceptable !== null ? acceptableDepth(run, acceptable, tasks?.drops).chosen : null;
  return (
    <>
      <h2>Quality, KV bytes and speed against residual depth</h2>
      {run ? (
        <>
          <dl className="facts" aria-label="Chosen depth">
            <dt>Acceptable perplexity increase</dt>
            <dd>{acceptable === null ? 'not set' : `${acceptable}%`}</dd>
            <dt>Chosen depth</dt>
            <dd>{chosen ? `${chosen.rvq.depth} (codebook set ${chosen.rvq.set}, keys ${chosen.rvq.keyGrouping})` : 'none within the acceptable increase'}</dd>
          </dl>
          <TradeoffResults run={run} acceptableText={acceptableText} tasks={tasks} />
        </>
      ) : (
        <p className="notice">No depth sweep kept yet (Tradeoffs view).</p>
      )}
    </>
  );
}
