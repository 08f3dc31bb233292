import { invalidArg, outOfRange } from './errors.js';
import { allocateShared } from './memory.js';

/**
 * A dense 2-D matrix of float64 values in row-major order, shaped like numpy's `reshape(len, -1)`:
 * one row per item, one column per value of an item's result.
 *
 * Every matrix the library creates lives in shared memory, so a result can be the input of the
 * next call, and workers read it in place.
 *
 * @example
 * ```ts
 * const m = new Matrix(new Float64Array([1, 2, 3, 4, 5, 6]), 2, 3);
 * m.get(1, 2);   //=> 6
 * m.row(0);      //=> Float64Array [1, 2, 3] (a view, not a copy)
 * m.toArrays();  //=> [[1, 2, 3], [4, 5, 6]]
 * ```
 */
export class Matrix {
  /** Number of rows (items). */
  readonly rows: number;
  /** Number of columns (values per item). */
  readonly cols: number;
  /** All values, row-major; `data.length === rows * cols`. */
  readonly data: Float64Array;

  constructor(data: Float64Array, rows: number, cols: number) {
    if (!(data instanceof Float64Array)) throw invalidArg('data', 'a Float64Array', data);
    checkCount('rows', rows);
    checkCount('cols', cols);
    if (data.length !== rows * cols) {
      throw outOfRange(`Expected \`data\` to hold rows × cols = ${rows} × ${cols} = ${rows * cols} values, got ${data.length}`);
    }
    this.data = data;
    this.rows = rows;
    this.cols = cols;
  }

  /**
   * A zero-filled matrix backed by a `SharedArrayBuffer`: fill it in place and pass it to
   * `parallelize` with no copy at all.
   *
   * @example
   * ```ts
   * const subjects = Matrix.alloc(1000, 65_536);
   * for (let i = 0; i < subjects.rows; i++) load(i, subjects.row(i));
   * ```
   */
  static alloc(rows: number, cols: number): Matrix {
    checkCount('rows', rows);
    checkCount('cols', cols);
    let data: Float64Array;
    try {
      data = allocateShared(Float64Array, rows * cols);
    } catch (error) {
      // Past what V8 allows in one buffer, or more memory than the system will give.
      throw Object.assign(outOfRange(`Cannot allocate a ${rows} × ${cols} matrix (${rows * cols * 8} bytes of shared memory): ${(error as Error).message}`), { cause: error });
    }
    return new Matrix(data, rows, cols);
  }

  /** Row `i` as a `Float64Array` view onto `data` (writes go through). */
  row(i: number): Float64Array {
    checkIndex('i', i, this.rows);
    return this.data.subarray(i * this.cols, (i + 1) * this.cols);
  }

  /** The value at row `i`, column `j`. */
  get(i: number, j: number): number {
    checkIndex('i', i, this.rows);
    checkIndex('j', j, this.cols);
    return this.data[i * this.cols + j]!;
  }

  /** A copy as plain nested arrays, one per row. */
  toArrays(): number[][] {
    return Array.from({ length: this.rows }, (_, i) => Array.from(this.row(i)));
  }
}

function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw invalidArg(name, 'a non-negative integer', value);
}

function checkIndex(name: string, value: number, size: number): void {
  if (!Number.isInteger(value)) throw invalidArg(name, 'an integer', value);
  if (value < 0 || value >= size) throw outOfRange(`Expected \`${name}\` to be from 0 to ${size - 1}, got ${value}`);
}
