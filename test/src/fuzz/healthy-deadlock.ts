// The end-of-run check of the fuzzer and the soak: after whatever came before, a well-behaved
// client's deadlock is still found and resolved (an abort for one of its two waits).
import { WebSocket } from 'ws';
import { PROTOCOL_VERSION } from '@deadlockd/proto';
import { until } from '../timing.js';

export async function healthyDeadlockDetected(url: string, ms: number): Promise<boolean> {
  const ws = new WebSocket(url);
  const frames: Array<{ type?: string; waitId?: string }> = [];
  ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as { type?: string }));
  ws.on('error', () => {});
  try {
    await until(ms, 'the healthy client to connect', async () => (ws.readyState === WebSocket.OPEN ? true : undefined));
    ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, service: 'healthy', instance: 'healthy-1' }));
    await until(ms, 'the welcome', async () => (frames.some((f) => f.type === 'welcome') ? true : undefined));
    const r = (resource: string) => ({ type: 'resource', resource, kind: 'mutex', scope: 'local' });
    ws.send(
      JSON.stringify({
        type: 'events',
        seq: 1,
        events: [
          r('ha'), r('hb'),
          { type: 'owner', owner: 'a', name: 'a', priority: 0, abortable: true, startedAt: Date.now() },
          { type: 'owner', owner: 'b', name: 'b', priority: 0, abortable: true, startedAt: Date.now() },
          { type: 'hold', owner: 'a', resource: 'ha' },
          { type: 'hold', owner: 'b', resource: 'hb' },
          { type: 'wait', waitId: 'wa', owner: 'a', resource: 'hb' },
          { type: 'wait', waitId: 'wb', owner: 'b', resource: 'ha' },
        ],
      }),
    );
    const abort = await until(ms, 'the abort', async () => frames.find((f) => f.type === 'abort'));
    return abort.waitId === 'wa' || abort.waitId === 'wb';
  } catch {
    return false;
  } finally {
    ws.terminate();
  }
}
