// afterPoll (after-poll.ts) runs its callback only after the event loop has read its sockets
// again, where a plain setImmediate queued from a socket's callback runs before that: data that
// arrives meanwhile is handled first. Checked on a real TCP connection over loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { afterPoll } from '../src/after-poll.js';

async function pair(): Promise<{ server: ReturnType<typeof createServer>; near: Socket; far: Socket }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const far = connect(addr.port, '127.0.0.1');
  await once(far, 'connect');
  const [near] = await accepted;
  return { server, near, far };
}

test('from a socket callback: setImmediate runs before the next read, afterPoll after it', async () => {
  const { server, near, far } = await pair();
  try {
    const order: string[] = [];
    let chunks = 0;
    const done = new Promise<void>((resolve) => {
      near.on('data', () => {
        chunks++;
        order.push(`data ${chunks}`);
        if (chunks === 1) {
          far.write('b'); // on loopback this is readable before the loop polls again
          setImmediate(() => order.push('setImmediate'));
          afterPoll(() => {
            order.push('afterPoll');
            resolve();
          });
        }
      });
    });
    far.write('a');
    await done;
    assert.deepEqual(order, ['data 1', 'setImmediate', 'data 2', 'afterPoll']);
  } finally {
    near.destroy();
    far.destroy();
    server.close();
  }
});

test('from an afterPoll callback (the check phase): the next one runs after a poll too, in order', async () => {
  const { server, near, far } = await pair();
  try {
    const order: string[] = [];
    const done = new Promise<void>((resolve) => {
      near.on('data', () => order.push('data'));
      afterPoll(() => {
        order.push('first');
        far.write('x');
        afterPoll(() => {
          order.push('second');
          resolve();
        });
      });
    });
    await done;
    assert.deepEqual(order, ['first', 'data', 'second']);
  } finally {
    near.destroy();
    far.destroy();
    server.close();
  }
});
