import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kCancelledField, kControlFieldCount, kStatusFieldCount, kStatusIndexField } from '../lib/protocol.ts';
import { runChunk, type ChunkJob } from '../workers/run-chunk.ts';

function job(fn: ChunkJob['fn'], items: unknown[], extra: Partial<ChunkJob> = {}): ChunkJob {
  return {
    fn, context: undefined, getItem: (i) => items[i], start: 0, end: items.length,
    control: new Int32Array(kControlFieldCount), status: new Float64Array(kStatusFieldCount), ...extra,
  };
}

describe('runChunk', () => {
  test('flattens numbers, arrays, typed arrays and nested arrays row-major', async () => {
    const cases: [unknown, number[]][] = [
      [7, [7]],
      [[1, 2, 3], [1, 2, 3]],
      [Float32Array.of(1.5, 2.5), [1.5, 2.5]],
      [[[1, 2], [3, 4], [5, 6]], [1, 2, 3, 4, 5, 6]],
      [[Int8Array.of(1, 2), Int8Array.of(3, 4)], [1, 2, 3, 4]],
      [[], []],
    ];
    for (const [result, flat] of cases) {
      const outcome = await runChunk(job(() => result, [0, 1]));
      assert.equal(outcome.status, 'done');
      if (outcome.status !== 'done') continue;
      assert.equal(outcome.cols, flat.length);
      assert.deepEqual(Array.from(outcome.values), [...flat, ...flat]);
    }
  });

  test('puts rows on a SharedArrayBuffer, so the worker never detaches a buffer to send them', async () => {
    // A transfer would detach the buffer, and one detach slows every later typed-array access of the thread.
    const outcome = await runChunk(job((x) => [x as number, 1], [1, 2, 3]));
    assert.ok(outcome.status === 'done' && outcome.values.buffer instanceof SharedArrayBuffer);
  });

  test('writes only rows [start, end), each at its own offset', async () => {
    const outcome = await runChunk(job((x, i) => [x as number, i], [10, 11, 12, 13, 14], { start: 2, end: 4 }));
    assert.deepEqual(outcome.status === 'done' && Array.from(outcome.values), [12, 2, 13, 3]);
  });

  test('passes the context as the third argument', async () => {
    const outcome = await runChunk(job((x, _i, ctx) => (x as number) * (ctx as { k: number }).k, [1, 2], { context: { k: 10 } }));
    assert.deepEqual(outcome.status === 'done' && Array.from(outcome.values), [10, 20]);
  });

  test('rows of one number: a result of another kind, a promise or a throw mid-chunk is handled at its own index', async () => {
    const items = Array.from({ length: 10 }, (_, i) => i);
    const mixed = await runChunk(job((x) => {
      const n = x as number;
      if (n === 3) return [30];
      if (n === 5) return Promise.resolve(50);
      if (n === 7) return Float64Array.of(70);
      return n * 10;
    }, items));
    assert.deepEqual(mixed.status === 'done' && Array.from(mixed.values), items.map((n) => n * 10));
    const thrown = await runChunk(job((x) => { if (x === 6) throw new Error('six'); return x as number; }, items));
    assert.equal(thrown.status === 'failed' && thrown.failure.index, 6);
    const collected = await runChunk(job((x) => { if (x === 2 || x === 8) throw new Error('no'); return x as number; }, items, { collect: true }));
    assert.ok(collected.status === 'done');
    assert.deepEqual(collected.failures.map((failure) => failure.index), [2, 8]);
    assert.deepEqual(Array.from(collected.values), items.map((n) => (n === 2 || n === 8 ? NaN : n)));
    const wrong = await runChunk(job((x) => (x === 4 ? [1, 2] : (x as number)), items));
    assert.ok(wrong.status === 'failed' && wrong.failure.code === 'ERR_RESULT_SHAPE' && wrong.failure.index === 4);
  });

  test('past its budget of time, stops between items (after one at least) and says where', async () => {
    const items = Array.from({ length: 5000 }, (_, i) => i);
    const numbers = await runChunk(job((x) => (x as number) * 2, items, { budgetMs: 0 }));
    assert.ok(numbers.status === 'done');
    assert.ok(numbers.end >= 1 && numbers.end < items.length, `stopped at ${numbers.end}`);
    assert.deepEqual(Array.from(numbers.values), items.slice(0, numbers.end).map((x) => x * 2));
    // Rows of one value that are not plain numbers, async fns and collected failures stop too.
    for (const fn of [(x: unknown) => [x as number], (x: unknown) => Float64Array.of(x as number), async (x: unknown) => x as number,
      (x: unknown) => { if ((x as number) % 500 === 499) throw new Error('no'); return x as number; }]) {
      const outcome = await runChunk(job(fn, items, { budgetMs: 0, collect: true }));
      assert.ok(outcome.status === 'done' && outcome.end >= 1 && outcome.end < items.length, `${fn.toString()} stopped at ${outcome.status === 'done' && outcome.end}`);
    }
    const pairs = await runChunk(job((x) => [x as number, 1], items, { start: 10, budgetMs: 0 }));
    assert.ok(pairs.status === 'done');
    assert.equal(pairs.end, 11, 'one item at least');
    assert.deepEqual(Array.from(pairs.values), [10, 1]);
    const values = await runChunk(job((x) => ({ x }), items, { keepValues: true, budgetMs: 0 }));
    assert.ok(values.status === 'done' && values.end === 1 && values.list?.length === 1);
    const unbounded = await runChunk(job((x) => x as number, items));
    assert.ok(unbounded.status === 'done' && unbounded.end === 5000);
  });

  test('notices a deadline soon when rows of numbers turn costly in the middle of a chunk', async () => {
    // The first 100 items are free, the rest take 2 ms each: a batch sized for the cheap ones.
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    const items = Array.from({ length: 400 }, (_, i) => i);
    const fn = (x: unknown) => { if ((x as number) >= 100) Atomics.wait(sleeper, 0, 0, 2); return x as number; };
    const outcome = await runChunk(job(fn, items, { budgetMs: 10 }));
    assert.ok(outcome.status === 'done');
    // Looks at the clock come ever more rarely, each after twice the rows of the one before, so it
    // runs at most as many rows past the deadline as it had run before (not up to 1,024 of them).
    assert.ok(outcome.end > 100 && outcome.end <= 2 * 100 + 1, `stopped at ${outcome.end}`);
    assert.deepEqual(Array.from(outcome.values), items.slice(0, outcome.end));
  });

  test('awaits promises and only promises', async () => {
    let calls = 0;
    const pending = runChunk(job((x) => { calls++; return x as number; }, [1, 2, 3]));
    assert.equal(calls, 3, 'a synchronous fn ran every item before runChunk returned, never yielding');
    const outcome = await pending;
    assert.deepEqual(outcome.status === 'done' && Array.from(outcome.values), [1, 2, 3]);
    let asyncCalls = 0;
    const asyncPending = runChunk(job(async (x) => { asyncCalls++; await null; return (x as number) * 2; }, [1, 2, 3]));
    assert.equal(asyncCalls, 1, 'an async fn is awaited before the next item starts');
    const asyncOutcome = await asyncPending;
    assert.deepEqual(asyncOutcome.status === 'done' && Array.from(asyncOutcome.values), [2, 4, 6]);
  });

  test('stops before the next item once cancelled', async () => {
    const seen: number[] = [];
    const control = new Int32Array(kControlFieldCount);
    const outcome = await runChunk(job((x) => { seen.push(x as number); if (x === 2) control[kCancelledField] = 1; return 0; }, [0, 1, 2, 3, 4], { control }));
    assert.equal(outcome.status, 'cancelled');
    assert.deepEqual(seen, [0, 1, 2]);
  });

  test('runs nothing when the call was cancelled before the chunk began', async () => {
    const control = new Int32Array(kControlFieldCount);
    control[kCancelledField] = 1;
    let calls = 0;
    assert.equal((await runChunk(job(() => ++calls, [1, 2], { control }))).status, 'cancelled');
    assert.equal(calls, 0);
  });

  test('publishes the index of each item before running it', async () => {
    const status = new Float64Array(kStatusFieldCount);
    const reported: number[] = [];
    await runChunk(job(() => { reported.push(status[kStatusIndexField]!); return 1; }, [0, 0, 0, 0], { start: 1, end: 4, status }));
    assert.deepEqual(reported, [1, 2, 3]);
  });

  test('a throw becomes an ERR_TASK_FAILED failure with the serialized cause', async () => {
    const outcome = await runChunk(job((x) => { if (x === 3) throw new TypeError('no'); return 1; }, [1, 2, 3, 4]));
    assert.equal(outcome.status, 'failed');
    if (outcome.status !== 'failed') return;
    assert.deepEqual([outcome.failure.code, outcome.failure.index, outcome.failure.message], ['ERR_TASK_FAILED', 2, 'fn threw at item 2: TypeError: no']);
    assert.equal(outcome.failure.cause?.name, 'TypeError');
  });

  test('a missing variable explains itself only for inline functions', async () => {
    const fn = () => { throw new ReferenceError('mask is not defined'); };
    const inline = await runChunk(job(fn, [1], { inline: true }));
    const module = await runChunk(job(fn, [1], { inline: false }));
    assert.match(inline.status === 'failed' ? inline.failure.message : '', /pass `mask` through `options\.context`.*; if fn assigns to `mask`, declare it with `let` \(inline functions run in strict mode\)$/);
    assert.equal(module.status === 'failed' ? module.failure.message : '', 'fn threw at item 0: ReferenceError: mask is not defined');
  });

  test('rows after the first are checked as strictly, and may nest where the first did not', async () => {
    const rows = (second: unknown) => runChunk(job((x) => (x === 0 ? [1, 2] : second), [0, 1]));
    const nested = await rows([[3], Float32Array.of(4)]);
    assert.deepEqual(nested.status === 'done' && Array.from(nested.values), [1, 2, 3, 4]);
    const cases: [unknown, string, RegExp][] = [
      [[3, null], 'ERR_RESULT_TYPE', /array holding `null` \(null\) at position 1 for item 1/],
      [[3, '4'], 'ERR_RESULT_TYPE', /array holding `'4'` \(string\) at position 1 for item 1/],
      [[[3, 4], [5, 6]], 'ERR_RESULT_SHAPE', /item 1/],
      [[3], 'ERR_RESULT_SHAPE', /item 1/],
    ];
    for (const [second, code, message] of cases) {
      const outcome = await rows(second);
      assert.ok(outcome.status === 'failed', `${JSON.stringify(second)} is refused`);
      assert.equal(outcome.failure.code, code);
      assert.match(outcome.failure.message, message);
    }
  });

  test('bad results become ERR_RESULT_TYPE or ERR_RESULT_SHAPE failures', async () => {
    const cases: [unknown, string, RegExp][] = [
      [true, 'ERR_RESULT_TYPE', /fn returned `true` \(boolean\) for item 0/],
      [10n, 'ERR_RESULT_TYPE', /fn returned `10n` \(bigint\)/],
      [{ a: 1 }, 'ERR_RESULT_TYPE', /fn returned `\{ a: 1 \}` \(Object\)/],
      [BigInt64Array.of(1n), 'ERR_RESULT_TYPE', /BigInt64Array/],
      [[1, [2]], 'ERR_RESULT_TYPE', /array holding `\[ 2 \]` \(Array\) at position 1/],
      [[[1], 2], 'ERR_RESULT_SHAPE', /ragged nested array/],
      [[[1, 2], [3]], 'ERR_RESULT_SHAPE', /element \[0\] holds 2 values, element \[1\] does not/],
      // Where in a nested result the culprit sits.
      [[['a']], 'ERR_RESULT_TYPE', /^fn returned an array holding `'a'` \(string\) at position \[0\]\[0\] for item 0;/],
      [[[1, 2], [3, 'x']], 'ERR_RESULT_TYPE', /^fn returned an array holding `'x'` \(string\) at position \[1\]\[1\] for item 0;/],
      [[[[1], [2]], [[3], [4, 5]]], 'ERR_RESULT_SHAPE', /element \[1\]\[0\] holds 1 value, element \[1\]\[1\] does not/],
    ];
    for (const [result, code, message] of cases) {
      const outcome = await runChunk(job(() => result, [1]));
      assert.equal(outcome.status, 'failed', `${String(result)} is refused`);
      if (outcome.status !== 'failed') continue;
      assert.equal(outcome.failure.code, code);
      assert.match(outcome.failure.message, message);
    }
  });
});
