// Sends one fuzz case to the daemon on a fresh connection and says what became of it. The
// contract (README "Errors"): every frame is either accepted or answered with an `error` frame
// whose code is documented (proto/src/errors.ts); a fatal code is followed by the close code
// proto gives it (closeCodeOf). Anything else is a finding: a close without the error frame, an undocumented
// code, no answer at all, a dead daemon.
import { WebSocket, type RawData } from 'ws';
import { ERROR_CODE_LIST, closeCodeOf, isFatal, PROTOCOL_VERSION, type ErrorCode } from '@deadlockd/proto';
import type { FuzzCase } from './cases.js';

/** How long one case may take before the daemon counts as stalled (a failsafe, not a speed bound). */
const ANSWER_MS = 15_000;

export type Outcome =
  | { kind: 'accepted'; codes: ErrorCode[] }
  | { kind: 'rejected'; code: ErrorCode; close: number }
  | { kind: 'finding'; key: string; detail: string };

/** A release nobody holds: answered NOT_HELD in order, proving everything before it was handled. */
const BARRIER_SEQ = 987_654_321;
const BARRIER = JSON.stringify({ type: 'events', seq: BARRIER_SEQ, events: [{ type: 'release', owner: '__fuzz__', resource: '__fuzz__' }] });

interface Received {
  type?: unknown;
  code?: unknown;
  fatal?: unknown;
  message?: unknown;
  ref?: { seq?: unknown };
}

export async function probe(url: string, c: FuzzCase): Promise<Outcome> {
  const ws = new WebSocket(url, { maxPayload: 64 * 1024 * 1024 });
  const frames: Received[] = [];
  let notify: () => void = () => {};
  let closed: number | null = null;
  ws.on('message', (data: RawData) => {
    try {
      frames.push(JSON.parse(data.toString()) as Received);
    } catch {
      frames.push({ type: '__unparseable__', message: data.toString().slice(0, 200) });
    }
    notify();
  });
  ws.on('close', (code) => {
    closed = code;
    notify();
  });
  ws.on('open', () => notify());
  ws.on('error', () => {});
  const waitFor = async <T>(_what: string, probeFn: () => T | undefined): Promise<T | 'timeout'> => {
    const deadline = Date.now() + ANSWER_MS;
    for (;;) {
      const v = probeFn();
      if (v !== undefined) return v;
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        notify = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  };
  try {
    const opened = await waitFor('open', () => (ws.readyState === WebSocket.OPEN ? true : closed !== null ? false : undefined));
    if (opened !== true) return { kind: 'finding', key: 'connect', detail: `could not open a connection (${opened})` };
    if (!c.preHello) {
      ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, service: 'fuzz', instance: 'fuzz-1' }));
      const welcome = await waitFor('welcome', () => (frames.some((f) => f.type === 'welcome') ? true : closed !== null ? false : undefined));
      if (welcome !== true) return { kind: 'finding', key: 'hello', detail: `no welcome for a valid hello (${welcome}, close ${closed})` };
      frames.length = 0;
    }
    ws.send(c.payload, { binary: c.binary });
    // after hello, a barrier proves the case was handled; before hello, the answer is the proof
    if (!c.preHello) ws.send(BARRIER);
    const settled = await waitFor('an answer', () => {
      if (frames.some((f) => f.type === 'error' && f.ref?.seq === BARRIER_SEQ)) return 'barrier' as const;
      // past the error budget the barrier's own error may be the one suppressed; the summary answers for it
      if (frames.some((f) => f.type === 'error' && f.code === 'ERRORS_SUPPRESSED')) return 'barrier' as const;
      if (c.preHello && frames.some((f) => f.type === 'welcome')) return 'welcome' as const;
      if (closed !== null) return 'closed' as const;
      if (frames.some((f) => f.type === 'error' && f.fatal === true)) return undefined; // its close follows
      if (c.preHello && frames.some((f) => f.type === 'error')) return 'answered' as const;
      return undefined;
    });
    if (settled === 'timeout') {
      return { kind: 'finding', key: 'no-answer', detail: `no answer within ${ANSWER_MS} ms; got ${JSON.stringify(frames.map((f) => f.code ?? f.type))}` };
    }
    const errors = frames.filter((f) => f.type === 'error' && f.ref?.seq !== BARRIER_SEQ);
    for (const e of errors) {
      if (typeof e.code !== 'string' || !(ERROR_CODE_LIST as string[]).includes(e.code)) {
        return { kind: 'finding', key: 'undocumented-code', detail: `error code ${JSON.stringify(e.code)} is not in proto/src/errors.ts` };
      }
      if (e.fatal !== isFatal(e.code as ErrorCode) || typeof e.message !== 'string') {
        return { kind: 'finding', key: 'bad-error-frame', detail: `error frame ${JSON.stringify(e).slice(0, 200)} has a wrong fatal flag or no message` };
      }
    }
    const unexpected = frames.filter((f) => f.type !== 'error' && f.type !== 'welcome');
    if (unexpected.length > 0) return { kind: 'finding', key: 'unexpected-frame', detail: `unexpected frames ${JSON.stringify(unexpected).slice(0, 200)}` };
    const fatal = errors.find((e) => e.fatal === true);
    if (settled === 'closed' || fatal) {
      if (!fatal) return { kind: 'finding', key: `close-${closed}`, detail: `closed with ${closed} without an error frame` };
      // the close follows the fatal error frame
      const close = await waitFor('the close', () => (closed !== null ? closed : undefined));
      if (close === 'timeout') return { kind: 'finding', key: 'no-close', detail: `fatal ${String(fatal.code)} but the connection stayed open` };
      const want = closeCodeOf(fatal.code as ErrorCode);
      if (close !== want) return { kind: 'finding', key: `close-${close}`, detail: `fatal ${String(fatal.code)} closed with ${close}, not ${want}` };
      return { kind: 'rejected', code: fatal.code as ErrorCode, close };
    }
    return { kind: 'accepted', codes: errors.map((e) => e.code as ErrorCode) };
  } finally {
    ws.terminate();
  }
}
