// The history file (history-store/history-db.ts) under DeadlockHistory: what is
// recorded is there after the file is opened again, grouped counts go on, open
// deadlocks come back interrupted, the bounds (count, bytes, age) prune, and a
// file that cannot be used is refused with a code.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DeadlockHistory } from '../src/history.js';
import { HistoryDb, HistoryFileError } from '../src/history-store/history-db.js';

const dir = mkdtempSync(join(tmpdir(), 'deadlockd-history-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = () => join(dir, `h${++files}`, 'history.sqlite');

type State = 'aborting' | 'unresolvable' | 'resolved';

/** What the book hands the history: a deadlock of `service` with `signature`, detected at `at`. */
function entry(id: string, o: { at?: number; signature?: string; service?: string; state?: State; endedAt?: number; pad?: number } = {}) {
  const at = o.at ?? 1_000;
  const service = o.service ?? 'bank';
  const member = { owner: 't1', name: 'transfer', service, client: 'c1', priority: 0, holds: [], waits: [] };
  return {
    id,
    state: o.state ?? 'aborting',
    endedAt: o.endedAt,
    deadlock: {
      id,
      key: `k-${id}`,
      detectedAt: at,
      members: [],
      waits: [],
      victims: [],
      reorders: [],
      clients: [],
      report: {
        id,
        namespace: 'n',
        detectedAt: at,
        members: [member],
        edges: [],
        victim: null,
        resolution: 'aborting' as const,
        text: 'x'.repeat(o.pad ?? 10),
        signature: o.signature ?? 'DS-aaaaaaaaaa',
        pattern: [`${service} waits for account, held by ${service}`],
      },
    },
  };
}

describe('history file', () => {
  it('keeps entries and grouped counts across a reopen; open deadlocks come back interrupted', () => {
    const file = newFile();
    let db = HistoryDb.open(file);
    let h = new DeadlockHistory(100, 'n', undefined, { db });
    h.record(entry('d1', { at: 1_000 }));
    h.record(entry('d1', { at: 1_000, state: 'resolved', endedAt: 1_500 }));
    h.record(entry('d2', { at: 2_000 }));
    h.record(entry('d3', { at: 3_000, signature: 'DS-bbbbbbbbbb', service: 'ledger', state: 'unresolvable' }));
    // another namespace in the same file stays apart
    new DeadlockHistory(100, 'other', undefined, { db }).record(entry('o1', { at: 4_000 }));
    assert.equal(db.interruptedAtOpen, 0);
    db.close();

    db = HistoryDb.open(file);
    assert.equal(db.interruptedAtOpen, 3, 'd2, d3 and o1 were open');
    h = new DeadlockHistory(100, 'n', undefined, { db });
    assert.deepEqual(h.list().map((e) => [e.id, e.status]), [['d3', 'interrupted'], ['d2', 'interrupted'], ['d1', 'resolved']]);
    assert.equal(h.get('d1')?.resolvedAt, 1_500);
    assert.equal(h.get('d3')?.signature, 'DS-bbbbbbbbbb');
    assert.equal(h.get('o1'), undefined, "another namespace's entry");
    assert.equal(h.size, 3);
    const groups = h.groups().groups;
    assert.deepEqual(groups.map((g) => [g.signature, g.count, g.firstSeen, g.lastSeen, g.latestId]), [
      ['DS-bbbbbbbbbb', 1, 3_000, 3_000, 'd3'],
      ['DS-aaaaaaaaaa', 2, 1_000, 2_000, 'd2'],
    ]);
    assert.deepEqual(groups[0]?.pattern, ['ledger waits for account, held by ledger']);

    // the count goes on after the restart, and the group is the most recently seen again
    h.record(entry('d4', { at: 5_000 }));
    const again = h.groups().groups;
    assert.deepEqual(again.map((g) => [g.signature, g.count, g.lastSeen, g.latestId]), [
      ['DS-aaaaaaaaaa', 3, 5_000, 'd4'],
      ['DS-bbbbbbbbbb', 1, 3_000, 'd3'],
    ]);
    // filters and limit in the file's query
    assert.deepEqual(h.query({ service: 'ledger' }).entries.map((e) => e.id), ['d3']);
    assert.deepEqual(h.query({ signature: 'DS-aaaaaaaaaa', limit: 2 }), { total: 3, entries: [h.get('d4'), h.get('d2')] });
    assert.deepEqual(h.query({ since: 2_500 }).entries.map((e) => e.id), ['d4', 'd3']);
    assert.deepEqual(h.groups({ service: 'bank' }).groups.map((g) => g.signature), ['DS-aaaaaaaaaa']);
    assert.deepEqual(h.groups({ since: 4_000 }).total, 1);
    db.close();
  });

  it('prunes by count and bytes when a smaller bound is set at the next start, the newest kept', () => {
    const file = newFile();
    let db = HistoryDb.open(file);
    const h = new DeadlockHistory(100, 'n', undefined, { db });
    for (let i = 0; i < 10; i++) h.record(entry(`d${i}`, { at: 1_000 + i, signature: `DS-${String(i).repeat(10)}`, pad: 1_000 }));
    db.close();

    db = HistoryDb.open(file);
    const fewer = new DeadlockHistory(4, 'n', undefined, { db });
    assert.deepEqual(fewer.list().map((e) => e.id), ['d9', 'd8', 'd7', 'd6']);
    assert.equal(fewer.size, 4);
    assert.deepEqual(fewer.groups().groups.map((g) => g.latestId), ['d9', 'd8', 'd7', 'd6'], 'at most as many groups as entries');
    db.close();

    db = HistoryDb.open(file);
    // room for two of those reports (they are all of one size), not three
    const one = JSON.stringify(entry('d0', { signature: 'DS-0000000000', pad: 1_000 }).deadlock.report).length;
    const lighter = new DeadlockHistory(4, 'n', 2 * one + one / 2, { db });
    assert.equal(lighter.bytes, 2 * one);
    assert.deepEqual(lighter.list().map((e) => e.id), ['d9', 'd8']);
    lighter.record(entry('huge', { at: 2_000, pad: 10_000 }));
    assert.deepEqual(lighter.list().map((e) => e.id), ['huge'], 'one report over the budget is still kept, alone');
    db.close();
    db = HistoryDb.open(file);
    assert.equal(new DeadlockHistory(4, 'n', 100_000, { db }).size, 1, 'what was pruned stays pruned');
    db.close();
  });

  it('drops entries and groups older than maxAgeMs, also with no new deadlock to push them out', () => {
    let now = 10_000;
    const h = new DeadlockHistory(100, 'n', undefined, { maxAgeMs: 5_000, now: () => now });
    h.record(entry('old', { at: 6_000, signature: 'DS-0ld0ld0ld0' }));
    h.record(entry('new', { at: 9_000 }));
    assert.equal(h.size, 2);
    now = 12_000; // 'old' is 6 s old now
    assert.deepEqual(h.list().map((e) => e.id), ['new']);
    assert.equal(h.get('old'), undefined);
    assert.deepEqual(h.groups().groups.map((g) => g.signature), ['DS-aaaaaaaaaa']);
    now = 20_000;
    assert.equal(h.query({}).total, 0);
    assert.equal(h.groups().total, 0);
    assert.equal(h.size, 0);
  });

  it('a report that changes keeps the byte count exact (the bytes bound prunes by it)', () => {
    const db = HistoryDb.open(newFile());
    const h = new DeadlockHistory(10, 'n', undefined, { db });
    h.record(entry('d1', { pad: 10 }));
    h.record(entry('d2', { pad: 100 }));
    h.flush();
    h.record(entry('d1', { pad: 3_000, state: 'resolved', endedAt: 2_000 }));
    h.flush();
    const sizes = ['d1', 'd2'].map((id) => JSON.stringify(h.get(id)?.report).length);
    assert.equal(sizes[0], JSON.stringify(entry('d1', { pad: 3_000, state: 'resolved', endedAt: 2_000 }).deadlock.report).length);
    assert.equal(h.bytes, (sizes[0] as number) + (sizes[1] as number));
    db.close();
  });

  it('the queries a record runs (the age bound, the oldest entry) search an index, not the whole history', () => {
    const file = newFile();
    const db = HistoryDb.open(file);
    new DeadlockHistory(10, 'n', undefined, { db, maxAgeMs: 60_000 }).record(entry('d1'));
    db.close();
    const raw = new Database(file, { readonly: true });
    const plan = (sql: string): string =>
      (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('n', 1) as { detail: string }[]).map((r) => r.detail).join('; ');
    const ageCount = plan('SELECT count(*) AS count, coalesce(sum(bytes), 0) AS bytes FROM deadlocks WHERE namespace = ? AND detected_at < ?');
    assert.match(ageCount, /SEARCH deadlocks USING INDEX deadlocks_by_age \(namespace=\? AND detected_at<\?\)/, ageCount);
    const groupsAge = plan('DELETE FROM deadlock_groups WHERE namespace = ? AND last_seen < ?');
    assert.match(groupsAge, /SEARCH deadlock_groups USING INDEX groups_by_age/, groupsAge);
    const oldest = (raw.prepare('EXPLAIN QUERY PLAN SELECT id, bytes FROM deadlocks WHERE namespace = ? ORDER BY seq LIMIT 1').all('n') as { detail: string }[])
      .map((r) => r.detail)
      .join('; ');
    assert.match(oldest, /USING INDEX deadlocks_by_namespace/, oldest);
    raw.close();
  });

  it('a second daemon on the same file is refused while the first has it; afterwards it opens', () => {
    const file = newFile();
    const first = HistoryDb.open(file);
    new DeadlockHistory(10, 'n', undefined, { db: first }).record(entry('d1'));
    assert.throws(
      () => HistoryDb.open(file, { busyTimeoutMs: 50 }),
      (e: unknown) => e instanceof HistoryFileError && e.code === 'HISTORY_FILE_BUSY' && /in use by another deadlockd/.test(e.message),
    );
    first.close();
    const second = HistoryDb.open(file, { busyTimeoutMs: 50 });
    assert.equal(new DeadlockHistory(10, 'n', undefined, { db: second }).get('d1')?.id, 'd1');
    second.close();
  });

  it('a file that is no SQLite database, or of a newer schema, is refused with a code', () => {
    const garbage = join(dir, 'garbage.sqlite');
    writeFileSync(garbage, 'this is not a database, it is a text file that is long enough to have a header');
    assert.throws(() => HistoryDb.open(garbage), (e: unknown) => e instanceof HistoryFileError && e.code === 'HISTORY_FILE_UNUSABLE' && e.message.includes(garbage));

    const newer = join(dir, 'newer.sqlite');
    const raw = new Database(newer);
    raw.pragma('user_version = 99');
    raw.close();
    assert.throws(() => HistoryDb.open(newer), (e: unknown) => e instanceof HistoryFileError && e.code === 'HISTORY_FILE_TOO_NEW');

    const notADir = join(garbage, 'history.sqlite'); // its directory is a file
    assert.throws(() => HistoryDb.open(notADir), (e: unknown) => e instanceof HistoryFileError && e.code === 'HISTORY_FILE_UNWRITABLE');
  });

  it('a record is written after the turn that made it (off the abort path), and a read sees it at once', async () => {
    const db = HistoryDb.open(newFile());
    const h = new DeadlockHistory(10, 'n', undefined, { db });
    h.record(entry('d1'));
    h.record(entry('d1', { state: 'resolved', endedAt: 1_500 }));
    assert.equal(db.list('n').entries.length, 0, 'nothing written in the turn of the deadlock');
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.deepEqual(db.list('n').entries.map((e) => [e.id, e.status, e.resolvedAt]), [['d1', 'resolved', 1_500]], 'both notes, in order, on the next turn');
    h.record(entry('d2', { at: 2_000 }));
    assert.deepEqual(h.list().map((e) => e.id), ['d2', 'd1'], 'a read writes what is noted first');
    db.close();
  });

  it('a write that fails is reported, not thrown into deadlock handling', () => {
    const db = HistoryDb.open(newFile());
    const errors: string[] = [];
    const h = new DeadlockHistory(10, 'n', undefined, { db, onError: (err, what) => errors.push(`${what}: ${(err as Error).message}`) });
    h.record(entry('d1'));
    db.close();
    h.record(entry('d2'));
    h.flush(); // (else on the next turn)
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /^record: .*not open/);
  });
});
