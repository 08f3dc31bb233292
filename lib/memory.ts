import { debuglog } from 'node:util';
import { recycleBeforeAllocating } from './collect.js';
import { invalidArg, ParallelizeError } from './errors.js';
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

const kKinds: Readonly<Record<string, TypedArrayConstructor<SharedTypedArray>>> = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
} as Record<string, TypedArrayConstructor<SharedTypedArray>>;
// Reads a typed array's own kind, which neither a subclass nor a changed prototype can hide.
const typedArrayName = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;

/**
 * The built-in kind of a typed array. A subclass (Node's `Buffer`) counts as its kind, as a
 * structured clone would make it: copies in shared memory are of that kind on every thread, so a
 * row reads the same on the calling thread and on a worker.
 */
export function kindOf<T extends SharedTypedArray>(view: T): TypedArrayConstructor<T> {
  const name = typedArrayName.call(view) as string;
  // A kind newer than this list (Float16Array, Node 24) is the global of that name.
  return (kKinds[name] ?? (globalThis as unknown as Record<string, unknown>)[name]) as TypedArrayConstructor<T>;
}

/** Throws for a typed array that is detached or past the end of its buffer, as every method that validates one does. */
const typedArrayKeys = Object.getPrototypeOf(Uint8Array.prototype).keys as (this: SharedTypedArray) => unknown;

/**
 * Refuses a view of a detached buffer, or one past the end of a resizable buffer that shrank: both
 * read as empty, and an empty result for data that was moved away would be a silent wrong answer.
 */
export function checkAttached(name: string, view: ArrayBufferView): void {
  if (view.byteLength !== 0 || view.buffer instanceof SharedArrayBuffer) return;
  if (view.buffer.byteLength === 0) {
    try {
      structuredClone(view.buffer);
    } catch {
      throw invalidArg(name, 'a typed array whose buffer is still attached (it was transferred or detached)', view);
    }
  }
  if (!isTypedArray(view)) return;
  try {
    typedArrayKeys.call(view);
  } catch {
    throw invalidArg(name, "a typed array within its buffer (its resizable buffer shrank past the array's end)", view);
  }
}

/**
 * The same values on shared memory: a view already on a `SharedArrayBuffer` is used as it is,
 * anything else is copied exactly once.
 */
export function toShared<T extends SharedTypedArray>(view: T): T {
  if (isShared(view)) return view;
  const Type = kindOf(view);
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
  const Type = kindOf(arrays[0]!);
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
export function shareContext(context: unknown): unknown {
  return shareValue(context, new Map(), { key: 'options.context' });
}

/** Where a value sits in the context, spelled out only for an error (most contexts never need it). */
interface Place {
  readonly parent?: Place;
  /** `options.context`, `.mask`, `[3]`, `.get("left")`. */
  readonly key: string;
}

function pathOf(place: Place): string {
  let path = '';
  for (let at: Place | undefined = place; at !== undefined; at = at.parent) path = at.key + path;
  return path;
}

function shareValue(value: unknown, seen: Map<unknown, unknown>, place: Place): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  if (isTypedArray(value)) {
    checkAttached(pathOf(place), value);
    const shared = toShared(value);
    seen.set(value, shared);
    return shared;
  }
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (let i = 0; i < value.length; i++) copy.push(shareEntry(read(value, i, place), seen, place, i));
    return copy;
  }
  if (value instanceof Map) {
    const copy = new Map<unknown, unknown>();
    seen.set(value, copy);
    for (const [key, entry] of value) {
      copy.set(key, typeof entry === 'object' && entry !== null ? shareValue(entry, seen, { parent: place, key: `.get(${describeKey(key)})` }) : entry);
    }
    return copy;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  for (const key of Object.keys(value)) {
    const entry = shareEntry(read(value, key, place), seen, place, key);
    Object.defineProperty(copy, key, { value: entry, enumerable: true, writable: true, configurable: true });
  }
  return copy;
}

/** shareValue for the entry `key` of an Array or object at `place`: a primitive as it is, with no path made. */
function shareEntry(entry: unknown, seen: Map<unknown, unknown>, place: Place, key: string | number): unknown {
  return typeof entry === 'object' && entry !== null ? shareValue(entry, seen, { parent: place, key: step(key) }) : entry;
}

/** How an index or a property name continues a path: `[3]`, `.mask`. */
function step(key: string | number): string {
  return typeof key === 'number' ? `[${key}]` : `.${key}`;
}

/** A Map key as a path shows it: a primitive as written, any object as `…` (it may not convert to a string). */
function describeKey(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'bigint') return `${key}n`;
  return typeof key === 'object' || typeof key === 'function' ? '…' : String(key);
}

/** A property of the context, read as a structured clone would read it; a getter that throws is named. */
function read(object: object, key: string | number, place: Place): unknown {
  try {
    return (object as Record<string | number, unknown>)[key];
  } catch (error) {
    const path = pathOf(place) + step(key);
    throw new ParallelizeError('ERR_DATA_CLONE', `options.context cannot be sent to a worker thread: reading \`${path}\` threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`, { cause: error });
  }
}
