// Deadlock signatures (engine/signature.ts): the same for every recurrence of
// one pattern (other ids, names with other numbers, other times, a longer ring
// of the same code), different when the code or the lock classes differ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientEvent, DeadlockReport } from '@deadlockd/proto';
import { BookedEngine } from './booked-engine.js';

let clock = 1_000;
function engine(): BookedEngine {
  const e = new BookedEngine({ namespace: 'test', now: () => (clock += 37) });
  e.addClient({ id: 'c1', service: 'bank', instance: 'i1' });
  e.addClient({ id: 'c2', service: 'bank', instance: 'i2' });
  return e;
}

const stackAt = (fn: string, line: number, col = 5): string =>
  [`Error`, `at Mutex.acquire (/app/node_modules/@deadlockd/client/dist/src/mutex.js:40:11)`, `at ${fn} (/app/src/bank.js:${line}:${col})`, `at processTicksAndRejections (node:internal/process/task_queues:95:5)`].join('\n');

interface Ring {
  /** resource names, one per member; member i holds names[i] and waits for names[i+1] */
  names: string[];
  client?: string;
  prefix?: string;
  /** the wait's call site: function and line */
  site?: (i: number) => [string, number];
  cls?: string;
  scope?: 'local' | 'global';
}

/** A ring of owners, each holding one mutex and waiting for the next one's: one deadlock; its report. */
function ring(e: BookedEngine, r: Ring): DeadlockReport {
  const client = r.client ?? 'c1';
  const p = r.prefix ?? 'x';
  const n = r.names.length;
  const events: ClientEvent[] = r.names.map((name) => ({ type: 'resource', resource: name, kind: 'mutex', scope: r.scope ?? 'local', ...(r.cls ? { class: r.cls } : {}) }));
  for (let i = 0; i < n; i++) events.push({ type: 'owner', owner: `${p}o${i}` }, { type: 'hold', owner: `${p}o${i}`, resource: r.names[i]! });
  const waits: ClientEvent[] = r.names.map((_, i) => {
    const [fn, line] = r.site?.(i) ?? ['transfer', 12];
    return { type: 'wait', waitId: `${p}w${i}`, owner: `${p}o${i}`, resource: r.names[(i + 1) % n]!, stack: stackAt(fn, line, 5 + i) };
  });
  const res = e.applyBatch(client, [...events, ...waits]);
  assert.deepEqual(res.errors, []);
  assert.equal(res.deadlocks.length, 1, 'one deadlock');
  return res.deadlocks[0]!.report;
}

test('a recurrence with other ids, other account numbers and later times has the same signature', () => {
  const e = engine();
  const first = ring(e, { names: ['account:17', 'account:42'], prefix: 'a' });
  const again = ring(e, { names: ['account:9001', 'account:5'], prefix: 'b', client: 'c2' });
  assert.match(first.signature ?? '', /^DS-[0-9a-f]{10}$/);
  assert.notEqual(first.id, again.id);
  assert.notEqual(first.detectedAt, again.detectedAt);
  assert.equal(again.signature, first.signature);
  assert.deepEqual(again.pattern, first.pattern);
  // readable: the service, the call site without its column and the SDK's and Node's frames, the class with ids masked
  assert.deepEqual(first.pattern, ['bank at transfer (/app/src/bank.js:12) waits for bank:account:#, held by bank']);
});

test('a longer ring of the same code is the same pattern; a uuid or hex id is masked like a number', () => {
  const e = engine();
  const two = ring(e, { names: ['seat-1', 'seat-2'], prefix: 'p' });
  const five = ring(e, { names: ['seat-3', 'seat-4', 'seat-5', 'seat-6', 'seat-7'], prefix: 'q' });
  assert.equal(five.signature, two.signature);
  const uuidA = ring(e, { names: ['order:6f1c2a9e-1b2c-4d5e-8f90-0a1b2c3d4e5f', 'order:0d9e8f7a-6b5c-4d3e-9f21-a0b1c2d3e4f5'], prefix: 'u' });
  const uuidB = ring(e, { names: ['order:11111111-2222-4333-8444-555555555555', 'order:deadbeef1234'], prefix: 'v' });
  assert.equal(uuidA.signature, uuidB.signature);
  assert.deepEqual(uuidA.pattern, ['bank at transfer (/app/src/bank.js:12) waits for bank:order:#, held by bank']);
});

test('other call sites, another lock class or another service make another signature', () => {
  const e = engine();
  const base = ring(e, { names: ['a1', 'a2'], prefix: 'b' }).signature;
  const otherLine = ring(e, { names: ['a3', 'a4'], prefix: 'l', site: () => ['transfer', 13] }).signature;
  const otherFn = ring(e, { names: ['a5', 'a6'], prefix: 'f', site: (i) => (i === 0 ? ['refund', 12] : ['transfer', 12]) }).signature;
  const otherClass = ring(e, { names: ['b1', 'b2'], prefix: 'k' }).signature;
  const declared = ring(e, { names: ['z1', 'z2'], prefix: 'd', cls: 'account', scope: 'global' });
  e.addClient({ id: 'c3', service: 'ledger', instance: 'i3' });
  const otherService = ring(e, { names: ['a7', 'a8'], prefix: 's', client: 'c3' }).signature;
  const all = [base, otherLine, otherFn, otherClass, declared.signature, otherService];
  assert.equal(new Set(all).size, all.length, `all different: ${all.join(', ')}`);
  // a declared class is the class as given (shared: no service prefix, nothing masked)
  assert.deepEqual(declared.pattern, ['bank at transfer (/app/src/bank.js:12) waits for account, held by bank']);
});

test('a shared class declared on two instances groups them whatever their names', () => {
  const e = engine();
  const one = ring(e, { names: ['alice', 'bob'], prefix: 'm', cls: 'account', scope: 'global' });
  const two = ring(e, { names: ['carol', 'dave'], prefix: 'n', cls: 'account', scope: 'global', client: 'c2' });
  assert.equal(two.signature, one.signature);
});
