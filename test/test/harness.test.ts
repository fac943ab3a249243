// The harness itself: services run as child processes, meet at barriers
// through the test process, report a final JSON line, and a crashed service
// breaks the barrier for the others instead of hanging them.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeService, killAllChildren, runService, servicePath, startDaemon } from '../src/harness.js';
import { ProcessBarrier } from '../src/process-barrier.js';
import { TEST_TIMEOUT } from '../src/timing.js';

const T = TEST_TIMEOUT;

describe('e2e harness', () => {
  after(killAllChildren);

  test('services meet at every barrier and report their final JSON line', T, async () => {
    const barrier = new ProcessBarrier(3);
    const probe = servicePath('barrier-probe');
    const results = await Promise.all(
      ['p1', 'p2', 'p3'].map((name) => runService<{ name: string; passed: number }>(probe, ['--name', name, '--rounds', '10'], {}, { barrier })),
    );
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 0, describeService(`p${i + 1}`, r));
      assert.deepEqual(r.result, { name: `p${i + 1}`, passed: 10 });
    }
  });

  test('a service that dies breaks the barrier for the others', T, async () => {
    const barrier = new ProcessBarrier(2);
    const probe = servicePath('barrier-probe');
    const [crasher, survivor] = await Promise.all([
      runService(probe, ['--name', 'crasher', '--rounds', '5', '--crash-at', '2'], {}, { barrier }),
      runService<{ error?: string }>(probe, ['--name', 'survivor', '--rounds', '5'], {}, { barrier }),
    ]);
    assert.equal(crasher.code, 3, describeService('crasher', crasher));
    assert.equal(survivor.code, 1, describeService('survivor', survivor));
    assert.match(survivor.result?.error ?? '', /barrier round:2 broken/);
  });

  test('startDaemon runs the real daemon on a free port; stop() ends it cleanly', T, async () => {
    const d = await startDaemon();
    try {
      assert.match(d.url, /^ws:\/\/127\.0\.0\.1:\d+\/v1\/stream$/);
      assert.equal(d.httpUrl, `http://127.0.0.1:${d.port}`);
      const res = await fetch(`${d.httpUrl}/healthz`);
      assert.equal(res.status, 200);
    } finally {
      await d.stop();
    }
    assert.equal(d.proc.exitCode, 0, d.logs());
  });

  test('kill9() ends the daemon with SIGKILL', T, async () => {
    const d = await startDaemon();
    await d.kill9();
    assert.equal(d.proc.signalCode, 'SIGKILL');
  });

  test('startDaemon rejects with the daemon output when it cannot start', T, async () => {
    await assert.rejects(startDaemon(['--port', 'not-a-port']), /exited before listening[\s\S]*--port/);
  });
});
