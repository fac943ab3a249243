// OpenTelemetry, when the app has it. `@opentelemetry/api` is an optional peer dependency:
// connect() imports it once, dynamically; without it (or with `tracing: false`) nothing is loaded
// and every hook here is a no-op. With it, a task remembers the span active when it started and
// a contended wait the span active when it began: their ids go to the daemon (reports, long
// waits), and a wait the daemon aborts as a deadlock victim adds a `deadlockd.deadlock` event to
// its span. Only the API is used (never an SDK or exporter): the app's own provider decides where
// spans go, and with none registered every span is the API's non-recording no-op.
import type { TraceContext } from '@deadlockd/proto';

/** The part of an OpenTelemetry Span the SDK uses. */
export interface SpanLike {
  spanContext(): { traceId: string; spanId: string };
  addEvent(name: string, attributes?: Record<string, string | number | boolean>): unknown;
}

/** Where the active span comes from (the app's OpenTelemetry context). */
export interface Tracing {
  active(): SpanLike | undefined;
  /** the span's ids, unless they are the invalid all-zero ones of a no-op span */
  contextOf(span: SpanLike): TraceContext | undefined;
}

/** The app's OpenTelemetry API, or null when it has none. */
export async function loadTracing(): Promise<Tracing | null> {
  let api: typeof import('@opentelemetry/api');
  try {
    api = await import('@opentelemetry/api');
  } catch {
    return null;
  }
  return {
    active: () => api.trace.getActiveSpan(),
    contextOf: (span) => {
      const c = span.spanContext();
      return api.isSpanContextValid(c as Parameters<typeof api.isSpanContextValid>[0]) ? { traceId: c.traceId, spanId: c.spanId } : undefined;
    },
  };
}

/** The active span and its ids, if tracing is on and a valid span is active. */
export function activeSpan(tracing: Tracing | null): { span: SpanLike; trace: TraceContext } | undefined {
  if (tracing === null) return undefined;
  const span = tracing.active();
  if (span === undefined) return undefined;
  const trace = tracing.contextOf(span);
  return trace === undefined ? undefined : { span, trace };
}

/** The victim's span: an event naming the deadlock, so the trace shows why the request failed. */
export function markDeadlockVictim(span: SpanLike | undefined, deadlock: string, waitId: string, resource: string | undefined): void {
  if (span === undefined) return;
  const attributes: Record<string, string> = { 'deadlockd.deadlock.id': deadlock, 'deadlockd.wait.id': waitId };
  if (resource !== undefined) attributes['deadlockd.resource'] = resource;
  span.addEvent('deadlockd.deadlock', attributes);
}
