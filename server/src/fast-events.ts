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
const isHandle = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;
/** a wait's, hold's or release's resource: its name or its handle */
const isRef = (v: unknown): boolean => isId(v) || isHandle(v);
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
const BACKEND_KEYS = ['pid', 'database', 'system', 'role'] as const;
/** ResourceEvent.backend (extra keys allowed here: fastEvent strips them, as zod does) */
const isBackend = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const b = v as Obj;
  return (
    Number.isSafeInteger(b['pid']) && (b['pid'] as number) > 0 &&
    isId(b['database']) &&
    isStr(b['system'], 64) &&
    (b['role'] === 'connection' || b['role'] === 'statement')
  );
};

const isHex = (v: unknown, n: number): boolean => typeof v === 'string' && v.length === n && /^[0-9a-f]+$/.test(v);
/** TraceContext (extra keys allowed here: fastEvent strips them, as zod does) */
const isTrace = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const t = v as Obj;
  return isHex(t['traceId'], 32) && isHex(t['spanId'], 16);
};
/** OwnerAttributes: at most 32 keys of 1-64 characters; values strings (<= 256), finite numbers, booleans */
const isAttributes = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  let n = 0;
  for (const k in v as Obj) {
    if (++n > 32 || k.length < 1 || k.length > 64) return false;
    const x = (v as Obj)[k];
    if (!(typeof x === 'string' ? x.length <= 256 : typeof x === 'number' ? Number.isFinite(x) : typeof x === 'boolean')) return false;
  }
  return true;
};

type Check = (v: unknown) => boolean;
interface Rules {
  /** keys that must be present and valid, besides `type` */
  required: readonly (readonly [string, Check])[];
  optional: readonly (readonly [string, Check])[];
  /** every key zod's schema of this event type knows, `type` included (what a copy keeps) */
  keys: readonly string[];
}

const REQUEST: [string, Check][] = [
  ['mode', isMode],
  ['units', isUnits],
];

function rules(required: [string, Check][], optional: [string, Check][]): Rules {
  return { required, optional, keys: ['type', ...required.map(([k]) => k), ...optional.map(([k]) => k)] };
}

/**
 * The rules of each event type, as in proto/src/frames.ts. A key added to a schema there and
 * not here fails server/test/fast-events.test.ts (the keys must match zod's shapes exactly).
 */
export const EVENT_RULES: Record<string, Rules> = {
  order: rules(
    [['held', isId], ['acquired', isId]],
    [['owner', isId], ['stack', isStack], ['heldMode', isMode], ['mode', isMode]],
  ),
  owner: rules([['owner', isId]], [['name', isLabel], ['priority', Number.isSafeInteger], ['abortable', isBool], ['startedAt', isMillis], ['attributes', isAttributes], ['trace', isTrace]]),
  end: rules([['owner', isId]], []),
  resource: rules(
    [['resource', isId], ['kind', isKind]],
    [['scope', isScope], ['capacity', isUnits], ['fifo', isBool], ['label', isLabel], ['reentrant', isBool], ['handle', isHandle], ['class', isId], ['backend', isBackend]],
  ),
  wait: rules(
    [['waitId', isId], ['owner', isId]],
    [['resource', isRef], ['task', isId], ...REQUEST, ['since', isMillis], ['stack', isStack], ['trace', isTrace]],
  ),
  grant: rules([['waitId', isId]], [['since', isMillis]]),
  cancel: rules([['waitId', isId]], [['reason', isReason]]),
  hold: rules([['owner', isId], ['resource', isRef]], [...REQUEST, ['since', isMillis], ['stack', isStack]]),
  release: rules([['owner', isId], ['resource', isRef]], [...REQUEST]),
};

type KnownKeys = (e: Obj) => number;

/**
 * How many known keys the event has, or -1 if it is not a valid event (or zod must say why).
 * Compiled once per event type from its Rules, so that every key is read by a constant name:
 * a loop reading `e[k]` over the keys of nine event shapes is megamorphic and cost about as
 * much as the rest of validation together (issue 11). The source is built from the keys of
 * EVENT_RULES only (written here, quoted with JSON.stringify); the checks are passed in.
 */
function compileKnownKeys(r: Rules): KnownKeys {
  const checks: Check[] = [];
  const lines: string[] = [];
  const read = (k: string): string => `e[${JSON.stringify(k)}]`;
  for (const [k, check] of r.required) lines.push(`if (!c[${checks.push(check) - 1}](${read(k)})) return -1;`);
  lines.push(`let n = ${1 + r.required.length}; let v;`);
  for (const [k, check] of r.optional)
    lines.push(`v = ${read(k)}; if (v !== undefined) { if (!c[${checks.push(check) - 1}](v)) return -1; n++; }`);
  lines.push('return n;');
  return new Function('c', `return function knownKeys(e) { ${lines.join(' ')} };`)(checks) as KnownKeys;
}

/** each event type's rules and compiled check, found with one lookup per event (a Map: no prototype keys to guard against) */
const CHECKS = new Map<string, { rules: Rules; knownKeys: KnownKeys }>(Object.entries(EVENT_RULES).map(([t, r]) => [t, { rules: r, knownKeys: compileKnownKeys(r) }]));

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
  const type = e['type'];
  const check = typeof type === 'string' ? CHECKS.get(type) : undefined;
  if (check === undefined) return undefined;
  const known = check.knownKeys(e);
  if (known < 0) return undefined;
  let out = e;
  if (countKeys(e) !== known) {
    out = {};
    for (const k of check.rules.keys) if (e[k] !== undefined) out[k] = e[k];
  }
  if (out['type'] === 'resource') {
    if (out['scope'] === undefined) out['scope'] = 'local';
    // the one nested object of an event: zod strips its unknown keys too
    const b = out['backend'] as Obj | undefined;
    if (b !== undefined && countKeys(b) !== BACKEND_KEYS.length) {
      const kept: Obj = {};
      for (const k of BACKEND_KEYS) kept[k] = b[k];
      out['backend'] = kept;
    }
  }
  // owner and wait events: a trace context with unknown keys keeps its two ids only
  const t = out['trace'] as Obj | undefined;
  if (t !== undefined && countKeys(t) !== 2) {
    if (out === e) out = { ...e };
    out['trace'] = { traceId: t['traceId'], spanId: t['spanId'] };
  }
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
