import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPool, ParallelizeError, parallelize, task } from '@parallelize/core';
import { rejection, steadyThreadCount, threadCount } from './helpers.ts';

const items = Array.from({ length: 200 }, (_, i) => i);

describe('fn throws', () => {
  test('rejects with ERR_TASK_FAILED, the index, and the rebuilt cause', async () => {
    const error = await rejection(parallelize(items, (x: number) => {
      if (x === 137) {
        class SubjectError extends Error {}
        throw Object.assign(new SubjectError('bad voxel count'), { name: 'SubjectError', subject: 'sub-137', voxels: [1, 2] });
      }
      return x;
    }, { cores: 2 }));
    assert.ok(error instanceof ParallelizeError);
    assert.equal(error.code, 'ERR_TASK_FAILED');
    assert.equal(error.index, 137);
    assert.equal(error.message, 'fn threw at item 137: SubjectError: bad voxel count');
    assert.ok(error.cause instanceof Error);
    assert.equal(error.cause.name, 'SubjectError');
    assert.equal(error.cause.message, 'bad voxel count');
    assert.match(String(error.cause.stack), /bad voxel count/);
    assert.deepEqual({ ...error.cause }, { name: 'SubjectError', subject: 'sub-137', voxels: [1, 2] });
  });

  test('a rejected promise counts as a throw', async () => {
    const error = await rejection(parallelize(items, async (x: number) => { if (x === 3) throw new RangeError('late'); return x; }));
    assert.deepEqual([error.code, error.index, error.cause.name], ['ERR_TASK_FAILED', 3, 'RangeError']);
  });

  test('a thrown non-Error value is kept as the cause', async () => {
    const error = await rejection(parallelize(items, (x: number) => { if (x === 9) throw 'plain string'; return x; }));
    assert.equal(error.index, 9);
    assert.equal(error.message, "fn threw at item 9: a non-Error value: plain string");
    assert.equal(error.cause, 'plain string');
  });

  test('an inline function that reads an outer variable gets an explanation and both ways out', async () => {
    const threshold = 5;
    const error = await rejection(parallelize(items, (x: number) => x > threshold ? 1 : 0));
    assert.equal(error.code, 'ERR_TASK_FAILED');
    assert.match(error.message, /ReferenceError: threshold is not defined\. Inline functions run in a worker thread/);
    assert.match(error.message, /pass `threshold` through `options\.context`/);
    assert.match(error.message, /task\(url, name\)/);
  });

  test('stops the remaining work promptly', async () => {
    const started = Date.now();
    // Without cancellation every item would take 20 ms: 200 items on 2 cores ≈ 2 s.
    const error = await rejection(parallelize(items, (x: number) => {
      if (x === 0) throw new Error('first item fails');
      const until = Date.now() + 20;
      while (Date.now() < until);
      return x;
    }, { cores: 2, chunkSize: 50, callingThread: false }));
    assert.equal(error.index, 0);
    assert.ok(Date.now() - started < 1500, `settled in ${Date.now() - started} ms`);
  });
});

describe('bad results', () => {
  test('a result that is not numbers rejects with ERR_RESULT_TYPE naming the index and the value', async () => {
    const error = await rejection(parallelize(items, (x: number) => (x === 42 ? 'forty-two' : x) as number, { callingThread: false }));
    assert.ok(error instanceof ParallelizeError);
    assert.deepEqual([error.code, error.index], ['ERR_RESULT_TYPE', 42]);
    assert.equal(error.message, "fn returned `'forty-two'` (string) for item 42; expected a number or an array of numbers");
  });

  test('undefined suggests a missing return', async () => {
    const error = await rejection(parallelize([1], (() => undefined) as never));
    assert.equal(error.message, 'fn returned `undefined` (undefined) for item 0; expected a number or an array of numbers (did fn forget to `return`?)');
  });

  test('a non-number inside an array names its position', async () => {
    const error = await rejection(parallelize([1, 2], (x: number) => [x, null] as never, { cores: 1, callingThread: false }));
    assert.equal(error.code, 'ERR_RESULT_TYPE');
    assert.equal(error.message, 'fn returned an array holding `null` (null) at position 1 for item 0; expected a number or an array of numbers');
  });

  test('rows of different lengths in one chunk reject with ERR_RESULT_SHAPE naming both', async () => {
    const error = await rejection(parallelize(items, (x: number) => (x === 10 ? [x] : [x, x]), { cores: 1, callingThread: false }));
    assert.deepEqual([error.code, error.index], ['ERR_RESULT_SHAPE', 10]);
    assert.equal(error.message, 'fn returned 1 value for item 10, but 2 for item 0; every item must return the same number of values');
  });

  test('rows of different lengths in different chunks reject with ERR_RESULT_SHAPE', async () => {
    const error = await rejection(parallelize(items, (x: number) => (x >= 100 ? [x, x, x] : [x]), { cores: 2, chunkSize: 100, callingThread: false }));
    assert.deepEqual([error.code, error.index], ['ERR_RESULT_SHAPE', 100]);
    assert.equal(error.message, 'fn returned 3 values for item 100, but 1 for item 0; every item must return the same number of values');
  });

  test('a ragged nested array rejects with ERR_RESULT_SHAPE', async () => {
    const error = await rejection(parallelize([1], () => [[1, 2], [3]]));
    assert.equal(error.code, 'ERR_RESULT_SHAPE');
    assert.match(error.message, /ragged nested array for item 0/);
  });
});

describe('data that cannot reach a worker', () => {
  test('an item that cannot be cloned rejects with ERR_DATA_CLONE naming the index', async () => {
    const data: unknown[] = items.map((i) => ({ i }));
    data[77] = { callback: () => 1 };
    const error = await rejection(parallelize(data, () => 1, { chunkSize: 10, callingThread: false }));
    assert.ok(error instanceof ParallelizeError);
    assert.deepEqual([error.code, error.index], ['ERR_DATA_CLONE', 77]);
    assert.match(error.message, /^data\[77\] cannot be sent to a worker thread: /);
  });

  test('a context whose getter throws rejects with ERR_DATA_CLONE naming the property', async () => {
    const context = { volumes: [{ get mask(): never { throw new RangeError('not loaded'); } }] };
    const error = await rejection(parallelize([1, 2], (x: number) => x, { context }));
    assert.equal(error.code, 'ERR_DATA_CLONE');
    assert.equal(error.message, 'options.context cannot be sent to a worker thread: reading `options.context.volumes[0].mask` threw RangeError: not loaded');
    assert.equal(error.cause.message, 'not loaded');
  });

  test('a context that cannot be cloned rejects with ERR_DATA_CLONE', async () => {
    const error = await rejection(parallelize([1, 2], (x: number) => x, { context: { f: () => 1 } }));
    assert.equal(error.code, 'ERR_DATA_CLONE');
    assert.match(error.message, /^options\.context cannot be sent to a worker thread/);
  });
});

describe('a worker that exits', () => {
  test('rejects with ERR_WORKER_EXIT, the exit code and the item it was running', async () => {
    const error = await rejection(parallelize(items, task(new URL('./fixtures/exits.js', import.meta.url)), { cores: 2, chunkSize: 4 }));
    assert.ok(error instanceof ParallelizeError);
    assert.deepEqual([error.code, error.index], ['ERR_WORKER_EXIT', 5]);
    assert.equal(error.message, 'A worker thread exited with code 7 while running item 5');
  });

  test('outside any item (as its task module loads), names the items the thread held', async () => {
    const module = task(new URL('./fixtures/exits-on-import.js', import.meta.url));
    const one = await rejection(parallelize([1], module, { cores: 1 }));
    assert.deepEqual([one.code, one.index], ['ERR_WORKER_EXIT', undefined]);
    assert.equal(one.message, 'A worker thread exited with code 3 while it held item 0, outside any call of fn (loading the module, or between items)');
    const many = await rejection(parallelize([1, 2, 3], module, { cores: 1, chunkSize: 3 }));
    assert.match(many.message, /while it held items 0 to 2, outside any call of fn/);
  });

  test('leaves a pool usable: the dead worker is replaced', async () => {
    const pool = createPool({ cores: 2 });
    try {
      const error = await rejection(pool.parallelize(items, task(new URL('./fixtures/exits.js', import.meta.url))));
      assert.equal(error.code, 'ERR_WORKER_EXIT');
      const result = await pool.parallelize(items, (x: number) => x + 1);
      assert.equal(result.get(199, 0), 200);
    } finally {
      await pool.close();
    }
  });
});

describe('after a failure', () => {
  test('a one-shot call leaves no worker thread running', async () => {
    const before = await steadyThreadCount();
    let during = 0;
    const call = parallelize(items, (x: number) => { if (x === 150) throw new Error('x'); return x; }, { cores: 2, callingThread: false });
    setImmediate(() => { during = threadCount(); });
    await rejection(call);
    assert.ok(during >= before + 1, 'workers were running');
    assert.equal(threadCount(), before, 'they are gone as soon as the call settles');
  });

  test('a pool stays usable', async () => {
    const pool = createPool({ cores: 2 });
    try {
      for (let round = 0; round < 3; round++) {
        const error = await rejection(pool.parallelize(items, (x: number) => { if (x === 99) throw new Error('x'); return x; }));
        assert.equal(error.index, 99);
        const result = await pool.parallelize(items, (x: number) => x * 2);
        assert.equal(result.get(99, 0), 198);
      }
    } finally {
      await pool.close();
    }
  });
});
