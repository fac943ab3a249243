// Who a member of a report is, beyond its task name: its process (instance, host, pid), the
// user's attributes of its task, its OpenTelemetry trace; and the call sites of its waits,
// trimmed to the application's frames. Shared by deadlock reports (report.ts) and long-wait
// lines (long-waits.ts), so both read the same.
import type { OwnerAttributes, TraceContext } from '@deadlockd/proto';
import type { Owner } from './model.js';

export interface OwnerContext {
  instance?: string;
  host?: string;
  pid?: number;
  attributes?: OwnerAttributes;
  trace?: TraceContext;
}

/** The context fields of an owner, as reports carry them (absent ones left out). */
export function ownerContext(o: Owner): OwnerContext {
  const info = o.client.info;
  return {
    instance: info.instance,
    ...(info.host !== undefined ? { host: info.host } : {}),
    ...(info.pid !== undefined ? { pid: info.pid } : {}),
    ...(o.attributes !== undefined ? { attributes: o.attributes } : {}),
    ...(o.trace !== undefined ? { trace: o.trace } : {}),
  };
}

/** `instance checkout-blue (host web-7, pid 4242)`; host and pid are not repeated when the instance is the default `host:pid`. */
export function instanceText(c: OwnerContext): string {
  if (c.instance === undefined) return '';
  const extra: string[] = [];
  if (c.host !== undefined && c.pid !== undefined && c.instance === `${c.host}:${c.pid}`) return `instance ${c.instance}`;
  if (c.host !== undefined) extra.push(`host ${c.host}`);
  if (c.pid !== undefined) extra.push(`pid ${c.pid}`);
  return `instance ${c.instance}${extra.length ? ` (${extra.join(', ')})` : ''}`;
}

export const traceText = (t: TraceContext): string => `trace ${t.traceId} span ${t.spanId}`;

/** The lines under a member's header: its attributes and its trace, when it has them. */
export function contextLines(c: OwnerContext, indent: string): string[] {
  const lines: string[] = [];
  if (c.attributes !== undefined) {
    const kv = Object.entries(c.attributes).map(([k, v]) => `${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
    if (kv.length > 0) lines.push(`${indent}attributes: ${kv.join(', ')}`);
  }
  if (c.trace !== undefined) lines.push(`${indent}${traceText(c.trace)}`);
  return lines;
}

/** Node's own frames (internal modules, the event loop's functions) and the SDKs' frames. */
const NOT_APP = /\((?:node:|internal\/)|^at (?:node:|internal\/)|\((?:index \d+|<anonymous>)\)$|^at (?:process\.)?(?:processTicksAndRejections|runNextTicks|listOnTimeout|processTimers|processImmediate)\b|@deadlockd\/client|client-sdk\/node\/dist\/src\//;

/**
 * The first frames of a captured stack that are the application's. The Node SDK sends only
 * those already; this also trims stacks of older SDKs.
 */
export function callSite(stack: string, max = 3): string[] {
  const out: string[] = [];
  for (const raw of stack.split('\n')) {
    const l = raw.trim();
    if (!l.startsWith('at ') || NOT_APP.test(l)) continue;
    out.push(l);
    if (out.length === max) break;
  }
  return out;
}
