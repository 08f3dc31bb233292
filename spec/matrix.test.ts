import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Matrix } from '@parallelize/core';

describe('Matrix', () => {
  test('is row-major with rows, cols and data', () => {
    const m = new Matrix(Float64Array.of(1, 2, 3, 4, 5, 6), 2, 3);
    assert.deepEqual([m.rows, m.cols], [2, 3]);
    assert.equal(m.get(1, 0), 4);
    assert.deepEqual(m.toArrays(), [[1, 2, 3], [4, 5, 6]]);
  });

  test('row(i) is a view: writes go through to data', () => {
    const m = new Matrix(new Float64Array(6), 3, 2);
    const row = m.row(1);
    row[1] = 9;
    assert.equal(m.data[3], 9);
    assert.equal(row.buffer, m.data.buffer);
  });

  test('alloc gives a zero-filled matrix on a SharedArrayBuffer', () => {
    const m = Matrix.alloc(4, 5);
    assert.ok(m.data.buffer instanceof SharedArrayBuffer);
    assert.equal(m.data.length, 20);
    assert.ok(m.data.every((v) => v === 0));
    assert.deepEqual([Matrix.alloc(0, 0).rows, Matrix.alloc(0, 0).data.length], [0, 0]);
  });

  test('alloc of more than memory or V8 allows says so, with the size', () => {
    assert.throws(() => Matrix.alloc(2 ** 40, 2 ** 20), { name: 'RangeError', code: 'ERR_INVALID_ARG', message: /^Cannot allocate a 1099511627776 × 1048576 matrix \(\d+ bytes of shared memory\): Invalid array buffer length$/ });
  });

  test('indices are checked', () => {
    const m = Matrix.alloc(2, 2);
    assert.throws(() => m.get(2, 0), { name: 'RangeError', code: 'ERR_INVALID_ARG', message: 'Expected `i` to be from 0 to 1, got 2' });
    assert.throws(() => m.get(0, -1), { name: 'RangeError', message: 'Expected `j` to be from 0 to 1, got -1' });
    assert.throws(() => m.row(0.5), { name: 'TypeError', message: 'Expected `i` to be an integer, got `0.5` (number)' });
  });
});
