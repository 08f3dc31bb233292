import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parallelize } from '@parallelize/core';
import { kStopGraceMs } from '../lib/pool.ts';
import { kShutdownGraceMs } from '../lib/worker-handle.ts';
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

  test('a one-shot call waits no longer than kStopGraceMs for a thread inside an endless item', () => {
    // Asked to leave, such threads used to be given the pool's full grace period (500 ms); the
    // debug log says how long they were given.
    const run = runModule(`
      import { parallelize } from '@parallelize/core';
      const timedOut = await parallelize([1, 2], (x) => { for (;;); }, { timeout: 200, cores: 2 }).catch((error) => error.code);
      const aborted = await parallelize([1, 2], (x) => { for (;;); }, { signal: AbortSignal.timeout(200), cores: 2 }).catch((error) => error.name);
      console.log(timedOut, aborted);
    `, { env: { NODE_DEBUG: 'parallelize' }, timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'ERR_TIMEOUT TimeoutError');
    assert.match(run.stderr, new RegExp(`did not leave within ${kStopGraceMs} ms; terminating it`));
    assert.doesNotMatch(run.stderr, new RegExp(`did not leave within ${kShutdownGraceMs} ms`));
  });

  test('a thread whose task module holds its event loop open leaves when told to, its exit handlers run', () => {
    const run = runModule(`
      import { parallelize, task } from '@parallelize/core';
      const held = await parallelize([1, 2, 3, 4], task('./spec/fixtures/holds-timer.js'), { cores: 2 });
      console.log(Array.from(held.data).join(','));
    `, { env: { NODE_DEBUG: 'parallelize' }, timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^2,4,6,8$/m);
    assert.equal(run.stdout.match(/exit handler ran/g)?.length, 2, run.stdout);
    assert.doesNotMatch(run.stderr, /did not leave within/);
  });

  test('a failing call\'s other threads finish the item they are in: their output is kept, and the process waits for its result', () => {
    // One thread fails at item 3; the other is inside item 10 (20 ms) and stops after it. Once,
    // closing the pool terminated it there (its "end 10" lost), and a process with nothing else
    // to do could end before the call settled (exit 13, the rejection never seen).
    for (let round = 0; round < 3; round++) {
      const run = runModule(`
        import { parallelize } from '@parallelize/core';
        const error = await parallelize(Array.from({ length: 20 }, (_, i) => i), (x) => {
          console.log('start', x);
          const until = Date.now() + 20;
          while (Date.now() < until);
          if (x === 3) throw new Error('bad item');
          console.log('end', x);
          return x;
        }, { cores: 2, chunkSize: 10, callingThread: false }).catch((error) => error);
        console.log('rejected:', error.message);
      `, { timeout: 30_000 });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /rejected: fn threw at item 3: Error: bad item/);
      const started = [...run.stdout.matchAll(/^start (1\d)$/gm)].map((m) => m[1]);
      const ended = [...run.stdout.matchAll(/^end (1\d)$/gm)].map((m) => m[1]);
      assert.ok(started.length > 0, run.stdout);
      assert.deepEqual(ended, started, `every item the other thread started, it finished: ${run.stdout}`);
    }
  });

  test('closing a pool during a call rejects the call and resolves once its threads are gone', () => {
    const run = runModule(`
      import { createPool } from '@parallelize/core';
      const pool = createPool({ cores: 1 });
      const call = pool.parallelize(Array.from({ length: 20 }, (_, i) => i), (x) => x * 2, { chunkSize: 10, callingThread: false });
      call.then(() => console.log('call resolved'), (error) => console.log('call rejected:', error.code));
      const until = Date.now() + 500;
      while (Date.now() < until);
      await pool.close();
      console.log('pool closed');
    `, { timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /call (resolved|rejected: ERR_POOL_CLOSED)\npool closed\n/);
  });

  test('closing a pool while a call runs on the calling thread rejects that call, and the process lives on', () => {
    // The call's promise was awaited only after the calling thread's share: the rejection that
    // close() caused in the meantime counted as unhandled, and ended the process.
    const run = runModule(`
      import { createPool } from '@parallelize/core';
      process.on('unhandledRejection', (error) => console.log('unhandled:', error.code));
      const pool = createPool({ cores: 2 });
      const call = pool.parallelize([1, 2, 3], async (x) => { await new Promise((r) => setTimeout(r, 100)); return x; });
      call.then(() => console.log('call resolved'), (error) => console.log('call rejected:', error.code));
      await new Promise((r) => setTimeout(r, 20));
      await pool.close();
      await new Promise((r) => setTimeout(r, 200));
      console.log('still here');
    `, { timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'call rejected: ERR_POOL_CLOSED\nstill here\n');
  });
});
