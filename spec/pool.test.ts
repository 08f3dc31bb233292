import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { createPool, ParallelizeError, task } from '@parallelize/core';
import { assertSameMatrix, randomFloats, rejection, serialMap, steadyThreadCount, threadCount, threadsBackTo, within } from './helpers.ts';

describe('Pool', () => {
  test('reuses its workers across many calls, each matching a serial map', async () => {
    const pool = createPool({ cores: 2 });
    const before = await steadyThreadCount();
    try {
      for (let call = 0; call < 40; call++) {
        const data = randomFloats(call * 7, call);
        const fn = call % 2 === 0 ? (x: number) => [x, x * x] : (x: number, i: number) => [i - x, Math.cos(x)];
        assertSameMatrix(await within(5000, pool.parallelize(data, fn, { callingThread: call % 3 !== 0 })), await serialMap(data, fn));
        assert.ok(threadCount() <= before + 2, 'never more threads than cores');
      }
    } finally {
      await pool.close();
    }
    await threadsBackTo(before);
  });

  test('concurrent calls never see each other\'s items, contexts or results', async () => {
    const pool = createPool({ cores: 2 });
    try {
      const calls = Array.from({ length: 8 }, (_, call) => {
        const data = Array.from({ length: 50 + call * 13 }, (_, i) => ({ call, i }));
        return pool.parallelize(data, (item: { call: number; i: number }, index: number, ctx: { call: number }) => [item.call, ctx.call, item.i - index], { context: { call }, chunkSize: 5, callingThread: false });
      });
      const results = await within(10_000, Promise.all(calls));
      results.forEach((result, call) => {
        assert.equal(result.rows, 50 + call * 13);
        for (let i = 0; i < result.rows; i++) assert.deepEqual(Array.from(result.row(i)), [call, call, 0]);
      });
    } finally {
      await pool.close();
    }
  });

  test('a call may use fewer cores than the pool', async () => {
    const pool = createPool({ cores: 2 });
    try {
      const result = await pool.parallelize(Array.from({ length: 20 }, (_, i) => i), () => {
        // threadId 0 is the main thread; workers number from 1.
        return (globalThis as any).process.getBuiltinModule?.('node:worker_threads')?.threadId ?? -1;
      }, { cores: 1, chunkSize: 1, callingThread: false });
      assert.equal(new Set(result.data).size, 1, 'every item ran on one thread');
      assert.ok(result.data[0]! > 0, 'a worker thread, whose id we could read');
    } finally {
      await pool.close();
    }
  });

  test('close() rejects calls in progress and later calls with ERR_POOL_CLOSED', async () => {
    const pool = createPool({ cores: 2 });
    const running = rejection(pool.parallelize(Array.from({ length: 100 }, (_, i) => i), (x: number) => { const t = Date.now() + 10; while (Date.now() < t); return x; }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    await within(5000, pool.close());
    const error = await running;
    assert.ok(error instanceof ParallelizeError);
    assert.equal(error.code, 'ERR_POOL_CLOSED');
    const later = await rejection(pool.parallelize([1], (x: number) => x));
    assert.equal(later.code, 'ERR_POOL_CLOSED');
    await pool.close(); // a second close is harmless
  });

  test('await using closes the pool at the end of the block', async () => {
    const before = await steadyThreadCount();
    {
      await using pool = createPool({ cores: 2 });
      await pool.parallelize([1, 2, 3, 4], (x: number) => x, { callingThread: false });
      assert.ok(threadCount() >= before + 2, 'two workers run');
    }
    await threadsBackTo(before);
  });

  test('a forgotten pool does not keep the process alive', () => {
    const script = `
      import { createPool } from '@parallelize/core';
      const pool = createPool({ cores: 2 });
      const m = await pool.parallelize([1, 2, 3, 4, 5, 6], (x) => x * 2, { callingThread: false });
      console.log(m.data.join(','));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(child.error, undefined, 'the child exited on its own before the 10 s limit');
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), '2,4,6,8,10,12');
  });
});

describe('Pool scheduling', () => {
  const sleepy = task(new URL('./fixtures/sleepy.js', import.meta.url));

  test('a chunk of shared-memory items costing over ~2 ms never waits in the queue of a worker still busy with another', async () => {
    // Item 0 sleeps 400 ms. Were item 1 queued behind it (as it would be to hide a message's round
    // trip), it would wait there while the other worker runs out of work.
    const pool = createPool({ cores: 2 });
    try {
      const data = new Float64Array(6);
      const result = await within(5000, pool.parallelize(data, sleepy, { chunkSize: 1, context: { firstMs: 400, ms: 20 } }));
      const first = result.get(0, 0);
      for (let i = 1; i < 6; i++) assert.notEqual(result.get(i, 0), first, `item ${i} ran on the thread that was still busy with item 0`);
    } finally {
      await pool.close();
    }
  });

  test('after a call fails, a thread still inside an endless item of it is taken back, and later calls never wait behind it', async () => {
    // Item 0 fails once item 99, on the other thread, has entered an endless loop that counts in
    // shared memory: that count must stop, and the next call must run on the threads left.
    const pool = createPool({ cores: 2 });
    try {
      const spins = new Int32Array(new SharedArrayBuffer(8));
      const data = Array.from({ length: 100 }, (_, v) => ({ v }));
      const failed = pool.parallelize(data, (item, _index, { spins }) => {
        if (item.v === 0) {
          while (Atomics.load(spins, 0) === 0);
          throw new Error('item 0 fails');
        }
        if (item.v === 99) for (;;) Atomics.add(spins, 0, 1);
        return item.v;
      }, { callingThread: false, chunkSize: 50, context: { spins } });
      assert.equal((await rejection(within(5000, failed))).index, 0);
      const next = await within(5000, pool.parallelize(Array.from({ length: 10 }, (_, v) => ({ v })), (item) => item.v * 2, { callingThread: false, chunkSize: 1 }));
      assert.deepEqual(next.toArrays().flat(), Array.from({ length: 10 }, (_, v) => v * 2));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const count = Atomics.load(spins, 0);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(Atomics.load(spins, 0), count, 'the endless item still runs');
    } finally {
      await pool.close();
    }
  });

  // One thread: call B's 400 ms item runs while call A's chunk waits behind it; A times out, and its
  // module never finishes loading. Once B is over, the thread reaches A's chunk and stays in it for
  // good, unless taken back. B either completes, or times out at 350 ms in the middle of its chunk
  // of two items (the thread then skips item 1, and says so).
  const behind = [
    { name: 'a chunk of a call that is over, reached only after another call\'s chunk, does not hold its thread either', b: { timeout: undefined, rows: 1 } },
    { name: 'nor when the call before it was stopped in the middle of its chunk, which the thread then skips', b: { timeout: 350, rows: 2 } },
  ];
  for (const { name, b: { timeout, rows } } of behind) {
    test(name, async () => {
      const pool = createPool({ cores: 1 });
      try {
        await pool.parallelize(new Float64Array(1), sleepy, { context: { firstMs: 0, ms: 0 }, callingThread: false }); // the thread up
        const b = pool.parallelize(new Float64Array(rows), sleepy, { context: { firstMs: 400, ms: 0 }, callingThread: false, chunkSize: rows, ...(timeout && { timeout }) });
        await new Promise((resolve) => setTimeout(resolve, 100));
        const a = pool.parallelize([1, 2], task(new URL('./fixtures/never-loads.js', import.meta.url)), { timeout: 100 });
        assert.equal((await rejection(within(5000, a))).code, 'ERR_TIMEOUT');
        if (timeout === undefined) assert.equal((await within(5000, b)).rows, 1);
        else assert.equal((await rejection(within(5000, b))).code, 'ERR_TIMEOUT');
        const c = await within(5000, pool.parallelize([1, 2], (x: number) => x * 2, { callingThread: false }));
        assert.deepEqual(Array.from(c.data), [2, 4]);
      } finally {
        await pool.close();
      }
    });
  }

  test('a thread that has moved on to a live call\'s chunk is not taken for a straggler while its reply waits to be read', async () => {
    // A times out inside its 150 ms item; B's chunk follows on the same thread. The caller then
    // blocks for 300 ms, so the thread is in B's item, A's reply unread, when A's grace ends.
    const pool = createPool({ cores: 1 });
    try {
      const thread = (await pool.parallelize(new Float64Array(1), sleepy, { context: { firstMs: 0, ms: 0 }, callingThread: false })).get(0, 0);
      // A's grace ends 80 ms after its item does (at 130 + 100 ms, against 150), a margin for a busy machine.
      const a = pool.parallelize(new Float64Array(2), sleepy, { context: { firstMs: 150, ms: 0 }, callingThread: false, timeout: 130, chunkSize: 2 });
      const b = pool.map([{}, {}], sleepy, { context: { firstMs: 300, ms: 0 }, chunkSize: 2 });
      await rejection(a);
      await new Promise<void>((resolve) => setImmediate(() => {
        const until = Date.now() + 300;
        while (Date.now() < until);
        resolve();
      }));
      assert.deepEqual(await within(5000, b), [thread, thread], 'B ran on the pool\'s thread, which was not terminated under it');
    } finally {
      await pool.close();
    }
  });

  test('a thread whose event loop something fn left behind holds for good is taken back too', async () => {
    // A timer of call 1 blocks the thread between chunks, forever: call 2 never starts there and
    // times out; call 3 must get a thread all the same.
    const pool = createPool({ cores: 1 });
    try {
      await pool.parallelize([1], (x: number) => {
        setTimeout(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0), 50);
        return x;
      }, { callingThread: false });
      await new Promise((resolve) => setTimeout(resolve, 300)); // the timer has blocked the thread by now
      assert.equal((await rejection(within(5000, pool.parallelize([1, 2], (x: number) => x, { callingThread: false, timeout: 200 })))).code, 'ERR_TIMEOUT');
      const next = await within(5000, pool.parallelize([1, 2], (x: number) => x * 2, { callingThread: false }));
      assert.deepEqual(Array.from(next.data), [2, 4]);
    } finally {
      await pool.close();
    }
  });

  for (const kind of ['typed', 'objects'] as const) {
    test(`another call's chunk never waits behind a long one of a call over ${kind === 'typed' ? 'a typed array' : 'an Array of objects'}`, async () => {
      // Call A's item 0 sleeps 400 ms; its item 1 costs nothing, which makes A's items look cheap
      // once it reports. Call B, started right after, has items of unknown cost: none of its
      // chunks may wait behind A's long item, however short A's items look by then.
      const pool = createPool({ cores: 2 });
      try {
        await pool.parallelize(new Float64Array(2), sleepy, { context: { firstMs: 0, ms: 0 } }); // both threads up
        const a = pool.parallelize(kind === 'typed' ? new Float64Array(2) : [{ v: 1 }, { v: 2 }], sleepy, { chunkSize: 1, context: { firstMs: 400, ms: 0 } });
        const b = pool.parallelize(new Float64Array(40), sleepy, { context: { firstMs: 10, ms: 10 } });
        const [resultA, resultB] = await within(5000, Promise.all([a, b]));
        assert.notEqual(resultB.get(0, 0), resultA.get(0, 0), 'B\'s first chunk waited behind A\'s 400 ms item');
      } finally {
        await pool.close();
      }
    });
  }
});
