// The engine against the scenarios of SCENARIOS.md, event by event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientEvent } from '@deadlockd/proto';
import type { Deadlock } from '../src/engine/index.js';
import { BookedEngine, type BookedResult as BatchResult } from './booked-engine.js';

function setup(clients = ['c1']) {
  let t = 1_000;
  const engine = new BookedEngine({ namespace: 'test', now: () => t++ });
  for (const id of clients) engine.addClient({ id, service: `svc-${id}`, instance: id });
  const send = (client: string, ...events: ClientEvent[]): BatchResult => {
    const r = engine.applyBatch(client, events);
    assert.deepEqual(r.errors, [], `events rejected: ${JSON.stringify(r.errors)}`);
    return r;
  };
  return { engine, send };
}

const mutex = (name: string, scope: 'local' | 'global' = 'local'): ClientEvent => ({ type: 'resource', resource: name, kind: 'mutex', scope });
const sem = (name: string, capacity: number): ClientEvent => ({ type: 'resource', resource: name, kind: 'semaphore', scope: 'local', capacity });
const rw = (name: string): ClientEvent => ({ type: 'resource', resource: name, kind: 'rwlock', scope: 'local' });
const hold = (owner: string, resource: string, extra: Partial<Extract<ClientEvent, { type: 'hold' }>> = {}): ClientEvent => ({ type: 'hold', owner, resource, ...extra });
const wait = (waitId: string, owner: string, resource: string, extra: Partial<Extract<ClientEvent, { type: 'wait' }>> = {}): ClientEvent => ({ type: 'wait', waitId, owner, resource, ...extra });
const owner = (id: string, extra: Partial<Extract<ClientEvent, { type: 'owner' }>> = {}): ClientEvent => ({ type: 'owner', owner: id, ...extra });

function one(r: BatchResult): Deadlock {
  assert.equal(r.deadlocks.length, 1, `expected one deadlock, got ${r.deadlocks.length}`);
  return r.deadlocks[0] as Deadlock;
}

test('scenario 1: opposite transfers deadlock; the youngest is the victim; report reads well', () => {
  const { send } = setup();
  send('c1', mutex('acct:a'), mutex('acct:b'), owner('t1', { name: 'transfer a->b', startedAt: 1 }), owner('t2', { name: 'transfer b->a', startedAt: 2 }));
  send('c1', hold('t1', 'acct:a'), hold('t2', 'acct:b'));
  assert.equal(send('c1', wait('w1', 't1', 'acct:b')).deadlocks.length, 0, 'one wait alone is no deadlock');
  const d = one(send('c1', wait('w2', 't2', 'acct:a')));
  assert.deepEqual(d.members.map((m) => m.owner), ['t1', 't2']);
  assert.deepEqual(d.victims.map((v) => [v.owner, v.waitId]), [['t2', 'w2']]);
  assert.match(d.victims[0]!.reason, /youngest/);
  assert.match(d.report.text, /task 'transfer a->b' \(svc-c1\) waits for acct:b, held by task 'transfer b->a' \(svc-c1\)/);
  assert.match(d.report.text, /task 'transfer b->a' \(svc-c1\) waits for acct:a, held by task 'transfer a->b' \(svc-c1\)/);
  assert.equal(d.report.resolution, 'aborting');
});

test('victim order: lowest priority wins over youngest; configurable', () => {
  const { send } = setup();
  send('c1', mutex('a'), mutex('b'), owner('old', { priority: -1, startedAt: 1 }), owner('young', { priority: 5, startedAt: 9 }));
  send('c1', hold('old', 'a'), hold('young', 'b'), wait('w1', 'old', 'b'));
  const d = one(send('c1', wait('w2', 'young', 'a')));
  assert.equal(d.victims[0]!.owner, 'old');
  assert.match(d.victims[0]!.reason, /lowest priority/);

  let t = 0;
  const e2 = new BookedEngine({ namespace: 'x', now: () => t++, victimOrder: ['closer', 'priority'] });
  e2.addClient({ id: 'c', service: 's', instance: 'i' });
  e2.applyBatch('c', [mutex('a'), mutex('b'), owner('p', { priority: 0 }), owner('q', { priority: 9 }), hold('p', 'a'), hold('q', 'b'), wait('w1', 'p', 'b')]);
  const d2 = e2.applyBatch('c', [wait('w2', 'q', 'a')]).deadlocks[0]!;
  assert.equal(d2.victims[0]!.owner, 'q', 'the closer goes first when configured so');
});

test('scenario 2: three-way ring and five dining philosophers, one victim each', () => {
  const { send } = setup();
  send('c1', mutex('A'), mutex('B'), mutex('C'));
  send('c1', hold('t1', 'A'), hold('t2', 'B'), hold('t3', 'C'), wait('w1', 't1', 'B'), wait('w2', 't2', 'C'));
  const ring = one(send('c1', wait('w3', 't3', 'A')));
  assert.equal(ring.members.length, 3);
  assert.equal(ring.victims.length, 1);

  const p = setup();
  for (let i = 0; i < 5; i++) p.send('c1', mutex(`fork${i}`), hold(`ph${i}`, `fork${i}`));
  for (let i = 0; i < 4; i++) assert.equal(p.send('c1', wait(`w${i}`, `ph${i}`, `fork${(i + 1) % 5}`)).deadlocks.length, 0);
  const dp = one(p.send('c1', wait('w4', 'ph4', 'fork0')));
  assert.equal(dp.members.length, 5);
  assert.equal(dp.victims.length, 1);
});

test('self re-lock of a non-reentrant mutex is a deadlock of one', () => {
  const { send } = setup();
  send('c1', mutex('m'), hold('t', 'm'));
  const d = one(send('c1', wait('w', 't', 'm')));
  assert.deepEqual(d.members.map((m) => m.owner), ['t']);
  assert.match(d.report.text, /held by itself/);
});

test('a long wait behind a running holder is never a deadlock', () => {
  const { send, engine } = setup();
  send('c1', mutex('m'), hold('h', 'm'));
  for (let i = 0; i < 50; i++) assert.equal(send('c1', wait(`w${i}`, `t${i}`, 'm')).deadlocks.length, 0);
  assert.equal(engine.sweep().missed, 0);
  assert.equal(engine.activeDeadlocks().length, 0);
});

test('scenario 4: nested checkout from a pool of N with N requests: one deadlock, one victim frees all', () => {
  const N = 4;
  const { send } = setup();
  send('c1', sem('pool', N));
  for (let i = 0; i < N; i++) send('c1', hold(`r${i}`, 'pool'));
  for (let i = 0; i < N - 1; i++) assert.equal(send('c1', wait(`w${i}`, `r${i}`, 'pool')).deadlocks.length, 0, 'while one request can still finish, no deadlock');
  const d = one(send('c1', wait(`w${N - 1}`, `r${N - 1}`, 'pool')));
  assert.equal(d.members.length, N);
  assert.equal(d.victims.length, 1, 'one abort returns one unit, which lets the others finish one by one');
});

test('scenario 5: the cycle a running owner breaks is NOT a deadlock', () => {
  const { send, engine } = setup();
  send('c1', sem('pool', 2), mutex('m'));
  send('c1', hold('T1', 'pool'), hold('T2', 'pool'), hold('T3', 'm'));
  send('c1', wait('w3', 'T3', 'pool'));
  // T1 -> m (held by T3) -> T3 -> pool (held by T1, T2): a cycle, but T2 runs and will return a unit.
  assert.equal(send('c1', wait('w1', 'T1', 'm')).deadlocks.length, 0);
  assert.equal(engine.sweep().missed, 0);
  // Once T2 waits on T1's... no: once T2 too is stuck behind the cycle, it becomes one.
  send('c1', mutex('n'), hold('T1', 'n'));
  const d = one(send('c1', wait('w2', 'T2', 'n')));
  assert.deepEqual(d.members.map((m) => m.owner).sort(), ['T1', 'T2', 'T3']);
});

test('scenario 6: executor starvation through task waits', () => {
  const K = 3;
  const { send } = setup();
  send('c1', sem('slots', K));
  for (let i = 0; i < K; i++) send('c1', owner(`parent${i}`), hold(`parent${i}`, 'slots'), owner(`child${i}`));
  // each child waits for a slot; each parent joins its child
  for (let i = 0; i < K; i++) send('c1', wait(`cw${i}`, `child${i}`, 'slots'));
  for (let i = 0; i < K - 1; i++) assert.equal(send('c1', { type: 'wait', waitId: `j${i}`, owner: `parent${i}`, task: `child${i}` }).deadlocks.length, 0);
  const d = one(send('c1', { type: 'wait', waitId: `j${K - 1}`, owner: `parent${K - 1}`, task: `child${K - 1}` }));
  assert.equal(d.members.length, 2 * K, 'every parent and every child is on the cycle');
  assert.equal(d.victims.length, 1);
});

test('task end satisfies waits on it', () => {
  const { send, engine } = setup();
  send('c1', owner('a'), owner('b'), { type: 'wait', waitId: 'j', owner: 'a', task: 'b' });
  assert.equal(engine.isPending('c1', 'j'), true);
  send('c1', { type: 'end', owner: 'b' });
  assert.equal(engine.isPending('c1', 'j'), false);
});

test('an owner that ends in the batch that closed its cycle is no deadlock, nor is one made again under its id', () => {
  for (const after of [[{ type: 'end', owner: 't2' }], [{ type: 'end', owner: 't2' }, owner('t2')]] as ClientEvent[][]) {
    const { send, engine } = setup();
    send('c1', mutex('a'), mutex('b'), hold('t1', 'a'), hold('t2', 'b'), wait('w1', 't1', 'b'));
    // t2's wait closes t1 -> t2 -> t1, but t2 leaves (its holds and its wait go) before the batch ends
    const r = send('c1', wait('w2', 't2', 'a'), ...after);
    assert.equal(r.deadlocks.length, 0, `after ${after.map((e) => e.type).join(' + ')}`);
    assert.equal(engine.isPending('c1', 'w2'), false);
    assert.equal(engine.isPending('c1', 'w1'), true, "t1 waits on for b until its client reports the grant");
  }
});

test('scenario 8: two shared holders both upgrading deadlock; shared holders alone never block', () => {
  const { send } = setup();
  send('c1', rw('R'), hold('a', 'R', { mode: 'shared' }), hold('b', 'R', { mode: 'shared' }));
  assert.equal(send('c1', wait('s', 'c', 'R', { mode: 'shared' })).deadlocks.length, 0);
  send('c1', { type: 'grant', waitId: 's' });
  assert.equal(send('c1', wait('u1', 'a', 'R', { mode: 'exclusive' })).deadlocks.length, 0, 'one upgrader waits for the readers to leave');
  const d = one(send('c1', wait('u2', 'b', 'R', { mode: 'exclusive' })));
  assert.deepEqual(d.members.map((m) => m.owner).sort(), ['a', 'b']);
});

test('FIFO soft edge: a shared re-request queued behind a writer that waits for us', () => {
  const { send } = setup();
  send('c1', rw('R'), hold('a', 'R', { mode: 'shared' }), wait('wx', 'b', 'R', { mode: 'exclusive' }));
  // a asks for shared again: shared fits the units, but FIFO puts it behind b, which waits for a.
  const d = one(send('c1', wait('ws', 'a', 'R', { mode: 'shared' })));
  assert.ok(d.report.edges.some((e) => e.kind === 'soft'));
});

test('scenario 7: across two clients, global resources', () => {
  const { send } = setup(['x', 'y']);
  send('x', mutex('lock:1', 'global'), mutex('lock:2', 'global'), hold('t', 'lock:1'));
  send('y', mutex('lock:1', 'global'), mutex('lock:2', 'global'), hold('u', 'lock:2'));
  send('x', wait('wx', 't', 'lock:2'));
  const d = one(send('y', wait('wy', 'u', 'lock:1')));
  assert.deepEqual([...d.clients].sort(), ['x', 'y']);
  assert.equal(d.victims.length, 1);
});

test('capacity decrease can create a deadlock', () => {
  const { send } = setup();
  send('c1', sem('p', 2), mutex('m'), hold('a', 'p'), hold('b', 'm'), wait('wa', 'a', 'm'));
  assert.equal(send('c1', wait('wb', 'b', 'p')).deadlocks.length, 0, 'one unit is still free');
  const d = one(send('c1', sem('p', 1)));
  assert.equal(d.members.length, 2);
});

test('unresolvable: no member abortable → reported, no victim, not reported twice', () => {
  const { send, engine } = setup();
  send('c1', mutex('a'), mutex('b'), owner('p', { abortable: false }), owner('q', { abortable: false }));
  send('c1', hold('p', 'a'), hold('q', 'b'), wait('w1', 'p', 'b'));
  const d = one(send('c1', wait('w2', 'q', 'a')));
  assert.deepEqual(d.victims, []);
  assert.equal(d.report.resolution, 'unresolvable');
  assert.match(d.report.text, /victim: none/);
  assert.equal(engine.sweep().missed, 0, 'the sweep knows it');
  send('c1', hold('q', 'b', {}), { type: 'release', owner: 'q', resource: 'b' });
  assert.equal(engine.activeDeadlocks().length, 1);
  const r = send('c1', { type: 'cancel', waitId: 'w1' });
  assert.deepEqual(r.resolved, [d.id]);
});

test('an abort in flight hides the deadlock; stale answer makes it findable again', () => {
  const { send, engine } = setup();
  send('c1', mutex('a'), mutex('b'), hold('p', 'a'), hold('q', 'b'), wait('w1', 'p', 'b'));
  const d = one(send('c1', wait('w2', 'q', 'a')));
  engine.beginResolution(d);
  assert.equal(engine.sweep().missed, 0);
  const v = d.victims[0]!;
  const again = engine.abortAnswered('c1', v.waitId, 'stale');
  assert.equal(again.deadlocks.length, 1, 'the wait still pends in our view, so the deadlock is real and found again');
  assert.deepEqual(again.resolved, [d.id], 'the recorded one is over (history shows it resolved)');
  assert.notEqual(again.deadlocks[0]!.id, d.id);
});

test('bad events are rejected with codes and change nothing', () => {
  const { engine } = setup();
  const r = engine.applyBatch('c1', [
    { type: 'release', owner: 'x', resource: 'nope' },
    mutex('m'),
    { type: 'release', owner: 'x', resource: 'm' },
    { type: 'grant', waitId: 'nope' },
    wait('w', 't', 'm'),
    wait('w', 't', 'm'),
    { type: 'hold', owner: 't', resource: 'm', mode: 'shared' },
    { type: 'resource', resource: 'm', kind: 'semaphore', scope: 'local', capacity: 2 },
    { type: 'wait', waitId: 'j', owner: 't', task: 'ghost' },
  ]);
  assert.deepEqual(
    r.errors.map((e) => [e.index, e.code]),
    [[0, 'UNKNOWN_RESOURCE'], [2, 'NOT_HELD'], [3, 'UNKNOWN_WAIT'], [5, 'DUPLICATE_WAIT'], [6, 'BAD_REQUEST_SIZE'], [7, 'RESOURCE_CONFLICT'], [8, 'UNKNOWN_OWNER']],
  );
  assert.deepEqual(engine.stats(), { owners: 1, resources: 1, holds: 0, waits: 1, activeDeadlocks: 0 });
});

test('limits are enforced with LIMIT_EXCEEDED', () => {
  const e = new BookedEngine({ namespace: 'n', limits: { maxWaitsPerClient: 2 } });
  e.addClient({ id: 'c', service: 's', instance: 'i' });
  const r = e.applyBatch('c', [mutex('m'), hold('h', 'm'), wait('1', 'a', 'm'), wait('2', 'b', 'm'), wait('3', 'c', 'm')]);
  assert.deepEqual(r.errors.map((x) => x.code), ['LIMIT_EXCEEDED']);
});

test('removing a client drops its edges and ends deadlocks it was in', () => {
  const { send, engine } = setup(['x', 'y']);
  send('x', mutex('g1', 'global'), mutex('g2', 'global'), hold('t', 'g1'), wait('wx', 't', 'g2'));
  send('y', mutex('g1', 'global'), mutex('g2', 'global'), hold('u', 'g2'));
  const d = one(send('y', wait('wy', 'u', 'g1')));
  const r = engine.removeClient('y');
  assert.deepEqual(r.resolved, [d.id]);
  assert.equal(engine.stats().waits, 1);
  assert.equal(engine.sweep().missed, 0);
});

test('a deep chain does not overflow the sweep', () => {
  const { send, engine } = setup();
  const N = 30_000;
  const ev: ClientEvent[] = [];
  for (let i = 0; i <= N; i++) ev.push(mutex(`r${i}`), hold(`o${i}`, `r${i}`));
  send('c1', ...ev);
  const waits: ClientEvent[] = [];
  for (let i = 0; i < N; i++) waits.push(wait(`w${i}`, `o${i}`, `r${i + 1}`));
  send('c1', ...waits);
  assert.equal(engine.sweep().missed, 0);
  // close the ring: one deadlock of N+1 members
  const d = one(send('c1', wait('close', `o${N}`, 'r0')));
  assert.equal(d.members.length, N + 1);
});

test('an rwlock upgrade is served before a queued writer: no false deadlock', () => {
  const { send, engine } = setup();
  send('c1', rw('R'), hold('b', 'R', { mode: 'shared' }), hold('a', 'R', { mode: 'shared' }));
  assert.equal(send('c1', wait('wc', 'c', 'R', { mode: 'exclusive' })).deadlocks.length, 0, 'a writer waits for the readers');
  // a upgrades: it goes ahead of c and waits only for b, which runs.
  assert.equal(send('c1', wait('wa', 'a', 'R', { mode: 'exclusive' })).deadlocks.length, 0);
  assert.equal(engine.sweep().missed, 0);
  assert.equal(engine.activeDeadlocks().length, 0);
  // b upgrading too is the real two-upgrader deadlock.
  const d = one(send('c1', wait('wb', 'b', 'R', { mode: 'exclusive' })));
  assert.deepEqual(d.members.map((m) => m.owner).sort(), ['a', 'b']);
});

test('a join refused at the hold limit leaves no task resource behind: a later join on that task still blocks', () => {
  let t = 0;
  const engine = new BookedEngine({ namespace: 'x', now: () => t++, limits: { maxHoldsPerClient: 2 } });
  engine.addClient({ id: 'c', service: 's', instance: 'i' });
  const apply = (...events: ClientEvent[]) => engine.applyBatch('c', events);
  assert.deepEqual(apply(mutex('m'), mutex('n'), owner('a'), owner('b'), hold('b', 'm'), hold('a', 'n')).errors, []);
  // b joins a: a's end is a resource a holds, one hold more than the limit allows
  assert.deepEqual(apply({ type: 'wait', waitId: 'j1', owner: 'b', task: 'a' }).errors.map((e) => e.code), ['LIMIT_EXCEEDED']);
  // room again; b joins a for real, and a waits for m, which b holds: a deadlock
  assert.deepEqual(apply({ type: 'release', owner: 'a', resource: 'n' }).errors, []);
  assert.deepEqual(apply({ type: 'wait', waitId: 'j2', owner: 'b', task: 'a' }).errors, []);
  const r = apply(wait('wa', 'a', 'm'));
  assert.deepEqual(r.errors, []);
  assert.deepEqual(one(r).members.map((m) => m.owner).sort(), ['a', 'b']);
});
