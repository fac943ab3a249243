// What the SDK sends about who waits: hello's host and pid, a task's attributes (checked against
// the wire's bounds), and call sites trimmed to the app's frames.
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, it } from 'node:test';
import { appFrames } from '../src/stack-frames.js';
import { IMMEDIATE, sdkFixture } from './fake-daemon.js';

const fixture = sdkFixture({ service: 'ctx', ...IMMEDIATE });

describe('task context on the wire', () => {
  it('hello carries the user-set instance, the host and the pid', async () => {
    const { daemon } = await fixture.setup({ instance: 'checkout-blue' });
    const [hello] = daemon.ofType('hello');
    assert.equal(hello?.instance, 'checkout-blue');
    assert.equal(hello?.host, hostname());
    assert.equal(hello?.pid, process.pid);
  });

  it("a task's attributes go out with its owner declaration, once", async () => {
    const { daemon, dd } = await fixture.setup();
    const m = dd.mutex('ctx-m');
    await dd.task('checkout', { attributes: { orderId: 'o-7', attempt: 2, retry: true } }, async () => {
      const h = await m.acquire();
      await daemon.waitFor(() => daemon.facts().some((e) => e.type === 'hold'), 'the hold');
      h.release();
    });
    const owner = daemon.events().find((e) => e.type === 'owner' && e.name === 'checkout');
    assert.deepEqual(owner?.type === 'owner' ? owner.attributes : undefined, { orderId: 'o-7', attempt: 2, retry: true });
  });

  it('attributes outside the bounds are a TypeError at task(), not a bad frame later', async () => {
    const { dd } = await fixture.setup();
    const run = (attributes: unknown) => dd.task('t', { attributes: attributes as Record<string, string> }, () => 1);
    assert.throws(() => run({ nested: { a: 1 } }), TypeError);
    assert.throws(() => run({ '': 'x' }), TypeError);
    assert.throws(() => run({ k: 'x'.repeat(257) }), TypeError);
    assert.throws(() => run({ n: Number.NaN }), TypeError);
    assert.throws(() => run(Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, i]))), TypeError);
    assert.throws(() => run(['a']), TypeError);
    assert.equal(await run({ ok: 'yes' }), 1);
  });
});

describe('call sites: the app frames only', () => {
  it("drops Node's internals, the event loop's frames and the SDK's own", () => {
    const sdk = new URL('../src/primitives/queue.js', import.meta.url).href;
    const stack = [
      'Error',
      `    at Mutex.acquire (${sdk}:10:5)`,
      '    at transfer (file:///app/transfer.js:17:44)',
      '    at new Promise (<anonymous>)',
      '    at async Promise.all (index 0)',
      '    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)',
      '    at runNextTicks (node:internal/process/task_queues:64:5)',
      '    at listOnTimeout (node:internal/timers:581:17)',
      '    at async handle (/app/routes.js:18:5)',
    ].join('\n');
    assert.equal(appFrames(stack), 'at transfer (file:///app/transfer.js:17:44)\nat async handle (/app/routes.js:18:5)');
  });
});
