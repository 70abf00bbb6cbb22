// Where each Cost figure comes from, as the Report states it: the model, the text and machine quality
// was measured on, the dates, and which figures are measured and which projected.
import type { CostEstimate } from '../../../../main/api/types.js';
import type { MeasuredSweep } from '../../state/cost.js';
import { speedBasisText } from './Headline.js';

export interface ProvenanceLine {
  term: string;
  text: string;
}

export function costProvenance(estimate: CostEstimate, measured: MeasuredSweep | null, today: string): ProvenanceLine[] {
  const withQuality = estimate.formats.filter((f) => f.measuredQuality);
  const carriedFrom = withQuality.find((f) => f.measuredQuality?.carriedFrom)?.measuredQuality?.carriedFrom;
  const run = withQuality.length > 0 ? measured?.run : undefined;
  const m = run?.machine;
  const unmeasured = estimate.formats.filter((f) => !f.measuredQuality && f.format.kind !== 'fp16').map((f) => f.label);
  return [
    { term: 'Model costed', text: `${estimate.model.name}${estimate.model.source ? ` (${estimate.model.source})` : ''}, weights ${estimate.model.weightPrecision}` },
    {
      term: 'Quality measured on',
      text: run
        ? `${run.model}${carriedFrom ? ' (carried over to the costed model at the user\'s request)' : ''}, ${run.text.file} (${run.text.tokens.toLocaleString('en-US')} tokens, sha256 ${run.text.sha256.slice(0, 12)}…)`
        : 'nothing: no quality measured for these formats',
    },
    { term: 'Machine', text: m ? `${m.cpu} (${m.cores} cores, ${m.platform}/${m.arch}, ${m.provider})` : 'no measurement' },
    { term: 'Dates', text: `estimate ${today}${run ? `; quality measured ${run.finishedAt.slice(0, 10)}` : ''}` },
    {
      term: 'Measured',
      text: withQuality.length
        ? `perplexity change and decode speed relative to fp16 of ${withQuality.map((f) => f.label).join(', ')}, by ResKV` + (unmeasured.length ? `; not measured: ${unmeasured.join(', ')}` : '')
        : 'none',
    },
    {
      term: 'Projected',
      text: `memory, GPUs and money from the model's geometry and the ${estimate.hardware.name} datasheet (approximate prices, assumed efficiencies). ${speedBasisText(estimate)}`,
    },
  ];
}
