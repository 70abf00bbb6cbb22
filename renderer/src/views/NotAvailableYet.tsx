// Placeholder for a view whose backend does not exist yet: says so plainly, pretends nothing.
export function NotAvailableYet({ title, reason }: { title: string; reason: string }) {
  return (
    <section className="view">
      <h1 id="view-title">{title}</h1>
      <p className="notice" role="status">
        Not available yet. {reason}
      </p>
    </section>
  );
}
