import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPool, ParallelizeError, parallelize, task } from '@parallelize/core';
import { rejection, runModule, steadyThreadCount, threadCount, threadsBackTo, within } from './helpers.ts';

const items = Array.from({ length: 100 }, (_, i) => i);
const spin = (x: number, index: number) => {
  if (index === 7) for (;;); // never returns
  return x;
};

describe('timeout', () => {
  test('rejects with ERR_TIMEOUT and terminates a thread stuck in an endless loop', async () => {
    const before = await steadyThreadCount();
    const started = Date.now();
    const error = await rejection(parallelize(items, spin, { timeout: 300, cores: 2 }), 5000);
    const elapsed = Date.now() - started;
    assert.ok(error instanceof ParallelizeError);
    assert.equal(error.code, 'ERR_TIMEOUT');
    assert.match(error.message, /^The call did not finish within 300 ms \(\d+ of 100 items were done\)$/);
    assert.ok(elapsed >= 290 && elapsed < 1500, `settled after ${elapsed} ms`);
    assert.equal(threadCount(), before, 'no thread left');
  });

  test('counts, as done, the items finished inside chunks still running, as onProgress does', async () => {
    // Two chunks of 100 items of ~20 ms: at the timeout, neither chunk is finished.
    let last = { done: 0, total: 0 };
    const error = await rejection(parallelize(Array.from({ length: 200 }, (_, i) => i), (x: number) => {
      const until = Date.now() + 20;
      while (Date.now() < until);
      return x;
    }, { cores: 2, chunkSize: 100, timeout: 1000, onProgress: (progress) => { last = progress; } }), 10_000);
    assert.equal(error.code, 'ERR_TIMEOUT');
    const done = Number(/\((\d+) of 200 items were done\)$/.exec(error.message)?.[1]);
    assert.ok(last.done > 0, 'onProgress saw items done');
    assert.ok(done >= last.done, `the message says ${done} done, onProgress said ${last.done} before`);
  });

  test('a pool stays usable after a timeout: the stuck thread is replaced', async () => {
    const pool = createPool({ cores: 2 });
    const before = await steadyThreadCount();
    try {
      const error = await rejection(pool.parallelize(items, spin, { timeout: 200 }), 5000);
      assert.equal(error.code, 'ERR_TIMEOUT');
      const result = await within(5000, pool.parallelize(items, (x: number) => x * 3));
      assert.equal(result.get(99, 0), 297);
      assert.ok(threadCount() <= before + 2, 'never more threads than cores');
    } finally {
      await pool.close();
    }
  });

  test('does not fire for a call that finishes in time', async () => {
    const result = await parallelize(items, (x: number) => x, { timeout: 10_000 });
    assert.equal(result.rows, 100);
  });
});

describe('signal', () => {
  test('an already aborted signal rejects with its reason before any thread starts', async () => {
    const before = await steadyThreadCount();
    const reason = new Error('stop now');
    let during = 0;
    const call = parallelize(items, (x: number) => x, { signal: AbortSignal.abort(reason) });
    during = threadCount();
    assert.equal(await rejection(call), reason);
    assert.equal(during, before, 'no thread was started');
  });

  test('aborting rejects with signal.reason promptly, even while fn is in a CPU-bound loop', async () => {
    const before = await steadyThreadCount();
    const controller = new AbortController();
    const call = parallelize(items, spin, { signal: controller.signal, cores: 2 });
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const error = await rejection(call, 5000);
    assert.equal(error, controller.signal.reason);
    assert.equal(error.name, 'AbortError');
    assert.ok(Date.now() - started < 1200, `settled ${Date.now() - started} ms after the call began`);
    assert.equal(threadCount(), before, 'no thread left');
  });

  test('aborting one call on a pool leaves the other calls running', async () => {
    const pool = createPool({ cores: 2 });
    try {
      const controller = new AbortController();
      const aborted = rejection(pool.parallelize(items, spin, { signal: controller.signal, chunkSize: 5 }), 5000);
      const other = pool.parallelize(items, (x: number) => { const t = Date.now() + 2; while (Date.now() < t); return x + 1; }, { chunkSize: 5 });
      setTimeout(() => controller.abort(new Error('user gave up')), 100);
      assert.equal((await aborted).message, 'user gave up');
      const result = await within(10_000, other);
      assert.deepEqual(Array.from(result.data), items.map((x) => x + 1));
    } finally {
      await pool.close();
    }
  });
});

describe('resourceLimits', () => {
  test('a worker that runs out of memory fails its item with ERR_WORKER_OOM', async () => {
    const before = await steadyThreadCount();
    const error = await rejection(parallelize(items, task(new URL('./fixtures/hog.js', import.meta.url)), {
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 }, cores: 2, chunkSize: 2,
    }), 20_000);
    assert.ok(error instanceof ParallelizeError);
    assert.deepEqual([error.code, error.index], ['ERR_WORKER_OOM', 3]);
    assert.equal(error.message, 'A worker thread ran out of memory while running item 3; raise `resourceLimits` or use less memory per item');
    assert.equal((error.cause as { code?: string }).code, 'ERR_WORKER_OUT_OF_MEMORY');
    await threadsBackTo(before);
  });
});

describe("onError: 'collect'", () => {
  test('finishes the other items, leaves NaN rows and lists failures in index order', async () => {
    const result = await parallelize(items, (x: number) => {
      if (x % 25 === 3) throw new RangeError(`bad ${x}`);
      if (x === 60) return 'not a number' as never;
      return [x, -x];
    }, { onError: 'collect', cores: 2, chunkSize: 10, callingThread: false });
    assert.deepEqual([result.rows, result.cols], [100, 2]);
    assert.deepEqual(result.errors.map((e) => e.index), [3, 28, 53, 60, 78]);
    for (const { index, error } of result.errors) {
      assert.ok(error instanceof ParallelizeError);
      assert.equal(error.index, index);
      assert.ok(Number.isNaN(result.get(index, 0)) && Number.isNaN(result.get(index, 1)), `row ${index} is NaN`);
    }
    assert.equal(result.errors[0]!.error.code, 'ERR_TASK_FAILED');
    assert.equal((result.errors[0]!.error.cause as Error).message, 'bad 3');
    assert.equal(result.errors[3]!.error.code, 'ERR_RESULT_TYPE');
    assert.deepEqual(Array.from(result.row(99)), [99, -99]);
    assert.deepEqual(Array.from(result.row(0)), [0, -0]);
  });

  test('a worker exit counts as a failure of the item it ran; the rest are re-run elsewhere', async () => {
    const result = await parallelize(items, task(new URL('./fixtures/exits.js', import.meta.url)), { onError: 'collect', cores: 2, chunkSize: 10 });
    assert.deepEqual(result.errors.map((e) => [e.index, e.error.code]), [[5, 'ERR_WORKER_EXIT']]);
    assert.ok(Number.isNaN(result.get(5, 0)));
    items.forEach((x) => { if (x !== 5) assert.equal(result.get(x, 0), x); });
  });

  test('when every item fails the rows are empty and every failure is listed', async () => {
    const result = await parallelize([1, 2, 3], () => { throw new Error('no'); }, { onError: 'collect', callingThread: false });
    assert.deepEqual([result.rows, result.cols, result.errors.length], [3, 0, 3]);
  });

  test('empty data gives an empty error list', async () => {
    const result = await parallelize([], (x: number) => x, { onError: 'collect' });
    assert.deepEqual(result.errors, []);
  });

  test('rows of different lengths still reject', async () => {
    const error = await rejection(parallelize(items, (x: number) => (x === 50 ? [1, 2] : [1]), { onError: 'collect', cores: 1, callingThread: false }));
    assert.equal(error.code, 'ERR_RESULT_SHAPE');
  });
});

describe('hostile errors thrown in a worker', () => {
  test('are rebuilt safely in the caller, without prototype pollution', async () => {
    const error = await rejection(parallelize([1], () => {
      const e = new Error('m'.repeat(100_000));
      Object.defineProperty(e, 'explode', { enumerable: true, get() { throw new Error('getter'); } });
      Object.defineProperty(e, '__proto__', { enumerable: true, value: { polluted: true } });
      (e as { cause?: unknown }).cause = e;
      throw e;
    }, { callingThread: false }));
    assert.equal(error.code, 'ERR_TASK_FAILED');
    assert.ok(error.message.length < 11_000);
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
    assert.equal(Object.getPrototypeOf(error.cause), Error.prototype);
    assert.equal('explode' in error.cause, false);
  });
});

describe('work that can never settle', () => {
  test('on the calling thread, a call whose async fn waits on nothing rejects instead of the process ending with it unsettled', () => {
    const run = runModule(`
      import { parallelize } from '@parallelize/core';
      const stalls = async (x) => { if (x === 1) await new Promise(() => {}); return x; };
      const outcome = await parallelize([0, 1, 2], stalls).then(() => 'resolved', (error) => \`\${error.code} \${error.index} \${error.message}\`);
      console.log(outcome);
    `, { timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, "ERR_TASK_FAILED 1 fn's promise for item 1 never settled: it waits on nothing that could settle it (no timer, I/O or message is pending), and the process was about to end\n");
  });

  test('many calls waiting at once on the calling thread share one beforeExit listener', async () => {
    const before = process.listenerCount('beforeExit');
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const pool = createPool({ cores: 2 });
    try {
      const calls = Array.from({ length: 20 }, (_, k) => pool.parallelize([k, k + 1], async (x: number) => { await new Promise((r) => setTimeout(r, 20)); return x; }));
      await new Promise((r) => setTimeout(r, 5));
      assert.ok(process.listenerCount('beforeExit') <= before + 1, `${process.listenerCount('beforeExit') - before} listeners added`);
      const results = await Promise.all(calls);
      assert.deepEqual(results.map((m) => Array.from(m.data)), Array.from({ length: 20 }, (_, k) => [k, k + 1]));
      assert.equal(process.listenerCount('beforeExit'), before, 'and it is gone once they are done');
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning'), []);
    } finally {
      process.off('warning', onWarning);
      await pool.close();
    }
  });
});
