// The weights column: the shown sweep beside its weight-format siblings' sweeps (weight-siblings.ts).
import type { TradeoffRun, TradeoffSibling } from '../../../../main/api/types.js';
import { TableHead } from '../common.js';
import { weightTable } from './weight-siblings.js';

const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`;

export function WeightSiblings({ run, siblings }: { run: TradeoffRun; siblings: readonly TradeoffSibling[] }) {
  if (siblings.length < 2) return null;
  const table = weightTable(run, siblings);
  return (
    <section aria-label="Weight formats">
      <h2>Weight formats of this checkpoint</h2>
      {table.widest && (
        <p className="run-facts">{`Against ${table.widest.model} (${table.widest.weights} weights) with the fp16 cache, over the same text.`}</p>
      )}
      {table.missing.length > 0 && <p className="run-facts">{`Not shown: ${table.missing.join('; ')}.`}</p>}
      {table.rows.length > 0 && (
        <div className="table-scroll">
          <table className="data-table" aria-label="Weight formats">
            <TableHead columns={['Weights', 'Model', 'Cache', 'Bits/value', 'Perplexity', `vs ${table.widest!.weights} fp16`, 'vs same weights fp16']} />
            <tbody>
              {table.rows.map((r) => (
                <tr key={`${r.model} ${r.cache}`}>
                  <th scope="row">{r.weights}</th>
                  <td>{r.model}</td>
                  <td>{r.cache}</td>
                  <td>{r.bitsPerValue.toFixed(3)}</td>
                  <td>{r.perplexity.toFixed(3)}</td>
                  <td>{signed(r.vsWidest)}</td>
                  <td>{signed(r.vsSameWeights)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
