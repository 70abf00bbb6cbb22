// "What if" tables: the headline again with users, context or GPU changed, side by side so all
// three read without scrolling: fp16's GPUs, the recommended format's (and its saving), and the
// cheapest format compared whatever its quality. The row of the workload as entered is marked.
import type { CostResult } from '../../../../main/api/types.js';
import { compactUsd } from './cost-chart-data.js';

type Row = CostResult['whatIf']['users'][number];

const gpus = (n: number) => `${n} GPU${n === 1 ? '' : 's'}`;

function WhatIfTable({ caption, rows }: { caption: string; rows: Row[] }) {
  return (
    <table className="data-table" aria-label={`What if: ${caption}`}>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{caption.replace(/^other /, '')}</th>
          <th scope="col">fp16</th>
          <th scope="col">recommended</th>
          <th scope="col">cheapest compared</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={row.value} aria-current={row.current ? 'true' : undefined}>
            <th scope="row">{row.value}</th>
            {row.problem && !row.chosen ? (
              <td colSpan={3} title={row.problem}>
                {row.problem.length > 60 ? `${row.problem.slice(0, 57)}…` : row.problem}
              </td>
            ) : (
              <>
                <td>{row.fp16 ? gpus(row.fp16.gpus) : '—'}</td>
                <td>
                  {row.chosen ? `${row.chosen.label}, ${gpus(row.chosen.gpus)}` : '—'}
                  {row.savingUsdPerMonth !== null && row.savingUsdPerMonth > 0 && <small>{`saves ${compactUsd(row.savingUsdPerMonth)}/month`}</small>}
                </td>
                <td>{row.cheapest ? `${row.cheapest.label}, ${gpus(row.cheapest.gpus)}${row.cheapest.measured ? '' : ' (not measured)'}` : '—'}</td>
              </>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function WhatIf({ whatIf }: { whatIf: CostResult['whatIf'] }) {
  return (
    <div className="what-if" aria-label="What if">
      <WhatIfTable caption="users" rows={whatIf.users} />
      <WhatIfTable caption="context (tokens)" rows={whatIf.context} />
      <WhatIfTable caption="other GPU" rows={whatIf.gpu} />
    </div>
  );
}
