// The answer first: the recommended format for this workload and what it saves against fp16 (or why
// nothing can), with the figures it rests on and which of them are measured.
import type { CostEstimate } from '../../../../main/api/types.js';
import { compactUsd } from './cost-chart-data.js';
import './cost.css';

const whole = (v: number) => v.toLocaleString('en-US', { maximumFractionDigits: 0 });
const usd = (v: number) => (Math.abs(v) >= 100 ? compactUsd(v) : `$${v.toFixed(2)}`);

function Stat({ label, value, detail }: { label: string; value: string; detail?: string }) {
  return (
    <div className="stat">
      <dt>{label}</dt>
      <dd>
        <strong>{value}</strong>
        {detail && <span>{detail}</span>}
      </dd>
    </div>
  );
}

/** Which decode speed sized the GPU counts, in words. */
export function speedBasisText(estimate: CostEstimate): string {
  const outcomes = estimate.recommendation.outcomes;
  const measured = outcomes.filter((o) => o.speedBasis === 'measured').map((o) => o.label);
  if (estimate.decodeHeadline === 'projection') return 'GPU counts use the decode speed a fused RVQ attention kernel would reach (projection), as you chose.';
  if (measured.length === 0) return 'GPU counts use the roofline projection: no decode speed was measured by ResKV for these formats.';
  const projected = outcomes.filter((o) => o.speedBasis === 'projection').map((o) => o.label);
  return (
    `GPU counts use the decode speed measured by ResKV on this machine (relative to fp16) for ${measured.join(', ')}` +
    (projected.length ? `; the roofline projection for ${projected.join(', ')} (not measured).` : '.')
  );
}

export function Headline({ estimate }: { estimate: CostEstimate }) {
  const r = estimate.recommendation;
  const w = estimate.workload;
  return (
    <section className="headline" aria-label="Recommendation">
      <p className="headline-workload">
        {`${whole(w.users.value)} concurrent conversations × ${whole(w.context.value)} tokens, ${whole(w.targetDecodeSpeedPerUser.value)} tokens/s each, ${estimate.model.name} (weights ${estimate.model.weightPrecision}) on ${estimate.hardware.name}`}
      </p>
      <p className="headline-sentence" data-testid="cost-headline">
        {r.sentence}
      </p>
      {r.chosen && (
        <dl className="stats">
          <Stat label="Recommended KV format" value={r.chosen.label} detail={r.acceptableLossPercent === null ? 'no acceptable loss set (Tradeoffs)' : `acceptable loss ${r.acceptableLossPercent}% (Tradeoffs)`} />
          <Stat label="GPUs" value={whole(r.chosen.gpus)} detail={r.fp16 ? `fp16: ${whole(r.fp16.gpus)}` : undefined} />
          <Stat label="Saved per month" value={r.savings ? usd(r.savings.usdPerMonth) : '—'} detail={r.savings ? `${r.savings.percent.toFixed(0)}% of ${usd(r.fp16!.monthlyUsd)}` : undefined} />
          <Stat label="Saved per 1M tokens" value={r.savings ? usd(r.savings.usdPerMillionTokens) : '—'} detail={r.fp16 ? `fp16: ${usd(r.fp16.perMillionTokensUsd)}` : undefined} />
          {r.notBottleneck ? (
            <Stat label="Memory in use (fp16)" value={`weights ${r.notBottleneck.weightsPercent.toFixed(0)}%`} detail={`KV ${r.notBottleneck.kvPercent.toFixed(0)}%`} />
          ) : (
            <Stat
              label="Quality given up"
              value={r.chosen.loss === null ? 'not measured' : `${r.chosen.loss >= 0 ? '+' : ''}${r.chosen.loss.toFixed(2)}%`}
              detail={r.chosen.lossSource === 'baseline' ? 'fp16 is the baseline' : `perplexity, ${r.chosen.lossSource}`}
            />
          )}
        </dl>
      )}
      <p className="headline-basis">{speedBasisText(estimate)}</p>
    </section>
  );
}
