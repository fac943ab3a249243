// Issue 12 item 5: a report names the request, not only a client id. Against a real daemon and
// the real OpenTelemetry API (with a real tracer provider and the AsyncLocalStorage context
// manager, as an instrumented app has them): the members carry their process (user-set
// instance name, host, pid), the task's attributes and its trace and span ids; the call sites
// are the app's frames only; the victim's span gets a `deadlockd.deadlock` event.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { context, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { connect, DeadlockError, isDeadlockError, type Client, type DeadlockReport } from '@deadlockd/client';
import { Barrier } from '../src/barrier.js';
import { cleanup, startDaemon, type Daemon } from '../src/harness.js';
import { closeSdk } from '../src/watched-session.js';
import { CONNECT_TIMEOUT_MS, STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';

describe('context in every report (instance, attributes, OpenTelemetry)', () => {
  let daemon: Daemon;
  let dd: Client | undefined;
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const contextManager = new AsyncLocalStorageContextManager();

  before(async () => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
    daemon = await startDaemon();
  });
  after(async () => {
    await closeSdk(dd);
    await cleanup(daemon);
    await provider.shutdown();
    trace.disable();
    context.disable();
  });

  /** Two requests, each in its own span, take two locks in opposite orders: one deadlock. */
  async function deadlock(c: Client): Promise<{ err: DeadlockError; spans: Map<string, Span>; other: Promise<unknown> }> {
    const tracer = trace.getTracer('report-context-test');
    const a = c.mutex('account:a');
    const b = c.mutex('account:b');
    const both = new Barrier(2);
    const spans = new Map<string, Span>();
    const request = (route: string, orderId: string, first: typeof a, second: typeof a) =>
      tracer.startActiveSpan(route, async (span) => {
        spans.set(route, span);
        try {
          return await c.task(`transfer ${orderId}`, { attributes: { orderId, attempt: 1, retried: false } }, async () => {
            const h1 = await first.acquire();
            try {
              await both.wait();
              const h2 = await second.acquire();
              h2.release();
            } finally {
              h1.release();
            }
          });
        } finally {
          span.end();
        }
      });
    const one = request('POST /transfer/a-b', 'o-1', a, b);
    const two = request('POST /transfer/b-a', 'o-2', b, a);
    const failed = await within(STEP_MS, 'one transfer to fail with DeadlockError', Promise.race([
      one.then(() => undefined, (e: unknown) => e),
      two.then(() => undefined, (e: unknown) => e),
    ]), () => daemon.logs());
    assert.ok(isDeadlockError(failed), `a DeadlockError, got ${String(failed)}`);
    return { err: failed as DeadlockError, spans, other: Promise.allSettled([one, two]) };
  }

  test('members name instance, host, pid, attributes, trace and span; call sites are app frames; the victim span has the event', TEST_TIMEOUT, async () => {
    dd = await connect(daemon.url, { service: 'checkout', instance: 'checkout-blue', connectTimeoutMs: CONNECT_TIMEOUT_MS });
    assert.equal(dd.connected, true);
    const { err, spans, other } = await deadlock(dd);
    await other;
    const report: DeadlockReport = err.report;
    assert.equal(report.members.length, 2, report.text);
    for (const m of report.members) {
      assert.equal(m.instance, 'checkout-blue');
      assert.equal(m.host, hostname());
      assert.equal(m.pid, process.pid);
      assert.ok(m.attributes?.['orderId'] === 'o-1' || m.attributes?.['orderId'] === 'o-2', JSON.stringify(m));
      assert.equal(m.attributes?.['attempt'], 1);
      assert.equal(m.attributes?.['retried'], false);
      // the task started inside its request's span: the ids are that span's
      const route = m.attributes?.['orderId'] === 'o-1' ? 'POST /transfer/a-b' : 'POST /transfer/b-a';
      const ctx = spans.get(route)!.spanContext();
      assert.deepEqual(m.trace, { traceId: ctx.traceId, spanId: ctx.spanId });
      assert.equal(m.waits.length, 1);
      assert.deepEqual(m.waits[0]!.trace, { traceId: ctx.traceId, spanId: ctx.spanId });
      // the SDK sent only the app's frames: this test file, no Node internals, not the SDK
      const stack = m.waits[0]!.stack ?? '';
      assert.match(stack, /report-context\.test\.(js|ts)/, stack);
      assert.doesNotMatch(stack, /node:internal|processTicksAndRejections|runNextTicks|listOnTimeout|client-sdk\/node\/dist\/src/, stack);
    }
    const text = report.text;
    assert.match(text, new RegExp(`instance checkout-blue \\(host ${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, pid ${process.pid}\\), client `), text);
    assert.match(text, /attributes: orderId="o-1", attempt=1, retried=false/, text);
    assert.match(text, /attributes: orderId="o-2", attempt=1, retried=false/, text);
    assert.match(text, /trace [0-9a-f]{32} span [0-9a-f]{16}/, text);
    assert.doesNotMatch(text, /node:internal|processTicksAndRejections/, text);
    // the daemon's log line carries the same text
    await daemon.waitForLog(/instance checkout-blue.*"msg":"deadlock detected"/);

    // the victim's request span got an event naming the deadlock; the other span did not
    const victim = report.members.find((m) => `${m.client}/${m.owner}` === report.victim?.owner);
    assert.ok(victim, report.text);
    const victimRoute = victim.attributes?.['orderId'] === 'o-1' ? 'POST /transfer/a-b' : 'POST /transfer/b-a';
    const finished = exporter.getFinishedSpans();
    const byName = (n: string) => finished.find((s) => s.name === n);
    const events = byName(victimRoute)?.events ?? [];
    const marked = events.find((e) => e.name === 'deadlockd.deadlock');
    assert.ok(marked, `the victim span has the event: ${JSON.stringify(events)}`);
    assert.equal(marked.attributes?.['deadlockd.deadlock.id'], err.deadlockId);
    assert.equal(marked.attributes?.['deadlockd.wait.id'], report.victim?.waitId);
    const survivor = [...spans.keys()].find((k) => k !== victimRoute)!;
    assert.equal((byName(survivor)?.events ?? []).some((e) => e.name === 'deadlockd.deadlock'), false);

    // GET /v1/clients shows the process too
    const clients = (await (await fetch(`${daemon.httpUrl}/v1/clients`)).json()) as { clients: Array<{ instance: string; host?: string; pid?: number }> };
    assert.ok(clients.clients.some((c) => c.instance === 'checkout-blue' && c.host === hostname() && c.pid === process.pid), JSON.stringify(clients));
    await closeSdk(dd);
    dd = undefined;
  });

  test('tracing: false never uses OpenTelemetry: no trace ids, no span event; the default instance is host:pid', TEST_TIMEOUT, async () => {
    exporter.reset();
    dd = await connect({ url: daemon.url, service: 'checkout-untraced', tracing: false, connectTimeoutMs: CONNECT_TIMEOUT_MS });
    const { err, other } = await deadlock(dd);
    await other;
    for (const m of err.report.members) {
      assert.equal(m.trace, undefined);
      assert.equal(m.waits[0]?.trace, undefined);
      assert.equal(m.instance, `${hostname()}:${process.pid}`);
    }
    assert.match(err.report.text, new RegExp(`instance ${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${process.pid}, client `));
    assert.doesNotMatch(err.report.text, /trace [0-9a-f]{32}/);
    assert.equal(exporter.getFinishedSpans().some((s) => s.events.some((e) => e.name === 'deadlockd.deadlock')), false);
  });
});
