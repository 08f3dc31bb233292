import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPool, map, Matrix, ParallelizeError } from '@parallelize/core';
import { rejection } from './helpers.ts';

describe('map', () => {
  test('resolves with what fn returned, in input order, on threads and on the calling thread', async () => {
    const data = Array.from({ length: 300 }, (_, i) => i);
    const fn = (x: number, i: number) => ({ x, label: `item-${i}`, tags: new Set([x % 3]), at: new Date(x) });
    for (const callingThread of [false, true]) {
      const result = await map(data, fn, { cores: 2, chunkSize: 7, callingThread });
      assert.deepEqual(result, data.map(fn), `callingThread: ${callingThread}`);
    }
  });

  test('takes every kind of data, with its context', async () => {
    const matrix = new Matrix(Float64Array.of(1, 2, 3, 4), 2, 2);
    assert.deepEqual(await map(matrix, (row: Float64Array, _i: number, ctx: { k: string }) => `${ctx.k}:${Array.from(row).join('+')}`, { context: { k: 'sum' }, callingThread: false }), ['sum:1+2', 'sum:3+4']);
    assert.deepEqual(await map(Int8Array.of(-1, 2), (x: number) => [x, x * x], { callingThread: false }), [[-1, 1], [2, 4]]);
  });

  test('empty data gives an empty Array', async () => {
    assert.deepEqual(await map([], (x: number) => x), []);
  });

  test('fails like parallelize, naming the item', async () => {
    const error = await rejection(map([1, 2, 3], (x: number) => { if (x === 2) throw new Error('two'); return x; }, { callingThread: false }));
    assert.ok(error instanceof ParallelizeError);
    assert.deepEqual([error.code, error.index], ['ERR_TASK_FAILED', 1]);
  });

  test('a result that cannot be sent back rejects with ERR_DATA_CLONE naming the item', async () => {
    for (const callingThread of [false, true]) {
      const error = await rejection(map([1, 2, 3], (x: number) => (x === 3 ? { f: () => x } : x), { callingThread, cores: 1 }));
      assert.deepEqual([error.code, error.index], ['ERR_DATA_CLONE', 2], `callingThread: ${callingThread}`);
      assert.match(error.message, /^fn's result for item 2 cannot be sent back from a worker thread: .*could not be cloned/);
    }
  });

  test("with onError: 'collect', a result that cannot be sent back fails its item alone", async () => {
    const fn = (x: number) => { if (x === 5) throw new Error('five'); return x % 4 === 2 ? { f: () => x } : `ok ${x}`; };
    for (const callingThread of [false, true]) {
      const result = await map(Array.from({ length: 12 }, (_, i) => i), fn, { onError: 'collect', callingThread, cores: 2, chunkSize: 5 });
      const expected = Array.from({ length: 12 }, (_, i) => (i === 5 || i % 4 === 2 ? undefined : `ok ${i}`));
      assert.deepEqual([...result], expected, `callingThread: ${callingThread}`);
      assert.deepEqual(result.errors.map((e) => [e.index, e.error.code]), [[2, 'ERR_DATA_CLONE'], [5, 'ERR_TASK_FAILED'], [6, 'ERR_DATA_CLONE'], [10, 'ERR_DATA_CLONE']]);
      assert.match(result.errors[0]!.error.message, /^fn's result for item 2 cannot be sent back from a worker thread: .*could not be cloned/);
    }
  });

  test("with onError: 'collect', failed slots are undefined and listed", async () => {
    const result = await map([1, 2, 3, 4], (x: number) => { if (x % 2 === 0) throw new Error(`even ${x}`); return `odd ${x}`; }, { onError: 'collect', callingThread: false });
    assert.deepEqual([...result], ['odd 1', undefined, 'odd 3', undefined]);
    assert.deepEqual(result.errors.map((e) => e.index), [1, 3]);
  });

  test('runs on a pool too', async () => {
    await using pool = createPool({ cores: 2 });
    const [a, b] = await Promise.all([pool.map([1, 2], (x: number) => `a${x}`), pool.parallelize([1, 2], (x: number) => x * 10)]);
    assert.deepEqual(a, ['a1', 'a2']);
    assert.deepEqual(Array.from(b.data), [10, 20]);
  });
});
