// The deadlock book on its own: states, transitions, the marks on member waits, and the
// two promises (one abort per wait per deadlock; an owner past a deadline is never its victim).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientEvent } from '@deadlockd/proto';
import { DeadlockBook, type BookEntry } from '../src/engine/book.js';
import { Engine } from '../src/engine/engine.js';

function crossed() {
  let t = 1_000;
  const engine = new Engine({ namespace: 'book', now: () => t++ });
  const changes: string[] = [];
  const book = new DeadlockBook(engine, () => t, { changed: (e: BookEntry) => changes.push(`${e.id}:${e.state}`) });
  engine.addClient({ id: 'c', service: 's', instance: 'i' });
  const events: ClientEvent[] = [
    { type: 'resource', resource: 'm1', kind: 'mutex', scope: 'local' },
    { type: 'resource', resource: 'm2', kind: 'mutex', scope: 'local' },
    { type: 'owner', owner: 'a', priority: 0 },
    { type: 'owner', owner: 'b', priority: 5 },
    { type: 'hold', owner: 'a', resource: 'm1' },
    { type: 'hold', owner: 'b', resource: 'm2' },
    { type: 'wait', waitId: 'wa', owner: 'a', resource: 'm2' },
    { type: 'wait', waitId: 'wb', owner: 'b', resource: 'm1' },
  ];
  const found = book.take(engine.applyBatch('c', events));
  assert.equal(found.length, 1);
  return { engine, book, changes, found: found[0]! };
}

test('an entry goes confirming → aborting → resolved when a member wait ends; the marks go with it', () => {
  const { engine, book, changes, found } = crossed();
  const e = book.open(found, 'confirming');
  assert.equal(book.hasKey(found.deadlock.key), true);
  assert.ok(found.waits.every((w) => w.deadlocks?.includes(e.id)), 'member waits carry the id');
  assert.deepEqual(book.take({ found: [found], ended: [] }), [], 'the same deadlock found again is not new');
  const sent = book.aborting(e);
  assert.deepEqual(sent.map((v) => v.owner), ['a']);
  assert.equal(engine.wait({ client: 'c', waitId: 'wa' })?.aborting, true, 'the victim wait is being aborted');
  assert.deepEqual(book.aborting(e), [], 'never a second abort for the same wait');
  const r = engine.applyBatch('c', [{ type: 'cancel', waitId: 'wa' }]);
  assert.deepEqual(r.ended.map((w) => w.id), ['wa']);
  book.take(r);
  assert.equal(e.state, 'resolved');
  assert.equal(book.size, 0);
  assert.equal(engine.wait({ client: 'c', waitId: 'wb' })?.deadlocks, undefined, 'no mark left on the other member wait');
  assert.deepEqual(changes, [`${e.id}:confirming`, `${e.id}:aborting`, `${e.id}:aborting`, `${e.id}:resolved`]);
});

test('an ended entry cannot move again', () => {
  const { book, found } = crossed();
  const e = book.open(found, 'confirming');
  book.end(e, 'dismissed');
  assert.throws(() => book.aborting(e), /cannot go from dismissed to aborting/);
});

test('an owner marked unabortable is passed over when the choice is made again', () => {
  const { engine, book, found } = crossed();
  const e = book.open(found, 'confirming');
  book.aborting(e);
  book.markUnabortable(e, [{ client: 'c', owner: 'a' }]);
  assert.equal(engine.wait({ client: 'c', waitId: 'wa' })?.aborting, false, "a's wait counts as pending again");
  const again = engine.search(e.deadlock.members, e.unabortable);
  const same = again.find((f) => f.deadlock.key === e.deadlock.key);
  assert.ok(same, 'the same deadlock');
  book.update(e, same);
  assert.deepEqual(e.deadlock.victims.map((v) => v.owner), ['b']);
  assert.equal(e.deadlock.id, e.id, 'it keeps its id');
  assert.deepEqual(book.aborting(e).map((v) => v.owner), ['b']);
});

test('a stale answer ends the entry and the search finds the deadlock anew; the sweep does not count it missed', () => {
  const { book, found } = crossed();
  const e = book.open(found, 'confirming');
  book.aborting(e);
  const anew = book.staleAbort('c', 'wa');
  assert.equal(e.state, 'resolved');
  assert.equal(anew.length, 1);
  assert.notEqual(anew[0]!.deadlock.id, e.id);
  assert.equal(book.sweep().missed, 0, 'its key is remembered');
});

test('the sweep finds, on its own, every deadlock the incremental search found, among many unrelated holds', () => {
  const engine = new Engine({ namespace: 'sweep' });
  engine.addClient({ id: 'c', service: 's', instance: 'i' });
  const ev: ClientEvent[] = [];
  // holds nobody waits for: outside every verdict, and outside the sweep's scope
  for (let i = 0; i < 2_000; i++) ev.push({ type: 'resource', resource: `idle${i}`, kind: 'mutex', scope: 'local' }, { type: 'hold', owner: `h${i}`, resource: `idle${i}` });
  // a ring through a pool (2 units, both held inside the ring), a FIFO mutex with a queue-mate, and a task join
  ev.push(
    { type: 'resource', resource: 'pool', kind: 'semaphore', scope: 'local', capacity: 2 },
    { type: 'resource', resource: 'm', kind: 'mutex', scope: 'local', fifo: true },
    { type: 'hold', owner: 'a', resource: 'pool' },
    { type: 'hold', owner: 'b', resource: 'pool' },
    { type: 'hold', owner: 'c', resource: 'm' },
    { type: 'wait', waitId: 'wq', owner: 'q', resource: 'm' },
    { type: 'wait', waitId: 'wa', owner: 'a', resource: 'm' },
    { type: 'wait', waitId: 'wb', owner: 'b', task: 'a' },
    { type: 'wait', waitId: 'wc', owner: 'c', resource: 'pool' },
  );
  const found = engine.applyBatch('c', ev);
  assert.deepEqual(found.errors, []);
  assert.ok(found.found.length >= 1, 'the incremental search finds the ring');
  // nothing opened in a book: the sweep must find the same deadlocks by itself
  const swept = engine.sweep().map((f) => f.deadlock.key).sort();
  assert.deepEqual(swept, found.found.map((f) => f.deadlock.key).sort());
});

test("the sweep's scope takes in holders that do not wait: a running holder's units free the cycle, no deadlock", () => {
  const engine = new Engine({ namespace: 'sweep' });
  engine.addClient({ id: 'c', service: 's', instance: 'i' });
  const r = engine.applyBatch('c', [
    { type: 'resource', resource: 'pool', kind: 'semaphore', scope: 'local', capacity: 2 },
    { type: 'resource', resource: 'm', kind: 'mutex', scope: 'local' },
    { type: 'hold', owner: 'x', resource: 'pool' }, // runs, and will give its unit back
    { type: 'hold', owner: 'a', resource: 'pool' },
    { type: 'hold', owner: 'c', resource: 'm' },
    { type: 'wait', waitId: 'wa', owner: 'a', resource: 'm' },
    { type: 'wait', waitId: 'wc', owner: 'c', resource: 'pool' },
  ]);
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.found, [], 'a cycle that a running holder breaks');
  assert.deepEqual(engine.sweep(), [], 'the sweep agrees: x is in its scope though x waits for nothing');
});
