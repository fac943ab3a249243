// Shortened names that stay told apart. Resource names often share a long
// prefix ("pg:advisory:ledger-2024-…"): cutting the end leaves identical
// stubs, so the middle goes instead, and where two names would still read the
// same, both keep more characters until they differ. The full name is always
// available to the caller for a hover title.

/** `s` at most `max` characters, the middle replaced by "…" when it is longer. */
export function middleEllipsis(s, max) {
  const str = String(s ?? '');
  if (str.length <= max) return str;
  if (max <= 1) return '…';
  const tail = Math.floor((max - 1) / 2);
  const head = max - 1 - tail;
  return `${str.slice(0, head)}…${str.slice(str.length - tail)}`;
}

/**
 * Short forms of `names` (at most `max` characters where that keeps them
 * apart), as a Map from each full name to its short form. Two different names
 * never get the same short form: a clash is widened until it is gone, up to
 * the full names (which differ).
 */
export function uniqueShortNames(names, max) {
  const distinct = [...new Set(names.map((n) => String(n ?? '')))];
  const width = new Map(distinct.map((n) => [n, max]));
  for (;;) {
    const byShort = new Map();
    for (const n of distinct) {
      const s = middleEllipsis(n, width.get(n));
      byShort.set(s, [...(byShort.get(s) ?? []), n]);
    }
    let widened = false;
    for (const group of byShort.values()) {
      if (group.length < 2) continue;
      for (const n of group) {
        if (width.get(n) >= n.length) continue;
        width.set(n, Math.min(n.length, width.get(n) + 4));
        widened = true;
      }
    }
    // no clash left, or only between full names (a name that is literally another's short form)
    if (!widened) break;
  }
  return new Map(distinct.map((n) => [n, middleEllipsis(n, width.get(n))]));
}
