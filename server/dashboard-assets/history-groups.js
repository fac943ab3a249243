// Deadlock history grouped by pattern: the same deadlock recurring (the same
// lock classes taken at the same places in the code: the daemon's
// `signature`, engine/signature.ts) is one card with a count and first/last
// seen, not one card per occurrence.

/** An entry's group: its signature; an entry without one (an older daemon) is a group of its own. */
const signatureOf = (entry) => entry.signature ?? entry.report?.signature ?? entry.id;

/**
 * Groups the frame's history entries (newest first) by signature:
 * [{ signature, entries, count, firstSeen, lastSeen, latest }], the group seen
 * last first. `serverGroups` (the frame's historyGroups) give the counts and
 * times, which cover also the occurrences no longer in the history sent;
 * without them they are counted from the entries.
 */
export function groupHistory(history, serverGroups = []) {
  const known = new Map(serverGroups.map((g) => [g.signature, g]));
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
  for (const g of groups.values()) {
    const s = known.get(g.signature);
    if (!s) continue;
    g.count = Math.max(g.count, s.count);
    g.firstSeen = Math.min(g.firstSeen, s.firstSeen);
    g.lastSeen = Math.max(g.lastSeen, s.lastSeen);
  }
  return [...groups.values()].sort((a, b) => b.lastSeen - a.lastSeen || a.signature.localeCompare(b.signature));
}
