// Protocol conformance vectors: one language-neutral description of what the daemon answers to
// client frames (daemon side) and what an SDK answers to daemon frames (SDK side). Built here from
// the zod schemas and the error table, so a frame's validity and an error's `fatal` flag are never
// written twice; written to proto/conformance/*.json by gen-conformance.ts (checked in, a test
// fails when stale). Runners: test/test/conformance-*.test.ts (real daemon, Node SDK) and
// client-sdk/python/tests/test_conformance.py (Python SDK). proto/conformance/README.md says how
// to drive them from a new SDK.
import { ClientFrame, PROTOCOL_VERSION, ServerFrame } from './frames.js';
import { ERROR_CODES, ERROR_CODE_LIST, type ErrorCode } from './errors.js';

const CONFORMANCE_VERSION = 1;

/** What the runner sends: a frame (sent as JSON text) or raw text. */
export type Sent = { frame: unknown } | { raw: string };

/** An expected daemon frame: every field given must be equal in the received frame (deep subset). */
export type Expected = Record<string, unknown>;

export interface DaemonVector {
  name: string;
  /** send the suite's `hello` first and expect a `welcome` (not listed in `expect`) */
  helloFirst: boolean;
  send: Sent[];
  /** the daemon's frames, in order, and no others (the barrier's own answer excluded) */
  expect: Expected[];
  /** `open`: a barrier round trip succeeds afterwards; `closed`: the daemon closes the connection */
  then: 'open' | 'closed';
}

export interface DaemonSuite {
  /** flags the daemon under test is started with (limits some vectors reach) */
  daemonArgs: string[];
  hello: Record<string, unknown>;
  /**
   * Proves that everything sent before it was processed: releasing a resource nobody holds answers
   * NOT_HELD with `ref.seq` equal to this frame's seq, in order with everything else.
   */
  barrier: Record<string, unknown>;
  vectors: DaemonVector[];
  /** error codes no vector reaches, and why (each is tested elsewhere) */
  notCovered: Record<string, string>;
}

/**
 * SDK side. The harness plays the daemon (a WebSocket server) for an SDK connected with service
 * `conformance`, and:
 * 1. reads the `hello` (it must match `hello`) and answers `welcome` (placeholders resolved);
 * 2. runs `setup` in the SDK: `blocked-wait`: one owner holds the lock `conf-lock`, a second one
 *    blocks acquiring it; the harness reads events until the `wait` on `conf-lock` (named by its
 *    name, or by the handle its `resource` declaration gave it) and binds `$waitId` and `$owner`
 *    (its waitId and owner); `none`: nothing; then, if given, checks `setupExpect` against every
 *    frame received so far;
 * 3. sends `send` (placeholders resolved) and reads the SDK's frames: `expect` must appear in that
 *    order (other frames may come between). Events of `events`/`snapshot` frames are matched one by
 *    one as `{ "event": <event> }`; other frames as themselves;
 * 4. checks `after`: `deadlock-error`: the blocked acquire failed with the SDK's deadlock error,
 *    naming `deadlockId`; `still-waiting`: it is still blocked (after the expected frames arrived);
 *    `none`: nothing; and, if given, `eventsPerFrameAtMost` over every events/snapshot frame;
 *    `callbacks`: the SDK's deadlock/hazard callbacks were called with these report/hazard ids.
 * Placeholders: `$waitId`, `$owner`; `$now` (the harness's epoch ms), `$now+N`, `$now-N`.
 */
export interface SdkVector {
  name: string;
  welcome: Record<string, unknown>;
  setup: 'blocked-wait' | 'none';
  /** after the setup: the SDK's frames so far must contain these in order (matched as `expect` is) */
  setupExpect?: Expected[];
  send: Record<string, unknown>[];
  expect: Expected[];
  after: 'deadlock-error' | 'still-waiting' | 'none';
  deadlockId?: string;
  eventsPerFrameAtMost?: number;
  callbacks?: { deadlock?: string[]; hazard?: string[] };
}

export interface SdkSuite {
  hello: Expected;
  /**
   * fields the SDK's hello must have, with their JSON type (`string`, `integer`), whatever their
   * value (the machine and process differ per run): the process's host name and pid
   */
  helloTypes: Record<string, 'string' | 'integer'>;
  vectors: SdkVector[];
}

const HELLO = { type: 'hello', protocol: PROTOCOL_VERSION, service: 'conformance', instance: 'conformance-1' };
const BARRIER_SEQ = 999_999;
const DAEMON_ARGS = ['--max-events-per-frame', '50', '--max-snapshot-events', '100'];
const MAX_EVENTS = 50;
const MAX_SNAPSHOT = 100;

function error(code: ErrorCode, ref?: { seq?: number; index?: number }): Expected {
  const e: Expected = { type: 'error', code, fatal: ERROR_CODES[code].fatal };
  if (ref !== undefined) e.ref = ref;
  return e;
}

/** A frame the schema must accept (checked here, so a vector can never drift from frames.ts). */
function valid(frame: Record<string, unknown>): Sent {
  const r = ClientFrame.safeParse(frame);
  if (!r.success) throw new Error(`conformance: a frame meant to be valid is not: ${JSON.stringify(frame)}\n${r.error.message}`);
  return { frame };
}

/** A frame the schema must reject. */
function invalid(frame: Record<string, unknown>): Sent {
  if (ClientFrame.safeParse(frame).success) throw new Error(`conformance: a frame meant to be invalid parses: ${JSON.stringify(frame)}`);
  return { frame };
}

const mutex = (resource: string) => ({ type: 'resource', resource, kind: 'mutex' });
const sem = (resource: string, capacity: number) => ({ type: 'resource', resource, kind: 'semaphore', capacity });
const owner = (id: string) => ({ type: 'owner', owner: id });
const hold = (o: string, resource: string | number) => ({ type: 'hold', owner: o, resource });
const wait = (waitId: string, o: string, resource: string | number) => ({ type: 'wait', waitId, owner: o, resource });
const events = (seq: number, evs: unknown[]) => valid({ type: 'events', seq, events: evs });

function daemonVectors(): DaemonVector[] {
  const v: DaemonVector[] = [];
  const add = (name: string, helloFirst: boolean, send: Sent[], expect: Expected[], then: 'open' | 'closed') =>
    v.push({ name, helloFirst, send, expect, then });

  add('hello is answered by welcome', false, [valid(HELLO)],
    [{ type: 'welcome', protocol: PROTOCOL_VERSION, resumed: false }], 'open');
  add('hello resuming an unknown session starts a new one', false, [valid({ ...HELLO, resume: 'no-such-session' })],
    [{ type: 'welcome', resumed: false }], 'open');
  add('hello with host, pid and a user-set instance name is answered by welcome', false,
    [valid({ ...HELLO, instance: 'checkout-blue', host: 'web-7', pid: 4242 })], [{ type: 'welcome', resumed: false }], 'open');
  add('a hello with pid 0 does not match the schema', false, [invalid({ ...HELLO, pid: 0 })], [error('BAD_FRAME')], 'closed');
  add('a task with user attributes and a trace context, waiting in a span, is accepted', true,
    [events(1, [mutex('m'), owner('a'),
      { type: 'owner', owner: 'b', name: 'checkout', attributes: { orderId: 'o-7', attempt: 2, retry: true },
        trace: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' } },
      hold('a', 'm'), { ...wait('w1', 'b', 'm'), trace: { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '53995c3f42cd8ad8' } }])],
    [], 'open');
  add('an owner attribute of the wrong type does not match the schema', true,
    [invalid({ type: 'events', seq: 1, events: [{ type: 'owner', owner: 'a', attributes: { nested: { no: 1 } } }] })], [error('BAD_FRAME')], 'closed');
  add('an unsupported protocol version is refused', false, [valid({ ...HELLO, protocol: 999 })],
    [error('PROTOCOL_VERSION')], 'closed');
  add('the first frame must be hello', false, [events(1, [owner('a')])], [error('HELLO_REQUIRED')], 'closed');
  add('a hello without service does not match the schema', false,
    [invalid({ type: 'hello', protocol: PROTOCOL_VERSION, instance: 'x' })], [error('BAD_FRAME')], 'closed');
  add('a second hello', true, [valid(HELLO)], [error('DUPLICATE_HELLO')], 'closed');
  add('text that is not JSON', true, [{ raw: '{"type": "events", ' }], [error('BAD_JSON')], 'closed');
  add('an unknown frame type', true, [invalid({ type: 'teleport', seq: 1 })], [error('UNKNOWN_FRAME_TYPE')], 'closed');
  add('an event of the wrong shape', true, [invalid({ type: 'events', seq: 1, events: [{ type: 'owner', owner: 5 }] })],
    [error('BAD_FRAME')], 'closed');
  add('a well-formed batch is accepted without an answer', true,
    [events(1, [mutex('m'), owner('a'), hold('a', 'm'), { type: 'release', owner: 'a', resource: 'm' }, { type: 'end', owner: 'a' }])],
    [], 'open');
  add('a wait granted and a wait cancelled are accepted', true,
    [events(1, [mutex('m'), owner('a'), owner('b'), hold('a', 'm'), wait('w1', 'b', 'm'), { type: 'cancel', waitId: 'w1', reason: 'timeout' },
      wait('w2', 'b', 'm'), { type: 'release', owner: 'a', resource: 'm' }, { type: 'grant', waitId: 'w2' }])],
    [], 'open');
  add('release of what is not held: the event is rejected, the connection carries on', true,
    [events(1, [mutex('m'), owner('a'), { type: 'release', owner: 'a', resource: 'm' }])],
    [error('NOT_HELD', { seq: 1, index: 2 })], 'open');
  add('grant of a wait that is not pending', true, [events(1, [{ type: 'grant', waitId: 'nope' }])],
    [error('UNKNOWN_WAIT', { seq: 1, index: 0 })], 'open');
  add('a wait id already pending', true,
    [events(1, [mutex('m'), owner('a'), owner('b'), hold('a', 'm'), wait('w1', 'b', 'm'), wait('w1', 'b', 'm')])],
    [error('DUPLICATE_WAIT', { seq: 1, index: 5 })], 'open');
  add('a hold of an undeclared resource', true, [events(1, [owner('a'), hold('a', 'ghost')])],
    [error('UNKNOWN_RESOURCE', { seq: 1, index: 1 })], 'open');
  add('a task wait on an owner never reported', true,
    [events(1, [owner('a'), { type: 'wait', waitId: 'w1', owner: 'a', task: 'stranger' }])],
    [error('UNKNOWN_OWNER', { seq: 1, index: 1 })], 'open');
  add('a mode on a mutex', true, [events(1, [mutex('m'), owner('a'), { ...hold('a', 'm'), mode: 'shared' }])],
    [error('BAD_REQUEST_SIZE', { seq: 1, index: 2 })], 'open');
  add('more units than the capacity', true, [events(1, [sem('pool', 2), owner('a'), { ...hold('a', 'pool'), units: 3 }])],
    [error('BAD_REQUEST_SIZE', { seq: 1, index: 2 })], 'open');
  add('a semaphore of more than 2^24 units', true, [events(1, [sem('huge', 2 ** 24 + 1), sem('pool', 2 ** 24)])],
    [error('BAD_REQUEST_SIZE', { seq: 1, index: 0 })], 'open');
  add('one bad event does not undo the rest of its batch', true,
    [events(1, [mutex('m'), owner('a'), { type: 'grant', waitId: 'nope' }, hold('a', 'm')]),
      events(2, [{ type: 'release', owner: 'a', resource: 'm' }])],
    [error('UNKNOWN_WAIT', { seq: 1, index: 2 })], 'open');
  const many = Array.from({ length: MAX_EVENTS + 1 }, (_, i) => owner(`o${i}`));
  add(`a batch over --max-events-per-frame (${MAX_EVENTS})`, true, [events(1, many)], [error('TOO_MANY_EVENTS')], 'closed');
  add('a snapshot in parts is applied at its last part', true,
    [valid({ type: 'snapshot', seq: 1, events: [mutex('m'), owner('a')], more: true }),
      valid({ type: 'snapshot', seq: 2, events: [hold('a', 'm')] }),
      events(3, [{ type: 'release', owner: 'a', resource: 'm' }])],
    [], 'open');
  add('events between the parts of a snapshot', true,
    [valid({ type: 'snapshot', seq: 1, events: [owner('a')], more: true }), events(2, [owner('b')])],
    [error('SNAPSHOT_INCOMPLETE')], 'closed');
  const part = (from: number, n: number) => Array.from({ length: n }, (_, i) => owner(`s${from + i}`));
  add(`snapshot parts over --max-snapshot-events (${MAX_SNAPSHOT})`, true,
    [valid({ type: 'snapshot', seq: 1, events: part(0, MAX_EVENTS), more: true }),
      valid({ type: 'snapshot', seq: 2, events: part(MAX_EVENTS, MAX_EVENTS), more: true }),
      valid({ type: 'snapshot', seq: 3, events: part(2 * MAX_EVENTS, 1) })],
    [error('SNAPSHOT_TOO_LARGE')], 'closed');
  // resource handles (ResourceEvent.handle): a resource named by the small integer it was declared with
  add('the welcome lists the handles feature', false, [valid(HELLO)], [{ type: 'welcome', features: ['handles'] }], 'open');
  add('waits, holds and releases may name a resource by its handle', true,
    [events(1, [{ ...mutex('m'), handle: 0 }, { ...sem('pool', 2), handle: 1 }, owner('a'), owner('b'), hold('a', 0), wait('w1', 'b', 0),
      { type: 'cancel', waitId: 'w1' }, { type: 'release', owner: 'a', resource: 0 }, { ...hold('b', 1), units: 2 }]),
      // proves the release by handle took: releasing again is NOT_HELD
      events(2, [{ type: 'release', owner: 'a', resource: 0 }])],
    [error('NOT_HELD', { seq: 2, index: 0 })], 'open');
  add('a declaration refused for another reason still uses up its handle; the next one is the one after', true,
    [events(1, [{ ...mutex('m'), capacity: 2, handle: 0 }, { ...mutex('n'), handle: 1 }, owner('a'), hold('a', 1), hold('a', 0)])],
    [error('BAD_REQUEST_SIZE', { seq: 1, index: 0 }), error('UNKNOWN_RESOURCE', { seq: 1, index: 4 })], 'open');
  add('a handle no declaration gave', true, [events(1, [{ ...mutex('m'), handle: 0 }, owner('a'), hold('a', 1)])],
    [error('UNKNOWN_RESOURCE', { seq: 1, index: 2 })], 'open');
  add('a declaration whose handle skips ahead', true, [events(1, [{ ...mutex('m'), handle: 1 }])],
    [error('RESOURCE_CONFLICT', { seq: 1, index: 0 })], 'open');
  add('a declaration whose handle names another resource', true,
    [events(1, [{ ...mutex('m'), handle: 0 }, { ...mutex('n'), handle: 0 }])],
    [error('RESOURCE_CONFLICT', { seq: 1, index: 1 })], 'open');
  add('a negative handle does not match the schema', true, [invalid({ type: 'events', seq: 1, events: [hold('a', -1)] })],
    [error('BAD_FRAME')], 'closed');
  add('an abort_result nobody asked for is ignored', true,
    [valid({ type: 'abort_result', deadlock: 'DL-none', waitId: 'w1', result: 'stale' })], [], 'open');
  add('a confirm_result for an unknown check is ignored', true,
    [valid({ type: 'confirm_result', check: 'c-none', pending: [] })], [], 'open');
  return v;
}

// Codes no vector reaches, and why. Listed whether or not this version of errors.ts has them
// (codes of newer daemons too), so the generated file does not change when a code is added.
const NOT_COVERED: Record<string, string> = {
  UNAUTHORIZED: 'needs a daemon with --tokens (server/test/auth-stream.test.ts)',
  FRAME_TOO_LARGE: 'depends on --max-frame-bytes and the WebSocket layer (server/test/protocol-errors.test.ts)',
  LIMIT_EXCEEDED: 'needs per-client graph limits (server/test/protocol-errors.test.ts)',
  INTERNAL: 'a daemon bug by definition; no input should reach it',
  SNAPSHOT_TIMEOUT: 'needs a snapshot deadline to pass (server tests)',
  SNAPSHOT_BUSY: 'needs snapshots in flight on many connections (server tests)',
  BAD_UTF8: 'text frames are sent by the runner\'s WebSocket library, which refuses invalid UTF-8',
  HELLO_TIMEOUT: 'needs the hello deadline to pass (server tests)',
  SLOW_CONSUMER: 'needs a client that stops reading (server tests)',
  ERRORS_SUPPRESSED: 'needs more errors than the error budget (server tests)',
};

// ---- SDK side ---------------------------------------------------------------------------------

const LIMITS = { maxFrameBytes: 1_048_576, maxEventsPerFrame: 1000, maxSnapshotEvents: 250_000 };
const welcome = (extra: Record<string, unknown> = {}): Record<string, unknown> => {
  const w = { type: 'welcome', protocol: PROTOCOL_VERSION, session: 'conf-session', namespace: 'default', limits: LIMITS, resumed: false, heartbeatMs: 0, ...extra };
  return w;
};
const report = (id: string) => ({
  id, namespace: 'default', detectedAt: 1, members: [], edges: [], victim: null, resolution: 'aborting', text: `deadlock ${id} (conformance)`,
});
const abort = (deadlock: string, extra: Record<string, unknown> = {}) =>
  ({ type: 'abort', deadlock, owner: '$owner', waitId: '$waitId', report: report(deadlock), ...extra });
const confirm = (check: string, waits: string[]) => ({ type: 'confirm', check, waits });
const cancelled = { event: { type: 'cancel', waitId: '$waitId', reason: 'deadlock' } };
const abortResult = (deadlock: string, result: string, waitId = '$waitId') => ({ type: 'abort_result', deadlock, waitId, result });

function server(frame: Record<string, unknown>): Record<string, unknown> {
  // placeholders are strings where the schema wants numbers: check a resolved copy
  const resolved = JSON.parse(JSON.stringify(frame).replace(/"\$now[+-]?\d*"/g, '1').replace(/\$(waitId|owner)/g, 'x'));
  const r = ServerFrame.safeParse(resolved);
  if (!r.success && !String(frame.type).startsWith('future_')) {
    throw new Error(`conformance: a daemon frame meant to be valid is not: ${JSON.stringify(frame)}\n${r.error.message}`);
  }
  return frame;
}

function sdkVectors(): SdkVector[] {
  const v: SdkVector[] = [];
  v.push({
    name: 'abort of a pending wait: cancel first, then abort_result aborted; the acquire fails with a deadlock error',
    welcome: server(welcome({ serverTime: '$now' })), setup: 'blocked-wait',
    send: [server(abort('DL-conf-1', { expiresAt: '$now+600000' }))],
    expect: [cancelled, abortResult('DL-conf-1', 'aborted')], after: 'deadlock-error', deadlockId: 'DL-conf-1',
  });
  v.push({
    name: 'abort without expiresAt from a daemon that does not say its time: carried out',
    welcome: server(welcome()), setup: 'blocked-wait',
    send: [server(abort('DL-conf-2'))],
    expect: [cancelled, abortResult('DL-conf-2', 'aborted')], after: 'deadlock-error', deadlockId: 'DL-conf-2',
  });
  v.push({
    name: 'abort that may have expired (daemon clock past expiresAt): expired, and the wait stays pending',
    welcome: server(welcome({ serverTime: '$now' })), setup: 'blocked-wait',
    send: [server(abort('DL-conf-3', { expiresAt: '$now-60000' })), server(confirm('c-3', ['$waitId']))],
    expect: [abortResult('DL-conf-3', 'expired'), { type: 'confirm_result', check: 'c-3', pending: ['$waitId'] }],
    after: 'still-waiting',
  });
  v.push({
    name: 'abort of a wait id that is not pending: stale',
    welcome: server(welcome({ serverTime: '$now' })), setup: 'blocked-wait',
    send: [server({ ...abort('DL-conf-4'), waitId: 'w-unknown' }), server(confirm('c-4', ['$waitId']))],
    expect: [abortResult('DL-conf-4', 'stale', 'w-unknown'), { type: 'confirm_result', check: 'c-4', pending: ['$waitId'] }],
    after: 'still-waiting',
  });
  v.push({
    name: 'abort naming another owner than the wait\'s: stale, nothing aborted',
    welcome: server(welcome()), setup: 'blocked-wait',
    send: [server({ ...abort('DL-conf-5'), owner: 'someone-else' }), server(confirm('c-5', ['$waitId']))],
    expect: [abortResult('DL-conf-5', 'stale'), { type: 'confirm_result', check: 'c-5', pending: ['$waitId'] }],
    after: 'still-waiting',
  });
  v.push({
    name: 'confirm: the still-pending waits among those asked',
    welcome: server(welcome()), setup: 'blocked-wait',
    send: [server(confirm('c-6', ['$waitId', 'w-gone']))],
    expect: [{ type: 'confirm_result', check: 'c-6', pending: ['$waitId'] }], after: 'still-waiting',
  });
  v.push({
    name: 'confirm with nothing pending',
    welcome: server(welcome()), setup: 'none',
    send: [server(confirm('c-7', ['w-1', 'w-2']))],
    expect: [{ type: 'confirm_result', check: 'c-7', pending: [] }], after: 'none',
  });
  v.push({
    name: 'an unknown frame type is ignored; the connection carries on',
    welcome: server(welcome()), setup: 'blocked-wait',
    send: [server({ type: 'future_frame', payload: { x: 1 } }), server(confirm('c-8', ['$waitId']))],
    expect: [{ type: 'confirm_result', check: 'c-8', pending: ['$waitId'] }], after: 'still-waiting',
  });
  v.push({
    // sent only to SDKs whose hello lists the `reorder` feature; one that does not list it ignores
    // it like any frame it does not know, and one that does moves nothing (a single waiter)
    name: 'reorder of the only waiter of a resource: nothing changes, the wait stays pending',
    welcome: server(welcome()), setup: 'blocked-wait',
    send: [server({ type: 'reorder', deadlock: 'DL-conf-13', resource: 'conf-lock', waits: ['$waitId'] }), server(confirm('c-13', ['$waitId']))],
    expect: [{ type: 'confirm_result', check: 'c-13', pending: ['$waitId'] }], after: 'still-waiting',
  });
  v.push({
    // proto ResourceEvent.handle: an SDK uses handles only when the welcome lists the feature
    name: 'a daemon that takes handles: the lock is declared with handle 0, and its hold and wait name it by that',
    welcome: server(welcome({ features: ['handles'] })), setup: 'blocked-wait',
    setupExpect: [
      { event: { type: 'resource', resource: 'conf-lock', handle: 0 } },
      { event: { type: 'hold', resource: 0 } },
      { event: { type: 'wait', resource: 0 } },
    ],
    send: [server(abort('DL-conf-14'))],
    expect: [cancelled, abortResult('DL-conf-14', 'aborted')], after: 'deadlock-error', deadlockId: 'DL-conf-14',
  });
  v.push({
    name: 'an abort missing its fields is ignored',
    welcome: server(welcome()), setup: 'blocked-wait',
    send: [{ type: 'abort', deadlock: 'DL-bad' }, server(confirm('c-9', ['$waitId']))],
    expect: [{ type: 'confirm_result', check: 'c-9', pending: ['$waitId'] }], after: 'still-waiting',
  });
  v.push({
    name: 'welcome limits are honoured: no events frame over maxEventsPerFrame',
    welcome: server(welcome({ limits: { ...LIMITS, maxEventsPerFrame: 2 } })), setup: 'blocked-wait',
    send: [server(confirm('c-10', ['$waitId']))],
    expect: [{ type: 'confirm_result', check: 'c-10', pending: ['$waitId'] }], after: 'still-waiting', eventsPerFrameAtMost: 2,
  });
  v.push({
    name: 'deadlock and hazard frames reach the application\'s callbacks',
    welcome: server(welcome()), setup: 'none',
    send: [
      server({ type: 'deadlock', report: report('DL-conf-11') }),
      server({ type: 'hazard', hazard: { id: 'HZ-conf-1', kind: 'lock-order-inversion', classes: ['a', 'b'], sites: [], crossService: false, firstSeen: 1, lastSeen: 1, text: 'a then b, b then a' } }),
      server(confirm('c-11', [])),
    ],
    expect: [{ type: 'confirm_result', check: 'c-11', pending: [] }], after: 'none',
    callbacks: { deadlock: ['DL-conf-11'], hazard: ['HZ-conf-1'] },
  });
  v.push({
    name: 'a non-fatal error frame is logged, not fatal to the link',
    welcome: server(welcome()), setup: 'blocked-wait',
    send: [server({ type: 'error', code: 'NOT_HELD', message: 'conformance', fatal: false, ref: { seq: 1, index: 0 } }), server(confirm('c-12', ['$waitId']))],
    expect: [{ type: 'confirm_result', check: 'c-12', pending: ['$waitId'] }], after: 'still-waiting',
  });
  return v;
}

export function conformanceSuites(): { daemon: DaemonSuite & { version: number }; sdk: SdkSuite & { version: number } } {
  const vectors = daemonVectors();
  const reached = new Set(vectors.flatMap((x) => x.expect.map((e) => e.code)).filter((c): c is string => typeof c === 'string'));
  for (const code of ERROR_CODE_LIST) {
    if (!reached.has(code) && NOT_COVERED[code] === undefined) {
      throw new Error(`conformance: error code ${code} is neither reached by a daemon vector nor listed in NOT_COVERED`);
    }
  }
  return {
    daemon: {
      version: CONFORMANCE_VERSION,
      daemonArgs: DAEMON_ARGS,
      hello: HELLO,
      barrier: { type: 'events', seq: BARRIER_SEQ, events: [{ type: 'release', owner: '__barrier__', resource: '__barrier__' }] },
      vectors,
      notCovered: NOT_COVERED,
    },
    sdk: {
      version: CONFORMANCE_VERSION,
      hello: { type: 'hello', protocol: PROTOCOL_VERSION, service: 'conformance' },
      helloTypes: { host: 'string', pid: 'integer' },
      vectors: sdkVectors(),
    },
  };
}
