// How to run the recommended format on an existing serving engine (vLLM, llama.cpp server), and for
// RVQ, plainly, that no production engine serves it yet.
import type { CostEstimate } from '../../../../main/api/types.js';

type ServingPlanData = Extract<CostEstimate['formats'][number]['plan'], { feasible: true }>['serving'];

function PlanFor({ plan }: { plan: ServingPlanData }) {
  return (
    <div>
      <h4>{`${plan.format}: ${plan.layout}`}</h4>
      <ul>
        {plan.options.map((o) => (
          <li key={o.engine}>
            <strong>{o.engine === 'none' ? 'No serving engine' : o.engine}</strong>
            {`: ${o.note}`}
            {o.command && <code>{o.command}</code>}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The recommended format's plan, and an RVQ format's when RVQ is compared but not recommended. */
export function ServingPlan({ estimate }: { estimate: CostEstimate }) {
  const plans = estimate.formats.flatMap((f) => (f.plan.feasible ? [{ format: f.format, plan: f.plan.serving }] : []));
  const chosen = plans.find((p) => p.plan.format === estimate.recommendation.chosen?.label);
  const rvq = plans.find((p) => p.format.kind === 'rvq');
  const shown = [chosen, rvq !== undefined && rvq !== chosen ? rvq : undefined].filter((p) => p !== undefined);
  if (shown.length === 0) return null;
  return (
    <section className="serving" aria-label="Serving plan">
      <h3>Serving plan</h3>
      {shown.map((p) => (
        <PlanFor key={p.plan.format} plan={p.plan} />
      ))}
    </section>
  );
}
