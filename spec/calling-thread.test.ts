import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPool, parallelize } from '@parallelize/core';
import { runOnCallingThread } from '../lib/calling-thread.ts';
import { prepareInput } from '../lib/input.ts';
import { Job } from '../lib/job.ts';
import { rejection, runModule, steadyThreadCount, threadCount, threadsBackTo } from './helpers.ts';

// Inline functions must be self-contained, so each one below reads its thread id itself
// (0 is the calling thread) from the `worker_threads` module.
type WithBuiltins = { getBuiltinModule(id: 'node:worker_threads'): { threadId: number } };

declare const scaleForSpec: number;

describe('the calling thread', () => {
  test('runs a cheap call itself, starting no thread', async () => {
    const before = await steadyThreadCount();
    let during = 0;
    const call = parallelize(Array.from({ length: 1000 }, (_, i) => i), (x: number) => [x * 2, (process as unknown as WithBuiltins).getBuiltinModule('node:worker_threads').threadId]);
    during = threadCount();
    const result = await call;
    assert.equal(during, before, 'no thread was started');
    assert.deepEqual(new Set(Array.from({ length: 1000 }, (_, i) => result.get(i, 1))), new Set([0]));
    assert.equal(result.get(999, 0), 1998);
  });

  test('leaves to threads a function that reads a global the caller set, so that its call fails whatever its size', async () => {
    // Run here, fn would see the caller's global and work for small calls only: threads lack it.
    const scope = globalThis as { scaleForSpec?: number };
    scope.scaleForSpec = 2;
    try {
      const global = (x: number) => x * (globalThis as { scaleForSpec?: number }).scaleForSpec! + scaleForSpec;
      for (const size of [4, 40_000]) {
        const error = await rejection(parallelize(Array.from({ length: size }, (_, i) => i), global));
        assert.equal(error.code, 'ERR_TASK_FAILED', `${size} items`);
        assert.match(error.message, /scaleForSpec is not defined\. Inline functions run in a worker thread/);
      }
      assert.deepEqual(Array.from((await parallelize([1, 2], (x: number) => x * 2)).data), [2, 4], 'other functions still run');
      // A name the function declares itself is its own, whatever globals the caller has.
      // (Written as a string: the TypeScript compiler would rename a parameter shadowing a global.)
      const ownName = new Function("return (scaleForSpec) => [scaleForSpec * 3, process.getBuiltinModule('node:worker_threads').threadId]")() as (x: number) => number[];
      const own = await parallelize([1, 2], ownName);
      assert.deepEqual(own.toArrays(), [[3, 0], [6, 0]], 'ran on the calling thread');
    } finally {
      delete scope.scaleForSpec;
    }
  });

  test('gives an expensive call to threads after timing its first items', async () => {
    const result = await parallelize(Array.from({ length: 40 }, (_, i) => i), (x: number) => {
      const until = performance.now() + 3;
      while (performance.now() < until);
      return [x, (process as unknown as WithBuiltins).getBuiltinModule('node:worker_threads').threadId];
    }, { cores: 2 });
    const threads = new Set(Array.from({ length: 40 }, (_, i) => result.get(i, 1)));
    assert.ok(result.get(0, 1) === 0, 'the first item was timed here');
    assert.ok([...threads].filter((id) => id !== 0).length >= 1, `worker threads ran the rest: ${[...threads].join(', ')}`);
    assert.deepEqual(Array.from({ length: 40 }, (_, i) => result.get(i, 0)), Array.from({ length: 40 }, (_, i) => i));
  });

  test('decides the call of a function that threads took last time from their cost, without timing it again', async () => {
    const pool = createPool({ cores: 2 });
    const costly = (x: number) => {
      const until = performance.now() + 2;
      while (performance.now() < until);
      return [x, (process as unknown as WithBuiltins).getBuiltinModule('node:worker_threads').threadId];
    };
    // 100 items of 2 ms: more than a thread start (50 ms) saves, even on a pool with no thread yet.
    const data = Float64Array.from({ length: 100 }, (_, i) => i);
    const threadsOf = (result: { rows: number; get(row: number, col: number): number }) => new Set(Array.from({ length: result.rows }, (_, i) => result.get(i, 1)));
    try {
      const first = await pool.parallelize(data, costly);
      assert.equal(first.get(0, 1), 0, 'the first call timed its first item on the calling thread');
      assert.ok([...threadsOf(first)].some((id) => id !== 0), 'then gave the rest to threads');
      const second = await pool.parallelize(data, costly);
      assert.ok(!threadsOf(second).has(0), `the second ran nothing on the calling thread: ${[...threadsOf(second)].join(', ')}`);
      assert.deepEqual(Array.from({ length: 100 }, (_, i) => second.get(i, 0)), Array.from(data));
      // Another function is timed on the calling thread as ever (five items: less than the 1 ms of timing).
      const cheap = await pool.parallelize(data.subarray(0, 5), (x: number) => [x, (process as unknown as WithBuiltins).getBuiltinModule('node:worker_threads').threadId]);
      assert.deepEqual([...threadsOf(cheap)], [0]);
    } finally {
      await pool.close();
    }
    // A pool with no thread yet times the function again: a wrong memory would cost a thread start.
    const fresh = await parallelize(data, costly, { cores: 2 });
    assert.equal(fresh.get(0, 1), 0, 'a fresh pool timed the first item on the calling thread');
    assert.ok([...threadsOf(fresh)].some((id) => id !== 0));
  });

  test('remembers the threads\' cost of a function only while it is worth remembering', async () => {
    const pool = createPool({ cores: 2 });
    // Items cost what the context says: 2 ms in the first call, ~1 µs (the clock, the thread id) in the others.
    const fn = (x: number, i: number, ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
      return [x, (process as unknown as WithBuiltins).getBuiltinModule('node:worker_threads').threadId];
    };
    const onCallingThread = (result: { rows: number; get(row: number, col: number): number }) => Array.from({ length: result.rows }, (_, i) => result.get(i, 1)).filter((id) => id === 0).length;
    const many = Float64Array.from({ length: 20_000 }, (_, i) => i);
    try {
      await pool.parallelize(many.subarray(0, 100), fn, { context: 2 });
      // Remembered at ~2 ms an item: the cheap call goes to the running threads without a look...
      assert.equal(onCallingThread(await pool.parallelize(many, fn, { context: 0 })), 0);
      // ...where its items cost ~1 µs: forgotten, the next call is timed here again.
      assert.ok(onCallingThread(await pool.parallelize(many, fn, { context: 0 })) > 0);
    } finally {
      await pool.close();
    }
  });

  test('sees what a worker sees: no outer variables', async () => {
    const before = await steadyThreadCount();
    const factor = 3;
    const error = await rejection(parallelize([1, 2, 3], (x: number) => x * factor));
    assert.equal(threadCount(), before, 'it ran here');
    assert.equal(error.code, 'ERR_TASK_FAILED');
    assert.match(error.message, /factor is not defined\. Inline functions run in a worker thread/);
  });

  test('passes a clone of the context, as a worker gets, but the caller\'s own Array items', async () => {
    const items = [{ n: 1 }, { n: 2 }];
    const context = { seen: 0 };
    const result = await parallelize(items, (item: { n: number }, _i: number, ctx: { seen: number }) => { ctx.seen++; return [item.n, ctx.seen]; }, { context });
    assert.deepEqual(result.toArrays(), [[1, 1], [2, 2]]);
    assert.equal(context.seen, 0, "the caller's context is untouched");
    // Items are not cloned here (cloning would cost more than cheap work), so one that could not
    // be sent to a worker is no error on this path.
    const uncloneable = await parallelize([{ f: () => 1 }], (item: { f: () => number }) => typeof item.f === 'function' ? 1 : 0);
    assert.equal(uncloneable.get(0, 0), 1);
  });

  test('is never used with callingThread: false, timeout or signal', async () => {
    const cheap = (x: number) => (process as unknown as WithBuiltins).getBuiltinModule('node:worker_threads').threadId + x * 0;
    for (const options of [{ callingThread: false }, { timeout: 10_000 }, { signal: new AbortController().signal }]) {
      const result = await parallelize([1, 2, 3, 4], cheap, options);
      assert.ok(result.data.every((id) => id > 0), `${JSON.stringify(Object.keys(options))}: every item ran on a worker`);
    }
  });

  test('is never used on a pool with resourceLimits', async () => {
    const pool = createPool({ cores: 1, resourceLimits: { maxOldGenerationSizeMb: 64 } });
    try {
      const result = await pool.parallelize([1, 2], () => (process as unknown as WithBuiltins).getBuiltinModule('node:worker_threads').threadId);
      assert.ok(result.data.every((id) => id > 0));
    } finally {
      await pool.close();
    }
  });

  test('times slow first items one at a time, then hands over', async () => {
    const result = await parallelize(Array.from({ length: 6 }, (_, i) => i), (x: number) => { const until = performance.now() + 5; while (performance.now() < until); return x; }, { cores: 2 });
    assert.deepEqual(Array.from(result.data), [0, 1, 2, 3, 4, 5]);
  });
});

describe('the calling thread\'s batches', () => {
  test('run a warm function\'s cheap call in a few batches, the first of one item', async () => {
    const source = '(x) => x * 3 + 0.25'; // of this spec only: no other has run it here
    const batchesOf = async () => {
      const input = prepareInput(Float64Array.from({ length: 1_000_000 }, (_, i) => i));
      const job = new Job({ input, fn: { kind: 'inline', source }, context: undefined, cores: 1, collect: false, keepValues: false });
      const batches: number[] = [];
      const doneHere = job.doneHere.bind(job);
      job.doneHere = (start, end, outcome) => {
        batches.push(end - start);
        doneHere(start, end, outcome);
      };
      // One core: threads never beat the calling thread, so the call stays here whatever the machine's speed.
      const { start } = await runOnCallingThread(job, input, source, undefined, 1, true);
      assert.equal(start, 1_000_000, 'finished on the calling thread');
      assert.equal(job.rowsDone, 1_000_000);
      job.abandon();
      return batches;
    };
    const cold = await batchesOf();
    // (A batch may also hold fewer, when the last took long: the first item compiles fn's loop.)
    assert.ok(cold[0] === 1 && cold.slice(1, 6).every((n, k) => n <= 2 * cold[k]!), `a function new here doubles from one item: ${cold.join(', ')}`);
    // A first item that took kLoneItemNs longer than the known cost (this thread descheduled for a
    // moment, on a busy machine) makes the call double from one item instead: a few tries.
    const tries: number[][] = [];
    for (let k = 0; k < 5 && (tries.length === 0 || tries.at(-1)![1]! < 1000); k++) tries.push(await batchesOf());
    const warm = tries.at(-1)!;
    assert.ok(tries.every((batches) => batches[0] === 1), `the first batch is one item: ${tries.map((batches) => batches[0]).join(', ')}`);
    assert.ok(warm[1]! >= 1000, `then about half a ms of work at the cost measured before: ${tries.map((batches) => batches.join(', ')).join(' / ')}`);
    assert.ok(warm.length < cold.length, `fewer batches: ${warm.length} against ${cold.length}`);
  });
});

describe('the cost the calling thread measured', () => {
  test('is not handed on when items grow costlier along the data', async () => {
    const probe = async (source: string, count: number) => {
      const input = prepareInput(Float64Array.from({ length: count }, (_, i) => i));
      const job = new Job({ input, fn: { kind: 'inline', source }, context: undefined, cores: 2, collect: false, keepValues: false });
      const outcome = await runOnCallingThread(job, input, source, undefined, 2, false);
      job.abandon();
      return outcome;
    };
    // First compile our own code, so that the timings below are of fn alone.
    await probe('(x) => x', 100);
    // Item i busy-waits i × 20 µs: every batch costs several times more per item than the first ones.
    const { start, itemNs } = await probe('(x, i) => { const until = performance.now() + i * 0.02; while (performance.now() < until); return x; }', 2000);
    assert.ok(start > 0 && start < 2000, `the calling thread ran the first ${start} items, then handed over`);
    assert.equal(itemNs, undefined);
  });

  test('hands over soon when cheap items turn costly in the middle of a batch', async () => {
    // 200,000 items: the first 100,000 trivial, the rest 0.5 ms each. Batches sized for the cheap
    // ones hold tens of thousands of items (tens of seconds at the new cost); the deadline stops
    // one after its current slice of rows instead.
    const source = '(x, i) => { if (i < 100000) return x; const until = performance.now() + 0.5; while (performance.now() < until); return x; }';
    const input = prepareInput(Float64Array.from({ length: 200_000 }, (_, i) => i));
    const job = new Job({ input, fn: { kind: 'inline', source }, context: undefined, cores: 2, collect: false, keepValues: false });
    const started = performance.now();
    const { start } = await runOnCallingThread(job, input, source, undefined, 2, false);
    const spent = performance.now() - started;
    job.abandon();
    // (Where instrumentation makes even the cheap items look costly, threads may take over sooner.)
    assert.ok(start < 100_000 + 1100, `handed over at item ${start}`);
    assert.ok(spent < 3000, `the calling thread ran for ${spent.toFixed(0)} ms`);
  });
});

describe('a pool whose calls stay on the calling thread for want of threads', () => {
  // 600 items of ~30 µs: 18 ms here, ~9.5 ms on two running threads, but less than a thread start.
  const busy = (x: number): number[] => {
    const end = performance.now() + 0.03;
    let s = x;
    while (performance.now() < end) s = Math.sqrt(s + 1);
    return [s, (process as unknown as WithBuiltins).getBuiltinModule('node:worker_threads').threadId];
  };
  const data = Float64Array.from({ length: 600 }, (_, i) => i);

  test('starts its threads once they would have saved what starting them costs, then uses them', async () => {
    const before = await steadyThreadCount();
    const pool = createPool({ cores: 2 });
    try {
      const first = await pool.parallelize(data, busy);
      // Where the machine is so busy that the first items' timing made the call look worth a
      // thread start, it went to threads at once (the rule of finishHere), and there is no wait to see.
      if (Array.from({ length: first.rows }, (_, i) => first.get(i, 1)).every((id) => id === 0)) {
        assert.equal(threadCount(), before, 'one call saves less than a thread start: no thread yet');
        let calls = 1;
        for (; threadCount() === before && calls < 40; calls++) await pool.parallelize(data, busy);
        assert.equal(threadCount(), before + 2, `threads after ${calls} calls`);
        assert.ok(calls >= 2, 'not before the time lost adds up to a thread start');
      }
      // Calls go on here while the threads load, then go to them.
      let threads = new Set<number>();
      for (let call = 0; call < 200 && threads.size < 2; call++) {
        const result = await pool.parallelize(data, busy);
        threads = new Set(Array.from({ length: result.rows }, (_, i) => result.get(i, 1)).filter((id) => id !== 0));
      }
      assert.equal(threads.size, 2, 'both threads took part in a call');
    } finally {
      await pool.close();
    }
    await threadsBackTo(before);
  });

  /** Runs a pool of `calls` calls of `busy` in a child `node` that preloads `fixture`; returns the outcome. */
  function childPool(fixture: string, calls: number): { status: number | null; stdout: string; stderr: string } {
    return runModule(`
      import { createPool } from '@parallelize/core';
      const busy = ${busy.toString()};
      const data = Float64Array.from({ length: 600 }, (_, i) => i);
      const pool = createPool({ cores: 2 });
      let failed = 0;
      for (let call = 0; call < ${calls}; call++) {
        // A busy machine can make a call look worth threads at once: it then fails on them.
        await pool.parallelize(data, busy).catch(() => failed++);
        await new Promise((resolve) => setTimeout(resolve, 1)); // lets the threads' exits in
      }
      await pool.close();
      console.log(failed);
    `, { flags: ['--require', fixture], env: { NODE_DEBUG: 'parallelize' } });
  }
  const warmUps = (stderr: string) => stderr.split('\n').filter((line) => line.includes('would have been saved by running threads')).length;

  test('does not start threads by itself again after one died', () => {
    const run = childPool('./spec/fixtures/fail-in-workers.cjs', 60);
    assert.equal(run.status, 0, run.stderr.slice(-1000));
    // Once, as calls would have saved a start; none where a busy machine sent a call to threads at
    // once, which then failed on them.
    const failed = Number(run.stdout.trim());
    assert.ok(warmUps(run.stderr) === 1 || (warmUps(run.stderr) === 0 && failed > 0), `threads started by the pool itself ${warmUps(run.stderr)} times, ${failed} calls failed`);
  });

  test('where no thread can be started, a call finished here still resolves', () => {
    const run = childPool('./spec/fixtures/no-threads.cjs', 30);
    assert.equal(run.status, 0, run.stderr.slice(-1000));
    const failed = Number(run.stdout.trim());
    // Once, as calls would have saved a start; none where a busy machine sent a call to threads at once, which then failed.
    assert.ok(warmUps(run.stderr) === 1 || (warmUps(run.stderr) === 0 && failed > 0), `the pool tried to start threads ${warmUps(run.stderr)} times`);
    if (warmUps(run.stderr) === 1) assert.match(run.stderr, /could not start a thread: Worker initialization failure/);
    // Only calls that the rule sent to threads fail there; every call finished here resolves.
    const sentToThreads = run.stderr.split('\n').filter((line) => /threads take (the rest|it all)/.test(line)).length;
    assert.ok(failed <= sentToThreads, `${failed} calls failed, ${sentToThreads} went to threads`);
    assert.ok(sentToThreads <= 5, `${sentToThreads} of 30 calls went to threads; a noisy moment may send one or two`);
  });

  test('starts none on one core, where a thread never beats the calling thread', async () => {
    const before = await steadyThreadCount();
    const pool = createPool({ cores: 1 });
    try {
      for (let call = 0; call < 30; call++) await pool.parallelize(data, busy);
      assert.equal(threadCount(), before);
    } finally {
      await pool.close();
    }
  });

  test('starts none for calls that threads would not make faster', async () => {
    const before = await steadyThreadCount();
    const pool = createPool({ cores: 2 });
    try {
      const cheap = Float64Array.from({ length: 100_000 }, (_, i) => i);
      let sentToThreads = false;
      for (let call = 0; call < 30; call++) {
        const result = await pool.parallelize(cheap, (x: number) => [x * 2 + 1, (process as unknown as WithBuiltins).getBuiltinModule('node:worker_threads').threadId]);
        sentToThreads ||= Array.from({ length: result.rows }, (_, i) => result.get(i, 1)).some((id) => id !== 0);
      }
      // A pause on a busy machine can make one call's first items look worth threads (the rule of
      // finishHere): then the threads are that call's, and there is nothing to see here.
      if (!sentToThreads) assert.equal(threadCount(), before);
    } finally {
      await pool.close();
    }
  });
});
