// The estimate as the same table the CLI prints (rows built by the backend's costReport).
import type { CostReport } from '../../../../main/api/types.js';

export function CostTable({ report }: { report: CostReport }) {
  return (
    <div className="table-scroll">
      <table className="data-table" aria-label="Cost estimate per KV format">
        <thead>
          <tr>
            <th scope="col" />
            {report.columns.map((c) => (
              <th key={c} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {report.rows.map((row) => (
            <tr key={row.label}>
              <th scope="row">{row.label}</th>
              {row.cells.map((cell, i) => (
                <td key={report.columns[i]}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function CostNotes({ report }: { report: CostReport }) {
  return (
    <>
      <ul className="header-lines">
        {report.header.map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
      <details className="notes">
        <summary>Assumptions and notes ({report.notes.length})</summary>
        <ul>
          {report.notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      </details>
    </>
  );
}
