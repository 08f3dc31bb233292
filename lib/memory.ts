import { debuglog } from 'node:util';
import { recycleBeforeAllocating } from './collect.js';
import type { SharedTypedArray } from './protocol.js';

const debug = debuglog('parallelize');

type TypedArrayConstructor<T extends SharedTypedArray> = {
  new (buffer: SharedArrayBuffer, byteOffset?: number, length?: number): T;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

/** Bytes of shared memory this thread has allocated through us, for `collectorFor` (collect.ts). */
let sharedBytesAllocated = 0;

/** How many bytes of shared memory this thread has allocated through us so far. */
export function allocatedSharedBytes(): number {
  return sharedBytesAllocated;
}

/** Counts shared memory that another thread allocated and this one now holds (a parallelizeSync result). */
export function countSharedBytes(bytes: number): void {
  sharedBytesAllocated += bytes;
}

function newShared(bytes: number): SharedArrayBuffer {
  recycleBeforeAllocating(bytes, sharedBytesAllocated);
  const buffer = new SharedArrayBuffer(bytes);
  countSharedBytes(bytes);
  return buffer;
}

/** A zero-filled typed array of `length` elements on a fresh `SharedArrayBuffer`. */
export function allocateShared<T extends SharedTypedArray>(Type: TypedArrayConstructor<T>, length: number): T {
  return new Type(newShared(length * Type.BYTES_PER_ELEMENT), 0, length);
}

/** Bytes between the starts of two arrays that different threads write often; twice a cache line. */
const kCacheLinePadding = 128;

/**
 * A zero-filled typed array that no other `allocatePadded` array shares a cache line with. Small
 * allocations sit side by side in memory: when each worker writes its own tiny status array for
 * every item, two of them on one cache line make the cores fight over it (false sharing).
 */
export function allocatePadded<T extends SharedTypedArray>(Type: TypedArrayConstructor<T>, length: number): T {
  const bytes = Math.ceil((length * Type.BYTES_PER_ELEMENT) / kCacheLinePadding + 1) * kCacheLinePadding;
  return new Type(newShared(bytes), 0, length);
}

/** The largest buffer a pool keeps between calls (see `SpareBuffer`). */
export const kMaxSpareBytes = 64 * 2 ** 20;

/**
 * One shared Float64Array's memory that a pool lends to its calls in turn, for scratch data that is
 * written before it is read (packed Array items). The first write to fresh memory faults in its pages,
 * which cost ~3 ms per MiB on the 2-core VM we measure on: as much as the work of some calls.
 * Buffers over `kMaxSpareBytes` are not kept, so an idle pool holds at most that much.
 */
export class SpareBuffer {
  #spare: SharedArrayBuffer | undefined;
  #disposed = false;

  /** A shared Float64Array of `length` values: on the spare memory when it is free and big enough. Not zero-filled. */
  take(length: number): Float64Array {
    const spare = this.#spare;
    if (spare === undefined || spare.byteLength < length * Float64Array.BYTES_PER_ELEMENT) return allocateShared(Float64Array, length);
    this.#spare = undefined;
    return new Float64Array(spare, 0, length);
  }

  /** Gives back an array that no thread will read again; its memory is kept when it is the biggest seen so far. */
  give(values: Float64Array): void {
    const buffer = values.buffer as SharedArrayBuffer;
    if (this.#disposed || buffer.byteLength > kMaxSpareBytes || buffer.byteLength <= (this.#spare?.byteLength ?? -1)) return;
    this.#spare = buffer;
  }

  /** Lets go of the spare buffer, and of any given back later (the pool is closed). */
  dispose(): void {
    this.#disposed = true;
    this.#spare = undefined;
  }
}

export function isTypedArray(value: unknown): value is SharedTypedArray {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

export function isShared(view: ArrayBufferView): boolean {
  return view.buffer instanceof SharedArrayBuffer;
}

/**
 * The same values on shared memory: a view already on a `SharedArrayBuffer` is used as it is,
 * anything else is copied exactly once.
 */
export function toShared<T extends SharedTypedArray>(view: T): T {
  if (isShared(view)) return view;
  const Type = view.constructor as TypedArrayConstructor<T>;
  const copy = allocateShared(Type, view.length);
  (copy as unknown as { set(source: ArrayLike<unknown>): void }).set(view);
  debug('copied %d bytes of %s input into shared memory', view.byteLength, Type.name);
  return copy;
}

/**
 * Packs typed arrays of one kind, end to end, into one shared array; item `i` is
 * `values.subarray(offsets[i], offsets[i + 1])`. `offsets` are float64 so totals past 2^31 fit.
 */
export function packRagged(arrays: readonly SharedTypedArray[]): { values: SharedTypedArray; offsets: Float64Array } {
  const offsets = allocateShared(Float64Array, arrays.length + 1);
  let total = 0;
  for (let i = 0; i < arrays.length; i++) {
    offsets[i] = total;
    total += arrays[i]!.length;
  }
  offsets[arrays.length] = total;
  const Type = arrays[0]!.constructor as TypedArrayConstructor<SharedTypedArray>;
  const values = allocateShared(Type, total);
  for (let i = 0; i < arrays.length; i++) {
    (values as unknown as { set(source: ArrayLike<unknown>, offset: number): void }).set(arrays[i]!, offsets[i]!);
  }
  debug('packed %d %s items (%d values) into shared memory', arrays.length, Type.name, total);
  return { values, offsets };
}

/**
 * A copy of `context` in which every typed array lives in shared memory, so that sending it to
 * each worker shares the values instead of cloning them. Walks plain objects, arrays and Maps;
 * anything else is left to structured clone. The same typed array seen twice is moved once.
 */
export function shareContext(context: unknown, seen = new Map<unknown, unknown>()): unknown {
  if (typeof context !== 'object' || context === null) return context;
  if (seen.has(context)) return seen.get(context);
  if (isTypedArray(context)) {
    const shared = toShared(context);
    seen.set(context, shared);
    return shared;
  }
  if (Array.isArray(context)) {
    const copy: unknown[] = [];
    seen.set(context, copy);
    for (const item of context) copy.push(shareContext(item, seen));
    return copy;
  }
  if (context instanceof Map) {
    const copy = new Map<unknown, unknown>();
    seen.set(context, copy);
    for (const [key, value] of context) copy.set(key, shareContext(value, seen));
    return copy;
  }
  const proto: unknown = Object.getPrototypeOf(context);
  if (proto !== Object.prototype && proto !== null) return context;
  const copy: Record<string, unknown> = {};
  seen.set(context, copy);
  for (const [key, value] of Object.entries(context)) {
    Object.defineProperty(copy, key, { value: shareContext(value, seen), enumerable: true, writable: true, configurable: true });
  }
  return copy;
}
