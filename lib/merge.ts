import assert from 'node:assert';
import { Matrix } from './matrix.js';
import type { Chunk } from './plan.js';
import { shapeFailure } from './errors.js';
import type { SerializedFailure } from './protocol.js';

/**
 * Places each chunk's rows into one shared result matrix, allocated when the first chunk tells
 * us how many columns a result has. Chunks arrive in any order.
 */
export class ResultAssembler {
  readonly #rows: number;
  #matrix: Matrix | undefined;
  #referenceIndex = -1;
  #rowsPlaced = 0;

  constructor(rows: number) {
    this.#rows = rows;
  }

  /** Copies a chunk's rows in; returns a failure when its results have another length. */
  place(chunk: Chunk, cols: number, values: Float64Array): SerializedFailure | undefined {
    if (this.#matrix === undefined) {
      this.#matrix = Matrix.alloc(this.#rows, cols);
      this.#referenceIndex = chunk.start;
    } else if (cols !== this.#matrix.cols) {
      // Blame the later of the two items, so the message reads in index order.
      const [earlier, later] = chunk.start < this.#referenceIndex
        ? [{ index: chunk.start, cols }, { index: this.#referenceIndex, cols: this.#matrix.cols }]
        : [{ index: this.#referenceIndex, cols: this.#matrix.cols }, { index: chunk.start, cols }];
      return shapeFailure(later.index, later.cols, earlier.index, earlier.cols);
    }
    assert.equal(values.length, (chunk.end - chunk.start) * cols, `chunk ${chunk.id} has the wrong number of values`);
    this.#matrix.data.set(values, chunk.start * cols);
    this.#rowsPlaced += chunk.end - chunk.start;
    return undefined;
  }

  /** The result; asserts that every row was computed (by the workers' counter) and placed. */
  finish(rowsCounted: number): Matrix {
    if (this.#rows === 0) return Matrix.alloc(0, 0);
    assert.equal(rowsCounted, this.#rows, `expected ${this.#rows} rows written, got ${rowsCounted}`);
    assert.equal(this.#rowsPlaced, this.#rows, `expected ${this.#rows} rows placed, got ${this.#rowsPlaced}`);
    return this.#matrix!;
  }
}
