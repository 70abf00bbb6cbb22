// Small pieces every view uses: an error line and a table header row.
export function ErrorMessage({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <p className="error" role="alert">
      {message}
    </p>
  );
}

export function TableHead({ columns }: { columns: readonly string[] }) {
  return (
    <thead>
      <tr>
        {columns.map((h, i) => (
          <th key={`${i}-${h}`} scope="col">
            {h}
          </th>
        ))}
      </tr>
    </thead>
  );
}
