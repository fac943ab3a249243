// How the SDK sends its resync snapshot when it does not fit one frame: in
// `snapshot` parts marked `more` to a daemon that announces maxSnapshotEvents,
// as `snapshot` + `events` to one that does not, and not at all (one warning,
// detection off) while the state is larger than the daemon takes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Held } from '../src/index.js';
import { EVENTS_PER_FRAME } from '../src/frame-writer.js';
import { IMMEDIATE, sdkFixture, waitUntil, type FakeDaemonOptions } from './fake-daemon.js';

const fixture = sdkFixture({ service: 'parts', ...IMMEDIATE, reconnect: { minDelayMs: 10, maxDelayMs: 20 } });

/** A client holding `n` mutexes (held by 'main' until released), then a dropped link and the resync. */
async function resyncWith(opts: FakeDaemonOptions, n: number) {
  const { daemon, dd, logger } = await fixture.setup({}, opts);
  const held: Held[] = [];
  for (let i = 0; i < n; i++) held.push(await dd.mutex(`m${i}`).acquire());
  await daemon.waitFor(() => daemon.facts().filter((e) => e.type === 'hold').length === n, 'the holds reported');
  daemon.dropAll();
  await daemon.waitFor(() => daemon.frames.some((r) => r.conn === 1), 'the reconnect');
  const onSecond = () => daemon.frames.filter((r) => r.conn === 1);
  return { daemon, dd, held, logger, second: () => onSecond().map((r) => r.frame), secondRaw: () => onSecond().map((r) => r.raw) };
}

describe('resync snapshot in parts', () => {
  it('a daemon that announces maxSnapshotEvents gets `snapshot` parts, all but the last marked `more`', async () => {
    const { daemon, held, second } = await resyncWith({ maxEventsPerFrame: 4, maxSnapshotEvents: 100 }, 5);
    try {
      await daemon.waitFor(() => second().some((f) => f.type === 'snapshot' && f.more !== true), 'the last part');
      const frames = second().filter((f) => f.type !== 'hello');
      assert.ok(frames.length >= 3, JSON.stringify(frames));
      assert.ok(frames.every((f) => f.type === 'snapshot'), JSON.stringify(frames.map((f) => f.type)));
      assert.deepEqual(frames.map((f) => f.type === 'snapshot' && f.more === true), [...frames.slice(1).map(() => true), false]);
      const events = frames.flatMap((f) => (f.type === 'snapshot' ? f.events : []));
      assert.equal(events.filter((e) => e.type === 'hold').length, 5);
    } finally {
      for (const h of held) h.release();
    }
  });

  // 1,100 held mutexes: each a declaration and a hold, with the owner over 2,200 events
  async function frameSizes(opts: FakeDaemonOptions, n = 1_100): Promise<{ sizes: number[]; release: () => void }> {
    const { daemon, held, second } = await resyncWith(opts, n);
    const resent = () => second().flatMap((f) => (f.type === 'snapshot' || f.type === 'events' ? f.events : []));
    await daemon.waitFor(() => resent().filter((e) => e.type === 'hold').length === n, 'every hold resent');
    const sizes = second().flatMap((f) => (f.type === 'snapshot' || f.type === 'events' ? [f.events.length] : []));
    return { sizes, release: () => held.forEach((h) => h.release()) };
  }

  it(`parts carry at most ${EVENTS_PER_FRAME} events even when the daemon takes more per frame`, async () => {
    const { sizes, release } = await frameSizes({ maxEventsPerFrame: 10_000, maxSnapshotEvents: 250_000 });
    release();
    assert.ok(sizes.length >= 2 && sizes.every((k) => k <= EVENTS_PER_FRAME), `frames of ${sizes.join(', ')} events`);
  });

  it('to a daemon that takes no parts, a snapshot goes whole up to its own limit per frame', async () => {
    const { sizes, release } = await frameSizes({ maxEventsPerFrame: 10_000 });
    release();
    assert.equal(sizes.length, 1, `one snapshot frame: ${sizes.join(', ')}`);
  });

  it('a daemon that does not announce it gets one `snapshot` and then `events`, no `more`', async () => {
    const { daemon, held, second, secondRaw } = await resyncWith({ maxEventsPerFrame: 4 }, 5);
    try {
      await daemon.waitFor(() => second().filter((f) => f.type === 'snapshot' || f.type === 'events').length >= 3, 'the resync frames');
      const frames = second().filter((f) => f.type !== 'hello');
      assert.equal(frames[0]?.type, 'snapshot');
      assert.ok(frames.slice(1).every((f) => f.type === 'events'), JSON.stringify(frames.map((f) => f.type)));
      // on the wire itself: the schema the fake daemon parses with would drop an unknown key
      assert.ok(secondRaw().every((text) => !('more' in JSON.parse(text))), 'no `more` for a daemon that does not take it');
    } finally {
      for (const h of held) h.release();
    }
  });

  it('a state over the announced limit is not sent (one warning) until it shrinks below the refused size', async () => {
    const { daemon, held, logger, second } = await resyncWith({ maxEventsPerFrame: 100, maxSnapshotEvents: 6 }, 5);
    try {
      // 5 holds + 5 mutex declarations + the owner 'main' = 11 events > 6
      // the SDK decides at the welcome, and warns as it does: wait for the warning, not for a time
      const tooBig = (w: string) => /exceeds the daemon's --max-snapshot-events \(6\)/.test(w);
      await waitUntil(() => logger.warnings.some(tooBig), 'the over-the-limit warning');
      assert.deepEqual(second().filter((f) => f.type !== 'hello'), [], 'nothing sent on the new connection');
      const warned = logger.warnings.filter(tooBig);
      assert.equal(warned.length, 1, logger.warnings.join('\n'));
      assert.match(warned[0]!, /deadlock detection is off for this client meanwhile/);
      // shrink to 2 holds: 2 + 2 + 1 = 5 events fit
      for (const h of held.splice(2)) h.release();
      await daemon.waitFor(() => second().some((f) => f.type === 'snapshot'), 'the snapshot once the state fits');
      const snap = second().find((f) => f.type === 'snapshot');
      assert.ok(snap?.type === 'snapshot');
      assert.deepEqual(snap.events.filter((e) => e.type === 'hold').map((e) => (e.type === 'hold' ? e.resource : '')).sort(), ['m0', 'm1']);
      assert.equal(logger.warnings.filter((w) => /max-snapshot-events/.test(w)).length, 1, 'warned once');
    } finally {
      for (const h of held) h.release();
    }
  });
});
