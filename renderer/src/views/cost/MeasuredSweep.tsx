// The Cost view's link to this machine's measurements: the sweep shown in the Tradeoffs view (its
// model's newest unless another was picked) prefills the model (its shape as measured, context capped
// at its limit) and the RVQ depths, codebook size and group size of its codebook set (the one holding
// the chosen depth, else the first), and attaches the measured quality to every format it covers.
import { useEffect, useMemo } from 'react';
import type { ResKvBridge } from '../../../../main/api/types.js';
import { measuredModelId, useCost } from '../../state/cost.js';
import { useModels } from '../../state/models.js';
import { calibratedModels, shownModel, shownRun, useTradeoffs } from '../../state/tradeoffs.js';
import { acceptableDepth, depthCurves, parseAcceptableLoss } from '../tradeoffs/tradeoff-curves.js';

export function MeasuredSweep({ bridge }: { bridge: ResKvBridge }) {
  const models = useModels((s) => s.models);
  const refreshModels = useModels((s) => s.refresh);
  const selected = useTradeoffs((s) => s.model);
  const model = shownModel(useMemo(() => calibratedModels(models), [models]), selected);
  const loaded = useTradeoffs((s) => (model ? s.histories[model.id] !== undefined : true));
  const load = useTradeoffs((s) => s.load);
  const run = useTradeoffs((s) => shownRun(s, model?.id ?? null));
  const acceptable = parseAcceptableLoss(useTradeoffs((s) => s.acceptableLoss));
  const measured = useCost((s) => s.measured);
  const setMeasured = useCost((s) => s.setMeasured);
  const update = useCost((s) => s.update);
  const chooseModel = useCost((s) => s.chooseModel);
  const presetId = useCost((s) => s.form.presetId);
  const carry = useCost((s) => s.form.carryMeasuredQuality);
  const estimate = useCost((s) => s.estimate);
  const catalogLoaded = useCost((s) => s.catalog !== null);

  useEffect(() => {
    if (models === null) void refreshModels(bridge);
    else if (model && !loaded) void load(bridge, model.id);
  }, [bridge, models, refreshModels, model, loaded, load]);

  const curves = useMemo(() => (run ? depthCurves(run) : []), [run]);
  const set = (run && acceptable !== null ? acceptableDepth(run, acceptable).chosen?.rvq.set : undefined) ?? curves[0]?.set;
  useEffect(() => {
    if (!run || !set || !catalogLoaded || (measured?.run.id === run.id && measured.set === set)) return;
    const curve = curves.find((c) => c.set === set)!;
    const { codebookSize, groupSize } = curve.points[0].rvq;
    const context = Math.min(Number(useCost.getState().form.context) || run.geometry.maxPositions, run.geometry.maxPositions);
    const form = { context: String(context), rvqDepths: curve.points.map((p) => p.rvq.depth).join(', '), codebookSize: String(codebookSize), groupSize: String(groupSize) };
    setMeasured({ run, set, form });
    chooseModel(measuredModelId(run));
    void estimate(bridge);
  }, [run, set, curves, catalogLoaded, measured, chooseModel, setMeasured, estimate, bridge]);

  if (!run || !measured) return null;
  const curve = curves.find((c) => c.set === measured.set);
  const measuredOn = `${run.model} on ${run.text.file} (${run.text.tokens} tokens, ${run.finishedAt.slice(0, 16).replace('T', ' ')} UTC)`;
  if (presetId !== measuredModelId(run)) {
    return (
      <div className="notice" role="note" aria-label="Measured quality">
        <p>{`Quality was measured on this machine for ${run.model} only (${measuredOn}); the model chosen here has no measurement, so no quality row is shown for it.`}</p>
        <label className="check">
          <input type="checkbox" checked={carry} onChange={(e) => update({ carryMeasuredQuality: e.target.checked })} />
          {` Carry ${run.model}'s measured quality over to this model (shown as carried over, not measured on it)`}
        </label>
      </div>
    );
  }
  return (
    <p className="notice" role="note" aria-label="Measured quality">
      {`Perplexity change measured on this machine: ${measuredOn}. `}
      {`The model, its context limit, and the RVQ depths, codebook size and group size of its codebook set ${measured.set}${curve ? ` (${curve.label.slice(measured.set.length + 1)})` : ''} are prefilled; choose a preset model to cost another.`}
    </p>
  );
}
