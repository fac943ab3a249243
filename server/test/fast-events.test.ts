// The fast path of fast-events.ts against the zod schemas it stands in for:
// on frames built near the edges of every rule (lengths 0/1/256/257, unsafe
// integers, wrong enum values, wrong types, unknown keys, `__proto__`), sent
// through JSON like the real input:
//   - whatever the fast path accepts, zod accepts, with an equal result;
//   - whatever zod accepts, the fast path accepts (so zod only runs for errors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ClientEvent, EventsFrame, SnapshotFrame } from '@deadlockd/proto';
import { EVENT_RULES, fastEventsFrame, fastSnapshotFrame } from '../src/fast-events.js';
import { validateFrame } from '../src/frame-decoder.js';

const s = (n: number) => 'x'.repeat(n);
const anyValue = fc.constantFrom<unknown>(null, true, false, 0, -1, 1, 1.5, 2 ** 53, -(2 ** 53), 1e308, '', 'a', [], {}, { a: 1 });
const id = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('a', 'w1', s(256)) }, fc.constantFrom('', s(257), 7, null));
const str512 = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('', 'label', s(512)) }, fc.constantFrom(s(513), 3));
const stack = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('', 'at f (x.js:1:1)', s(8192)) }, fc.constantFrom(s(8193), false));
const millis = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1.5, 1_700_000_000_000, 2 ** 60) }, fc.constantFrom(-1, '1', null));
const units = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(1, 3, 2 ** 53 - 1) }, fc.constantFrom(0, -2, 1.5, 2 ** 53, '1'));
const int = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, -5, 7, 2 ** 53 - 1) }, fc.constantFrom(0.5, 2 ** 53, 'x'));
// a resource handle: 0 and up, safe integers only
const handle = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1, 99_999, 2 ** 53 - 1) }, fc.constantFrom(-1, 0.5, 2 ** 53, '0', null));
// a wait's, hold's or release's resource: a name or a handle
const ref = fc.oneof(id, handle);
const bool = fc.oneof({ weight: 4, arbitrary: fc.boolean() }, fc.constantFrom(0, 'true', null));
const oneOf = (...v: string[]) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...v) }, fc.constantFrom('other', 1, null));
// ResourceEvent.backend: a valid one, one with a bad field, one with a key too many (zod strips it)
const backend = fc.oneof(
  { weight: 4, arbitrary: fc.record({ pid: fc.constantFrom(1, 4242), database: fc.constantFrom('d', s(256)), system: fc.constantFrom('', '7123', s(64)), role: fc.constantFrom('connection', 'statement') }) },
  fc.constantFrom<unknown>({ pid: 0, database: 'd', system: '', role: 'connection' }, { pid: 1, database: '', system: '', role: 'statement' }, { pid: 1, database: 'd', system: s(65), role: 'connection' }, { pid: 1, database: 'd', system: '', role: 'other' }, { pid: 1, database: 'd', system: '', role: 'connection', extra: 1 }, null, 'b'),
);

// every key of each event type, each present or absent; required keys are absent only sometimes
const trace = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' }) },
  fc.constantFrom<unknown>({ traceId: '4BF92F3577B34DA6A3CE929D0E0E4736', spanId: '00f067aa0ba902b7' }, { traceId: 'ab', spanId: '00f067aa0ba902b7' },
    { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', extra: 1 }, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736' }, null, 't'),
);
const attributes = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<unknown>({}, { orderId: 'o-7', attempt: 2, retry: true }, { [s(64)]: s(256) }, Object.fromEntries(Array.from({ length: 32 }, (_, i) => [`k${i}`, i]))) },
  fc.constantFrom<unknown>({ '': 1 }, { [s(65)]: 1 }, { a: s(257) }, { a: null }, { a: { b: 1 } }, { a: [1] }, Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i])), [], 'a'),
);
const SHAPES: Record<string, Record<string, fc.Arbitrary<unknown>>> = {
  order: { held: id, acquired: id, owner: id, stack, heldMode: oneOf('shared', 'exclusive'), mode: oneOf('shared', 'exclusive') },
  owner: { owner: id, name: str512, priority: int, abortable: bool, startedAt: millis, attributes, trace },
  end: { owner: id },
  resource: { resource: id, kind: oneOf('mutex', 'rwlock', 'semaphore'), scope: oneOf('local', 'global'), capacity: units, fifo: bool, label: str512, reentrant: bool, handle, class: id, backend },
  wait: { waitId: id, owner: id, resource: ref, task: id, mode: oneOf('shared', 'exclusive'), units, since: millis, stack, trace },
  grant: { waitId: id, since: millis },
  cancel: { waitId: id, reason: oneOf('timeout', 'signal', 'deadlock', 'error') },
  hold: { owner: id, resource: ref, mode: oneOf('shared', 'exclusive'), units, since: millis, stack },
  release: { owner: id, resource: ref, mode: oneOf('shared', 'exclusive'), units },
};

const extraKey = fc.constantFrom('extra', '__proto__', 'constructor', 'toString', 'Type');

/** An own enumerable property even for `__proto__`, so JSON.stringify writes it. */
function put(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

const event: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 20, arbitrary: fc.constantFrom(...Object.keys(SHAPES)).chain((type) => {
    const shape = SHAPES[type] as Record<string, fc.Arbitrary<unknown>>;
    const keys = Object.keys(shape);
    return fc
      .tuple(
        fc.tuple(...keys.map((k) => fc.option(shape[k] as fc.Arbitrary<unknown>, { freq: 3, nil: undefined }))),
        fc.array(fc.tuple(extraKey, anyValue), { maxLength: 2 }),
        fc.boolean(),
      )
      .map(([values, extras, typeFirst]) => {
        const e: Record<string, unknown> = {};
        if (typeFirst) e['type'] = type;
        keys.forEach((k, i) => values[i] !== undefined && put(e, k, values[i]));
        for (const [k, v] of extras) put(e, k, v);
        if (!typeFirst) put(e, 'type', type);
        return e;
      });
  }) },
  { weight: 1, arbitrary: anyValue },
  { weight: 1, arbitrary: fc.record({ type: fc.constantFrom('unknown', 'Hold', 1) }) },
);

const frame = (type: 'events' | 'snapshot') =>
  fc
    .record({
      seq: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 1, 2 ** 53 - 1) }, fc.constantFrom(-1, 1.5, 2 ** 53, '1')),
      events: fc.oneof({ weight: 10, arbitrary: fc.array(event, { maxLength: 6 }) }, anyValue),
      more: fc.option(bool, { nil: undefined }),
      extra: fc.option(anyValue, { nil: undefined }),
    })
    .map((f) => JSON.stringify({ type, ...f }));

function check(text: string, fast: (v: Record<string, unknown>) => unknown, schema: typeof EventsFrame | typeof SnapshotFrame): void {
  const z = schema.safeParse(JSON.parse(text));
  const f = fast(JSON.parse(text) as Record<string, unknown>);
  if (f !== undefined) {
    assert.ok(z.success, `fast path accepted what zod rejects: ${text.slice(0, 300)}`);
    assert.deepStrictEqual(f, z.data);
  }
  if (z.success) assert.notEqual(f, undefined, `zod accepts but the fast path does not: ${text.slice(0, 300)}`);
}

test('the fast path and this test know exactly the event types and keys of the zod schemas', () => {
  const zodKeys = Object.fromEntries(
    ClientEvent.options.map((o) => [String(o.shape.type.value), Object.keys(o.shape).sort()]),
  );
  const fastKeys = Object.fromEntries(Object.entries(EVENT_RULES).map(([t, r]) => [t, [...r.keys].sort()]));
  const testKeys = Object.fromEntries(Object.entries(SHAPES).map(([t, shape]) => [t, ['type', ...Object.keys(shape)].sort()]));
  assert.deepEqual(fastKeys, zodKeys, 'server/src/fast-events.ts EVENT_RULES is out of step with proto/src/frames.ts');
  assert.deepEqual(testKeys, zodKeys, 'SHAPES in this test is out of step with proto/src/frames.ts');
});

test('fast events path: accepts exactly what zod accepts, with the same result', () => {
  fc.assert(fc.property(frame('events'), (text) => check(text, fastEventsFrame, EventsFrame)), { numRuns: 3_000 });
});

test('fast snapshot path: accepts exactly what zod accepts, with the same result', () => {
  fc.assert(fc.property(frame('snapshot'), (text) => check(text, fastSnapshotFrame, SnapshotFrame)), { numRuns: 1_500 });
});

test('validateFrame still reports zod errors with the event index when the fast path declines', () => {
  const value = JSON.parse(JSON.stringify({ type: 'events', seq: 4, events: [{ type: 'end', owner: 'a' }, { type: 'hold', owner: 'a', resource: '' }] }));
  const v = validateFrame({ type: 'events', value }, 1_000);
  assert.equal(v.ok, false);
  if (v.ok) return;
  assert.equal(v.code, 'BAD_FRAME');
  assert.deepEqual(v.ref, { seq: 4, index: 1 });
  assert.match(v.message, /events\.1\.resource/);
});

test('the fast path keeps the parsed events (no copy) unless they carry unknown keys', () => {
  const value = JSON.parse('{"type":"events","seq":1,"events":[{"type":"hold","owner":"a","resource":"r"},{"type":"grant","waitId":"w","x":1}]}');
  const [plain, extra] = value.events;
  const f = fastEventsFrame(value);
  assert.ok(f);
  assert.equal(f.events[0], plain);
  assert.notEqual(f.events[1], extra);
  assert.deepEqual(f.events[1], { type: 'grant', waitId: 'w' });
});
