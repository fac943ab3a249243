// PostgreSQL's lock objects and backends in words, for deadlock reports.

/** The lock a backend waits for (its ungranted pg_locks row), plus the row it locked first. */
export interface LockRow {
  locktype: string | null;
  relation: string | null;
  page: number | null;
  tuple: number | null;
  xid: string | null;
  virtualxid: string | null;
  classid: string | null;
  objid: string | null;
  mode: string | null;
  /** for a `transactionid` wait: the tuple lock the waiter holds (the row it is after) */
  rowRelation: string | null;
  rowPage: number | null;
  rowTuple: number | null;
}

/** "row (0,1) of accounts", "transaction 1234", "table accounts", … */
export function describeLock(l: LockRow): string {
  const row = (rel: string | null, page: number | null, tuple: number | null) => `row (${page ?? '?'},${tuple ?? '?'}) of ${rel ?? 'a table'}`;
  switch (l.locktype) {
    case 'tuple':
      return row(l.relation, l.page, l.tuple);
    case 'transactionid':
      // a row-lock wait: the waiter holds the tuple lock and waits for the transaction that has the row
      return l.rowRelation !== null ? `${row(l.rowRelation, l.rowPage, l.rowTuple)} (transaction ${l.xid})` : `transaction ${l.xid}`;
    case 'relation':
      return `table ${l.relation ?? '?'}${l.mode ? ` (${l.mode})` : ''}`;
    case 'page':
      return `page ${l.page ?? '?'} of ${l.relation ?? '?'}`;
    case 'virtualxid':
      return `virtual transaction ${l.virtualxid}`;
    case 'advisory':
      return `advisory lock ${l.classid}:${l.objid}`;
    case null:
      return 'a lock';
    default:
      return `${l.locktype} lock${l.relation ? ` on ${l.relation}` : ''}`;
  }
}

/** A stable key of the lock object (a new wait of the same backend on another object is another wait). */
export function lockKey(l: LockRow): string {
  return [l.locktype, l.relation, l.page, l.tuple, l.xid, l.virtualxid, l.classid, l.objid, l.mode].map((x) => x ?? '').join('/');
}

export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1))}…`;
}
