import { availableParallelism } from 'node:os';
import { invalidArg } from './errors.js';

/** Options of `createPool()`. */
export interface PoolOptions {
  /**
   * How many worker threads the pool may run at once.
   * @default os.availableParallelism()
   */
  readonly cores?: number;
}

/** Options of `parallelize()` and `pool.parallelize()`. */
export interface ParallelizeOptions<Context = unknown> {
  /**
   * How many worker threads to use. Never more than there are items; on a `Pool`, never more
   * than the pool's own `cores`.
   * @default os.availableParallelism() (the pool's `cores` on a `Pool`)
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
}

export interface ResolvedOptions {
  readonly cores: number;
  readonly chunkSize: number | 'auto';
  readonly context: unknown;
}

const kPoolKeys = ['cores'] as const;
const kCallKeys = ['cores', 'chunkSize', 'context'] as const;

export function defaultCores(): number {
  return availableParallelism();
}

export function resolvePoolOptions(options: unknown): { cores: number } {
  const checked = checkKeys(options, kPoolKeys);
  return { cores: checked.cores === undefined ? defaultCores() : checkCores(checked.cores) };
}

/** Validates call options; `cores` falls back to `maxCores` (the pool's size). */
export function resolveOptions(options: unknown, maxCores: number): ResolvedOptions {
  const checked = checkKeys(options, kCallKeys);
  const cores = checked.cores === undefined ? maxCores : Math.min(checkCores(checked.cores), maxCores);
  const { chunkSize = 'auto' } = checked;
  if (chunkSize !== 'auto' && !isPositiveInteger(chunkSize)) {
    throw invalidArg('chunkSize', "a positive integer or 'auto'", chunkSize);
  }
  return { cores, chunkSize, context: checked.context };
}

function checkCores(cores: unknown): number {
  if (!isPositiveInteger(cores)) throw invalidArg('cores', 'a positive integer', cores);
  return cores;
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function checkKeys<K extends string>(options: unknown, known: readonly K[]): Partial<Record<K, unknown>> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidArg('options', 'an object', options);
  }
  for (const key of Object.keys(options)) {
    if (!(known as readonly string[]).includes(key)) {
      const hint = closest(key, known);
      throw invalidArg('options', `an object with only ${known.map((k) => `\`${k}\``).join(', ')}${hint ? ` (did you mean \`${hint}\`?)` : ''}`, key);
    }
  }
  return options as Partial<Record<K, unknown>>;
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
