// GET /v1/hazards: scenario 10 through raw frames from two services, read back over REST.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectClient, startTestDaemon } from './helpers.js';

test('a lock-order inversion across two services is served at /v1/hazards and sent as a hazard frame', async () => {
  const d = await startTestDaemon();
  try {
    const decl = [
      { type: 'resource', resource: 'acct:a', kind: 'mutex', scope: 'global' },
      { type: 'resource', resource: 'acct:b', kind: 'mutex', scope: 'global' },
    ];
    const { client: pay } = await connectClient(d.wsUrl, { service: 'payments', instance: 'p-1' });
    const { client: led } = await connectClient(d.wsUrl, { service: 'ledger', instance: 'l-1' });
    pay.send({ type: 'events', seq: 1, events: [...decl, { type: 'order', held: 'acct:a', acquired: 'acct:b', owner: 't1', stack: 'Error\n    at transfer (/app/pay.js:3:1)' }] });
    await pay.barrier();
    led.send({ type: 'events', seq: 1, events: [...decl, { type: 'order', held: 'acct:b', acquired: 'acct:a', owner: 't9' }] });
    const frame = await led.next('hazard');
    assert.equal(frame.hazard.kind, 'lock-order-inversion');
    const other = await pay.next('hazard');
    assert.equal(other.hazard.id, frame.hazard.id, 'both contributing clients are told');

    const res = await fetch(`${d.url}/v1/hazards`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { hazards: { id: string; crossService: boolean; sites: { service: string }[]; text: string }[] };
    assert.equal(body.hazards.length, 1);
    assert.equal(body.hazards[0]!.crossService, true);
    assert.deepEqual(body.hazards[0]!.sites.map((s) => s.service).sort(), ['ledger', 'payments']);
    assert.match(body.hazards[0]!.text, /at transfer \(\/app\/pay\.js:3:1\)/);
    const one = await fetch(`${d.url}/v1/hazards/${frame.hazard.id}`);
    assert.equal(one.status, 200);
    assert.equal((await fetch(`${d.url}/v1/hazards/LO-nope`)).status, 404);
    assert.equal(((await (await fetch(`${d.url}/v1/hazards?kind=nested-pool-checkout`)).json()) as { hazards: unknown[] }).hazards.length, 0);
    await pay.close();
    await led.close();
  } finally {
    await d.close();
  }
});
