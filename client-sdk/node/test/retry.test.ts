import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeadlockError, retryOnDeadlock } from '../src/index.js';
import { report } from './fake-daemon.js';

describe('retryOnDeadlock', () => {
  it('retries DeadlockError and returns the first success', async () => {
    let n = 0;
    const v = await retryOnDeadlock(async () => {
      if (++n < 3) throw new DeadlockError(`d${n}`, report(`d${n}`));
      return n;
    }, { backoffMs: 1 });
    assert.equal(v, 3);
  });

  it('passes any other error through without retrying', async () => {
    let n = 0;
    await assert.rejects(
      retryOnDeadlock(() => {
        n++;
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(n, 1);
  });

  it('gives up after `retries` retries with the last DeadlockError', async () => {
    let n = 0;
    await assert.rejects(
      retryOnDeadlock(async () => {
        n++;
        throw new DeadlockError('dx', report('dx'));
      }, { retries: 2, backoffMs: 0 }),
      DeadlockError,
    );
    assert.equal(n, 3);
  });
});
