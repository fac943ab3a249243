// Decodes one WebSocket message into a client frame, in two steps so the
// session can check its state (hello first) between them:
//   peekFrame: size, JSON, and a known `type` (cheap, no schema work);
//   validateFrame: event count (before parsing thousands of events), then the
//   fast path of fast-events.ts for `events`/`snapshot`, then the zod schema
//   for anything the fast path does not accept (and for every error message).
import {
  AbortResultFrame,
  CLIENT_FRAME_TYPES,
  ConfirmResultFrame,
  EventsFrame,
  HelloFrame,
  SnapshotFrame,
  type ClientFrame,
  type ErrorCode,
} from '@deadlockd/proto';
import { isUtf8 } from 'node:buffer';
import type { z } from 'zod';
import { fastEventsFrame, fastSnapshotFrame } from './fast-events.js';

export type ClientFrameType = (typeof CLIENT_FRAME_TYPES)[number];

interface FrameError {
  ok: false;
  code: ErrorCode;
  message: string;
  ref?: { seq?: number; index?: number };
}

export type Peeked = { ok: true; type: ClientFrameType; value: Record<string, unknown> } | FrameError;
export type Validated = { ok: true; frame: ClientFrame } | FrameError;

const SCHEMAS: Record<ClientFrameType, z.ZodType<ClientFrame>> = {
  hello: HelloFrame,
  events: EventsFrame,
  abort_result: AbortResultFrame,
  confirm_result: ConfirmResultFrame,
  snapshot: SnapshotFrame,
};

const isFrameType = (t: unknown): t is ClientFrameType =>
  typeof t === 'string' && (CLIENT_FRAME_TYPES as readonly string[]).includes(t);

export function byteLength(data: Buffer | ArrayBuffer | Buffer[]): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function toBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? Buffer.from(data) : data;
}

/**
 * Names what the client sent, in at most 60 characters, for error messages.
 * Never serialises a nested value: a frame such as `[[[[…]]]]` nested 5,000
 * deep parses fine but overflows the stack of JSON.stringify.
 */
function preview(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 57 ? `${v.slice(0, 54)}...` : v);
  if (Array.isArray(v)) return `an array of ${v.length} element(s)`;
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

export function peekFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean, maxFrameBytes: number): Peeked {
  const size = byteLength(data);
  if (size > maxFrameBytes) {
    return { ok: false, code: 'FRAME_TOO_LARGE', message: `frame of ${size} bytes exceeds the limit of ${maxFrameBytes} bytes` };
  }
  if (isBinary) return { ok: false, code: 'BAD_FRAME', message: 'binary frames are not part of the protocol; send JSON text frames' };
  // ws runs with skipUTF8Validation so that bad UTF-8 gets this error frame instead of a bare 1007 close
  const bytes = toBuffer(data);
  if (!isUtf8(bytes)) return { ok: false, code: 'BAD_UTF8', message: 'a text frame must be valid UTF-8' };
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return { ok: false, code: 'BAD_JSON', message: `frame is not valid JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'BAD_FRAME', message: `a frame must be a JSON object, got ${preview(value)}` };
  }
  const type = (value as Record<string, unknown>)['type'];
  if (!isFrameType(type)) {
    return {
      ok: false,
      code: 'UNKNOWN_FRAME_TYPE',
      message: `unknown frame type ${preview(type)}; expected one of ${CLIENT_FRAME_TYPES.join(', ')}`,
    };
  }
  return { ok: true, type, value: value as Record<string, unknown> };
}

export function validateFrame(peeked: { type: ClientFrameType; value: Record<string, unknown> }, maxEventsPerFrame: number): Validated {
  const { type, value } = peeked;
  const seq = typeof value['seq'] === 'number' ? value['seq'] : undefined;
  const events = value['events'];
  if ((type === 'events' || type === 'snapshot') && Array.isArray(events) && events.length > maxEventsPerFrame) {
    return {
      ok: false,
      code: 'TOO_MANY_EVENTS',
      message: `${type} frame carries ${events.length} events; the limit is ${maxEventsPerFrame}`,
      ...(seq === undefined ? {} : { ref: { seq } }),
    };
  }
  const fast = type === 'events' ? fastEventsFrame(value) : type === 'snapshot' ? fastSnapshotFrame(value) : undefined;
  if (fast !== undefined) return { ok: true, frame: fast };
  const r = SCHEMAS[type].safeParse(value);
  if (r.success) return { ok: true, frame: r.data };
  const issues = r.error.issues;
  const first = issues[0];
  const described = issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(frame)'}: ${i.message}`)
    .join('; ');
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  const index = first && first.path[0] === 'events' && typeof first.path[1] === 'number' ? first.path[1] : undefined;
  const ref: { seq?: number; index?: number } = {};
  if (seq !== undefined) ref.seq = seq;
  if (index !== undefined) ref.index = index;
  return {
    ok: false,
    code: 'BAD_FRAME',
    message: `${type} frame does not match the protocol: ${described}${more}`,
    ...(Object.keys(ref).length ? { ref } : {}),
  };
}
