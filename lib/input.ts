import { debuglog } from 'node:util';
import { invalidArg, ParallelizeError, serializeError } from './errors.js';
import { Matrix } from './matrix.js';
import { allocateShared, checkAttached, isTypedArray, kindOf, packRagged, toShared } from './memory.js';
import type { InputSpec, SharedTypedArray } from './protocol.js';
import { isPlainArray, packedRecords, packRecords, recordShape, type PackedRecords, type RecordShape } from './records.js';

/** The caller's data, ready to be read by workers. */
export interface Input {
  readonly count: number;
  /**
   * What every worker gets once per call. The first call copies typed values that are not on
   * shared memory yet, or takes the shared memory that Array items of one shape are packed into:
   * call it only once the call goes to threads.
   */
  spec(): InputSpec;
  /** What the calling thread reads: the caller's own memory, never a copy. */
  local(): InputSpec;
  /**
   * Throws when the caller's typed array was detached (transferred), or its resizable buffer
   * shrank, since the call began: the calling thread reads it in place, and code of the caller's
   * may run whenever fn awaits.
   */
  checkUnchanged(): void;
  /** For Array inputs: the caller's items. */
  readonly items?: readonly unknown[];
  /** For Array items of one simple shape: how they pack (records.ts). */
  readonly shape?: RecordShape;
  /** The shared memory the items were packed into, once `spec()` took it. */
  packed(): Float64Array | undefined;
  /** What travels with the chunk of rows [start, end): clones of its items, or nothing when workers read them from shared memory. */
  chunkItems(start: number, end: number): unknown[] | undefined;
}

const debug = debuglog('parallelize');
const inShared = (): undefined => undefined;
const constant = (spec: InputSpec) => (): InputSpec => spec;
const unchangedAlways = (): void => {};

/** `make()`, called the first time only. */
function once(make: () => InputSpec): () => InputSpec {
  let spec: InputSpec | undefined;
  return () => (spec ??= make());
}

/** The error for a `data` that is none of the kinds a call takes. */
export function notData(data: unknown): TypeError {
  return invalidArg('data', 'an Array, a typed array or a Matrix', data);
}

/**
 * Classifies `data`; its `spec()` moves typed values into shared memory (at most one copy per call).
 * `allocate` gives the shared array that Array items of one simple shape are packed into (records.ts).
 * Throws an `ERR_INVALID_ARG` error that names the offending item.
 */
export function prepareInput(data: unknown, allocate: (length: number) => Float64Array = (length) => allocateShared(Float64Array, length)): Input {
  // Typed values are copied to shared memory only for threads: a call too cheap for them, which
  // reads them in place, would spend more on the copy than on its work (a third of the cheap
  // bench case's time, with the collection that makes room for it).
  if (data instanceof Matrix) {
    checkTypedInput(data);
    const length = data.rows * data.cols;
    const attached = () => checkUnchanged('data.data', data.data, length);
    const local = constant({ kind: 'matrix', values: plainView(data.data), cols: data.cols });
    const spec = once(() => (attached(), { kind: 'matrix', values: toShared(data.data), cols: data.cols }));
    return { count: data.rows, spec, local, checkUnchanged: attached, packed: inShared, chunkItems: inShared };
  }
  if (isTypedArray(data)) {
    const length = data.length;
    const attached = () => checkUnchanged('data', data, length);
    attached();
    const spec = once(() => (attached(), { kind: 'typed', values: toShared(data) }));
    return { count: data.length, spec, local: constant({ kind: 'typed', values: plainView(data) }), checkUnchanged: attached, packed: inShared, chunkItems: inShared };
  }
  if (!Array.isArray(data)) throw notData(data);
  checkDense(data);
  const first = data.length > 0 ? readItem(data, 0) : undefined;
  if (isTypedArray(first)) {
    checkOneKind(data);
    const { values, offsets } = packRagged(data as SharedTypedArray[]);
    const spec = constant({ kind: 'ragged', values, offsets });
    return { count: data.length, spec, local: spec, checkUnchanged: unchangedAlways, packed: inShared, chunkItems: inShared };
  }
  const clones = (start: number, end: number): unknown[] => {
    try {
      return data.slice(start, end);
    } catch (error) {
      // A getter that throws only now, or one that the hole check does not read (a subclass, a Proxy).
      throw unreadableItem(data, start, end) ?? cannotRead(error);
    }
  };
  const shape = data.length > 0 ? recordShape(first, data.length) : undefined;
  const local = constant({ kind: 'array' });
  if (shape === undefined) return { count: data.length, spec: local, local, checkUnchanged: unchangedAlways, items: data, packed: inShared, chunkItems: clones };
  // Taken when the call goes to threads: a call that stays on the calling thread takes no memory.
  let records: PackedRecords | undefined;
  let spec: InputSpec | undefined;
  const threadSpec = (): InputSpec => {
    if (spec === undefined) {
      records = packedRecords(shape, data.length, allocate);
      spec = records === undefined ? { kind: 'array' } : { kind: 'records', records };
      debug(records === undefined ? 'no shared memory for %d Array items (%d values): they go as clones' : 'took shared memory to pack %d Array items (%d values) for threads', data.length, data.length * shape.stride);
    }
    return spec;
  };
  return {
    count: data.length, items: data, shape, spec: threadSpec, local, checkUnchanged: unchangedAlways, packed: () => records?.values,
    chunkItems: (start, end) => (threadSpec().kind === 'records' && packRecords(records!, data, start, end) ? undefined : clones(start, end)),
  };
}

/**
 * @internal Refuses typed input that reads as less than it holds: a detached buffer, or a
 * resizable one that shrank past the array's end (or past a Matrix's rows × cols).
 */
export function checkTypedInput(data: Matrix | SharedTypedArray): void {
  if (!(data instanceof Matrix)) return checkAttached('data', data);
  checkAttached('data.data', data.data);
  const length = data.rows * data.cols;
  if (data.data.length < length) throw invalidArg('data.data', `a Float64Array of rows × cols = ${length} elements (its resizable buffer shrank)`, data.data);
}

/**
 * Throws unless `view` still holds the `length` elements it had as the call began: it may have
 * been transferred since, or its resizable buffer resized, while the calling thread read it in place.
 */
function checkUnchanged(name: string, view: SharedTypedArray, length: number): void {
  checkAttached(name, view);
  // Grown, it still holds every item the call counted; shrunk, the rest would read as NaN.
  if (view.length < length) throw invalidArg(name, `a typed array that keeps its ${length} elements until the call settles (its resizable buffer shrank)`, view);
}

/**
 * The same memory as `view`, through a plain view of its kind: a subclass's own `subarray` (which
 * a Matrix row is made with) may make something else, where the shared copy that threads read
 * is always plain.
 */
function plainView<T extends SharedTypedArray>(view: T): T {
  return Object.getPrototypeOf(view) === kindOf(view).prototype ? view : new (kindOf(view))(view.buffer as SharedArrayBuffer, view.byteOffset, view.length);
}

const arrayIncludes = Array.prototype.includes;

function checkDense(data: readonly unknown[]): void {
  // includes() reads a hole as undefined, and V8 answers it at once for an Array of numbers: a
  // loop over 1,000,000 of them took ~0.4 ms, a third of a cheap call's whole time. Only for a
  // plain Array: a subclass or a Proxy may answer it otherwise than `in` would.
  try {
    if (isPlainArray(data) && !arrayIncludes.call(data, undefined)) return;
  } catch (error) {
    throw unreadableItem(data) ?? cannotRead(error); // includes() read an item whose getter threw
  }
  for (let i = 0; i < data.length; i++) {
    if (!(i in data)) throw invalidArg('data', `a dense Array, but \`data[${i}]\` is a hole in a sparse Array`, data);
  }
}

/**
 * The error naming the first item of `data[from, to)` whose read throws
 * (`Object.defineProperty(data, i, { get })`), or undefined when every one reads.
 */
export function unreadableItem(data: readonly unknown[], from = 0, to = data.length): ParallelizeError | undefined {
  for (let i = from; i < to; i++) {
    try {
      void data[i];
    } catch (error) {
      return itemReadFailed(i, error);
    }
  }
  return undefined;
}

/** The error for `data[index]`, whose read threw `error`: the data's fault, wherever it was read, not fn's. */
function itemReadFailed(index: number, error: unknown): ParallelizeError {
  return new ParallelizeError('ERR_DATA_CLONE', `data[${index}] cannot be read: ${serializeError(error).message}`, { index, cause: error });
}

/** `data[index]`, or the error naming it when its getter (or a Proxy's) throws. */
function readItem(data: readonly unknown[], index: number): unknown {
  try {
    return data[index];
  } catch (error) {
    throw itemReadFailed(index, error);
  }
}

/** For a read that threw once but not when tried again. */
function cannotRead(error: unknown): ParallelizeError {
  return new ParallelizeError('ERR_DATA_CLONE', `data cannot be read: ${serializeError(error).message}`, { cause: error });
}

/** Every item a typed array of the kind of the first (a `Buffer` is a `Uint8Array`), still attached. */
function checkOneKind(data: readonly unknown[]): void {
  const Type = kindOf(data[0] as SharedTypedArray);
  for (let i = 0; i < data.length; i++) {
    const item = readItem(data, i);
    if (!isTypedArray(item) || kindOf(item) !== Type) {
      throw invalidArg(`data[${i}]`, `a ${Type.name} like \`data[0]\` (an Array of typed arrays must hold one kind)`, item);
    }
    checkAttached(`data[${i}]`, item);
  }
}
