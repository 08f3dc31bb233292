// Regressions found by an independent review of the first version.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { createPool, map, parallelize, task } from '@parallelize/core';
import { rejection, within } from './helpers.ts';

describe('review regressions', () => {
  test('a timeout while a worker loads a module that never finishes leaves the pool usable', async () => {
    const pool = createPool({ cores: 1 });
    try {
      const error = await rejection(pool.parallelize([1, 2], task(new URL('./fixtures/never-loads.js', import.meta.url)), { timeout: 300 }), 5000);
      assert.equal(error.code, 'ERR_TIMEOUT');
      const next = await within(5000, pool.parallelize([1, 2], (x: number) => x + 1, { callingThread: false }));
      assert.deepEqual(Array.from(next.data), [2, 3]);
    } finally {
      await pool.close();
    }
  });

  test('a forgotten pool whose call failed to send its context does not keep the process alive', () => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { createPool } from '@parallelize/core';
      const pool = createPool({ cores: 1 });
      await pool.parallelize([1, 2], (x) => x, { context: { f: () => 1 }, callingThread: false }).catch((e) => console.log(e.code));
    `], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(child.error, undefined, 'the child exited on its own');
    assert.equal(child.stdout.trim(), 'ERR_DATA_CLONE');
  });

  test('in collect mode, a shape error never blames an item that threw', async () => {
    const error = await rejection(parallelize(Array.from({ length: 500 }, (_, i) => i), (x: number) => {
      if (x === 250) throw new Error('threw');
      return x > 250 ? [x, x, x] : [x, x];
    }, { onError: 'collect', chunkSize: 250, cores: 2, callingThread: false }));
    assert.equal(error.code, 'ERR_RESULT_SHAPE');
    assert.equal(error.index, 251);
    assert.match(error.message, /^fn returned 3 values for item 251, but 2 for item 0/);
  });

  test('an error escaping fn through a timer fails its own call, and the next call is not blamed', async () => {
    const pool = createPool({ cores: 1 });
    try {
      // Item 3 waits on a timer itself, so the thread's event loop turns (and fires item 2's timer)
      // before the call can end: chunks already queued on the thread would otherwise run first.
      const error = await rejection(pool.parallelize([1, 2, 3], async (x: number) => {
        if (x === 2) setTimeout(() => { throw new Error('late throw'); }, 0);
        if (x === 3) await new Promise((resolve) => setTimeout(resolve, 20));
        return x;
      }, { callingThread: false, chunkSize: 1 }));
      assert.equal(error.code, 'ERR_TASK_FAILED');
      assert.match(error.message, /^an error escaped fn's call \(from a timer or a promise it did not await\): Error: late throw$/);
      const next = await pool.parallelize([1, 2, 3], (x: number) => x * 2, { callingThread: false });
      assert.deepEqual(Array.from(next.data), [2, 4, 6]);
    } finally {
      await pool.close();
    }
  });

  test('an error escaping fn after its call has settled is a process warning, not lost', async () => {
    const pool = createPool({ cores: 1 });
    try {
      const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
      const result = await pool.parallelize([1, 2], (x: number) => {
        if (x === 2) setTimeout(() => { throw new Error('too late'); }, 5);
        return x;
      }, { callingThread: false });
      assert.deepEqual(Array.from(result.data), [1, 2], 'the call itself succeeded');
      // Idle threads do not keep the process alive; this timer does, until the warning comes.
      let timer: NodeJS.Timeout | undefined;
      const warning = await Promise.race([warned, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('no warning within 5 s')), 5000); })]);
      clearTimeout(timer);
      assert.equal((warning as Error & { code?: string }).code, 'PARALLELIZE_STRAY_ERROR');
      assert.match(warning.message, /^an error escaped fn's call \(from a timer or a promise it did not await\): Error: too late \(after call \d+ had settled\)$/);
    } finally {
      await pool.close();
    }
  });

  test('an unhandled rejection in fn fails the call with its reason', async () => {
    const error = await rejection(parallelize([1, 2], (x: number) => { if (x === 1) void Promise.reject(new RangeError('nobody awaited me')); return x; }, { callingThread: false, cores: 1 }));
    assert.equal(error.code, 'ERR_TASK_FAILED');
    assert.match(error.message, /RangeError: nobody awaited me$/);
  });

  test('a chunk of 200,000 items that all fail in collect mode is listed, not an internal error', { timeout: 60_000 }, async () => {
    const result = await parallelize(new Float64Array(200_000), () => { throw 'no'; }, { onError: 'collect', chunkSize: 200_000, cores: 1, callingThread: false });
    assert.deepEqual([result.rows, result.cols, result.errors.length], [200_000, 0, 200_000]);
  });

  test('map() on the calling thread returns copies, and refuses results a worker could not send', async () => {
    const items = [{ a: 1 }, { a: 2 }];
    const copies = await map(items, (item: { a: number }) => item);
    assert.deepEqual(copies, items);
    assert.notEqual(copies[0], items[0], 'a copy, as from a worker');
    const error = await rejection(map([1, 2], (x: number) => (x === 2 ? () => x : x)));
    assert.deepEqual([error.code, error.index], ['ERR_DATA_CLONE', 1]);
  });
});
