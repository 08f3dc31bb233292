import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kCancelledField, kControlFieldCount, kStatusFieldCount, kStatusIndexField } from '../lib/protocol.ts';
import type { Mapper } from '../lib/compile.ts';
import { kCancelled, loopFor, type Held, type Items } from '../workers/numbers-loop.ts';
import { runModule } from './helpers.ts';

/** `fn`'s own loop over rows [index, end), as runChunk calls it. */
function runNumbers(
  fn: Mapper, items: Items, context: unknown, index: number, end: number, values: Float64Array, base: number,
  control: Int32Array, status: Float64Array, held: Held, watched: boolean,
): number {
  return loopFor(fn, typeof items !== 'function', watched)(fn, items, context, index, end, values, base, control, status, held);
}

/** Runs `fn` over all of `items` (a typed array, or read through a function) into fresh rows. */
function run(fn: Mapper, items: Items, count: number, watched: boolean, { base = 0, start = 0, context = undefined as unknown } = {}) {
  const control = new Int32Array(kControlFieldCount);
  const status = new Float64Array(kStatusFieldCount).fill(-1);
  const held: Held = { result: undefined, nextCheck: Infinity, late: false };
  const values = new Float64Array(count - base);
  const stopped = runNumbers(fn, items, context, start, count, values, base, control, status, held, watched);
  return { stopped, values, status, held, control };
}

describe('numbers loop', () => {
  test('gives each function loops of its own, compiled once for each variant', () => {
    const double: Mapper = (x) => (x as number) * 2;
    const triple: Mapper = (x) => (x as number) * 3;
    assert.notEqual(loopFor(double, true, true), loopFor(triple, true, true), 'one loop for two functions stops inlining them');
    assert.equal(loopFor(double, true, true), loopFor(double, true, true));
    assert.notEqual(loopFor(double, true, true), loopFor(double, true, false));
    assert.notEqual(loopFor(double, true, true), loopFor(double, false, true));
    // Two functions compiled from one string share V8's compiled code: that would be one loop again.
    assert.notEqual(loopFor(double, true, true).toString(), loopFor(triple, true, true).toString());
  });

  test('reads a typed array in place, or any input through its reader, into the same rows', () => {
    const data = Float64Array.from({ length: 100 }, (_, i) => i / 3);
    const fn: Mapper = (x, i, context) => (x as number) * 2 + i + (context as number);
    const expected = Float64Array.from(data, (x, i) => x * 2 + i + 5);
    for (const watched of [true, false]) {
      assert.deepEqual(run(fn, data, 100, watched, { context: 5 }).values, expected);
      assert.deepEqual(run(fn, (i) => data[i], 100, watched, { context: 5 }).values, expected);
    }
    // Row i goes to values[i - base]: a chunk that starts at 40 writes from the first slot of its own rows.
    assert.deepEqual(run(fn, data, 100, true, { base: 40, start: 40, context: 5 }).values, expected.subarray(40));
  });

  test('stops at the first result that is not a number, and leaves it and its index behind', () => {
    for (const watched of [true, false]) {
      const { stopped, held, status, values } = run((x, i) => (i === 3 ? [x] : i), new Float64Array(6), 6, watched);
      assert.equal(stopped, 3);
      assert.deepEqual(held.result, [0]);
      assert.equal(status[kStatusIndexField], 3);
      assert.deepEqual([...values], [0, 1, 2, 0, 0, 0], 'rows after it are left to the caller');
    }
  });

  test('leaves the index of the item that threw, watched or not', () => {
    for (const watched of [true, false]) {
      const control = new Int32Array(kControlFieldCount);
      const status = new Float64Array(kStatusFieldCount).fill(-1);
      const held: Held = { result: undefined, nextCheck: Infinity, late: false };
      const fn: Mapper = (x, i) => {
        if (i === 4) throw new Error('item 4');
        return i;
      };
      assert.throws(() => runNumbers(fn, new Float64Array(8), undefined, 0, 8, new Float64Array(8), 0, control, status, held, watched), /item 4/);
      assert.equal(status[kStatusIndexField], 4);
    }
  });

  test('runs items eight at a time, and still writes every row, stops and blames at any place within a pass', () => {
    for (const watched of [true, false]) {
      for (let count = 0; count <= 19; count++) {
        const data = Float64Array.from({ length: count }, (_, i) => i + 0.5);
        for (const start of [0, 3]) {
          if (start > count) continue;
          const seen: number[] = [];
          const { stopped, values } = run((x, i) => (seen.push(i), (x as number) * 2), data, count, watched, { base: start, start });
          assert.equal(stopped, count);
          assert.deepEqual(values, Float64Array.from(data.subarray(start), (x) => x * 2), `${count} rows from ${start}`);
          assert.deepEqual(seen, Array.from({ length: count - start }, (_, k) => start + k), 'each item once, none past the end');
        }
        for (let odd = 0; odd < count; odd++) {
          const fn: Mapper = (x, i) => (i === odd ? 'odd' : (x as number) * 2);
          const { stopped, values, held, status } = run(fn, data, count, watched);
          assert.equal(stopped, odd, `${count} rows, a string at ${odd}`);
          assert.equal(held.result, 'odd');
          assert.equal(status[kStatusIndexField], odd);
          assert.deepEqual(values, Float64Array.from(data, (x, i) => (i < odd ? x * 2 : 0)), 'rows before it written, none after');
          const thrower: Mapper = (x, i) => {
            if (i === odd) throw new Error(`item ${i}`);
            return x;
          };
          const control = new Int32Array(kControlFieldCount);
          const thrown = new Float64Array(kStatusFieldCount).fill(-1);
          const rows = new Float64Array(count);
          assert.throws(() => runNumbers(thrower, data, undefined, 0, count, rows, 0, control, thrown, { result: undefined, nextCheck: Infinity, late: false }, watched), new RegExp(`item ${odd}$`));
          assert.equal(thrown[kStatusIndexField], odd);
        }
      }
    }
  });

  test('a watched loop stops right after the item that saw the call cancelled, wherever it falls in a pass', () => {
    for (let at = 0; at < 20; at++) {
      const control = new Int32Array(kControlFieldCount);
      const status = new Float64Array(kStatusFieldCount);
      const seen: number[] = [];
      const fn: Mapper = (_x, i) => {
        seen.push(status[kStatusIndexField]!);
        if (i === at) control[kCancelledField] = 1;
        return i;
      };
      const held: Held = { result: undefined, nextCheck: Infinity, late: false };
      for (const count of [23, 24]) {
        seen.length = 0;
        control[kCancelledField] = 0;
        assert.equal(runNumbers(fn, new Float64Array(count), undefined, 0, count, new Float64Array(count), 0, control, status, held, true), kCancelled);
        assert.deepEqual(seen, Array.from({ length: at + 1 }, (_, k) => k), `${count} items, cancelled at ${at}`);
      }
    }
  });

  test('a watched loop publishes each index before its item runs, and stops once the call is cancelled', () => {
    const control = new Int32Array(kControlFieldCount);
    const status = new Float64Array(kStatusFieldCount);
    const held: Held = { result: undefined, nextCheck: Infinity, late: false };
    const seen: number[] = [];
    const fn: Mapper = (x, i) => {
      seen.push(status[kStatusIndexField]!);
      if (i === 2) control[kCancelledField] = 1; // another worker failed
      return i;
    };
    assert.equal(runNumbers(fn, new Float64Array(6), undefined, 0, 6, new Float64Array(6), 0, control, status, held, true), kCancelled);
    assert.deepEqual(seen, [0, 1, 2]);
  });

  test('an unwatched loop, on the calling thread where no other thread can cancel a batch, runs every item', () => {
    const cancelledFirst = new Int32Array(kControlFieldCount);
    cancelledFirst[kCancelledField] = 1;
    const status = new Float64Array(kStatusFieldCount);
    const held: Held = { result: undefined, nextCheck: Infinity, late: false };
    assert.equal(runNumbers((x, i) => i, new Float64Array(6), undefined, 0, 6, new Float64Array(6), 0, cancelledFirst, status, held, false), 6,
      'runChunk looks at the flag before each chunk instead');
  });

  test('where strings cannot be compiled, every function shares one loop, with the same rows', () => {
    const child = runModule(`
      import { loopFor } from './workers/numbers-loop.ts';
      const a = (x) => x + 1, b = (x) => x * 10;
      const status = new Float64Array(3), held = {}, control = new Int32Array(1);
      const rows = (fn, items, watched) => { const values = new Float64Array(4); loopFor(fn, typeof items !== 'function', watched)(fn, items, undefined, 0, 4, values, 0, control, status, held); return [...values]; };
      const data = Float64Array.of(1, 2, 3, 4);
      console.log(JSON.stringify({
        shared: loopFor(a, true, true) === loopFor(b, false, false),
        rows: [rows(a, data, true), rows(b, (i) => data[i], false)],
      }));
    `, { flags: ['--import', 'tsx', '--disallow-code-generation-from-strings'] });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), { shared: true, rows: [[2, 3, 4, 5], [10, 20, 30, 40]] });
  });

  test('task() functions still run where strings cannot be compiled, on threads, for typed and Array input', () => {
    const child = runModule(`
      import { parallelize, task } from '@parallelize/core';
      const scale = task(${JSON.stringify(new URL('./fixtures/scale.js', import.meta.url).href)});
      const typed = await parallelize(Float64Array.of(1, 2, 3), scale, { cores: 2 });
      const rows = await parallelize([4, 5], scale, { cores: 2 });
      console.log(JSON.stringify([...typed.data, ...rows.data]));
    `, { flags: ['--disallow-code-generation-from-strings'] });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), [3, 6, 9, 12, 15], 'scale.js multiplies by 3');
  });
});
