// Deadlock history grouped by pattern: the same deadlock recurring (the same
// kinds of resources taken at the same places in the code) is one card with a
// count and first/last seen, not one card per occurrence.

/** A resource's class: its label with the variable parts (numbers, ids) blanked: "row:17" → "row:#". */
export function resourceClass(label) {
  return String(label ?? '')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '#')
    .replace(/\b[0-9a-f]{12,}\b/gi, '#')
    .replace(/\d+/g, '#');
}

/** The first frame of a wait's stack that names a place ("file.js:12:5"), without the column. */
function callSite(stack) {
  for (const line of String(stack ?? '').split('\n')) {
    const m = /\(?((?:file:\/\/)?[^\s()]+):(\d+):\d+\)?\s*$/.exec(line.trim());
    if (m && !m[1].startsWith('node:')) return `${m[1]}:${m[2]}`;
  }
  return '';
}

/**
 * The pattern of one history entry: the server's `signature` when the record
 * has one; until then (older daemons) one derived here from the report the
 * same way: each member's wait as service, resource class and call site,
 * sorted so where the cycle starts does not matter.
 */
export function signatureOf(entry) {
  if (typeof entry.signature === 'string' && entry.signature) return entry.signature;
  const parts = [];
  for (const m of entry.report?.members ?? []) {
    for (const w of m.waits ?? []) parts.push(`${m.service}|${resourceClass(w.label)}|${callSite(w.stack)}`);
  }
  return parts.sort().join('\n');
}

/**
 * Groups entries (newest first, as the history lists them) by signature:
 * [{ signature, entries, count, firstSeen, lastSeen, latest }], the group seen
 * last first.
 */
export function groupHistory(history) {
  const groups = new Map();
  for (const e of history) {
    const sig = signatureOf(e);
    let g = groups.get(sig);
    if (!g) groups.set(sig, (g = { signature: sig, entries: [], count: 0, firstSeen: Infinity, lastSeen: -Infinity, latest: e }));
    g.entries.push(e);
    g.count++;
    g.firstSeen = Math.min(g.firstSeen, e.detectedAt);
    if (e.detectedAt >= g.lastSeen) {
      g.lastSeen = e.detectedAt;
      g.latest = e;
    }
  }
  return [...groups.values()].sort((a, b) => b.lastSeen - a.lastSeen || a.signature.localeCompare(b.signature));
}
