import { availableCores } from './cores.js';
import { invalidArg, outOfRange, unknownKey } from './errors.js';

/** Memory limits of each worker thread, as in `new Worker(file, { resourceLimits })`. */
export interface ResourceLimits {
  /** Size of the main heap, in MiB. A worker that needs more dies with `ERR_WORKER_OOM`. */
  readonly maxOldGenerationSizeMb?: number;
  /** Size of the heap space for new objects, in MiB. */
  readonly maxYoungGenerationSizeMb?: number;
  /** Size of the space for generated code, in MiB. */
  readonly codeRangeSizeMb?: number;
  /** Stack size of each thread, in MiB. */
  readonly stackSizeMb?: number;
}

/** Options of `createPool()`. */
export interface PoolOptions {
  /**
   * How many worker threads the pool may run at once.
   * @default availableCores()
   */
  readonly cores?: number;
  /**
   * Memory limits of each worker thread. A worker that runs out of memory fails the item it was
   * running with `ERR_WORKER_OOM` instead of taking the process down.
   * @default Node's defaults
   */
  readonly resourceLimits?: ResourceLimits;
}

/** Options of `pool.parallelize()`. */
export interface CallOptions<Context = unknown> {
  /**
   * How many worker threads to use. Never more than there are items; on a `Pool`, never more
   * than the pool's own `cores`.
   * @default availableCores() (the pool's `cores` on a `Pool`)
   */
  readonly cores?: number;
  /**
   * Items per chunk, the unit a worker takes at a time; `'auto'` starts with large chunks and
   * shrinks them towards the end so that no core idles at the tail.
   * @default 'auto'
   */
  readonly chunkSize?: number | 'auto';
  /**
   * A structured-cloneable value passed to every call of `fn` as its third argument. Typed arrays
   * inside it are placed in shared memory once, not copied to each worker.
   * @example { context: { mask, threshold: 0.5 } }
   */
  readonly context?: Context;
  /**
   * What a failing item does: `'throw'` rejects the call with the first failure; `'collect'`
   * finishes the other items, fills each failed item's row with `NaN`, and lists the failures in
   * the result's `errors`, in index order.
   * @default 'throw'
   */
  readonly onError?: 'throw' | 'collect';
  /**
   * Milliseconds the whole call may take. Past it the call rejects with `ERR_TIMEOUT`, and threads
   * still running its items are terminated (a synchronous endless loop cannot be asked to stop).
   * @default no limit
   */
  readonly timeout?: number;
  /**
   * Aborting rejects the call with `signal.reason`, and threads still running its items are
   * terminated. An already aborted signal rejects before any thread starts.
   */
  readonly signal?: AbortSignal;
  /**
   * Whether the calling thread may run an inline function's items itself when threads cannot make
   * the call faster. We time the first items here (about 1 ms of them), then finish here if the
   * rest would take less time than on threads (see the README's performance notes). Never done
   * with `timeout`, `signal` or `resourceLimits`, which need fn on a thread that can be stopped.
   * `false` keeps fn off the calling thread, so its event loop is never blocked by fn.
   * @default true
   */
  readonly callingThread?: boolean;
  /**
   * Called with `{ done, total }` as items finish: at most 10 times a second while the call runs
   * (only when `done` moved), and once at the end with `done === total`. It reads the workers'
   * shared progress, so it costs no message per item. If it throws, the call rejects with that.
   * @example { onProgress: ({ done, total }) => bar.update(done / total) }
   */
  readonly onProgress?: (progress: Progress) => void;
}

/** What `onProgress` is told: items finished (failed ones included) out of all items. */
export interface Progress {
  readonly done: number;
  readonly total: number;
}

/** Options of `parallelize()`: those of a call, plus those of the pool it starts. */
export interface ParallelizeOptions<Context = unknown> extends CallOptions<Context>, PoolOptions {}

/** @internal */
export interface ResolvedOptions {
  readonly cores: number;
  readonly chunkSize: number | 'auto';
  readonly context: unknown;
  readonly collect: boolean;
  readonly timeout: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly callingThread: boolean;
  readonly onProgress: ((progress: Progress) => void) | undefined;
}

const kPoolKeys = ['cores', 'resourceLimits'] as const;
const kCallKeys = ['cores', 'chunkSize', 'context', 'onError', 'timeout', 'signal', 'callingThread', 'onProgress'] as const;
const kLimitKeys = ['maxOldGenerationSizeMb', 'maxYoungGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'] as const;
const kMinStackMb = 0.5;
// setTimeout's own limit: anything longer fires at once.
const kMaxTimeout = 2 ** 31 - 1;

/** @internal */
export function defaultCores(): number {
  return availableCores();
}

/** @internal */
export function resolvePoolOptions(options: unknown, keys: readonly string[] = kPoolKeys): { cores: number; resourceLimits: ResourceLimits | undefined } {
  const checked = checkKeys(options, keys) as Partial<Record<(typeof kPoolKeys)[number], unknown>>;
  return {
    cores: checked.cores === undefined ? defaultCores() : checkCores(checked.cores),
    resourceLimits: checked.resourceLimits === undefined ? undefined : checkLimits(checked.resourceLimits),
  };
}

/** @internal The options `parallelize()` accepts: a call's and a pool's. */
export function resolveOneShotOptions(options: unknown): { pool: ReturnType<typeof resolvePoolOptions>; call: ResolvedOptions } {
  const keys = [...kCallKeys, 'resourceLimits'];
  const pool = resolvePoolOptions(options, keys);
  return { pool, call: resolveOptions(options, pool.cores, keys) };
}

/** @internal Validates call options; `cores` falls back to `maxCores` (the pool's size). */
export function resolveOptions(options: unknown, maxCores: number, keys: readonly string[] = kCallKeys): ResolvedOptions {
  const checked = checkKeys(options, keys, { resourceLimits: 'it is set when the pool is made: createPool({ resourceLimits })' }) as
    Partial<Record<(typeof kCallKeys)[number], unknown>>;
  const cores = checked.cores === undefined ? maxCores : Math.min(checkCores(checked.cores), maxCores);
  const { chunkSize = 'auto', onError = 'throw', timeout, signal, callingThread = true, onProgress } = checked;
  if (chunkSize !== 'auto' && !isPositiveInteger(chunkSize)) {
    throw invalidArg('chunkSize', "a positive integer or 'auto'", chunkSize);
  }
  if (onError !== 'throw' && onError !== 'collect') throw invalidArg('onError', "'throw' or 'collect'", onError);
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || !(timeout > 0)) throw invalidArg('timeout', 'a positive number of milliseconds', timeout);
    if (timeout > kMaxTimeout) throw outOfRange(`Expected \`timeout\` to be at most ${kMaxTimeout} ms (about 24.8 days), got ${timeout}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArg('signal', 'an AbortSignal', signal);
  if (typeof callingThread !== 'boolean') throw invalidArg('callingThread', 'a boolean', callingThread);
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalidArg('onProgress', 'a function', onProgress);
  return {
    cores, chunkSize, context: checked.context, collect: onError === 'collect', timeout, signal, callingThread,
    onProgress: onProgress as ResolvedOptions['onProgress'],
  };
}

function checkLimits(limits: unknown): ResourceLimits {
  const checked = checkKeys(limits, kLimitKeys, {}, 'resourceLimits');
  for (const [key, value] of Object.entries(checked)) {
    if (value !== undefined && (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value))) {
      throw invalidArg(`resourceLimits.${key}`, 'a positive number of MiB', value);
    }
  }
  // Below this, a worker thread runs out of stack while Node starts it, or crashes the process.
  const stack = checked.stackSizeMb as number | undefined;
  if (stack !== undefined && stack < kMinStackMb) {
    throw outOfRange(`Expected \`resourceLimits.stackSizeMb\` to be at least ${kMinStackMb} MiB (smaller stacks crash worker threads as Node starts them), got ${stack}`);
  }
  return checked as ResourceLimits;
}

function checkCores(cores: unknown): number {
  if (!isPositiveInteger(cores)) throw invalidArg('cores', 'a positive integer', cores);
  return cores;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** Rejects anything but a plain object whose keys are all `known`; `misplaced` explains keys that belong elsewhere. */
function checkKeys(options: unknown, known: readonly string[], misplaced: Record<string, string> = {}, name = 'options'): Record<string, unknown> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArg(name, 'an object', options);
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const hint = (Object.hasOwn(misplaced, key) ? misplaced[key] : undefined) ?? (closest(key, known) === undefined ? undefined : `did you mean \`${closest(key, known)}\`?`);
    throw unknownKey(name, key, known, hint);
  }
  return options as Record<string, unknown>;
}

/** The known name within two edits of `key`, to suggest for a typo. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
