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
