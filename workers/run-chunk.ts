import { now } from '../lib/clock.js';
import { describe, firstGood, serializeError, shapeFailure } from '../lib/errors.js';
import { allocateShared } from '../lib/memory.js';
import { kCancelledField, kStatusIndexField, type OutputSpec, type SerializedFailure } from '../lib/protocol.js';
import { kCancelled, loopFor, type Held, type Items } from './numbers-loop.js';

/** Everything one chunk needs; no thread APIs, so it can be tested on the main thread. */
export interface ChunkJob {
  readonly fn: (item: unknown, index: number, context: unknown) => unknown;
  readonly context: unknown;
  readonly getItem: (index: number) => unknown;
  /** For typed-array input (and a plain Array on the calling thread), the items themselves: rows of numbers then read them in place. */
  readonly typedItems?: ArrayLike<unknown>;
  /**
   * The chunk runs on the calling thread, where no other thread can cancel it or see it die
   * mid-batch: rows of numbers need not look at the cancelled flag or publish each item's index.
   */
  readonly onCallingThread?: boolean;
  readonly start: number;
  readonly end: number;
  /** The call's control fields: `kCancelledField` turns non-zero when the call is over. */
  readonly control: Int32Array;
  /** Where we publish the index of each item before it runs (`kStatusIndexField`), so a crash can be blamed on it. */
  readonly status: Float64Array;
  /** Extra text for a failure of an inline function that read a variable it cannot see. */
  readonly inline?: boolean;
  /** Go on past a failing item, leaving NaN in its row, instead of stopping the chunk. */
  readonly collect?: boolean;
  /** The call's result matrix, once the main thread knows its shape: rows are written into it in place. */
  readonly output?: OutputSpec;
  /** `map()`: keep each result as it is, in `list`, instead of flattening it into rows. */
  readonly keepValues?: boolean;
  /**
   * The calling thread's timing batches only: how many ms the chunk may run, after which it stops
   * between two items (after one at least), so that items turning costly in the middle of a batch
   * sized for cheap ones cannot hold the calling thread long. The outcome's `end` says where. A
   * span rather than a time, so that no caller can mix clocks with ours (lib/clock.ts).
   */
  readonly budgetMs?: number;
}


export type ChunkOutcome =
  /**
   * Rows [start, end) are done (`end` is the chunk's own unless its `budgetMs` ran out). `values` holds
   * them, or is empty when they were written into `output`. `cols` is -1 when every item failed
   * in collect mode; `failures` lists them in index order.
   */
  | {
    readonly status: 'done'; readonly end: number; readonly cols: number; readonly values: Float64Array; readonly inPlace: boolean;
    readonly failures: SerializedFailure[]; readonly list?: unknown[];
  }
  | { readonly status: 'failed'; readonly failure: SerializedFailure }
  | { readonly status: 'cancelled' };

/**
 * Runs rows [start, end) and flattens each result into one row-major `Float64Array`.
 * Awaits only results that are promises, so a synchronous `fn` never yields to the event loop.
 */
export async function runChunk(job: ChunkJob): Promise<ChunkOutcome> {
  // This loop is the per-item overhead of the whole library, so everything it touches is a local:
  // closures or property loads per item cost us up to a third of a cheap item (measured).
  const { fn, context, getItem, start, end, control, status, output } = job;
  const items = job.typedItems ?? getItem;
  // Rows go into the call's result when we have it (no copy on the main thread), else into a
  // buffer of our own; row `index` starts at `(index - base) * cols` either way.
  let values = output?.values ?? new Float64Array(0);
  let cols = output?.cols ?? -1;
  const base = output === undefined ? start : 0;
  const failures: SerializedFailure[] = [];
  const list = job.keepValues ? Array.from<unknown>({ length: end - start }) : undefined;
  // Another worker's failure, a timeout or an abort sets the cancelled flag. We read it with
  // Atomics.load once per chunk, which is sure to see the store, and with a plain read before each
  // item, which costs nothing where Atomics.load costs ~60 ns on Node 20 (as much as a cheap item).
  // The flag only goes from 0 to 1 and an aligned Int32 read cannot tear, so the plain read is safe.
  if (Atomics.load(control, kCancelledField) !== 0) return { status: 'cancelled' };
  const deadline = job.budgetMs === undefined ? Infinity : now() + job.budgetMs;
  // With a deadline we look at the clock when `index` reaches `held.nextCheck` (after one item at
  // least): for rows of numbers ever more rarely, up to every kNumbersPerCheck rows, which fn's
  // numbers loop (loopFor) runs in between (a check inside it slowed it by ~2 ns per item); every
  // kItemsPerCheck other items.
  const held: Held = { result: undefined, nextCheck: deadline === Infinity ? Infinity : start + 1, late: false };
  let stop = end;
  for (let index = start; index < end; index++) {
    let result: unknown;
    let length: number;
    const numbers = cols === 1 && list === undefined;
    if (index >= held.nextCheck) {
      if (now() >= deadline) {
        stop = index;
        break;
      }
      // runNumbersUntil spaces its looks out from here on.
      held.nextCheck = index + (numbers ? 1 : kItemsPerCheck);
    }
    try {
      if (numbers) {
        const watched = job.onCallingThread !== true;
        const stopped = runNumbersUntil(fn, items, context, index, end, values, base, control, status, held, deadline, watched);
        if (stopped === kCancelled) return { status: 'cancelled' };
        if (held.late) {
          stop = stopped;
          break;
        }
        if (stopped === end) {
          index = end - 1; // every row is done
          continue;
        }
        index = stopped; // fn returned something other than a number for this item
        result = held.result;
      } else {
        if (control[kCancelledField] !== 0) return { status: 'cancelled' };
        status[kStatusIndexField] = index;
        result = fn(getItem(index), index, context);
      }
      if (isThenable(result)) result = await result;
      if (list !== undefined) {
        list[index - start] = result;
        continue;
      }
      // A row given as an Array of the width already known is checked as it is written, in one
      // pass: measuring it first, then writing it, cost cheap object rows a few percent of their time.
      if (Array.isArray(result) && result.length === cols && writeNumbers(result, values, (index - base) * cols)) continue;
      length = flatLength(result, index);
    } catch (error) {
      // fn's numbers loop does not update our `index` when fn throws; the status array (one chunk at a
      // time writes it) holds the item that was running.
      index = status[kStatusIndexField]!;
      const failure = error instanceof ResultError
        ? { code: error.code, message: error.message, index }
        : taskFailure(error, index, job.inline === true);
      if (!job.collect || failure.code === 'ERR_RESULT_SHAPE') return { status: 'failed', failure };
      failures.push(failure);
      continue;
    }
    if (cols === -1) {
      cols = length;
      // Shared, so the rows reach the main thread without a copy and without a transfer:
      // transferring detaches a buffer, and the first detach in a thread invalidates V8's
      // "ArrayBuffer detaching" protector, after which every typed-array access in that thread
      // pays a check (we measured fn running ~25% slower from the second chunk on).
      values = allocateShared(Float64Array, (end - start) * cols);
    } else if (length !== cols) {
      const reference = output?.referenceIndex ?? firstGood(start, failures.map((failure) => failure.index!));
      return { status: 'failed', failure: shapeFailure(index, length, reference, cols) };
    }
    writeFlat(result, values, (index - base) * cols);
  }
  for (const { index } of failures) values.fill(NaN, (index! - base) * cols, (index! - base + 1) * cols);
  if (list !== undefined) return { status: 'done', end: stop, cols: -1, values, inPlace: false, failures, list: stop === end ? list : list.slice(0, stop - start) };
  const own = output === undefined ? (stop === end ? values : values.subarray(0, (stop - start) * Math.max(cols, 0))) : new Float64Array(0);
  return { status: 'done', end: stop, cols, values: own, inPlace: output !== undefined, failures };
}

/**
 * Items between two looks at the clock when a chunk has a deadline, at most (rows of numbers start
 * with one and double up to it). A look costs ~50–200 ns; an item turning costly can run this
 * many times before we notice.
 */
const kNumbersPerCheck = 1024;
const kItemsPerCheck = 16;

/**
 * fn's numbers loop (loopFor) over rows [index, end), with a look at the clock each time
 * `held.nextCheck` is reached; returns where it stopped, as the loop does, and sets `held.late`
 * when that was for the deadline. The rows between two looks double from one up to
 * kNumbersPerCheck, so that when items turn far costlier than the batch was sized for, it runs at
 * most as many rows past the deadline as it had run before, not up to kNumbersPerCheck. A loop of its own rather than
 * runChunk's: when runChunk's loop called the numbers loop once per kNumbersPerCheck rows, V8
 * optimized that loop with the numbers loop inlined into it, and cheap items ran at ~13 ns each
 * instead of ~2 (measured then; here they stay at ~1).
 */
function runNumbersUntil(
  fn: ChunkJob['fn'], items: Items, context: unknown, index: number, end: number,
  values: Float64Array, base: number, control: Int32Array, status: Float64Array, held: Held, deadline: number, watched: boolean,
): number {
  // Looked up once: a lookup per kNumbersPerCheck rows cost ~60 ns, as much as a look at the clock.
  const loop = loopFor(fn, typeof items !== 'function', watched);
  for (let rows = 1; ; rows = Math.min(2 * rows, kNumbersPerCheck)) {
    const to = Math.min(end, held.nextCheck);
    const stopped = loop(fn, items, context, index, to, values, base, control, status, held);
    if (stopped !== to || to === end) return stopped;
    index = to;
    if (now() >= deadline) {
      held.late = true;
      return index;
    }
    held.nextCheck = index + rows;
  }
}

/**
 * map()'s results for rows [start, end), those that cannot be sent back from a worker thread (a
 * function, say) left out, and the failure of each of those; where none fails alone, one failure
 * for them all, with `error` (the whole list's) and no index. One at a time, for the error path
 * only: a chunk's results are cloned whole first.
 */
export function unsendableResults(list: readonly unknown[], start: number, end: number, error: unknown): { sendable: unknown[]; failures: SerializedFailure[] } {
  const sendable = [...list];
  const failures: SerializedFailure[] = [];
  for (let k = 0; k < list.length; k++) {
    try {
      structuredClone(list[k]);
    } catch (error) {
      const cause = serializeError(error);
      failures.push({ code: 'ERR_DATA_CLONE', message: `fn's result for item ${start + k} cannot be sent back from a worker thread: ${cause.message}`, index: start + k, cause });
      sendable[k] = undefined;
    }
  }
  if (failures.length === 0) {
    failures.push({ code: 'ERR_DATA_CLONE', message: `The results of items ${start} to ${end - 1} cannot be sent back from a worker thread: ${serializeError(error).message}` });
  }
  return { sendable, failures };
}

function taskFailure(error: unknown, index: number, inline: boolean): SerializedFailure {
  const cause = serializeError(error);
  const what = cause.isError ? `${cause.name}: ${cause.message}` : `a non-Error value: ${cause.message}`;
  let message = `fn threw at item ${index}: ${what}`;
  const missing = inline && cause.name === 'ReferenceError' ? /^(\S+) is not defined$/.exec(cause.message)?.[1] : undefined;
  if (missing !== undefined) {
    message += `. Inline functions run in a worker thread and cannot see variables of the scope they were written in;` +
      ` pass \`${missing}\` through \`options.context\` (fn's third argument), or export fn from a module and pass task(url, name);` +
      ` if fn assigns to \`${missing}\`, declare it with \`let\` (inline functions run in strict mode)`;
  }
  return { code: 'ERR_TASK_FAILED', message, index, cause };
}

class ResultError extends Error {
  constructor(readonly code: 'ERR_RESULT_TYPE' | 'ERR_RESULT_SHAPE', message: string) {
    super(message);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function isNumericView(value: unknown): value is ArrayLike<number> {
  return ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array);
}

const kExpected = 'expected a number or an array of numbers';

/**
 * The number of values `result` flattens to; throws a `ResultError` naming `index` for anything
 * else, and where in a nested result the culprit sits (`path`: `[1][0]` for `result[1][0]`).
 */
function flatLength(result: unknown, index: number, path = ''): number {
  if (typeof result === 'number') return 1;
  if (isNumericView(result)) return result.length;
  if (!Array.isArray(result)) {
    const hint = result === undefined ? ' (did fn forget to `return`?)' : '';
    const what = path === '' ? describe(result) : `an array holding ${describe(result)} at position ${path}`;
    throw new ResultError('ERR_RESULT_TYPE', `fn returned ${what} for item ${index}; ${kExpected}${hint}`);
  }
  if (result.length === 0 || typeof result[0] === 'number') {
    for (let k = 0; k < result.length; k++) {
      if (typeof result[k] !== 'number') {
        throw new ResultError('ERR_RESULT_TYPE', `fn returned an array holding ${describe(result[k])} at position ${path === '' ? k : `${path}[${k}]`} for item ${index}; ${kExpected}`);
      }
    }
    return result.length;
  }
  const inner = flatLength(result[0], index, `${path}[0]`);
  for (let k = 1; k < result.length; k++) {
    if (typeof result[k] === 'number' || flatLength(result[k], index, `${path}[${k}]`) !== inner) {
      throw new ResultError('ERR_RESULT_SHAPE', `fn returned a ragged nested array for item ${index} ` +
        `(element ${path}[0] holds ${inner} value${inner === 1 ? '' : 's'}, element ${path}[${k}] does not); nested results must be regular`);
    }
  }
  return inner * result.length;
}

/** Writes `row` at `offset` while every element is a number; returns whether all were. */
function writeNumbers(row: unknown[], values: Float64Array, offset: number): boolean {
  for (let k = 0; k < row.length; k++) {
    const value = row[k];
    if (typeof value !== 'number') return false;
    values[offset + k] = value;
  }
  return true;
}

/** Writes the values of an already measured `result` at `offset`; returns the offset after them. */
function writeFlat(result: unknown, values: Float64Array, offset: number): number {
  if (typeof result === 'number') {
    values[offset] = result;
    return offset + 1;
  }
  if (isNumericView(result)) {
    values.set(result, offset);
    return offset + result.length;
  }
  const array = result as unknown[];
  if (array.length === 0) return offset;
  if (typeof array[0] === 'number') {
    for (let k = 0; k < array.length; k++) values[offset + k] = array[k] as number;
    return offset + array.length;
  }
  for (const element of array) offset = writeFlat(element, values, offset);
  return offset;
}
