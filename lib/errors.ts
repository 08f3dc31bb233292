import { inspect } from 'node:util';
import type { SerializedError, SerializedFailure } from './protocol.js';

/**
 * What went wrong, as a stable string to branch on.
 *
 * - `ERR_INVALID_ARG`: an argument was wrong (thrown as a `TypeError` or `RangeError` with this code).
 * - `ERR_TASK_FAILED`: `fn` threw or rejected at item `index`; `cause` holds the rebuilt error.
 * - `ERR_TASK_LOAD`: a `task()` module could not be imported, or lacks the named export.
 * - `ERR_RESULT_TYPE`: `fn` returned something other than a number or an array of numbers.
 * - `ERR_RESULT_SHAPE`: two items returned results of different lengths.
 * - `ERR_DATA_CLONE`: an item or the context cannot be sent to a worker.
 * - `ERR_WORKER_EXIT`: a worker thread exited while it was running item `index`.
 * - `ERR_WORKER_OOM`: a worker thread ran out of memory (see `resourceLimits`) while running item `index`.
 * - `ERR_TIMEOUT`: the call took longer than `options.timeout`.
 * - `ERR_POOL_CLOSED`: the pool was closed before or during the call.
 * - `ERR_INTERNAL`: a check of the library's own bookkeeping failed (a bug: please report it).
 */
export type ParallelizeErrorCode =
  | 'ERR_INVALID_ARG'
  | 'ERR_TASK_FAILED'
  | 'ERR_TASK_LOAD'
  | 'ERR_RESULT_TYPE'
  | 'ERR_RESULT_SHAPE'
  | 'ERR_DATA_CLONE'
  | 'ERR_WORKER_EXIT'
  | 'ERR_WORKER_OOM'
  | 'ERR_TIMEOUT'
  | 'ERR_POOL_CLOSED'
  | 'ERR_INTERNAL';

/**
 * The error every failed call rejects with (bad arguments aside, which are `TypeError`/`RangeError`
 * with `code: 'ERR_INVALID_ARG'`).
 *
 * @example
 * ```ts
 * try {
 *   await parallelize(subjects, analyse);
 * } catch (error) {
 *   if (error instanceof ParallelizeError && error.code === 'ERR_TASK_FAILED') {
 *     console.error(`subject ${error.index} failed:`, error.cause);
 *   }
 * }
 * ```
 */
export class ParallelizeError extends Error {
  override name = 'ParallelizeError';
  readonly code: ParallelizeErrorCode;
  /** The index of the item to blame, when there is one. */
  declare readonly index?: number;

  constructor(code: ParallelizeErrorCode, message: string, options: { index?: number; cause?: unknown } = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.code = code;
    if (options.index !== undefined) this.index = options.index;
  }
}

type ArgError = (TypeError | RangeError) & { code: 'ERR_INVALID_ARG' };

/** @internal A `TypeError` in the house style: ``Expected `what` to be <expected>, got `<value>` (<type>)``. */
export function invalidArg(what: string, expected: string, value: unknown): ArgError {
  return withCode(new TypeError(`Expected \`${what}\` to be ${expected}, got ${describe(value)}`));
}

/**
 * @internal The `TypeError` for a key that an options object (`what`) does not take, with a hint
 * (the closest known name, say) and every name it does take.
 */
export function unknownKey(what: string, key: string, known: readonly string[], hint: string | undefined): ArgError {
  const names = known.map((name) => `\`${name}\``).join(', ');
  return withCode(new TypeError(`Unknown option \`${key}\` in \`${what}\`${hint ? ` (${hint})` : ''}; it takes only ${names}`));
}

/**
 * @internal The `ERR_DATA_CLONE` error for `what` (`data[3]`, `options.context`), which could not
 * be cloned on its way to a worker thread (`error`, postMessage's own).
 */
export function cannotSend(what: string, error: unknown, index?: number): ParallelizeError {
  return new ParallelizeError('ERR_DATA_CLONE', `${what} cannot be sent to a worker thread: ${(error as Error).message}`, { ...(index !== undefined && { index }), cause: error });
}

/** @internal A `RangeError` for values of the right type but out of range, or arguments that conflict. */
export function outOfRange(message: string): ArgError {
  return withCode(new RangeError(message));
}

function withCode(error: TypeError | RangeError): ArgError {
  return Object.assign(error, { code: 'ERR_INVALID_ARG' as const });
}

/** @internal A short, single-line picture of a value and its type, for error messages. */
export function describe(value: unknown): string {
  const type = value === null ? 'null' : Array.isArray(value) ? 'Array' : typeof value === 'object' ? objectType(value) : typeof value;
  let shown: string;
  try {
    shown = typeof value === 'function' ? `[function ${value.name || 'anonymous'}]`
      : inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 4, maxStringLength: 40 });
  } catch {
    shown = '[uninspectable]';
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return `\`${shown}\` (${type})`;
}

/** An object's constructor's name; its tag (`Generator`) where that has none; `object` without a prototype. */
function objectType(value: object): string {
  const prototype = Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null;
  if (prototype === null) return 'object';
  return prototype.constructor?.name || Object.prototype.toString.call(value).slice(8, -1);
}

const kMaxText = 10_000;
const kMaxCauseDepth = 8;
const kMaxProps = 64;
// Keys we never copy onto a rebuilt error: they would reach the prototype chain, not the object.
const kUnsafeKeys = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * @internal
 * Turns anything a worker may throw into plain data. Every property read is guarded, because a
 * hostile or broken error (a throwing getter, a circular cause) must not take the worker down with it.
 */
export function serializeError(thrown: unknown, depth = 0): SerializedError {
  const isError = thrown instanceof Error;
  if (!isError) {
    return { isError, name: 'Error', message: truncate(safeString(thrown)), props: {}, ...(cloneable(thrown) && { value: thrown }) };
  }
  const props: Record<string, unknown> = {};
  let keys: string[] = [];
  try { keys = Object.keys(thrown).slice(0, kMaxProps); } catch { /* hostile proxy */ }
  for (const key of keys) {
    if (kUnsafeKeys.has(key) || key === 'cause') continue;
    try {
      const value = (thrown as unknown as Record<string, unknown>)[key];
      if (cloneable(value)) props[key] = value;
    } catch { /* throwing getter: leave it out */ }
  }
  const read = (key: 'name' | 'message' | 'stack'): string | undefined => {
    try {
      const value: unknown = thrown[key];
      return value === undefined ? undefined : truncate(String(value));
    } catch { return undefined; }
  };
  let cause: SerializedError | undefined;
  try {
    if ('cause' in thrown && depth < kMaxCauseDepth) cause = serializeError(thrown.cause, depth + 1);
  } catch { /* throwing getter */ }
  const stack = read('stack');
  return {
    isError, name: read('name') ?? 'Error', message: read('message') ?? '', props,
    ...(stack === undefined ? {} : { stack }), ...(cause === undefined ? {} : { cause }),
  };
}

/** @internal Rebuilds an `Error` from `serializeError` data, without ever writing to a prototype. */
export function deserializeError(data: SerializedError): unknown {
  if (!data.isError) return 'value' in data ? data.value : data.message;
  const error = new Error(data.message);
  define(error, 'name', data.name);
  define(error, 'stack', data.stack ?? `${data.name}: ${data.message}`);
  for (const [key, value] of Object.entries(data.props)) {
    if (!kUnsafeKeys.has(key)) define(error, key, value, true);
  }
  if (data.cause !== undefined) define(error, 'cause', deserializeError(data.cause));
  return error;
}

/** @internal The message for two items whose results differ in length; workers and the merge both use it. */
export function shapeFailure(index: number, length: number, referenceIndex: number, referenceLength: number): SerializedFailure {
  return {
    code: 'ERR_RESULT_SHAPE',
    message: `fn returned ${length} value${length === 1 ? '' : 's'} for item ${index}, but ${referenceLength} for item ${referenceIndex}; every item must return the same number of values`,
    index,
    cols: length,
  };
}

/** @internal The first item from `start` on that did not fail (`failed` lists failed items in index order): whose length others must match. */
export function firstGood(start: number, failed: readonly number[]): number {
  let index = start;
  for (const failedIndex of failed) if (failedIndex === index) index++;
  return index;
}

/** @internal Turns a worker-side failure into the `ParallelizeError` the caller sees. */
export function failureToError(failure: SerializedFailure): ParallelizeError {
  const options: { index?: number; cause?: unknown } = {};
  if (failure.index !== undefined) options.index = failure.index;
  if (failure.cause !== undefined) options.cause = deserializeError(failure.cause);
  return new ParallelizeError(failure.code as ParallelizeErrorCode, failure.message, options);
}

function define(target: object, key: string, value: unknown, enumerable = false): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable });
}

/** @internal Whether `value` survives structured clone, as everything sent to or from a worker must. */
export function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : inspect(value, { depth: 2, breakLength: Infinity });
  } catch {
    return '[unprintable value]';
  }
}

function truncate(text: string): string {
  return text.length > kMaxText ? `${text.slice(0, kMaxText)}... [${text.length - kMaxText} more characters]` : text;
}
