import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parallelize } from '@parallelize/core';
import { rejection, steadyThreadCount, threadCount } from './helpers.ts';

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

  test('a worker stuck in a long item is terminated after the grace period when the call fails', async () => {
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
});
