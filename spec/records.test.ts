import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import { createPool, map, parallelize, ParallelizeError } from '@parallelize/core';
import { prepareInput } from '../lib/input.ts';
import { allocateShared, kMaxSpareBytes, SpareBuffer } from '../lib/memory.ts';
import { packedRecords, packRecords, recordReader, recordShape } from '../lib/records.ts';
import { runModule } from './helpers.ts';

const fresh = (length: number) => new Float64Array(new SharedArrayBuffer(length * 8));

/** Memory for `count` items shaped like `first`, as a call going to threads takes it; undefined when they do not pack. */
function recordsFor(first: unknown, count: number) {
  const shape = recordShape(first, count);
  return shape && packedRecords(shape, count, fresh);
}

/** Packs `items` and reads every one back, as a worker would. */
function roundTrip(items: readonly unknown[]): unknown[] {
  const records = recordsFor(items[0], items.length);
  assert.ok(records, 'the items pack');
  assert.equal(packRecords(records, items, 0, items.length), true);
  const read = recordReader(records);
  return items.map((_, i) => read(i));
}

describe('packed Array items (records)', () => {
  test('plain objects of numbers and Arrays of numbers come back equal, keys in order', () => {
    const items = [
      { id: 0, values: [1.5, -0, NaN], weight: Infinity },
      { id: 1, values: [2, 3, -4e300], weight: -1 },
    ];
    const back = roundTrip(items);
    assert.deepEqual(back, items);
    assert.deepEqual(back.map((item) => Object.keys(item as object)), items.map((item) => Object.keys(item)));
    assert.ok(Object.is((back[0] as { values: number[] }).values[1], -0), '-0 stays -0');
    assert.notEqual(back[0], items[0], 'a fresh object, not the caller\'s');
  });

  test('numbers come back as the same numbers, -0, NaN and the extremes too', () => {
    const items = [1.5, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, 2 ** 53 + 2, 0];
    const back = roundTrip(items);
    assert.equal(back.length, items.length);
    items.forEach((number, i) => assert.ok(Object.is(back[i], number), `item ${i}: ${String(back[i])} is not ${number}`));
  });

  test('Arrays of numbers, and objects with integer-like keys, come back equal', () => {
    assert.deepEqual(roundTrip([[1, 2], [3, 4], [5, 6]]), [[1, 2], [3, 4], [5, 6]]);
    const items = [{ b: 1, 2: 3, a: [] as number[] }, { b: 4, 2: 5, a: [] as number[] }];
    assert.deepEqual(roundTrip(items), items);
  });

  test('does not pack shapes it cannot rebuild exactly', () => {
    class Point { x = 1; }
    const sparse = [1, , 3];
    for (const first of [new Point(), { x: 'text' }, { x: 1n }, { x: { y: 1 } }, { x: new Float64Array(2) }, sparse,
      JSON.parse('{ "__proto__": 1 }'), {}, [], Object.create(null), { x: Object.assign(new (class extends Array {})(), [1]) }, '5', 5n, new Number(5), null]) {
      assert.equal(recordsFor(first, 3), undefined, `${inspect(first)} should not pack`);
    }
  });

  test('refuses a chunk holding an item of another shape', () => {
    const first = { id: 1, values: [1, 2] };
    const others = [
      { id: 2, values: [1, 2], extra: 0 }, { id: 2 }, { values: [1, 2], id: 2 }, { id: 2, values: [1, 2, 3] },
      { id: 2, values: [1, '2'] }, { id: 2, values: [1, , ] }, { id: '2', values: [1, 2] }, Object.assign(Object.create({ id: 2 }), { values: [1, 2] }), null, 7,
    ];
    for (const other of others) {
      const records = recordsFor(first, 2)!;
      assert.equal(packRecords(records, [first, other], 0, 2), false, `${inspect(other)} should not pack with ${inspect(first)}`);
    }
  });

  test('a chunk among numbers holding anything else is refused', () => {
    for (const other of ['1', null, undefined, 1n, [1], new Number(1), { valueOf: () => 1 }]) {
      const records = recordsFor(1, 3)!;
      assert.equal(packRecords(records, [0, 1, other], 0, 3), false, `${inspect(other)} should not pack with numbers`);
    }
  });

  test('an Array of numbers sends no clones with its chunks; a chunk with a stray item sends its items', () => {
    const numbers = Array.from({ length: 6 }, (_, i) => i / 3);
    const uniform = prepareInput(numbers);
    assert.equal(uniform.spec().kind, 'records');
    assert.equal(uniform.chunkItems(0, 6), undefined);
    const mixed = prepareInput([0, 1, 2, 'three', 4, 5]);
    assert.equal(mixed.chunkItems(0, 3), undefined);
    assert.deepEqual(mixed.chunkItems(2, 5), [2, 'three', 4]);
  });

  test('an Array input of one shape sends no clones with its chunks; a chunk with a stray item sends its items', () => {
    const items = Array.from({ length: 6 }, (_, id) => ({ id, values: [id, id * 2] }));
    const uniform = prepareInput(items);
    assert.equal(uniform.spec().kind, 'records');
    assert.equal(uniform.chunkItems(0, 6), undefined);
    const mixed = prepareInput([...items.slice(0, 3), { id: 3, values: [3] }, ...items.slice(4)]);
    assert.equal(mixed.chunkItems(0, 3), undefined);
    assert.deepEqual(mixed.chunkItems(2, 5), [items[2], { id: 3, values: [3] }, items[4]]);
  });

  test('workers see the same items whether packed or cloned, in any mix', async () => {
    const items: unknown[] = Array.from({ length: 3000 }, (_, id) => ({ id, values: [id / 3, -id, id % 7] }));
    items[1700] = { id: 1700, values: [1, 2], note: 'another shape' };
    items[2900] = { values: [0, 0, 0], id: 2900 };
    const seen = await map(items, (item: unknown) => item, { cores: 2, chunkSize: 100, callingThread: false });
    assert.deepEqual(seen, items);
  });

  test('workers see the same numbers whether packed or cloned, -0 included', async () => {
    const items: unknown[] = Array.from({ length: 3000 }, (_, i) => (i % 5 === 0 ? -0 : i / 7));
    items[1700] = 'not a number';
    items[2900] = NaN;
    const seen = await map(items, (item: unknown) => item, { cores: 2, chunkSize: 100, callingThread: false });
    assert.deepEqual(seen, items);
    assert.ok(Object.is(seen[2995], -0), 'a packed -0 stays -0');
    // Numbers are read in place by the workers' loop for numbers, except in a chunk sent with its items.
    const twice = (x: unknown) => (typeof x === 'number' ? x * 2 : -1);
    const doubled = await parallelize(items, twice, { cores: 2, chunkSize: 100, callingThread: false });
    assert.deepEqual(Array.from(doubled.data), items.map(twice));
  });

  test('an item that throws when read fails the call with ERR_DATA_CLONE naming it, wherever it is', async () => {
    for (const which of [0, 2, 30]) {
      const data = Array.from({ length: 40 }, (_, i) => ({ a: i }));
      Object.defineProperty(data[which], 'a', { enumerable: true, get() { throw new Error('unreadable'); } });
      await assert.rejects(parallelize(data, (x: { a: number }) => x.a, { cores: 2, chunkSize: 4, callingThread: false }),
        (error: ParallelizeError) => error.code === 'ERR_DATA_CLONE' && error.index === which, `item ${which}`);
    }
  });

  test('Proxies are not packed: they fail as they would as clones', async () => {
    const proxied = Array.from({ length: 8 }, (_, i) => ({ a: i }));
    proxied[5] = new Proxy({ a: 5 }, {});
    await assert.rejects(parallelize(proxied, (x: { a: number }) => x.a, { cores: 2, chunkSize: 2, callingThread: false }),
      (error: ParallelizeError) => error.code === 'ERR_DATA_CLONE' && error.index === 5);
    assert.equal(recordsFor(new Proxy({ a: 1 }, {}), 2), undefined);
    assert.equal(recordsFor(new Proxy([1, 2], {}), 2), undefined);
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    assert.equal(recordsFor(proxy, 2), undefined, 'a revoked Proxy first: no packing, no throw');
  });

  test('packing memory is taken when the call goes to threads, once, and not before', () => {
    const taken: number[] = [];
    const input = prepareInput([1, 2, 3], (length) => { taken.push(length); return fresh(length); });
    assert.deepEqual(taken, [], 'nothing taken for a call that may stay on the calling thread');
    assert.equal(input.packed(), undefined);
    assert.equal(input.spec().kind, 'records');
    assert.equal(input.spec(), input.spec());
    assert.equal(input.chunkItems(0, 3), undefined);
    assert.deepEqual(taken, [3], 'taken once, for every item');
    const packed = input.packed();
    assert.ok(packed instanceof Float64Array && packed.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(Array.from(packed), [1, 2, 3]);
  });

  test('a pool call that stays on the calling thread takes no memory to pack its items; one on threads takes it once', () => {
    const run = runModule(`
      import { createPool } from '@parallelize/core';
      const pool = createPool({ cores: 2 });
      const numbers = Array.from({ length: 100000 }, (_, i) => i);
      const objects = numbers.map((id) => ({ id }));
      for (const [name, data] of [['numbers', numbers], ['objects', objects]]) {
        // Three times: on a noisy machine, a pause can make one call's items look costly enough for threads.
        for (let k = 0; k < 3; k++) {
          process.stderr.write(\`HERE \${name}\\n\`);
          await pool.parallelize(data, (x) => (typeof x === 'number' ? x : x.id) + 1);
        }
        process.stderr.write(\`THREADS \${name}\\n\`);
        await pool.parallelize(data, (x) => (typeof x === 'number' ? x : x.id) + 1, { callingThread: false });
      }
      process.stderr.write('END\\n');
      await pool.close();
    `, { env: { NODE_DEBUG: 'parallelize' } });
    assert.equal(run.status, 0, run.stderr);
    for (const name of ['numbers', 'objects']) {
      const calls = run.stderr.split(`THREADS ${name}\n`)[0]!.split(`HERE ${name}\n`).slice(1);
      const stayed = calls.filter((call) => /all 100000 items on the calling thread/.test(call));
      assert.ok(stayed.length > 0, `${name}: a cheap call stayed on the calling thread`);
      for (const here of stayed) assert.doesNotMatch(here, /shared memory to pack/, `${name}: and took no memory to pack`);
      const threads = run.stderr.split(`THREADS ${name}\n`)[1]!.split(/HERE |END\n/)[0]!;
      assert.equal(threads.match(/took shared memory to pack 100000 Array items \(100000 values\) for threads/g)?.length, 1, `${name}: the call on threads took it once`);
    }
  });

  test('a call whose packing memory cannot be allocated sends clones instead', async () => {
    const input = prepareInput([{ a: 1 }, { a: 2 }], () => { throw new RangeError('Array buffer allocation failed'); });
    assert.equal(input.spec().kind, 'array');
    assert.deepEqual(input.chunkItems(0, 2), [{ a: 1 }, { a: 2 }]);
  });

  test('a pool reuses its packing memory across calls, and results stay right', async () => {
    await using pool = createPool({ cores: 2 });
    for (let call = 0; call < 3; call++) {
      const items = Array.from({ length: 2000 }, (_, id) => [id, call, id * call]);
      const sums = await pool.parallelize(items, (row: number[]) => row[0]! + row[1]! + row[2]!, { callingThread: false });
      assert.deepEqual(Array.from(sums.data), items.map(([a, b, c]) => a! + b! + c!));
    }
  });
});

describe('SpareBuffer', () => {
  const sameMemory = (a: Float64Array, b: Float64Array) => a.buffer === b.buffer;

  test('lends the memory given back when it is big enough, once at a time', () => {
    const spare = new SpareBuffer();
    const first = spare.take(128);
    assert.ok(first.buffer instanceof SharedArrayBuffer && first.length === 128);
    spare.give(first);
    const again = spare.take(64);
    assert.ok(sameMemory(again, first) && again.length === 64);
    assert.ok(!sameMemory(spare.take(64), first), 'a second caller gets its own memory while the first holds it');
    spare.give(first);
    assert.ok(!sameMemory(spare.take(256), first), 'too small: new memory');
  });

  test('keeps the biggest memory given back, and none over the cap', () => {
    const spare = new SpareBuffer();
    const big = allocateShared(Float64Array, 8);
    spare.give(big);
    spare.give(allocateShared(Float64Array, 1));
    assert.ok(sameMemory(spare.take(1), big));
    spare.give(allocateShared(Float64Array, kMaxSpareBytes / 8 + 1));
    assert.ok(spare.take(1).buffer.byteLength < kMaxSpareBytes);
  });

  test('once disposed (the pool closed), keeps nothing', () => {
    const spare = new SpareBuffer();
    const values = allocateShared(Float64Array, 8);
    spare.give(values);
    spare.dispose();
    assert.ok(!sameMemory(spare.take(1), values));
    spare.give(values);
    assert.ok(!sameMemory(spare.take(1), values), 'memory given back after close is not kept');
  });
});
