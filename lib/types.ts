import type { ParallelizeError } from './errors.js';
import type { Matrix } from './matrix.js';

/** A numeric view whose elements are items (`BigInt64Array` elements arrive as bigints). */
export type TypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array
  | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** What `fn` may return for one item: a number, an array-like of numbers, or a regular nested array of them. */
export type Row = number | ArrayLike<number> | readonly Row[];

/** The item `fn` receives for each kind of `data`. */
export type ItemOf<Data> =
  Data extends Matrix ? Float64Array
    : Data extends BigInt64Array | BigUint64Array ? bigint
      : Data extends TypedArray ? number
        : Data extends readonly (infer Item)[] ? Item
          : never;

/** The function mapped over the items. It runs in a worker thread, so it must be self-contained. */
export type Mapper<Item, Context = unknown> = (item: Item, index: number, context: Context) => Row | Promise<Row>;

/** The function `map()` calls: like `Mapper`, but it may return any structured-cloneable value. */
export type ValueMapper<Item, Result, Context = unknown> = (item: Item, index: number, context: Context) => Result;

/** The result of `map()` with `onError: 'collect'`: failed items' slots are `undefined`. */
export type CollectedArray<T> = T[] & { readonly errors: readonly ItemError[] };

/** The data `parallelize` accepts: an Array, a typed array, or a `Matrix` (one item per row). */
export type Data = readonly unknown[] | TypedArray | Matrix;

/** One failed item of a call made with `onError: 'collect'`. */
export interface ItemError {
  readonly index: number;
  /** A `ParallelizeError` with the item's `index`, and the thrown value as `cause`. */
  readonly error: ParallelizeError;
}

/** The result of a call made with `onError: 'collect'`: failed rows hold `NaN`. */
export type CollectedMatrix = Matrix & { readonly errors: readonly ItemError[] };
