// One estimate as the Cost view and the Report show it: the headline, the two charts, the what-if
// sweeps, the serving plan, and every figure per format in a collapsed table.
import { useEffect } from 'react';
import type { CostResult, ResKvBridge } from '../../../../main/api/types.js';
import { useCost } from '../../state/cost.js';
import { useTradeoffs } from '../../state/tradeoffs.js';
import { parseAcceptableLoss } from '../tradeoffs/tradeoff-curves.js';
import { CostCharts } from './CostCharts.js';
import { CostNotes, CostTable } from './CostTable.js';
import { Headline } from './Headline.js';
import { ServingPlan } from './ServingPlan.js';
import { WhatIf } from './WhatIf.js';

export function CostResults({ result, open = false }: { result: CostResult; open?: boolean }) {
  return (
    <>
      <Headline estimate={result.estimate} />
      <CostCharts estimate={result.estimate} />
      <WhatIf whatIf={result.whatIf} />
      <ServingPlan estimate={result.estimate} />
      <details className="cost-details" open={open}>
        <summary>Every figure per format</summary>
        <CostNotes report={result.report} />
        <CostTable report={result.report} />
      </details>
    </>
  );
}

/**
 * Keeps the Cost store's acceptable loss in step with the one set in Tradeoffs and estimates again when
 * it changes (the recommendation depends on it). Call it before the view loads the estimate.
 */
export function useEstimateFollowsAcceptableLoss(bridge: ResKvBridge | null): void {
  const text = useTradeoffs((s) => s.acceptableLoss);
  const setAcceptableLoss = useCost((s) => s.setAcceptableLoss);
  const estimate = useCost((s) => s.estimate);
  useEffect(() => {
    const percent = parseAcceptableLoss(text);
    if (percent === useCost.getState().acceptableLossPercent) return;
    setAcceptableLoss(percent);
    if (bridge) void estimate(bridge);
  }, [bridge, text, setAcceptableLoss, estimate]);
}
