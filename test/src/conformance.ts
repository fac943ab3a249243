// Drives the protocol conformance vectors (proto/conformance/*.json, generated from proto/src)
// from Node: loading, placeholder resolution and the deep-subset match every runner uses.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { DaemonSuite, SdkSuite } from '@deadlockd/proto/conformance';

const require = createRequire(import.meta.url);

export function loadSuite(name: 'daemon'): DaemonSuite;
export function loadSuite(name: 'sdk'): SdkSuite;
export function loadSuite(name: 'daemon' | 'sdk'): DaemonSuite | SdkSuite {
  return JSON.parse(readFileSync(require.resolve(`@deadlockd/proto/conformance/${name}.json`), 'utf8'));
}

/** Every field of `expected` is in `actual` with an equal value (objects recursively; arrays exactly). */
export function matches(actual: unknown, expected: unknown): boolean {
  if (expected === null || typeof expected !== 'object') return actual === expected;
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matches(actual[i], e));
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  return Object.entries(expected).every(([k, v]) => matches((actual as Record<string, unknown>)[k], v));
}

/** `$waitId`/`$owner` from `vars`; `"$now"`, `"$now+N"`, `"$now-N"` become numbers (epoch ms). */
export function resolve<T>(value: T, vars: Record<string, string>, now: number): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const m = /^\$now([+-]\d+)?$/.exec(v);
      if (m) return now + Number(m[1] ?? 0);
      return v.replace(/\$(waitId|owner)/g, (_, k: string) => vars[k] ?? `$${k}`);
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** What an SDK under test offers the SDK-side harness. */
export interface SdkUnderTest {
  /** connect to `url` as service `conformance`, instance `conformance-1`; resolves once connected */
  connect(url: string): Promise<void>;
  /** one owner holds `conf-lock`, another blocks acquiring it; resolves with how that acquire ended */
  blockedWait(): { outcome: Promise<{ deadlockId?: string; error?: unknown; granted?: boolean }> };
  /** ids of reports/hazards the SDK's deadlock/hazard callbacks got */
  callbacks(): { deadlock: string[]; hazard: string[] };
  close(): Promise<void>;
}

/** A fake daemon's view of one SDK connection: client frames as they arrive. */
export interface FakeLink {
  frames: Array<Record<string, unknown>>;
  send(frame: unknown): void;
  next(pred: (f: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
}

/** Client frames flattened as the SDK vectors match them: each event of events/snapshot as { event }. */
export function flatten(frames: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return frames.flatMap((f) =>
    f.type === 'events' || f.type === 'snapshot' ? (f.events as unknown[]).map((event) => ({ event })) : [f],
  );
}

/** Index just past an in-order match of every pattern in `items`, or -1. */
export function matchInOrder(items: unknown[], patterns: unknown[]): number {
  let i = 0;
  for (const p of patterns) {
    while (i < items.length && !matches(items[i], p)) i++;
    if (i === items.length) return -1;
    i++;
  }
  return i;
}
