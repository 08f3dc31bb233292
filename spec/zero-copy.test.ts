import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { createPool, map, Matrix, parallelize, ParallelizeError } from '@parallelize/core';
import { childEnv, rejection } from './helpers.ts';

describe('zero copy', () => {
  test("workers read a shared Matrix in place: a worker's write is visible to the caller", async () => {
    const data = Matrix.alloc(64, 4);
    data.data.fill(1);
    await parallelize(data, (row: Float64Array, index: number) => { row[0] = -index; return row[1]!; }, { cores: 2, chunkSize: 4, callingThread: false });
    for (let i = 0; i < data.rows; i++) assert.equal(data.get(i, 0), -i, `row ${i} was written in place`);
  });

  test('typed arrays in the context are one shared buffer for every worker', async () => {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    await parallelize(Array.from({ length: 100 }, (_, i) => i), (_x: number, _i: number, ctx: { counter: Int32Array }) => Atomics.add(ctx.counter, 0, 1), { context: { counter }, cores: 2, chunkSize: 3, callingThread: false });
    assert.equal(counter[0], 100, 'every call incremented the same counter');
  });

  test('an Array of typed arrays is packed once, and each item is a view of its own kind and length', async () => {
    const data = [Uint8Array.of(1, 2, 3), Uint8Array.of(), Uint8Array.of(9)];
    const result = await parallelize(data, (item: Uint8Array) => [item.length, item instanceof Uint8Array ? 1 : 0, item.buffer instanceof SharedArrayBuffer ? 1 : 0, item.reduce((a, b) => a + b, 0)]);
    assert.deepEqual(result.toArrays(), [[3, 1, 1, 6], [0, 1, 1, 0], [1, 1, 1, 9]]);
  });

  test('an ArrayBuffer-backed input is copied into shared memory exactly once per call, and results are shared', () => {
    // NODE_DEBUG=parallelize logs each copy; we count them in a child process.
    const script = `
      import { Matrix, parallelize } from '@parallelize/core';
      const plain = new Matrix(new Float64Array(200 * 3).fill(2), 200, 3);
      const m = await parallelize(plain, (row) => { row[0] = 5; return row[0] + row[1]; }, { cores: 2, chunkSize: 1, callingThread: false });
      const typed = await parallelize(new Float32Array(500).fill(1), (x) => x, { cores: 2, chunkSize: 7, callingThread: false });
      console.log(JSON.stringify({ first: m.get(199, 0), callerUntouched: plain.get(0, 0), shared: m.data.buffer instanceof SharedArrayBuffer, typedRows: typed.rows }));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8', timeout: 20_000, env: childEnv({ NODE_DEBUG: 'parallelize' }),
    });
    assert.equal(child.status, 0, child.stderr);
    const copies = child.stderr.split('\n').filter((line) => /copied \d+ bytes of \w+ input into shared memory/.test(line));
    assert.deepEqual(copies.map((line) => /copied (\d+) bytes of (\w+)/.exec(line)!.slice(1).join(' ')), ['4800 Float64Array', '2000 Float32Array']);
    assert.deepEqual(JSON.parse(child.stdout), { first: 7, callerUntouched: 2, shared: true, typedRows: 500 });
  });

  test('typed input is copied to shared memory only for threads: a call that stays on the calling thread reads it in place', () => {
    // Whether a cheap call stays on the calling thread is measured, and a noisy machine can tip a
    // call to threads; so each call is checked against where it ran, and most must stay here.
    const script = `
      import { createPool, Matrix } from '@parallelize/core';
      const pool = createPool({ cores: 2 });
      await pool.parallelize([1, 2, 3, 4], (x) => x, { callingThread: false }); // its threads now run
      const typed = new Float64Array(20000).map((_, i) => i);
      const matrix = new Matrix(new Float64Array(6000).fill(1), 2000, 3);
      const sums = [];
      for (let call = 0; call < 4; call++) {
        process.stderr.write('CALL typed\\n');
        sums.push((await pool.parallelize(typed, (x) => x * 2)).get(19999, 0));
        process.stderr.write('CALL matrix\\n');
        sums.push((await pool.parallelize(matrix, (row) => row[0] + row[2])).get(5, 0));
        process.stderr.write('CALL mapped\\n'); // map() too: its results cannot be views of numbers
        sums.push((await pool.map(typed, (x) => ({ x })))[19999].x);
      }
      // ~0.1 ms an item: the calling thread times a few, then threads take the rest.
      process.stderr.write('CALL costly\\n');
      sums.push((await pool.parallelize(typed.subarray(0, 2000), (x) => { const until = performance.now() + 0.1; while (performance.now() < until); return -x; })).get(1999, 0));
      process.stderr.write('CALL end\\n');
      console.log(JSON.stringify(sums));
      await pool.close();
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8', timeout: 30_000, env: childEnv({ NODE_DEBUG: 'parallelize' }),
    });
    assert.equal(child.status, 0, child.stderr);
    assert.deepEqual(JSON.parse(child.stdout), [...Array.from({ length: 4 }, () => [39998, 2, 19999]).flat(), -1999]);
    const calls = child.stderr.split('CALL ').slice(1, -1).map((log) => ({ name: log.split('\n')[0]!, log }));
    let stayed = 0;
    for (const { name, log } of calls) {
      const copies = log.match(/copied \d+ bytes of Float64Array input/g) ?? [];
      if (/all \d+ items on the calling thread/.test(log)) {
        stayed++;
        assert.deepEqual(copies, [], `${name}: ran here, and copied nothing`);
      } else {
        assert.match(log, /threads take/, name);
        const bytes = { typed: 160000, matrix: 48000, mapped: 160000, costly: 16000 }[name];
        assert.deepEqual(copies, [`copied ${bytes} bytes of Float64Array input`], `${name}: went to threads, and copied its input once`);
      }
    }
    assert.ok(stayed >= 6, `only ${stayed} of 12 cheap calls stayed on the calling thread:\n${child.stderr}`);
    assert.doesNotMatch(calls.at(-1)!.log, /all \d+ items on the calling thread/, 'the costly call went to threads');
  });

  test('typed input transferred while a call reads it in place fails the call, rather than reading it as empty', async () => {
    for (const Type of [Float64Array, Matrix] as const) {
      const values = new Float64Array(40).fill(3);
      const data = Type === Matrix ? new Matrix(values, 40, 1) : values;
      // fn awaits a timer for its first item, during which the caller's own code transfers the
      // buffer (its timer is due 50 ms sooner); the calling thread runs that first item, whatever
      // it decides next.
      const call = parallelize(data, async (x: number | Float64Array) => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return typeof x === 'number' ? x : x[0]!;
      }, { callingThread: true });
      setTimeout(() => structuredClone(values.buffer, { transfer: [values.buffer] }), 0);
      const error = await rejection(call);
      assert.ok(error instanceof TypeError && (error as { code?: string }).code === 'ERR_INVALID_ARG', `${Type.name}: ${error}`);
      assert.match(error.message, Type === Matrix ? /^Expected `data\.data` to be a typed array whose buffer is still attached/ : /^Expected `data` to be a typed array whose buffer is still attached/);
    }
  });

  test('typed input whose resizable buffer shrinks while a call reads it in place fails the call, rather than giving NaN rows', async () => {
    // Resizable buffers are ES2024, past the TypeScript library this project compiles against.
    const Resizable = ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => ArrayBuffer & { resize(bytes: number): void };
    for (const size of [10, 0]) {
      const buffer = new Resizable(8000, { maxByteLength: 8000 });
      const data = new Float64Array(buffer).fill(1); // tracks the buffer's length
      const call = parallelize(data, (x: number) => x * 2, { callingThread: true });
      buffer.resize(size * 8); // the caller's own code, while the call awaits between batches
      const error = await rejection(call);
      assert.ok(error instanceof TypeError && (error as { code?: string }).code === 'ERR_INVALID_ARG', `${size}: ${error}`);
      assert.match(error.message, /^Expected `data` to be a typed array that keeps its 1000 elements until the call settles/);
    }
  });

  test('a pool closed while a call reads typed input in place rejects that call with ERR_POOL_CLOSED, even if the input then goes away', async () => {
    const pool = createPool({ cores: 2 });
    const data = new Float64Array(10).fill(1);
    const call = pool.parallelize(data, async (x: number) => x * 2, { callingThread: true });
    void pool.close();
    structuredClone(data.buffer, { transfer: [data.buffer] });
    const error = await rejection(call);
    // A second rejection, left unhandled, would end this process here.
    assert.ok(error instanceof ParallelizeError && error.code === 'ERR_POOL_CLOSED', String(error));
  });

  test('typed input that grows while a call reads it in place is fine: the call keeps to the items it counted', async () => {
    // Growable buffers are ES2024, past the TypeScript library this project compiles against.
    const Growable = SharedArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => SharedArrayBuffer & { grow(bytes: number): void };
    const buffer = new Growable(800, { maxByteLength: 8000 });
    const samples = new Float64Array(buffer).fill(1); // follows the buffer's length
    const call = parallelize(samples, async (x: number) => x * 2, { callingThread: true });
    buffer.grow(1600); // more samples appended meanwhile
    const result = await call;
    assert.deepEqual([result.rows, result.data.every((x) => x === 2)], [100, true]);
  });

  test('a Matrix over a typed array subclass gives fn plain Float64Array rows, the same on either path', async () => {
    // A subclass whose constructor takes a length, as subarray() would not expect.
    class Grid extends Float64Array { constructor(length: number) { super(length); } }
    const grid = new Grid(2000);
    for (let k = 0; k < grid.length; k++) grid[k] = k;
    const matrix = new Matrix(grid, 1000, 2);
    for (const callingThread of [true, false]) {
      const rows = await parallelize(matrix, (row: Float64Array) => [row.length, row[1]! - row[0]!, row.constructor === Float64Array ? 1 : 0], { callingThread, cores: 2 });
      assert.deepEqual(rows.toArrays().filter(([length, step, plain]) => length !== 2 || step !== 1 || plain !== 1), [], `callingThread: ${callingThread}`);
      assert.deepEqual(Array.from(rows.row(999)), [2, 1, 1]);
    }
  });

  test("map() over typed rows on the calling thread reads a shared copy: a result that is a view of its row shares it, not a clone of the caller's buffer", async () => {
    const matrix = new Matrix(new Float64Array(200 * 50).fill(2), 200, 50);
    const rows = await map(matrix, (row: Float64Array) => row.subarray(0, 2), { callingThread: true });
    assert.deepEqual(Array.from(rows[199]!), [2, 2]);
    assert.ok(rows.every((row) => row.buffer instanceof SharedArrayBuffer), 'every result is a view of the one shared copy');
  });
});
