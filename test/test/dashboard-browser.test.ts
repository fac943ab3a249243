// The dashboard in a real browser: the real daemon (child process), real
// deadlocks made through the real SDK, Debian's Chromium driven by
// playwright-core. Asserts through the DOM, `window.dashboard` and where sigma
// drew each node and label (test/src/dashboard-page.ts):
// - deadlocked owners red; the history one card per pattern, with its count;
// - with ~300 background nodes and two deadlocks, at 1366×768 and 1920×1080,
//   the deadlocks sit apart from the background and no two of their labels
//   overlap; a focused cycle keeps its owners, resources and edges lit; the
//   sidebar's resource names are unique (shortened in the middle, full name
//   as the hover title);
// - 20- and 197-member cycles are drawn as a capped list, not a ring;
// - after a daemon restart nothing on the page names a deadlock that is gone.
// Screenshots go to test-results/ (dashboard.png is the README's).
// (The callbacks given to page.evaluate run in the page; this package compiles
// without DOM types, so they reach the page's globals through globalThis.)
/* eslint-disable @typescript-eslint/no-explicit-any */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Client } from '@deadlockd/client';
import type { Browser, Page } from 'playwright-core';
import { runCycleRound } from '../src/cycle-round.js';
import { CHROMIUM, drawnNodes, intersects, launchChromium, openDashboard, overlapping, painted, union, type DrawnNode } from '../src/dashboard-page.js';
import { cleanup, repoRoot, startDaemon, type Daemon } from '../src/harness.js';
import { Scene } from '../src/parked-scene.js';
import { CONNECT_TIMEOUT_MS, STEP_MS, TEST_TIMEOUT, within } from '../src/timing.js';

const RESULTS = join(repoRoot, 'test-results');
const SCREENSHOT = join(RESULTS, 'dashboard.png');
const RED = '#dc2626';
const DIM = '#e2e8f0';

/** A daemon, SDK clients (one per service) and a scene of parked tasks, torn down together. */
class Setup {
  daemon!: Daemon;
  readonly sdks: Client[] = [];
  readonly scene = new Scene();

  static async start(services: string[], args: string[] = []): Promise<Setup> {
    const s = new Setup();
    s.daemon = await startDaemon(args);
    for (const service of services) {
      const dd = await connect({ url: s.daemon.url, service, connectTimeoutMs: CONNECT_TIMEOUT_MS });
      s.sdks.push(dd);
      assert.ok(dd.connected, `SDK (${service}) connected to ${s.daemon.url}`);
    }
    return s;
  }

  async stop(): Promise<void> {
    await this.scene.end();
    await Promise.allSettled(this.sdks.map((dd) => within(STEP_MS, 'the SDK to close', dd.close())));
    await cleanup(this.daemon);
  }
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: join(RESULTS, name) });
}

/** The page's graph container size, and whether every drawn deadlocked node (with its label) is clear of the others and of the background. */
async function checkDeadlockLayout(page: Page, where: string): Promise<DrawnNode[]> {
  const nodes = await drawnNodes(page);
  const { width, height } = await page.evaluate(() => (globalThis as any).dashboard.renderer.getDimensions());
  const dead = nodes.filter((n) => n.deadlocks.length > 0);
  const background = nodes.filter((n) => n.deadlocks.length === 0);
  for (const n of dead) assert.ok(n.labelBox, `${where}: the label of ${n.label} is drawn`);
  assert.equal(new Set(dead.map((n) => n.label)).size, dead.length, `${where}: the deadlocked nodes' labels are all different: ${dead.map((n) => n.label).join(', ')}`);
  const items = dead.flatMap((n) => [
    { name: `label "${n.label}"`, box: n.labelBox! },
    { name: `disc of ${n.label}`, box: n.disc },
  ]);
  assert.deepEqual(overlapping(items), [], `${where}: no deadlocked label overlaps another label or node`);
  const bg = union(background.map((n) => n.disc));
  for (const n of dead) {
    const box = union([n.disc, n.labelBox!]);
    assert.ok(!intersects(box, bg), `${where}: ${n.label} (${JSON.stringify(box)}) is apart from the background (${JSON.stringify(bg)})`);
    assert.ok(box.x0 >= 0 && box.y0 >= 0 && box.x1 <= width && box.y1 <= height, `${where}: ${n.label} is on screen (${JSON.stringify(box)} in ${width}×${height})`);
  }
  return nodes;
}

describe('dashboard in headless Chromium', () => {
  let browser: Browser | undefined;

  before(async () => {
    if (existsSync(CHROMIUM)) browser = await launchChromium();
  });

  after(async () => {
    await browser?.close().catch(() => {});
  });

  /** A test on a fresh Setup of these services, stopped afterwards; skipped, saying why, without Chromium. */
  function browserTest(name: string, services: string[], body: (setup: Setup, browser: Browser) => Promise<void>): void {
    test(name, TEST_TIMEOUT, async (t) => {
      if (!browser) return t.skip(`chromium not installed at ${CHROMIUM}: apt-get install chromium`);
      const setup = await Setup.start(services);
      try {
        await body(setup, browser);
      } finally {
        await setup.stop();
      }
    });
  }

  browserTest('shows the deadlocked owners in red, the cycle, and the history one card per pattern with each report', ['payments', 'checkout'], async (setup, browser) => {
    const { daemon, scene } = setup;
    const [payments, checkout] = setup.sdks as [Client, Client];

    // 1. The same deadlock five times: each time the daemon aborts one transfer and its retry completes.
    const ROUNDS = 5;
    for (let round = 1; round <= ROUNDS; round++) {
      const outcome = await within(
        STEP_MS,
        `the opposite transfers of round ${round} to finish`,
        runCycleRound(payments, [
          { name: 'transfer a->b', first: payments.mutex('acct:a'), second: payments.mutex('acct:b') },
          { name: 'transfer b->a', first: payments.mutex('acct:b'), second: payments.mutex('acct:a') },
        ], round),
        () => daemon.logs(),
      );
      assert.equal(outcome.deadlocks.length, 1, `one abort in round ${round}`);
      assert.equal(outcome.completed, 2, `both transfers of round ${round} completed`);
    }

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
    await scene.ring(payments, ['nightly report', 'ledger sync'], [payments.mutex('ledger'), payments.mutex('report-cache')]);

    const { page, pageErrors } = await openDashboard(browser, `${daemon.httpUrl}/`, { width: 1440, height: 900 });

    // the live feed delivered the standing deadlock and all six history entries
    await page.waitForFunction(
      (n) => {
        const d = (globalThis as any).dashboard;
        return d?.ready && d.frame.cycles.length === 1 && d.frame.history.length === n + 1 && d.frame.history.filter((e: any) => e.status === 'resolved').length === n;
      },
      ROUNDS,
      { timeout: STEP_MS },
    );
    await painted(page);

    const graph = await page.evaluate(() => {
      const d = (globalThis as any).dashboard;
      return { cycle: d.frame.cycles[0].id, connection: d.connection };
    });
    assert.equal(graph.connection, 'live');
    const owners = (await drawnNodes(page)).filter((n) => n.kind === 'owner');
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

    // the history: two patterns, two cards; the recurring one counted, each drawn with its readable report
    const cards = page.locator('#history li.history-entry');
    assert.equal(await cards.count(), 2, 'one card per pattern');
    const standing = page.locator('#history li.history-entry[data-status="unresolvable"]');
    assert.equal(await standing.getAttribute('data-count'), '1');
    const text = (await standing.locator('details.report pre').textContent()) ?? '';
    assert.match(text, /task 'nightly report' \(payments\) waits for report-cache, held by task 'ledger sync' \(payments\)/);
    assert.match(await standing.locator('.verdict').innerText(), /no victim/);
    const recurring = page.locator('#history li.history-entry[data-status="resolved"]');
    assert.equal(await recurring.count(), 1, 'the five transfers deadlocks are one card');
    assert.equal(await recurring.getAttribute('data-count'), String(ROUNDS));
    assert.match(await recurring.locator('.seen').innerText(), new RegExp(`×${ROUNDS} first seen \\S+, last seen \\S+`));
    assert.equal(await recurring.locator('details.occurrences li').count(), ROUNDS, 'each occurrence listed');
    assert.match((await recurring.locator('details.report pre').textContent()) ?? '', new RegExp(`task 'transfer (a->b|b->a) #${ROUNDS}' \\(payments\\) waits for acct:`), 'the card shows the latest');
    assert.match(await recurring.locator('.verdict').innerText(), /victim: transfer/);
    assert.equal(await recurring.locator('svg.picture g.member').count(), 2);
    // the card is the daemon's group: same signature, same count
    const grouped = (await (await fetch(`${daemon.httpUrl}/v1/deadlocks?group=signature`)).json()) as { groups: { signature: string; count: number }[] };
    const signature = await recurring.getAttribute('data-signature');
    assert.deepEqual(grouped.groups.find((g) => g.signature === signature)?.count, ROUNDS, JSON.stringify(grouped));

    // The deadlock above took ledger and report-cache in opposite orders: the
    // SDK's order facts make it a lock-order hazard, listed with both places.
    await page.waitForFunction(() => /report-cache/.test((globalThis as any).document.querySelector('#hazards').innerText), null, { timeout: STEP_MS });
    const hazardsText = await page.locator('#hazards').innerText();
    assert.match(hazardsText, /POTENTIAL DEADLOCK \(lock-order inversion\)/);
    assert.deepEqual(pageErrors, [], 'no script errors on the page');
    await shot(page, 'dashboard-history.png');

    // the same picture served alone over REST parses as an SVG document in the browser
    const history = (await (await fetch(`${daemon.httpUrl}/v1/deadlocks?limit=10`)).json()) as { deadlocks: { id: string; status: string }[] };
    const resolvedId = history.deadlocks.find((d) => d.status === 'resolved')?.id;
    assert.ok(resolvedId, JSON.stringify(history));
    await page.goto(`${daemon.httpUrl}/v1/deadlocks/${resolvedId}/svg`);
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
    await shot(page, 'deadlock-svg.png');
    await page.close();
  });

  browserTest('two deadlocks beside ~300 background nodes: apart, labels clear, focus lit, names unique', ['payments', 'batch'], async (setup, browser) => {
    const { daemon, scene } = setup;
    const [payments, batch] = setup.sdks as [Client, Client];
    // background: 100 × (a job holding its row, a worker waiting for it) = 300 nodes
    const JOBS = 100;
    for (let i = 0; i < JOBS; i++) {
      const row = batch.mutex(`jobs:row:${i}`);
      await scene.park(batch, `job #${i}`, [row]);
      void scene.park(batch, `worker #${i}`, [row], { heldFirst: 0 });
    }
    // two deadlocks whose resources share a long prefix (cut at the end they once all read "pg:advisory:ledger-…")
    const shard = (n: string) => payments.mutex(`pg:advisory:ledger-2024-eu-west-1-shard-${n}`);
    await scene.ring(payments, ['ledger sync eu-west', 'nightly ledger report'], [shard('07'), shard('08')]);
    await scene.ring(payments, ['invoice batch', 'invoice audit (quarterly)'], [shard('17'), shard('18')]);

    const { page, pageErrors } = await openDashboard(browser, `${daemon.httpUrl}/`, { width: 1366, height: 768 });
    await page.waitForFunction(
      (n) => {
        const d = (globalThis as any).dashboard;
        return d?.ready && d.frame.cycles.length === 2 && d.graph.order === 3 * n + 8 && d.frame.stats.waits === n + 4;
      },
      JOBS,
      { timeout: STEP_MS },
    );
    await painted(page);
    const at1366 = await checkDeadlockLayout(page, '1366×768');
    assert.equal(at1366.filter((n) => n.deadlocks.length > 0).length, 8, 'both deadlocks drawn: 4 owners, 4 resources');
    await shot(page, 'dashboard-1366.png');

    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.waitForFunction(() => (globalThis as any).dashboard.renderer.getDimensions().width > 1400, null, { timeout: STEP_MS });
    await painted(page);
    await checkDeadlockLayout(page, '1920×1080');
    await shot(page, 'dashboard-1920.png');

    // the sidebar: every resource name unique, shortened in the middle, the full name as its title
    const res = await page.evaluate(() =>
      [...(globalThis as any).document.querySelectorAll('#cycles g.res')].map((g: any) => ({ text: g.querySelector('text').textContent, title: g.querySelector('title').textContent })),
    );
    assert.equal(res.length, 4, JSON.stringify(res));
    assert.equal(new Set(res.map((r) => r.title)).size, 4, 'four resources');
    assert.equal(new Set(res.map((r) => r.text)).size, 4, `four different names shown: ${JSON.stringify(res)}`);
    for (const r of res) {
      assert.match(r.title, /^pg:advisory:ledger-2024-eu-west-1-shard-\d\d$/);
      const [head, tail] = r.text.split('…') as [string, string | undefined];
      assert.ok(tail !== undefined && r.title.startsWith(head) && r.title.endsWith(tail) && tail.length >= 2, `"${r.text}" cuts the middle of "${r.title}"`);
    }

    // focus: clicking a cycle card keeps that cycle's owners, resources and edges lit and dims the rest
    const focusId: string = await page.evaluate(() => (globalThis as any).dashboard.frame.cycles[0].id);
    await page.locator(`#cycles li.card[data-id="${focusId}"] .card-head`).click();
    await page.waitForFunction((id) => {
      const d = (globalThis as any).dashboard;
      return d.view.focusId === id && !d.renderer.getCamera().isAnimated();
    }, focusId, { timeout: STEP_MS });
    await painted(page);
    const lit = await page.evaluate((id) => {
      const d = (globalThis as any).dashboard;
      const inCycle = (k: string) => (d.graph.getNodeAttribute(k, 'deadlocks') ?? []).includes(id);
      const nodes: Array<{ label: string; kind: string; mine: boolean; color: string }> = [];
      d.graph.forEachNode((k: string, a: any) => nodes.push({ label: a.label, kind: a.kind, mine: inCycle(k), color: d.renderer.getNodeDisplayData(k).color }));
      const edges: Array<{ kind: string; color: string }> = [];
      d.graph.forEachEdge((e: string, a: any, s: string, t: string) => {
        if (!inCycle(s) || !inCycle(t)) return;
        edges.push({ kind: a.kind, color: a.kind === 'waits' ? d.view.waitColor(s, t) : d.renderer.getEdgeDisplayData(e).color });
      });
      return { nodes, edges };
    }, focusId);
    const mine = lit.nodes.filter((n) => n.mine);
    assert.equal(mine.length, 4);
    for (const n of mine) assert.notEqual(n.color, DIM, `${n.kind} ${n.label} of the focused cycle is lit`);
    for (const n of lit.nodes.filter((x) => !x.mine)) assert.equal(n.color, DIM, `${n.label} outside the focused cycle is dimmed`);
    assert.deepEqual(lit.edges.map((e) => e.kind).sort(), ['holds', 'holds', 'waits', 'waits'], 'the cycle\'s four edges');
    for (const e of lit.edges) assert.equal(e.color, RED, `the focused cycle's ${e.kind} edge is drawn red`);
    await shot(page, 'dashboard-focus.png');
    assert.deepEqual(pageErrors, [], 'no script errors on the page');

    // the README's picture: the whole graph at the most common laptop size
    await page.locator(`#cycles li.card[data-id="${focusId}"] .card-head`).click(); // unfocus
    await page.waitForFunction(() => (globalThis as any).dashboard.view.focusId === null, null, { timeout: STEP_MS });
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.waitForFunction(() => (globalThis as any).dashboard.renderer.getDimensions().width < 1000, null, { timeout: STEP_MS });
    // unfocusing zooms back out: wait until the camera is at rest on the whole graph
    await page.waitForFunction(() => {
      const c = (globalThis as any).dashboard.renderer.getCamera();
      return !c.isAnimated() && c.ratio === 1 && c.x === 0.5 && c.y === 0.5;
    }, null, { timeout: STEP_MS });
    await painted(page);
    await checkDeadlockLayout(page, '1366×768 again');
    await page.screenshot({ path: SCREENSHOT });
    await page.close();
  });

  browserTest('a 20- and a 197-member cycle are drawn as a capped list, not a ring', ['pipeline'], async (setup, browser) => {
    const { daemon, scene } = setup;
    const [dd] = setup.sdks as [Client];
    for (const n of [20, 197]) {
      const names = Array.from({ length: n }, (_, i) => `stage ${i} of ${n}`);
      const locks = Array.from({ length: n }, (_, i) => dd.mutex(`pipeline:${n}:step-${i}`));
      await scene.ring(dd, names, locks);
    }
    const { page, pageErrors } = await openDashboard(browser, `${daemon.httpUrl}/`, { width: 1366, height: 768 });
    await page.waitForFunction(() => {
      const d = (globalThis as any).dashboard;
      return d?.ready && d.frame.cycles.length === 2 && d.frame.history.length === 2;
    }, null, { timeout: STEP_MS });
    await painted(page);

    const pictures = await page.evaluate(() =>
      [...(globalThis as any).document.querySelectorAll('#cycles svg.picture, #history svg.picture')].map((svg: any) => {
        const rect = (el: any) => {
          const r = el.getBoundingClientRect();
          return { x0: r.left, x1: r.right, y0: r.top, y1: r.bottom };
        };
        return {
          list: svg.classList.contains('cycle-list'),
          summary: svg.querySelector('.summary')?.textContent ?? '',
          more: svg.querySelector('.more')?.textContent ?? '',
          height: svg.getBoundingClientRect().height,
          boxes: [...svg.querySelectorAll('g.member rect, g.res rect')].map(rect),
        };
      }),
    );
    // the two rings are one pattern (the same code; a longer ring of it is the same deadlock): one history card
    assert.equal(pictures.length, 3, 'two current cycles, one history card');
    assert.equal(await page.locator('#history li.history-entry').getAttribute('data-count'), '2');
    for (const p of pictures) {
      assert.ok(p.list, 'drawn as a list');
      const n = /^(\d+) tasks in one cycle$/.exec(p.summary)?.[1];
      assert.ok(n === '20' || n === '197', p.summary);
      assert.equal(p.boxes.length, 16, 'eight rows: a task and the resource it waits for');
      assert.match(p.more, new RegExp(`and ${Number(n) - 8} more members`));
      assert.deepEqual(overlapping(p.boxes.map((box, i) => ({ name: `box ${i}`, box }))), [], 'no two boxes overlap');
      assert.ok(p.height < 400, `the picture stays card-sized (${p.height} px)`);
    }
    // the graph keeps both rings apart from each other and on screen, without forcing 400 labels
    const nodes = await drawnNodes(page);
    const { width, height } = await page.evaluate(() => (globalThis as any).dashboard.renderer.getDimensions());
    assert.equal(nodes.length, 2 * (20 + 197));
    for (const n of nodes) assert.ok(n.disc.x0 >= -1 && n.disc.y0 >= -1 && n.disc.x1 <= width + 1 && n.disc.y1 <= height + 1, `${n.label} on screen`);
    assert.ok(nodes.every((n) => n.labelBox === null), 'labels of big cycles are left to hover and zoom');
    // in cycle order round the ring (or spiral): every edge joins neighbours, but the one that closes a spiral
    const lengths = await page.evaluate(() => {
      const d = (globalThis as any).dashboard;
      const at = (k: string) => d.renderer.framedGraphToViewport(d.renderer.getNodeDisplayData(k));
      const out: number[] = [];
      d.graph.forEachEdge((_e: string, _a: any, s: string, t: string) => {
        const p = at(s);
        const q = at(t);
        out.push(Math.hypot(p.x - q.x, p.y - q.y));
      });
      return out;
    });
    assert.equal(lengths.length, 2 * (20 + 197), 'a hold and a wait per member');
    const long = lengths.filter((l) => l > 40);
    assert.ok(long.length <= 2, `edges longer than 40 px: ${long.map(Math.round).join(', ')}`);
    await shot(page, 'dashboard-big-cycles.png');

    // the standalone SVG lists every member the report names
    const big: string = await page.evaluate(() => (globalThis as any).dashboard.frame.cycles.find((c: any) => c.report.members.length > 20).id);
    const svg = await (await fetch(`${daemon.httpUrl}/v1/deadlocks/${big}/svg`)).text();
    assert.equal(svg.match(/<g class="member"/g)?.length, 100, 'one row per member in the report (--max-report-members 100)');
    assert.match(svg, /and 97 more members/);
    assert.deepEqual(pageErrors, [], 'no script errors on the page');
    await page.close();
  });

  browserTest('after a daemon restart nothing on the page names a deadlock that is gone', ['payments'], async (setup, browser) => {
    const [dd] = setup.sdks as [Client];
    await setup.scene.ring(dd, ['restart side a', 'restart side b'], [dd.mutex('restart:1'), dd.mutex('restart:2')]);
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    await page.goto(`${setup.daemon.httpUrl}/`);
    await page.waitForFunction(() => (globalThis as any).dashboard?.frame?.cycles.length === 1, null, { timeout: STEP_MS });
    await painted(page);
    const old: string = await page.evaluate(() => (globalThis as any).dashboard.frame.cycles[0].id);

    // open a deadlocked owner's popup by clicking it, and focus its cycle
    const owner = (await drawnNodes(page)).find((n) => n.kind === 'owner' && n.deadlocks.includes(old))!;
    const origin = (await page.locator('#graph').boundingBox())!;
    await page.mouse.click(origin.x + (owner.disc.x0 + owner.disc.x1) / 2, origin.y + (owner.disc.y0 + owner.disc.y1) / 2);
    await page.waitForFunction(() => !(globalThis as any).document.querySelector('#node-info').hidden, null, { timeout: STEP_MS });
    assert.match(await page.locator('#node-info').innerText(), new RegExp(`in deadlock ${old}`));
    await page.locator(`#cycles li.card[data-id="${old}"] .card-head`).click();
    await page.waitForFunction((id) => (globalThis as any).dashboard.view.focusId === id, old, { timeout: STEP_MS });

    // kill -9 and a new daemon on the same port: it knows nothing of `old`; the SDK resyncs into a new deadlock
    const port = setup.daemon.port;
    await setup.daemon.kill9();
    await page.waitForFunction(() => (globalThis as any).dashboard.connection === 'down', null, { timeout: STEP_MS });
    setup.daemon = await startDaemon(['--port', String(port)]);
    await page.waitForFunction(
      (id) => {
        const d = (globalThis as any).dashboard;
        return d.connection === 'live' && d.frame.cycles.length === 1 && d.frame.cycles[0].id !== id;
      },
      old,
      { timeout: 2 * STEP_MS },
    );
    await painted(page);
    const seen = await page.evaluate((id) => {
      const d = (globalThis as any).dashboard;
      const doc = (globalThis as any).document;
      const outsideHistory = [...doc.querySelectorAll('body > header, #graph-note, #node-info, #cycles')].map((el: any) => el.innerText).join('\n');
      return { outsideHistory: outsideHistory.includes(id), focus: d.view.focusId, popupOpen: !doc.querySelector('#node-info').hidden, names: doc.querySelector('#node-info').innerText };
    }, old);
    assert.equal(seen.outsideHistory, false, `no panel, popup or card names ${old}`);
    assert.notEqual(seen.focus, old, 'the focus is not on the old deadlock');
    assert.equal(seen.popupOpen, false, 'the popup about the old state is closed');
    await shot(page, 'dashboard-after-restart.png');
    await page.close();
  });

  test('with auth on, the page opened with ?token= loads every file and goes live in its namespace', TEST_TIMEOUT, async (t) => {
    if (!browser) return t.skip(`chromium not installed at ${CHROMIUM}: apt-get install chromium`);
    const guarded = await startDaemon(['--tokens', 'dash-token=ops']);
    try {
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
