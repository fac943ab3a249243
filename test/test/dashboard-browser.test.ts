// The dashboard in a real browser: the real daemon (child process), real
// deadlocks made through the real SDK, Debian's Chromium driven by
// playwright-core. Asserts through the DOM and `window.dashboard` that the
// deadlocked owners are drawn red and that the history lists both deadlocks
// with their reports, then saves test-results/dashboard.png; and that a
// deadlock's SVG from REST is a well-formed SVG document (deadlock-svg.png).
// (The callbacks given to page.evaluate run in the page; this package compiles
// without DOM types, so they reach the page's globals through globalThis.)
/* eslint-disable @typescript-eslint/no-explicit-any */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Client } from '@deadlockd/client';
import { chromium, type Browser } from 'playwright-core';
import { Barrier } from '../src/barrier.js';
import { runCycleRound } from '../src/cycle-round.js';
import { cleanup, repoRoot, startDaemon, type Daemon } from '../src/harness.js';
import { CONNECT_TIMEOUT_MS, STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(repoRoot, 'test-results', 'dashboard.png');
const RED = '#dc2626';

type Lock = { acquire(opts?: { signal?: AbortSignal }): Promise<{ release(): void }> };

/**
 * Tasks that take their locks and stay parked until the scene ends, so the
 * page has a standing graph to draw. Every pending acquire listens to one
 * AbortSignal; end() releases and aborts everything.
 */
class Scene {
  private readonly stop = new AbortController();
  private open!: () => void;
  private readonly gate = new Promise<void>((r) => (this.open = r));
  private readonly tasks: Promise<unknown>[] = [];

  /** a task that takes `locks` in order; resolves once it holds the first `heldFirst` of them */
  park(dd: Client, name: string, locks: Lock[], opts: { abortable?: boolean; heldFirst?: number; between?: () => Promise<void> } = {}): Promise<void> {
    let signalHeld!: () => void;
    const held = new Promise<void>((r) => (signalHeld = r));
    const heldFirst = opts.heldFirst ?? locks.length;
    const run = dd.task(name, { abortable: opts.abortable ?? true }, async () => {
      const hs: { release(): void }[] = [];
      try {
        for (const [i, l] of locks.entries()) {
          if (i === heldFirst) {
            signalHeld();
            await opts.between?.();
          }
          hs.push(await l.acquire({ signal: this.stop.signal }));
        }
        if (heldFirst >= locks.length) signalHeld();
        await this.gate;
      } finally {
        for (const h of hs.reverse()) h.release();
      }
    });
    this.tasks.push(run.catch(() => {}));
    return held;
  }

  async end(): Promise<void> {
    this.stop.abort();
    this.open();
    await within(STEP_MS, 'the parked tasks to end', Promise.all(this.tasks)).catch(() => {});
  }
}

describe('dashboard in headless Chromium', () => {
  let daemon: Daemon | undefined;
  const sdks: Client[] = [];
  const scene = new Scene();
  let browser: Browser | undefined;

  before(async () => {
    if (!existsSync(CHROMIUM)) return;
    daemon = await startDaemon();
    for (const service of ['payments', 'checkout']) {
      const dd = await connect({ url: daemon.url, service, connectTimeoutMs: CONNECT_TIMEOUT_MS });
      sdks.push(dd);
      assert.ok(dd.connected, `SDK (${service}) connected to ${daemon.url}`);
    }
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await scene.end();
    await Promise.allSettled(sdks.map((dd) => within(STEP_MS, 'the SDK to close', dd.close())));
    await cleanup(daemon);
  });

  test('shows the deadlocked owners in red, the cycle, and the history with each report', TEST_TIMEOUT, async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip(`chromium not installed at ${CHROMIUM}: apt-get install chromium`);
      return;
    }
    const [payments, checkout] = sdks as [Client, Client];

    // 1. A deadlock the daemon resolves: one transfer is aborted, its retry completes.
    const round = await within(STEP_MS,
      'the opposite transfers to finish',
      runCycleRound(payments, [
        { name: 'transfer a->b', first: payments.mutex('acct:a'), second: payments.mutex('acct:b') },
        { name: 'transfer b->a', first: payments.mutex('acct:b'), second: payments.mutex('acct:a') },
      ], 1),
      () => daemon!.logs(),
    );
    assert.equal(round.deadlocks.length, 1, 'one abort');
    assert.equal(round.completed, 2, 'both transfers completed');

    // 2. Ordinary contention around it, so the graph is not just the cycle.
    const cart = checkout.mutex('cart:17');
    await scene.park(checkout, 'checkout #1', [cart]);
    void scene.park(checkout, 'checkout #2', [cart], { heldFirst: 0 });
    const pool = checkout.semaphore('db pool', 2);
    await scene.park(checkout, 'report query', [pool]);
    await scene.park(checkout, 'export job', [pool]);
    void scene.park(checkout, 'billing run', [pool], { heldFirst: 0 });
    for (let i = 1; i <= 4; i++) await scene.park(checkout, `request #${i}`, [checkout.mutex(`row:${i}`)]);

    // 3. A deadlock nobody may be aborted from: it stays on screen.
    const ledger = payments.mutex('ledger');
    const cache = payments.mutex('report-cache');
    const meet = new Barrier(2);
    await Promise.all([
      scene.park(payments, 'nightly report', [ledger, cache], { abortable: false, heldFirst: 1, between: () => meet.wait() }),
      scene.park(payments, 'ledger sync', [cache, ledger], { abortable: false, heldFirst: 1, between: () => meet.wait() }),
    ]);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${daemon!.httpUrl}/`);

    // the live feed delivered the standing deadlock and both history entries
    await page.waitForFunction(
      () => {
        const d = (globalThis as any).dashboard;
        return d?.ready && d.frame.cycles.length === 1 && d.frame.history.length === 2 && d.frame.history.some((e: any) => e.status === 'resolved');
      },
      null,
      { timeout: STEP_MS },
    );
    // two frames so sigma and the dashed-waits layer have drawn
    await page.evaluate(() => {
      const raf = (globalThis as any).requestAnimationFrame as (cb: () => void) => void;
      return new Promise<void>((r) => raf(() => raf(r)));
    });

    const graph = await page.evaluate(() => {
      const d = (globalThis as any).dashboard;
      const nodes: Array<{ label: string; kind: string; deadlocks: string[]; color: string | undefined }> = [];
      d.graph.forEachNode((key: string, a: any) => {
        nodes.push({ label: a.label, kind: a.kind, deadlocks: a.deadlocks, color: d.renderer.getNodeDisplayData(key)?.color });
      });
      return { nodes, edges: d.graph.size, cycle: d.frame.cycles[0].id, connection: d.connection };
    });
    assert.equal(graph.connection, 'live');
    const owners = graph.nodes.filter((n) => n.kind === 'owner');
    const red = owners.filter((n) => n.deadlocks.length > 0);
    assert.deepEqual(red.map((n) => n.label).sort(), ['ledger sync', 'nightly report'], 'the deadlocked owners are marked');
    for (const n of red) {
      assert.equal(n.color, RED, `${n.label} is drawn red`);
      assert.deepEqual(n.deadlocks, [graph.cycle]);
    }
    for (const n of owners.filter((o) => o.deadlocks.length === 0)) assert.notEqual(n.color, RED, `${n.label} is not red`);
    for (const label of ['checkout #1', 'checkout #2', 'billing run', 'request #4']) {
      assert.ok(owners.some((n) => n.label === label), `${label} is in the graph`);
    }

    // the current cycle panel: one card, drawn with both members
    const cycleCards = page.locator('#cycles .card');
    assert.equal(await cycleCards.count(), 1);
    assert.match((await cycleCards.locator('.badge').textContent()) ?? '', /unresolvable/);
    assert.equal(await cycleCards.locator('svg.picture g.member').count(), 2);

    // the history: both deadlocks, each drawn, each with its readable report
    const entries = page.locator('#history li.history-entry');
    assert.equal(await entries.count(), 2);
    const standing = page.locator('#history li.history-entry[data-status="unresolvable"]');
    const text = (await standing.locator('pre').textContent()) ?? '';
    assert.match(text, /task 'nightly report' \(payments\) waits for report-cache, held by task 'ledger sync' \(payments\)/);
    assert.match(await standing.locator('.verdict').innerText(), /no victim/);
    const resolved = page.locator('#history li.history-entry[data-status="resolved"]');
    assert.match((await resolved.locator('pre').textContent()) ?? '', /task 'transfer (a->b|b->a) #1' \(payments\) waits for acct:/);
    assert.match(await resolved.locator('.verdict').innerText(), /victim: transfer/);
    assert.equal(await resolved.locator('svg.picture g.member').count(), 2);

    // The deadlock above took ledger and report-cache in opposite orders: the
    // SDK's order facts make it a lock-order hazard, listed with both places.
    const hazardsText = await page.locator('#hazards').innerText();
    assert.match(hazardsText, /POTENTIAL DEADLOCK \(lock-order inversion\)/);
    assert.match(hazardsText, /report-cache/);
    assert.deepEqual(pageErrors, [], 'no script errors on the page');

    mkdirSync(join(repoRoot, 'test-results'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });
    assert.ok(existsSync(SCREENSHOT));

    // the same picture served alone over REST parses as an SVG document in the browser
    const history = (await (await fetch(`${daemon!.httpUrl}/v1/deadlocks?limit=10`)).json()) as { deadlocks: { id: string; status: string }[] };
    const resolvedId = history.deadlocks.find((d) => d.status === 'resolved')?.id;
    assert.ok(resolvedId, JSON.stringify(history));
    await page.goto(`${daemon!.httpUrl}/v1/deadlocks/${resolvedId}/svg`);
    const doc = await page.evaluate(() => {
      const d = (globalThis as any).document;
      return {
        root: d.documentElement.localName,
        ns: d.documentElement.namespaceURI,
        members: d.querySelectorAll('g.member').length,
        errors: d.getElementsByTagName('parsererror').length,
      };
    });
    assert.deepEqual(doc, { root: 'svg', ns: 'http://www.w3.org/2000/svg', members: 2, errors: 0 });
    await page.screenshot({ path: join(repoRoot, 'test-results', 'deadlock-svg.png') });
  });

  test('with auth on, the page opened with ?token= loads every file and goes live in its namespace', TEST_TIMEOUT, async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.skip(`chromium not installed at ${CHROMIUM}: apt-get install chromium`);
      return;
    }
    const guarded = await startDaemon(['--tokens', 'dash-token=ops']);
    try {
      browser ??= await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const refused: string[] = [];
      page.on('response', (r) => {
        if (r.status() === 401) refused.push(r.url());
      });
      await page.goto(`${guarded.httpUrl}/?token=dash-token`);
      await page.waitForFunction(() => (globalThis as any).dashboard?.ready && (globalThis as any).dashboard.connection === 'live', null, { timeout: STEP_MS });
      assert.equal(await page.locator('#namespace').innerText(), 'ops');
      assert.deepEqual(refused, [], 'no request went without the token');
      await page.close();
    } finally {
      await cleanup(guarded);
    }
  });
});
