// What a reload keeps (the view, the open conversation): `key=value` pairs in the URL's hash, written
// in place (no history entries), so a reload or a copied address reopens the same place.
function pairs(): URLSearchParams {
  return new URLSearchParams(window.location.hash.replace(/^#/, ''));
}

export function readLocation(key: string): string | null {
  return pairs().get(key);
}

/** Sets (or with null, removes) one pair, keeping the others. */
export function writeLocation(key: string, value: string | null): void {
  const next = pairs();
  if (value === null) next.delete(key);
  else next.set(key, value);
  const hash = next.toString();
  history.replaceState(history.state, '', `${window.location.pathname}${window.location.search}${hash ? `#${hash}` : ''}`);
}
