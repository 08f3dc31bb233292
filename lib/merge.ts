import { firstGood, shapeFailure } from './errors.js';
import { Matrix } from './matrix.js';
import type { Chunk } from './plan.js';
import type { OutputSpec, SerializedFailure } from './protocol.js';

/**
 * Places each chunk's rows into one shared result matrix, allocated when the first chunk tells
 * us how many columns a result has. Chunks arrive in any order.
 */
export class ResultAssembler {
  readonly #rows: number;
  #matrix: Matrix | undefined;
  #referenceIndex = -1;
  #rowsPlaced = 0;
  /** Rows of failed items (collect mode); they become NaN once we know how wide a row is. */
  readonly #failedRows: number[] = [];

  constructor(rows: number) {
    this.#rows = rows;
  }

  /** The result matrix as workers write into it, once we know how wide a row is. */
  get output(): OutputSpec | undefined {
    return this.#matrix && { values: this.#matrix.data, cols: this.#matrix.cols, referenceIndex: this.#referenceIndex };
  }

  /**
   * Copies a chunk's rows in (`values` is undefined when they were written in place); returns a
   * failure when its results have another length. `cols` is -1 when every item of the chunk
   * failed, and `failed` lists the items that did.
   */
  place(chunk: Chunk, cols: number, values: Float64Array | undefined, failed: readonly number[] = []): SerializedFailure | undefined {
    this.#rowsPlaced += chunk.end - chunk.start;
    if (values === undefined) return undefined;
    if (cols === -1) {
      // A loop, not push(...failed): spreading 200,000 arguments overflows the stack.
      for (const index of failed) this.#failedRows.push(index);
      return undefined;
    }
    if (this.#matrix === undefined) {
      this.#matrix = Matrix.alloc(this.#rows, cols);
      // The chunk's first item that did not fail is the one whose length all others must match.
      this.#referenceIndex = firstGood(chunk.start, failed);
    } else if (cols !== this.#matrix.cols) {
      // Blame the later of the two items (never one that failed), so the message reads in index order.
      const index = firstGood(chunk.start, failed);
      const [earlier, later] = index < this.#referenceIndex
        ? [{ index, cols }, { index: this.#referenceIndex, cols: this.#matrix.cols }]
        : [{ index: this.#referenceIndex, cols: this.#matrix.cols }, { index, cols }];
      return shapeFailure(later.index, later.cols, earlier.index, earlier.cols);
    }
    check(values.length === (chunk.end - chunk.start) * cols, `chunk ${chunk.id} has the wrong number of values`);
    this.#matrix.data.set(values, chunk.start * cols);
    return undefined;
  }

  /** Marks one row as failed: its worker died while running it. */
  placeFailed(index: number): void {
    this.#failedRows.push(index);
    this.#rowsPlaced++;
  }

  /** The result; asserts that every row was placed. */
  finish(): Matrix {
    check(this.#rowsPlaced === this.#rows, `expected ${this.#rows} rows placed, got ${this.#rowsPlaced}`);
    // When every item failed nobody told us how wide a row is: the rows are empty.
    const matrix = this.#matrix ?? Matrix.alloc(this.#rows, 0);
    for (const index of this.#failedRows) matrix.data.fill(NaN, index * matrix.cols, (index + 1) * matrix.cols);
    return matrix;
  }
}

/** A check of our own bookkeeping (the caller turns a failure into ERR_INTERNAL). Not node:assert: loading it costs ~3 ms of import. */
function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}
