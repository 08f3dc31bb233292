import type { Matrix } from './matrix.js';
import { resolveOneShotOptions, type ParallelizeOptions } from './options.js';
import { kRun, Pool } from './pool.js';
import type { CollectedArray, CollectedMatrix, Data, ItemOf, Mapper, ValueMapper } from './types.js';
import type { TaskRef } from './task.js';

/**
 * Calls `fn(item, index, context)` for every item of `data` on all cores, and resolves with a
 * `Matrix` of one row per item (`rows = data.length`, `cols` = the length of one result), like
 * numpy's `reshape(len(data), -1)`. Threads are started for this call and stopped before it settles.
 *
 * `fn` is an inline function (sent to the workers as source, so it must be self-contained; pass
 * what it needs through `options.context`) or a `task()` reference to a module's export.
 *
 * @example
 * ```ts
 * const subjects = Matrix.alloc(1000, 65_536); // fill in place: no copy on the way to workers
 * const stats = await parallelize(subjects, (voxels, i, { mask }) => {
 *   let sum = 0, n = 0;
 *   for (let v = 0; v < voxels.length; v++) if (mask[v]) { sum += voxels[v]; n++; }
 *   return [sum / n, n];
 * }, { context: { mask } });
 * stats.rows; //=> 1000
 * stats.cols; //=> 2
 * ```
 */
export function parallelize<D extends Data, Context = unknown>(data: D, fn: Mapper<ItemOf<D>, Context> | TaskRef, options: ParallelizeOptions<Context> & { readonly onError: 'collect' }): Promise<CollectedMatrix>;
export function parallelize<D extends Data, Context = unknown>(data: D, fn: Mapper<ItemOf<D>, Context> | TaskRef, options?: ParallelizeOptions<Context>): Promise<Matrix>;
export async function parallelize(data: Data, fn: Mapper<never> | TaskRef, options?: ParallelizeOptions): Promise<Matrix> {
  return oneShot(data, fn, options, false) as Promise<Matrix>;
}

/**
 * Like `parallelize()`, for results that are not numbers: calls `fn(item, index, context)` for
 * every item on worker threads and resolves with an Array of what it returned (any
 * structured-cloneable value), in input order. Same options and errors; with
 * `onError: 'collect'`, failed items' slots are `undefined` and the Array has `errors`.
 *
 * @example
 * ```ts
 * const reports = await map(subjects, (voxels, i) => ({ subject: i, peak: Math.max(...voxels) }));
 * reports[0]; //=> { subject: 0, peak: 3.14 }
 * ```
 */
export function map<D extends Data, R, Context = unknown>(data: D, fn: ValueMapper<ItemOf<D>, R, Context> | TaskRef, options: ParallelizeOptions<Context> & { readonly onError: 'collect' }): Promise<CollectedArray<Awaited<R> | undefined>>;
export function map<D extends Data, R, Context = unknown>(data: D, fn: ValueMapper<ItemOf<D>, R, Context> | TaskRef, options?: ParallelizeOptions<Context>): Promise<Awaited<R>[]>;
export async function map(data: Data, fn: ValueMapper<never, unknown> | TaskRef, options?: ParallelizeOptions): Promise<unknown[]> {
  return oneShot(data, fn, options, true) as Promise<unknown[]>;
}

/** One call on threads started for it; they are stopped before the call settles, whatever happens. */
async function oneShot(data: Data, fn: unknown, options: ParallelizeOptions | undefined, keepValues: boolean): Promise<Matrix | unknown[]> {
  const { pool: poolOptions, call } = resolveOneShotOptions(options);
  const pool = new Pool(poolOptions);
  try {
    return await pool[kRun](data, fn, call, keepValues, true);
  } finally {
    await pool.close();
  }
}
