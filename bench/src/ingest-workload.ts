// The event stream the ingest measurement sends. Resources are declared once
// (outside the timed part); then, over many owners and mutexes:
//   unit s:  hold(a, r)  wait(b, r)          ← the wait is contended: detection runs
//   later:   release(a, r)  grant(b's wait)  release(b, r)
// The later half of unit s is sent LAG units after its first half, so every
// wait is still pending at the end of the frame it arrives in and the daemon
// searches for a cycle from it, whatever the batch size (5 events per unit).
// The stream ends with a barrier: two owners deadlock, and the daemon's
// `abort` proves that every event before it was processed (one connection is
// processed in order). Resources are declared with handles (r<i> is i, dx and
// dy the two after) and named by them, as the SDKs do with this daemon.
import type { ClientEvent } from '@deadlockd/proto';

const RESOURCES = 1_000;
const LAG = 64;
const DX = RESOURCES;
const DY = RESOURCES + 1;

export const EVENTS_PER_UNIT = 5;

export function declarations(): ClientEvent[] {
  const events: ClientEvent[] = [];
  for (let i = 0; i < RESOURCES; i++) events.push({ type: 'resource', resource: `r${i}`, kind: 'mutex', scope: 'local', handle: i });
  events.push({ type: 'resource', resource: 'dx', kind: 'mutex', scope: 'local', handle: DX });
  events.push({ type: 'resource', resource: 'dy', kind: 'mutex', scope: 'local', handle: DY });
  return events;
}

export function workload(units: number): ClientEvent[] {
  const events: ClientEvent[] = [];
  const finish = (u: number) => {
    const r = u % RESOURCES;
    events.push({ type: 'release', owner: `a${u % RESOURCES}`, resource: r });
    events.push({ type: 'grant', waitId: `w${u}` });
    events.push({ type: 'release', owner: `b${u % RESOURCES}`, resource: r });
  };
  for (let s = 0; s < units; s++) {
    const r = s % RESOURCES;
    events.push({ type: 'hold', owner: `a${s % RESOURCES}`, resource: r });
    events.push({ type: 'wait', waitId: `w${s}`, owner: `b${s % RESOURCES}`, resource: r });
    if (s >= LAG) finish(s - LAG);
  }
  for (let u = Math.max(0, units - LAG); u < units; u++) finish(u);
  return events;
}

/** Closes a two-owner cycle: the daemon aborts one of `barrier-x` / `barrier-y`. */
export function barrier(): ClientEvent[] {
  return [
    { type: 'hold', owner: 'barrier-x', resource: DX },
    { type: 'hold', owner: 'barrier-y', resource: DY },
    { type: 'wait', waitId: 'barrier-wx', owner: 'barrier-x', resource: DY },
    { type: 'wait', waitId: 'barrier-wy', owner: 'barrier-y', resource: DX },
  ];
}

/** Serialized `events` frames of `perFrame` events each, seq from `firstSeq`. */
export function frames(events: ClientEvent[], perFrame: number, firstSeq: number): string[] {
  const out: string[] = [];
  for (let i = 0, seq = firstSeq; i < events.length; i += perFrame, seq++)
    out.push(JSON.stringify({ type: 'events', seq, events: events.slice(i, i + perFrame) }));
  return out;
}
