import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Matrix, parallelize } from '@parallelize/core';
import { assertSameMatrix, random, randomFloats, rejection, serialMap, within } from './helpers.ts';

// Every mapper is self-contained (it runs in another thread) and accepts every kind of item.
const shapes = {
  number: (item: any, i: number) => {
    const s = typeof item === 'number' ? item : Array.isArray(item.values) ? item.values.reduce((a: number, b: number) => a + b, 0) : Array.from(item as ArrayLike<number>).reduce((a, b) => a + b, 0);
    return s * 0.5 + i;
  },
  vector: (item: any, i: number) => {
    const s = typeof item === 'number' ? item : Array.isArray(item.values) ? item.values.reduce((a: number, b: number) => a + b, 0) : Array.from(item as ArrayLike<number>).reduce((a, b) => a + b, 0);
    return [s, Math.sin(s), i, -s / 3];
  },
  typed: (item: any, i: number) => {
    const s = typeof item === 'number' ? item : Array.isArray(item.values) ? item.values.reduce((a: number, b: number) => a + b, 0) : Array.from(item as ArrayLike<number>).reduce((a, b) => a + b, 0);
    return Float32Array.of(s, i);
  },
  nested: (item: any, i: number) => {
    const s = typeof item === 'number' ? item : Array.isArray(item.values) ? item.values.reduce((a: number, b: number) => a + b, 0) : Array.from(item as ArrayLike<number>).reduce((a, b) => a + b, 0);
    return [[s, i], [Math.sqrt(Math.abs(s)), NaN], [-0, Infinity]];
  },
  empty: () => [],
};

function inputs(rows: number, seed: number) {
  const next = random(seed);
  const floats = randomFloats(rows, seed);
  const matrix = Matrix.alloc(rows, 5);
  matrix.data.set(randomFloats(rows * 5, seed + 1));
  return {
    'Array of numbers': Array.from(floats),
    'Array of objects': Array.from({ length: rows }, (_, i) => ({ id: i, values: [next(), next(), next()] })),
    'Float64Array': floats,
    'Int16Array': Int16Array.from(floats),
    'Matrix': matrix,
    'Array of Int32Arrays (ragged)': Array.from({ length: rows }, () => Int32Array.from({ length: Math.floor(next() * 9) }, () => Math.floor(next() * 1000 - 500))),
  };
}

describe('parallelize matches a serial map bit-for-bit', () => {
  for (const [kind, data] of Object.entries(inputs(97, 7))) {
    for (const [shape, fn] of Object.entries(shapes)) {
      test(`${kind} → ${shape} results`, async () => {
        const expected = await serialMap(data, fn);
        assertSameMatrix(await within(10_000, parallelize(data as never, fn as never, { cores: 2, callingThread: false })), expected);
      });
    }
  }
});

describe('sizes and core counts', () => {
  for (const cores of [1, 2, 5]) {
    for (const rows of [0, 1, 3, 200]) {
      test(`${rows} items on ${cores} cores`, async () => {
        const data = randomFloats(rows, rows + cores);
        const expected = await serialMap(data, shapes.vector);
        assertSameMatrix(await within(10_000, parallelize(data, shapes.vector, { cores, callingThread: false })), expected);
      });
    }
  }

  test('empty data gives a 0×0 matrix', async () => {
    const result = await parallelize([], (x: number) => x);
    assert.deepEqual([result.rows, result.cols, result.data.length], [0, 0, 0]);
  });

  test('empty results give rows × 0', async () => {
    const result = await parallelize([1, 2, 3], () => []);
    assert.deepEqual([result.rows, result.cols], [3, 0]);
  });

  test('a fixed chunkSize gives the same result as auto', async () => {
    const data = randomFloats(1000, 3);
    const expected = await serialMap(data, shapes.number);
    for (const chunkSize of [1, 7, 1000, 5000]) {
      assertSameMatrix(await parallelize(data, shapes.number, { chunkSize, cores: 2, callingThread: false }), expected);
    }
  });
});

describe('functions', () => {
  test('async functions are awaited', async () => {
    const fn = async (x: number) => { await new Promise((resolve) => setTimeout(resolve, 1)); return [x, x * x]; };
    assertSameMatrix(await parallelize([1, 2, 3, 4, 5], fn, { cores: 2 }), await serialMap([1, 2, 3, 4, 5], fn));
  });

  test('inline functions compiled by tsx (with __name helpers) still run', async () => {
    // Under tsx, the named inner function below is rewritten to call __name(...), which does not exist in a worker.
    const fn = (x: number) => { function square(y: number) { return y * y; } const half = (y: number) => y / 2; return square(half(x)); };
    assert.match(fn.toString(), /__name\(/, 'the suite runs under tsx, so the source carries __name calls');
    assertSameMatrix(await parallelize([2, 4, 6], fn), await serialMap([2, 4, 6], fn));
  });

  test('method shorthand and function expressions are accepted', async () => {
    const holder = { triple(x: number) { return 3 * x; } };
    assert.deepEqual((await parallelize([1, 2], holder.triple)).toArrays(), [[3], [6]]);
    assert.deepEqual((await parallelize([1, 2], function add1(x: number) { return x + 1; })).toArrays(), [[2], [3]]);
  });

  test('a function that compiles only in sloppy mode is refused, saying why', async () => {
    // Inline functions run in strict mode; the error is the strict-mode one, not that of the retry as method shorthand.
    const octal = new Function('x', 'return 010 + x') as (x: number) => number;
    const method = new Function('return ({ m(x) { return 010 + x; } }).m')() as (x: number) => number;
    for (const fn of [octal, method]) {
      const error = await rejection(parallelize([1, 2], fn));
      assert.equal(error.code, 'ERR_INVALID_ARG');
      assert.match(error.message, /Octal literals are not allowed in strict mode/, String(fn));
    }
  });

  test('fn gets the index as its second argument', async () => {
    const result = await parallelize(['a', 'b', 'c', 'd'], (_item: string, index: number) => index, { cores: 2, chunkSize: 1, callingThread: false });
    assert.deepEqual(Array.from(result.data), [0, 1, 2, 3]);
  });
});

describe('Buffers', () => {
  test('rows of Buffers reach fn as Uint8Arrays on every thread, as a structured clone makes them, with no warning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    try {
      const rows = [Buffer.from([1, 2, 3, 4]), Buffer.from([5, 6]), Uint8Array.of(7)];
      const fn = (row: Uint8Array, i: number, bytes: Buffer) => [Buffer.isBuffer(row) ? 1 : 0, row[0]! + (bytes[i] ?? 0), row.length];
      const context = Buffer.from([10, 20, 30]);
      for (const callingThread of [true, false]) {
        const result = await parallelize(rows, fn, { context, callingThread });
        assert.deepEqual(result.toArrays(), [[0, 11, 4], [0, 25, 2], [0, 37, 1]], `callingThread: ${callingThread}`);
      }
      assert.deepEqual(Array.from((await parallelize(Buffer.from([1, 2]), (x: number) => x * 3)).data), [3, 6]);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings, []);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('context', () => {
  test('is passed to every call, with its typed arrays in shared memory', async () => {
    const weights = randomFloats(5, 11);
    const context = { weights, offset: 10, nested: { scale: [2] } };
    const fn = (row: Float64Array, _i: number, ctx: typeof context) => {
      let sum = ctx.offset;
      for (let k = 0; k < row.length; k++) sum += row[k]! * ctx.weights[k]! * ctx.nested.scale[0]!;
      return [sum, ctx.weights.buffer instanceof SharedArrayBuffer ? 1 : 0];
    };
    const data = Matrix.alloc(50, 5);
    data.data.set(randomFloats(250, 12));
    const result = await parallelize(data, fn, { context, cores: 2, callingThread: false });
    const expected = await serialMap(data, (row: Float64Array, i: number) => [fn(row, i, context)[0]!, 1]);
    assertSameMatrix(result, expected);
    assert.ok(!(weights.buffer instanceof SharedArrayBuffer), "the caller's own array is left as it was");
  });

  test('may be any structured-cloneable value', async () => {
    const context = new Map([['k', 3]]);
    const result = await parallelize([1, 2], (x: number, _i: number, ctx: Map<string, number>) => x * ctx.get('k')!, { context });
    assert.deepEqual(Array.from(result.data), [3, 6]);
  });
});

describe('results', () => {
  test('are shared matrices that can feed the next call', async () => {
    const first = await parallelize([1, 2, 3], (x: number) => [x, x * 10]);
    assert.ok(first.data.buffer instanceof SharedArrayBuffer);
    const second = await parallelize(first, (row: Float64Array) => row[0]! + row[1]!);
    assert.deepEqual(Array.from(second.data), [11, 22, 33]);
  });
});
