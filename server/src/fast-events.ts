// A fast path for the hot frames, `events` and `snapshot`: the same checks as
// the zod schemas of @deadlockd/proto (which stay the protocol's source), hand
// written for the objects JSON.parse returns. It never decides that a frame is
// bad: anything it does not accept (bad values, unknown event types, …) goes
// to zod, which either accepts it after all or writes the error message.
// server/test/fast-events.test.ts checks, property-based, that whatever this
// accepts zod accepts with an equal result, and that it accepts every frame
// zod accepts.
//
// Why: zod cost ~20 % of ingest CPU at 100 events/frame (issue 11). Events
// whose keys are all known are validated in place and returned as they are —
// no copy per event; only an event with unknown keys is copied without them
// (zod strips unknown keys too).
import type { ClientEvent, EventsFrame, SnapshotFrame } from '@deadlockd/proto';

type Obj = Record<string, unknown>;

const isId = (v: unknown): boolean => typeof v === 'string' && v.length >= 1 && v.length <= 256;
const isStr = (v: unknown, max: number): boolean => typeof v === 'string' && v.length <= max;
const isMillis = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isUnits = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) > 0;
const isStack = (v: unknown): boolean => typeof v === 'string' && v.length <= 8192;
const isMode = (v: unknown): boolean => v === 'shared' || v === 'exclusive';
const isKind = (v: unknown): boolean => v === 'mutex' || v === 'rwlock' || v === 'semaphore';
const isReason = (v: unknown): boolean => v === 'timeout' || v === 'signal' || v === 'deadlock' || v === 'error';
const isScope = (v: unknown): boolean => v === 'local' || v === 'global';
const isBool = (v: unknown): boolean => typeof v === 'boolean';
const isLabel = (v: unknown): boolean => isStr(v, 512);

/** An optional key: present counts 1, absent 0; present and invalid sets `bad` (the event goes to zod). */
let bad = false;
function opt(e: Obj, key: string, check: (v: unknown) => boolean): number {
  const v = e[key];
  if (v === undefined) return 0;
  if (!check(v)) bad = true;
  return 1;
}

/** Known keys per event type, for the (rare) copy of an event that carries unknown ones. */
const KEYS: Record<string, readonly string[]> = {
  order: ['type', 'held', 'acquired', 'owner', 'stack'],
  owner: ['type', 'owner', 'name', 'priority', 'abortable', 'startedAt'],
  end: ['type', 'owner'],
  resource: ['type', 'resource', 'kind', 'scope', 'capacity', 'fifo', 'label'],
  wait: ['type', 'waitId', 'owner', 'resource', 'task', 'mode', 'units', 'since', 'stack'],
  grant: ['type', 'waitId', 'since'],
  cancel: ['type', 'waitId', 'reason'],
  hold: ['type', 'owner', 'resource', 'mode', 'units', 'since', 'stack'],
  release: ['type', 'owner', 'resource', 'mode', 'units'],
};

/** How many known keys the event has, or -1 if it is not a valid event. */
function knownKeys(e: Obj): number {
  bad = false;
  let n: number;
  switch (e['type']) {
    case 'hold':
      if (!isId(e['owner']) || !isId(e['resource'])) return -1;
      n = 3 + opt(e, 'mode', isMode) + opt(e, 'units', isUnits) + opt(e, 'since', isMillis) + opt(e, 'stack', isStack);
      break;
    case 'wait':
      if (!isId(e['waitId']) || !isId(e['owner'])) return -1;
      n = 3 + opt(e, 'resource', isId) + opt(e, 'task', isId) + opt(e, 'mode', isMode) + opt(e, 'units', isUnits);
      n += opt(e, 'since', isMillis) + opt(e, 'stack', isStack);
      break;
    case 'release':
      if (!isId(e['owner']) || !isId(e['resource'])) return -1;
      n = 3 + opt(e, 'mode', isMode) + opt(e, 'units', isUnits);
      break;
    case 'grant':
      if (!isId(e['waitId'])) return -1;
      n = 2 + opt(e, 'since', isMillis);
      break;
    case 'cancel':
      if (!isId(e['waitId'])) return -1;
      n = 2 + opt(e, 'reason', isReason);
      break;
    case 'end':
      if (!isId(e['owner'])) return -1;
      n = 2;
      break;
    case 'owner':
      if (!isId(e['owner'])) return -1;
      n = 2 + opt(e, 'name', isLabel) + opt(e, 'priority', Number.isSafeInteger);
      n += opt(e, 'abortable', isBool) + opt(e, 'startedAt', isMillis);
      break;
    case 'resource':
      if (!isId(e['resource']) || !isKind(e['kind'])) return -1;
      n = 3 + opt(e, 'scope', isScope) + opt(e, 'capacity', isUnits);
      n += opt(e, 'fifo', isBool) + opt(e, 'label', isLabel);
      break;
    case 'order':
      if (!isId(e['held']) || !isId(e['acquired'])) return -1;
      n = 3 + opt(e, 'owner', isId) + opt(e, 'stack', isStack);
      break;
    default:
      return -1;
  }
  return bad ? -1 : n;
}

function countKeys(e: Obj): number {
  let n = 0;
  // JSON.parse objects have only own keys (a "__proto__" key is an own one: unknown, so copied away)
  for (const _ in e) n++;
  return n;
}

/** The event as zod would return it, or undefined to let zod decide. */
function fastEvent(raw: unknown): ClientEvent | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const e = raw as Obj;
  const known = knownKeys(e);
  if (known < 0) return undefined;
  let out = e;
  if (countKeys(e) !== known) {
    out = {};
    for (const k of KEYS[e['type'] as string] as readonly string[]) if (e[k] !== undefined) out[k] = e[k];
  }
  if (out['type'] === 'resource' && out['scope'] === undefined) out['scope'] = 'local';
  return out as ClientEvent;
}

/** Validates (in place) every event; false if one of them needs zod. */
function fastEventList(events: unknown): events is ClientEvent[] {
  if (!Array.isArray(events)) return false;
  for (let i = 0; i < events.length; i++) {
    const e = fastEvent(events[i]);
    if (e === undefined) return false;
    if (e !== events[i]) events[i] = e;
  }
  return true;
}

const isSeq = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** An `events` frame as zod's EventsFrame would return it, or undefined to let zod decide. */
export function fastEventsFrame(value: Obj): EventsFrame | undefined {
  if (value['type'] !== 'events') return undefined;
  const seq = value['seq'];
  const events = value['events'];
  if (!isSeq(seq) || !fastEventList(events)) return undefined;
  return { type: 'events', seq, events };
}

/** A `snapshot` frame as zod's SnapshotFrame would return it, or undefined to let zod decide. */
export function fastSnapshotFrame(value: Obj): SnapshotFrame | undefined {
  if (value['type'] !== 'snapshot') return undefined;
  const seq = value['seq'];
  const events = value['events'];
  const more = value['more'];
  if (!isSeq(seq) || (more !== undefined && typeof more !== 'boolean') || !fastEventList(events)) return undefined;
  return more === undefined ? { type: 'snapshot', seq, events } : { type: 'snapshot', seq, events, more };
}
