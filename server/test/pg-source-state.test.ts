// The PostgreSQL source's pure part: what a poll means for the graph (buildPicture) and the
// events between two polls (diffPictures), applied to a real engine next to an SDK client's events.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientEvent } from '@deadlockd/proto';
import { Engine } from '../src/engine/engine.js';
import { describeLock, type LockRow } from '../src/pg-source/describe.js';
import { buildPicture, diffPictures, emptyPicture, type BackendRow, type KnownBackend, type PictureOptions } from '../src/pg-source/state.js';

const noLock: LockRow = {
  locktype: null, relation: null, page: null, tuple: null, xid: null, virtualxid: null, classid: null, objid: null, mode: null,
  rowRelation: null, rowPage: null, rowTuple: null,
};
const row = (pid: number, over: Partial<BackendRow>): BackendRow => ({
  ...noLock, pid, user: 'app', application: '', state: 'active', query: null, stateChange: null, waitStart: null, blockers: null, ...over,
});
/** backend 101 (service A) waits for the row backend 202 (service B, idle in transaction) updated */
const rowsOfTheCycle: BackendRow[] = [
  row(101, {
    state: 'active', query: 'UPDATE accounts SET balance = balance - 7 WHERE id = 1', blockers: [202], waitStart: new Date(1_000),
    locktype: 'transactionid', xid: '755', mode: 'ShareLock', rowRelation: 'accounts', rowPage: 0, rowTuple: 1,
  }),
  row(202, { state: 'idle in transaction', query: 'UPDATE accounts SET balance = balance - 3 WHERE id = 1', stateChange: new Date(900) }),
];
const known = new Map<number, KnownBackend>([
  [101, { service: 'orders', connection: 'A#1:connection', statement: 'A#1:statement' }],
  [202, { service: 'billing', connection: 'B#1:connection', statement: 'B#1:statement' }],
]);
const options = (over: Partial<PictureOptions> = {}): PictureOptions => ({
  queryChars: 40, resolve: false, cancelUnowned: false, lockResource: (pid) => `lock-wait-of-${pid}`, ...over,
});
const glue = (name: string, pid: number, role: 'connection' | 'statement'): ClientEvent => ({
  type: 'resource', resource: name, kind: 'mutex', scope: 'global', backend: { pid, database: 'db', system: '', role },
});

/** Two SDK clients as the pg adapter reports them: A holds `ledger` and runs a statement on 101; B holds its connection to 202 and waits for `ledger`. */
function engineWithApps(): Engine {
  const e = new Engine({ namespace: 't' });
  for (const id of ['A', 'B', 'pg']) e.addClient({ id, service: id === 'pg' ? 'postgres:db' : id, instance: id });
  const errors = [
    ...e.applyBatch('A', [
      { type: 'resource', resource: 'ledger', kind: 'mutex', scope: 'global' },
      glue('A#1:connection', 101, 'connection'),
      glue('A#1:statement', 101, 'statement'),
      { type: 'hold', owner: 'tA', resource: 'ledger' },
      { type: 'hold', owner: 'tA', resource: 'A#1:connection' },
      { type: 'wait', waitId: 'sA', owner: 'tA', resource: 'A#1:statement' },
    ]).errors,
    ...e.applyBatch('B', [
      { type: 'resource', resource: 'ledger', kind: 'mutex', scope: 'global' },
      glue('B#1:connection', 202, 'connection'),
      { type: 'hold', owner: 'tB', resource: 'B#1:connection' },
      { type: 'wait', waitId: 'lB', owner: 'tB', resource: 'ledger' },
    ]).errors,
  ];
  assert.deepEqual(errors, []);
  return e;
}

describe('pg source: from a poll to the graph', () => {
  it('joins a row-lock wait to the apps: the cycle task A → backend 101 → backend 202 → task B → ledger → task A is found', () => {
    const e = engineWithApps();
    const declared = new Map<string, string>();
    const p = buildPicture(rowsOfTheCycle, (pid) => known.get(pid), options());
    const r = e.applyBatch('pg', diffPictures(emptyPicture(), p, declared));
    assert.deepEqual(r.errors, []);
    assert.equal(r.found.length, 1);
    const d = r.found[0]!.deadlock;
    assert.deepEqual(d.members.map((m) => `${m.client}/${m.owner}`).sort(), ['A/tA', 'B/tB', 'pg/b101', 'pg/b202']);
    // database waits are never chosen while an app wait can go
    assert.ok(d.victims.every((v) => v.client !== 'pg'), JSON.stringify(d.victims));
    assert.match(d.report.text, /backend 101 \(orders, user app\): UPDATE accounts SET balance = balance -…/); // the query, truncated
    assert.match(d.report.text, /waits for row \(0,1\) of accounts \(transaction 755\)/);
  });

  it('the same poll twice sends nothing; the wait ending sends its cancel, releases and ends, and the cycle is over', () => {
    const e = engineWithApps();
    const declared = new Map<string, string>();
    const p1 = buildPicture(rowsOfTheCycle, (pid) => known.get(pid), options());
    assert.equal(e.applyBatch('pg', diffPictures(emptyPicture(), p1, declared)).found.length, 1);
    const p2 = buildPicture(rowsOfTheCycle, (pid) => known.get(pid), options());
    assert.deepEqual(diffPictures(p1, p2, declared), []);
    const events = diffPictures(p2, buildPicture([], (pid) => known.get(pid), options()), declared);
    assert.deepEqual(events.map((x) => x.type).sort(), ['cancel', 'cancel', 'end', 'end', 'release', 'release']);
    assert.deepEqual(e.applyBatch('pg', events).errors, []);
    assert.equal(e.stats().waits, 2); // the apps' own waits are theirs: untouched
    assert.deepEqual(e.sweep(), []);
  });

  it('a blocker no SDK reported is an owner of its own, and without an app in the cycle there is no deadlock', () => {
    const e = engineWithApps();
    const p = buildPicture(rowsOfTheCycle, (pid) => (pid === 101 ? known.get(pid) : undefined), options());
    const r = e.applyBatch('pg', diffPictures(emptyPicture(), p, new Map()));
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.found, []); // backend 202 waits for nobody we know: a long wait, not a deadlock
    assert.match(p.owners.get('b202')!.name, /^backend 202 \(no SDK, user app\)/);
  });

  it('database waits are victims only with resolve, and unreported backends only with cancelUnowned too', () => {
    const abortable = (o: Partial<PictureOptions>, k: (pid: number) => KnownBackend | undefined) =>
      buildPicture(rowsOfTheCycle, k, options(o)).owners.get('b101')!.abortable;
    const none = () => undefined;
    assert.equal(abortable({}, (pid) => known.get(pid)), false);
    assert.equal(abortable({ resolve: true }, (pid) => known.get(pid)), true);
    assert.equal(abortable({ resolve: true }, none), false);
    assert.equal(abortable({ resolve: true, cancelUnowned: true }, none), true);
    assert.equal(abortable({ cancelUnowned: true }, none), false);
  });

  it('lock objects in words', () => {
    assert.equal(describeLock({ ...noLock, locktype: 'tuple', relation: 'accounts', page: 0, tuple: 1 }), 'row (0,1) of accounts');
    assert.equal(describeLock({ ...noLock, locktype: 'transactionid', xid: '1234' }), 'transaction 1234');
    assert.equal(describeLock({ ...noLock, locktype: 'relation', relation: 'accounts', mode: 'AccessExclusiveLock' }), 'table accounts (AccessExclusiveLock)');
    assert.equal(describeLock({ ...noLock, locktype: 'advisory', classid: '0', objid: '42' }), 'advisory lock 0:42');
  });
});
