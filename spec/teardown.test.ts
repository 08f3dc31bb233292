import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parallelize } from '@parallelize/core';
import { rejection, runModule, steadyThreadCount, threadCount } from './helpers.ts';

describe('teardown', () => {
  test('a one-shot call leaves no worker thread running after it resolves', async () => {
    const before = await steadyThreadCount();
    for (const cores of [1, 2, 4]) {
      const result = await parallelize(Array.from({ length: 50 }, (_, i) => i), (x: number) => x, { cores, callingThread: false });
      assert.equal(result.rows, 50);
      assert.equal(threadCount(), before, `no thread left after a call on ${cores} cores`);
    }
  });

  test('a one-shot call leaves no worker thread running after it rejects', async () => {
    const before = await steadyThreadCount();
    for (const cores of [1, 2, 4]) {
      const error = await rejection(parallelize(Array.from({ length: 50 }, (_, i) => i), (x: number) => { if (x === 20) throw new Error('x'); return x; }, { cores, callingThread: false }));
      assert.equal(error.code, 'ERR_TASK_FAILED');
      assert.equal(threadCount(), before, `no thread left after a failed call on ${cores} cores`);
    }
  });

  test('a worker stuck in a long item is terminated when the call fails', async () => {
    const before = await steadyThreadCount();
    const started = Date.now();
    const error = await rejection(parallelize([0, 1], (x: number) => {
      if (x === 0) throw new Error('fails at once');
      const until = Date.now() + 30_000;
      while (Date.now() < until);
      return x;
    }, { cores: 2, chunkSize: 1 }));
    assert.equal(error.index, 0);
    assert.ok(Date.now() - started < 3000, `settled in ${Date.now() - started} ms, not after the 30 s item`);
    assert.equal(threadCount(), before);
  });

  test('a one-shot call waits for no thread it has no more use for: one inside an endless item, one held by its module', () => {
    // Asked to leave, such threads used to be given the pool's grace period (500 ms) each time;
    // the debug log says so when it happens.
    const run = runModule(`
      import { parallelize, task } from '@parallelize/core';
      const timedOut = await parallelize([1, 2], (x) => { for (;;); }, { timeout: 200, cores: 2 }).catch((error) => error.code);
      const aborted = await parallelize([1, 2], (x) => { for (;;); }, { signal: AbortSignal.timeout(200), cores: 2 }).catch((error) => error.name);
      const held = await parallelize([1, 2, 3, 4], task('./spec/fixtures/holds-timer.js'), { cores: 2 });
      console.log(timedOut, aborted, Array.from(held.data).join(','));
    `, { env: { NODE_DEBUG: 'parallelize' }, timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'ERR_TIMEOUT TimeoutError 2,4,6,8');
    assert.match(run.stderr, /terminating worker/, 'the threads inside endless items were terminated');
    assert.doesNotMatch(run.stderr, /did not leave within/);
  });
});
