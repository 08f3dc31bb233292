import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPool, map, Matrix, parallelize, parallelizeSync, ParallelizeError, task } from '@parallelize/core';
import { rejection } from './helpers.ts';

const data = [1, 2, 3];
const double = (x: number) => x * 2;

/**
 * The numbers 0 to `length - 1`, made anew by each factory, whose item `at` throws
 * `RangeError('boom')` when read: of an Array subclass, of a Proxy, and of a plain Array whose
 * getter throws from its second read on (the hole check reads it once).
 */
function unreadableAt(length: number, at: number): (readonly [string, () => number[]])[] {
  const boom = () => { throw new RangeError('boom'); };
  class Items extends Array<number> {}
  return [
    ['a subclass', () => Object.defineProperty(Items.from({ length }, (_, i) => i), at, { get: boom })],
    ['a Proxy', () => new Proxy(Array.from({ length }, (_, i) => i), { get: (target, key, receiver) => (key === String(at) ? boom() : Reflect.get(target, key, receiver)) })],
    ['a getter that throws later', () => {
      let reads = 0;
      return Object.defineProperty(Array.from({ length }, (_, i) => i), at, { enumerable: true, get: () => (reads++ === 0 ? at : boom()) });
    }],
  ];
}

/** Bad input rejects (never throws synchronously) with the house-style message and ERR_INVALID_ARG. */
async function assertRejects(call: () => Promise<unknown>, Type: typeof TypeError | typeof RangeError, message: string | RegExp): Promise<void> {
  let promise: Promise<unknown> | undefined;
  assert.doesNotThrow(() => { promise = call(); }, 'does not throw synchronously');
  const error = await rejection(promise!);
  assert.ok(error instanceof Type, `${error?.constructor?.name} is a ${Type.name}`);
  assert.equal((error as { code?: unknown }).code, 'ERR_INVALID_ARG');
  if (typeof message === 'string') assert.equal(error.message, message);
  else assert.match(error.message, message);
}

describe('bad arguments', () => {
  test('cores must be a positive integer', async () => {
    await assertRejects(() => parallelize(data, double, { cores: 0 }), TypeError, 'Expected `cores` to be a positive integer, got `0` (number)');
    await assertRejects(() => parallelize(data, double, { cores: 1.5 }), TypeError, 'Expected `cores` to be a positive integer, got `1.5` (number)');
    await assertRejects(() => parallelize(data, double, { cores: '2' as never }), TypeError, "Expected `cores` to be a positive integer, got `'2'` (string)");
  });

  test("chunkSize must be a positive integer or 'auto'", async () => {
    await assertRejects(() => parallelize(data, double, { chunkSize: -1 }), TypeError, "Expected `chunkSize` to be a positive integer or 'auto', got `-1` (number)");
    await assertRejects(() => parallelize(data, double, { chunkSize: 'big' as never }), TypeError, /^Expected `chunkSize` to be a positive integer or 'auto', got `'big'` \(string\)$/);
  });

  test('unknown option names are rejected, with a suggestion for typos', async () => {
    await assertRejects(() => parallelize(data, double, { core: 2 } as never), TypeError,
      'Unknown option `core` in `options` (did you mean `cores`?); it takes only `cores`, `chunkSize`, `context`, `onError`, `timeout`, `signal`, `callingThread`, `onProgress`, `resourceLimits`');
    await assertRejects(() => parallelize(data, double, { verbose: true } as never), TypeError,
      'Unknown option `verbose` in `options`; it takes only `cores`, `chunkSize`, `context`, `onError`, `timeout`, `signal`, `callingThread`, `onProgress`, `resourceLimits`');
    await assertRejects(() => parallelize(data, double, { chunksize: 4 } as never), TypeError, /\(did you mean `chunkSize`\?\)/);
  });

  test('options must be an object', async () => {
    await assertRejects(() => parallelize(data, double, 4 as never), TypeError, 'Expected `options` to be an object, got `4` (number)');
    await assertRejects(() => parallelize(data, double, null as never), TypeError, 'Expected `options` to be an object, got `null` (null)');
  });

  test('data must be an Array, a typed array or a Matrix', async () => {
    await assertRejects(() => parallelize(null as never, double), TypeError, 'Expected `data` to be an Array, a typed array or a Matrix, got `null` (null)');
    await assertRejects(() => parallelize('abc' as never, double), TypeError, "Expected `data` to be an Array, a typed array or a Matrix, got `'abc'` (string)");
    await assertRejects(() => parallelize({ length: 2 } as never, double), TypeError, 'Expected `data` to be an Array, a typed array or a Matrix, got `{ length: 2 }` (Object)');
  });

  test('a detached typed array is rejected, not read as empty', async () => {
    const detached = new Float64Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    await assertRejects(() => parallelize(detached, double), TypeError, /^Expected `data` to be a typed array whose buffer is still attached \(it was transferred or detached\), got /);
    assert.equal((await parallelize(new Float64Array(0), double)).rows, 0, 'an empty typed array is fine');
  });

  test('typed input past the end of a resizable buffer that shrank is rejected, on either path and by parallelizeSync, not read as empty', async () => {
    // Resizable buffers are ES2024, past the TypeScript library this project compiles against.
    const Resizable = ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => ArrayBuffer & { resize(bytes: number): void };
    /** 100 numbers, as a typed array and as a 50 × 2 Matrix made while the buffer was whole; then the buffer shrinks to 10. */
    const shrunk = (tracking: boolean) => {
      const buffer = new Resizable(800, { maxByteLength: 800 });
      // A view of a fixed length is past the end once the buffer shrinks; one that follows the buffer's length gets shorter.
      const typed = tracking ? new Float64Array(buffer) : new Float64Array(buffer, 0, 100);
      const matrix = new Matrix(typed, 50, 2);
      buffer.resize(80);
      return { typed, matrix };
    };
    const beyond = /^Expected `(data|data\.data)` to be a typed array within its buffer \(its resizable buffer shrank past the array's end\), got /;
    const shorter = /^Expected `data\.data` to be a Float64Array of rows × cols = 100 elements \(its resizable buffer shrank\), got /;
    for (const callingThread of [true, false]) {
      await assertRejects(() => parallelize(shrunk(false).typed, double, { callingThread }), TypeError, beyond);
      await assertRejects(() => parallelize(shrunk(false).matrix, (row: Float64Array) => row[0]!, { callingThread }), TypeError, beyond);
      await assertRejects(() => parallelize(shrunk(true).matrix, (row: Float64Array) => row[0]!, { callingThread }), TypeError, shorter);
    }
    const refused = (pattern: RegExp) => (error: Error & { code?: string }) => error instanceof TypeError && error.code === 'ERR_INVALID_ARG' && pattern.test(error.message);
    assert.throws(() => parallelizeSync(shrunk(false).typed, double), refused(beyond));
    assert.throws(() => parallelizeSync(shrunk(true).matrix, (row: Float64Array) => row[0]!), refused(shorter));
    const detached = new Float64Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    assert.throws(() => parallelizeSync(detached, double), refused(/^Expected `data` to be a typed array whose buffer is still attached/));
  });

  test('a detached typed array inside an Array of them, or inside the context, is rejected by its place', async () => {
    const detached = new Float64Array(8);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    await assertRejects(() => parallelize([new Float64Array(2), detached], (row) => row.length), TypeError, /^Expected `data\[1\]` to be a typed array whose buffer is still attached/);
    await assertRejects(() => parallelize(data, double, { context: { volumes: [new Float64Array(2), detached] } }), TypeError, /^Expected `options\.context\.volumes\[1\]` to be a typed array whose buffer is still attached/);
    await assertRejects(() => parallelize(data, double, { context: new Map([['left', { mask: detached }]]) }), TypeError, /^Expected `options\.context\.get\("left"\)\.mask` to be a typed array whose buffer is still attached/);
    assert.equal((await parallelize([new Float64Array(2), new Float64Array(3)], (row) => row.length, { context: { volumes: [new Float64Array(2)] } })).get(1, 0), 3);
    // Keys of any kind, even ones that do not convert to a string, are fine where nothing is wrong.
    const keyed = new Map<unknown, unknown>([[Object.create(null), { w: new Float64Array(1) }], [7, 2]]);
    assert.deepEqual(Array.from((await parallelize(data, (x: number, _i: number, m: Map<unknown, unknown>) => x * m.size, { context: keyed })).data), [2, 4, 6]);
  });

  test('sparse arrays are rejected, naming the hole', async () => {
    const sparse = [1, , 3] as number[]; // eslint-disable-line no-sparse-arrays
    await assertRejects(() => parallelize(sparse, double), TypeError, /`data\[1\]` is a hole in a sparse Array/);
    // A hole far in, among a million numbers, after items that are undefined on purpose.
    const far = Array.from({ length: 1_000_000 }, (_, i) => i as number | undefined);
    far[10] = undefined;
    delete far[654_321];
    await assertRejects(() => parallelize(far, (x: number | undefined) => x ?? -1), TypeError, /`data\[654321\]` is a hole in a sparse Array/);
    await assertRejects(() => parallelize(new Array(3), (x: unknown) => (x === undefined ? 0 : 1)), TypeError, /`data\[0\]` is a hole/);
    // Arrays that would answer includes() otherwise than \`in\`: an own includes, a subclass, Proxies.
    const ownIncludes = Object.assign([1, , 3], { includes: () => false }); // eslint-disable-line no-sparse-arrays
    class Tricky extends Array<number> { override includes(): boolean { return false; } }
    const subclassed = Tricky.from([1, 2, 3]);
    delete subclassed[1];
    const filling = new Proxy([1, , 3], { get: (target, key, receiver) => Reflect.get(target, key, receiver) ?? 0 }); // eslint-disable-line no-sparse-arrays
    const hiding = new Proxy([1, 2, 3], { has: (target, key) => key !== '1' && Reflect.has(target, key) });
    for (const tricky of [ownIncludes, subclassed, filling, hiding]) {
      await assertRejects(() => parallelize(tricky as number[], (x: number | undefined) => x ?? -1, { callingThread: false }), TypeError, /`data\[1\]` is a hole in a sparse Array/);
    }
  });

  test('items that are undefined on purpose are no holes', async () => {
    const result = await parallelize([undefined, 2, undefined], (x: number | undefined) => x ?? -1);
    assert.deepEqual(Array.from(result.data), [-1, 2, -1]);
  });

  test('an item whose getter throws fails the call with ERR_DATA_CLONE naming it, wherever it would run', async () => {
    for (const [label, item] of [['numbers', (i: number) => i], ['strings', (i: number) => String(i)]] as const) {
      const data: unknown[] = Array.from({ length: 40 }, (_, i) => item(i));
      Object.defineProperty(data, 30, { enumerable: true, get() { throw new RangeError('unreadable'); } });
      for (const callingThread of [true, false]) {
        const error = await rejection(parallelize(data, (x: unknown) => Number(x), { cores: 2, chunkSize: 4, callingThread }));
        assert.ok(error instanceof ParallelizeError, `${label}: ${error}`);
        assert.equal(error.code, 'ERR_DATA_CLONE');
        assert.equal(error.index, 30);
        assert.equal(error.message, 'data[30] cannot be read: unreadable');
        assert.ok(error.cause instanceof RangeError);
      }
    }
    // A getter that throws only once still fails the call, with what it threw.
    const flaky = [1, 2, 3];
    let reads = 0;
    Object.defineProperty(flaky, 1, { enumerable: true, get() { if (reads++ === 0) throw new RangeError('only once'); return 2; } });
    const error = await rejection(parallelize(flaky, (x: number) => x));
    assert.ok(error instanceof ParallelizeError && error.code === 'ERR_DATA_CLONE' && error.index === undefined, String(error));
    assert.equal(error.message, 'data cannot be read: only once');
  });

  test('an item that throws only when taken for a thread, or of an Array subclass or Proxy, fails the call naming it', async () => {
    for (const [label, make] of unreadableAt(4000, 3000)) {
      const error = await rejection(parallelize(make(), (x: number) => x, { cores: 2, chunkSize: 100, callingThread: false }));
      assert.ok(error instanceof ParallelizeError, `${label}: ${error}`);
      assert.equal(error.code, 'ERR_DATA_CLONE', label);
      assert.equal(error.index, 3000, label);
      assert.equal(error.message, 'data[3000] cannot be read: boom', label);
    }
  });

  test('on the calling thread too, an unreadable item of an Array subclass or Proxy is the data\'s fault, not fn\'s', async () => {
    const calls: [string, (data: number[]) => Promise<unknown>][] = [
      ['parallelize', (data) => parallelize(data, (x: number) => x, { callingThread: true })],
      // Collected, it would be a NaN row blamed on fn; the data cannot be read, so the call fails.
      ["onError: 'collect'", (data) => parallelize(data, (x: number) => x, { callingThread: true, onError: 'collect' })],
      ['map', (data) => map(data, (x: number) => String(x), { callingThread: true })],
    ];
    // The plain Array's item is read in place, not through a reader that could catch the throw.
    for (const [label, make] of unreadableAt(40, 30)) {
      for (const [how, call] of calls) {
        const error = await rejection(call(make()));
        assert.ok(error instanceof ParallelizeError, `${label}, ${how}: ${error}`);
        assert.deepEqual([error.code, error.index, error.message], ['ERR_DATA_CLONE', 30, 'data[30] cannot be read: boom'], `${label}, ${how}`);
        assert.ok(error.cause instanceof RangeError, `${label}, ${how}`);
      }
    }
    // The first item is read before anything else, to learn what kind of data this is.
    const [, firstUnreadable] = unreadableAt(3, 0)[1]!;
    const error = await rejection(parallelize(firstUnreadable(), (x: number) => x));
    assert.ok(error instanceof ParallelizeError && error.code === 'ERR_DATA_CLONE' && error.index === 0, String(error));
  });

  test('an Array of typed arrays must hold one kind, naming the odd item', async () => {
    const mixed = [new Float64Array(2), new Float64Array(1), new Int32Array(3)];
    await assertRejects(() => parallelize(mixed, (x) => x.length), TypeError,
      /^Expected `data\[2\]` to be a Float64Array like `data\[0\]` .*, got `Int32Array\(3\) \[ 0, 0, 0 \]` \(Int32Array\)$/);
  });

  test('fn must be a function or a task()', async () => {
    await assertRejects(() => parallelize(data, 42 as never), TypeError, 'Expected `fn` to be a function or a task() reference, got `42` (number)');
    await assertRejects(() => parallelize(data, undefined as never), TypeError, 'Expected `fn` to be a function or a task() reference, got `undefined` (undefined)');
  });

  test('native and bound functions are rejected with a way out', async () => {
    await assertRejects(() => parallelize(data, Math.sqrt), TypeError, /^Expected `fn` to be a function written in JavaScript .*wrap it: `\(x\) => Math.sqrt\(x\)`/);
    await assertRejects(() => parallelize(data, double.bind(null)), TypeError, /native and bound functions/);
  });

  test('classes and generators are rejected', async () => {
    await assertRejects(() => parallelize(data, class Foo {} as never), TypeError, /^Expected `fn` to be a function, not a class, got `\[function Foo\]`/);
    await assertRejects(() => parallelize(data, function* gen() { yield 1; } as never), TypeError, /generators cannot return a row/);
  });

  test('task() checks its arguments at once, and its module when called', async () => {
    assert.throws(() => task(42 as never), { name: 'TypeError', code: 'ERR_INVALID_ARG', message: 'Expected `module` to be a URL or a non-empty string, got `42` (number)' });
    assert.throws(() => task('./x.js', ''), { name: 'TypeError', code: 'ERR_INVALID_ARG', message: "Expected `exportName` to be a non-empty string, got `''` (string)" });
    await assertRejects(() => parallelize(data, task('./no/such/module.js')), TypeError, `Expected \`fn\` to be a task() whose module exists, but there is no file ${process.cwd()}/no/such/module.js`);
  });

  test('createPool checks its options synchronously', async () => {
    assert.throws(() => createPool({ cores: -2 }), { name: 'TypeError', code: 'ERR_INVALID_ARG', message: 'Expected `cores` to be a positive integer, got `-2` (number)' });
    assert.throws(() => createPool({ chunkSize: 3 } as never), { name: 'TypeError', code: 'ERR_INVALID_ARG', message: 'Unknown option `chunkSize` in `options`; it takes only `cores`, `resourceLimits`' });
    assert.throws(() => createPool({ resourceLimits: { maxOldGenerationSizeMb: 0 } }), { name: 'TypeError', message: 'Expected `resourceLimits.maxOldGenerationSizeMb` to be a positive number of MiB, got `0` (number)' });
    assert.throws(() => createPool({ resourceLimits: { heap: 5 } as never }), { name: 'TypeError', message: /^Unknown option `heap` in `resourceLimits`; it takes only `maxOldGenerationSizeMb`/ });
    // A smaller stack crashes a worker thread as Node starts it (0.2 MiB aborted the whole process).
    await assertRejects(() => parallelize(data, double, { resourceLimits: { stackSizeMb: 0.2 } }), RangeError, 'Expected `resourceLimits.stackSizeMb` to be at least 0.5 MiB (smaller stacks crash worker threads as Node starts them), got 0.2');
    assert.equal((await parallelize(data, double, { resourceLimits: { stackSizeMb: 0.5 } })).rows, 3);
    assert.throws(() => createPool({ resourceLimits: 64 as never }), { name: 'TypeError', message: 'Expected `resourceLimits` to be an object, got `64` (number)' });
  });

  test('resourceLimits belongs to the pool, not to a call on it', async () => {
    const pool = createPool({ cores: 1 });
    await assertRejects(() => pool.parallelize(data, double, { resourceLimits: {} } as never), TypeError,
      /^Unknown option `resourceLimits` in `options` \(it is set when the pool is made: createPool\(\{ resourceLimits \}\)\); it takes only `cores`, `chunkSize`, `context`, `onError`, `timeout`, `signal`, `callingThread`, `onProgress`$/);
    await pool.close();
  });

  test('onError, timeout and signal are checked', async () => {
    await assertRejects(() => parallelize(data, double, { onError: 'ignore' as never }), TypeError, "Expected `onError` to be 'throw' or 'collect', got `'ignore'` (string)");
    await assertRejects(() => parallelize(data, double, { timeout: 0 }), TypeError, 'Expected `timeout` to be a positive number of milliseconds, got `0` (number)');
    await assertRejects(() => parallelize(data, double, { timeout: NaN }), TypeError, 'Expected `timeout` to be a positive number of milliseconds, got `NaN` (number)');
    await assertRejects(() => parallelize(data, double, { timeout: 2 ** 40 }), RangeError, 'Expected `timeout` to be at most 2147483647 ms (about 24.8 days), got 1099511627776');
    await assertRejects(() => parallelize(data, double, { signal: {} as never }), TypeError, 'Expected `signal` to be an AbortSignal, got `{}` (Object)');
    await assertRejects(() => parallelize(data, double, { callingThread: 'yes' as never }), TypeError, "Expected `callingThread` to be a boolean, got `'yes'` (string)");
  });

  test('Matrix checks its shape', () => {
    assert.throws(() => new Matrix(new Float64Array(5), 2, 3), { name: 'RangeError', code: 'ERR_INVALID_ARG', message: 'Expected `data` to hold rows × cols = 2 × 3 = 6 values, got 5' });
    assert.throws(() => new Matrix([1, 2] as never, 1, 2), { name: 'TypeError', code: 'ERR_INVALID_ARG' });
    assert.throws(() => Matrix.alloc(-1, 2), { name: 'TypeError', message: 'Expected `rows` to be a non-negative integer, got `-1` (number)' });
  });
});
