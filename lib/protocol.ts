import type { MessagePort } from 'node:worker_threads';
import type { PackedRecords } from './records.js';
/**
 * The wire protocol between the main thread and the worker bootstrap.
 * Both `lib/` and `workers/` import this file; it holds types and constants only.
 */

export const MessageType = {
  // Posted by main.
  /** Set up one call on a worker: its function, input and context. */
  JOB_START: 1,
  /** Run rows [start, end) of a call that was started on this worker. */
  RUN_CHUNK: 2,
  /** The call is over; drop its state. */
  JOB_END: 3,
  /** The call's result matrix is allocated: write rows into it from now on. */
  JOB_OUTPUT: 5,
  /** Leave the message loop so the thread exits by itself. */
  SHUTDOWN: 4,

  // Posted by worker.
  /** A chunk finished; its rows travel on a SharedArrayBuffer. */
  CHUNK_DONE: 11,
  /** A chunk stopped at a failing row. */
  CHUNK_FAILED: 12,
  /** A chunk was skipped because its call had been cancelled. */
  CHUNK_SKIPPED: 13,
  /** Something fn started escaped its call (a throwing timer, an unhandled rejection). */
  JOB_FAILED: 14,
} as const;

/** Index of the call's "cancelled" flag in its control `Int32Array`. */
export const kCancelledField = 0;
export const kControlFieldCount = 1;

/** How a worker reads the call's function. */
export type FnSpec =
  | { readonly kind: 'inline'; readonly source: string }
  | { readonly kind: 'module'; readonly url: string; readonly exportName: string };

/** How a worker reads item `i` of the call's data. */
export type InputSpec =
  /** Items travel inside each RUN_CHUNK message. */
  | { readonly kind: 'array' }
  /** Items of one simple shape, packed in shared memory per chunk (see records.ts); a chunk sent with items reads those instead. */
  | { readonly kind: 'records'; readonly records: PackedRecords }
  /** Item `i` is `values[i]`. */
  | { readonly kind: 'typed'; readonly values: SharedTypedArray }
  /** Item `i` is row `i` of a row-major `Float64Array`. */
  | { readonly kind: 'matrix'; readonly values: Float64Array; readonly cols: number }
  /** Item `i` is `values.subarray(offsets[i], offsets[i + 1])`. */
  | { readonly kind: 'ragged'; readonly values: SharedTypedArray; readonly offsets: Float64Array };

export type SharedTypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array
  | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** Index of the job id in a worker's status array. */
export const kStatusJobField = 0;
/** Index of the item index in a worker's status array; -1 between items. */
export const kStatusIndexField = 1;
/**
 * Index of the worker's "loaded" flag (1 once its bootstrap has run), read from shared memory
 * rather than sent: a caller awaiting one calling-thread call after another never lets a message in.
 */
export const kStatusReadyField = 2;
/** Index of the count of chunks the worker has started, which tells where it is in its queue. */
export const kStatusStartedField = 3;
export const kStatusFieldCount = 4;

/** Passed once to every worker as `workerData`. */
export interface WorkerStartup {
  /**
   * Where the worker publishes which job and item it is running (`kStatus*Field`), so that when
   * the thread dies or must be stopped we know which item to blame. Float64 so any index fits;
   * plain stores suffice, as we read it after the thread has exited or to decide on a stop.
   */
  readonly status: Float64Array;
  /** Shared memory the main thread had allocated when it started the worker, in bytes: the worker counts from there (collect.ts). */
  readonly sharedBytes: number;
  /** The lock that the thread starting this one takes around setting a V8 flag, to take as well (collect.ts). */
  readonly flagLock: Int32Array;
}

export interface JobStartMessage {
  readonly type: typeof MessageType.JOB_START;
  readonly jobId: number;
  readonly fn: FnSpec;
  readonly input: InputSpec;
  readonly context: unknown;
  /** `onError: 'collect'`: a failing item does not stop its chunk. */
  readonly collect: boolean;
  /** `map()`: results are any cloneable values, sent back as they are instead of as rows. */
  readonly keepValues: boolean;
  /** `kControlFieldCount` Int32 fields on a SharedArrayBuffer. */
  readonly control: Int32Array;
  /** The result matrix, when its shape is known already. */
  readonly output?: OutputSpec;
}

/** Where rows go once the result's shape is known: row `i` is `values[i * cols, (i + 1) * cols)`. */
export interface OutputSpec {
  readonly values: Float64Array;
  readonly cols: number;
  /** The item whose result fixed `cols`, to name in a shape error. */
  readonly referenceIndex: number;
}

export interface JobOutputMessage {
  readonly type: typeof MessageType.JOB_OUTPUT;
  readonly jobId: number;
  readonly output: OutputSpec;
}

export interface RunChunkMessage {
  readonly type: typeof MessageType.RUN_CHUNK;
  readonly jobId: number;
  readonly chunkId: number;
  readonly start: number;
  readonly end: number;
  /** Only for `array` inputs: items [start, end). */
  readonly items?: readonly unknown[];
}

export interface JobEndMessage {
  readonly type: typeof MessageType.JOB_END;
  readonly jobId: number;
  /** Shared memory the main thread has allocated so far, in bytes: workers collect garbage by it (collect.ts). */
  readonly sharedBytes: number;
  /** Free the handle of the call's result now (releaseDropped); not when the thread is about to be shut down. */
  readonly release: boolean;
}

export interface ShutdownMessage {
  readonly type: typeof MessageType.SHUTDOWN;
}

// parallelizeSync: the caller and the coordinator thread that runs its call.

/** Fields of the state array shared with the coordinator. */
export const kSyncStateField = 0;
export const kSyncHeartbeatField = 1;
/** Counts what the caller has to look at: each output posted, and the settle. */
export const kSyncWakeField = 2;
export const kSyncFieldCount = 3;
/** States: the call runs, or its outcome waits on the port. */
export const kSyncRunning = 0;
export const kSyncSettled = 1;
/**
 * Tells the caller there is something new: output, or the settle. A counter, waited on with the
 * value last seen, so that news that comes while the caller is not yet waiting is not lost.
 */
export function wakeCaller(state: Int32Array): void {
  Atomics.add(state, kSyncWakeField, 1);
  Atomics.notify(state, kSyncWakeField);
}

/** How often the coordinator proves it is alive, and how long without a sign we wait. */
export const kHeartbeatMs = 100;
export const kSilenceMs = 5000;

/** What the coordinator thread is given. */
export interface CoordinatorStartup {
  readonly data: unknown;
  /** A Matrix travels as its parts, and is rebuilt. */
  readonly matrix?: { readonly rows: number; readonly cols: number; readonly data: Float64Array };
  readonly fn: { readonly source: string } | { readonly module: string; readonly exportName: string };
  /** parallelize()'s options, less `signal` and `onProgress`. */
  readonly options: Record<string, unknown>;
  readonly state: Int32Array;
  /** Where the outcome goes. */
  readonly port: MessagePort;
  /** Where the output of the coordinator and its workers goes, for the caller to write (CoordinatorOutput). */
  readonly output: MessagePort;
}

/** A chunk written to process.stdout or process.stderr on the coordinator or one of its workers. */
export interface CoordinatorOutput {
  readonly stream: 'stdout' | 'stderr';
  readonly chunk: string | Uint8Array;
}

/** What the coordinator posts back before it marks the call settled. */
export type CoordinatorOutcome =
  /** `errors` only with `onError: 'collect'`: the failed items, each as a SerializedFailure. */
  | { readonly ok: true; readonly rows: number; readonly cols: number; readonly data: Float64Array; readonly errors?: readonly SerializedFailure[] }
  | { readonly ok: false; readonly error: SerializedError; readonly code?: string; readonly index?: number; readonly kind: 'parallelize' | 'TypeError' | 'RangeError' | 'other' };

export type MainMessage = JobStartMessage | RunChunkMessage | JobEndMessage | JobOutputMessage | ShutdownMessage;

export interface ChunkDoneMessage {
  readonly type: typeof MessageType.CHUNK_DONE;
  readonly jobId: number;
  readonly chunkId: number;
  /** Values per row; -1 when every item of the chunk failed (collect mode), so nobody knows. */
  readonly cols: number;
  /** Rows [start, end) of the result, row-major, on a SharedArrayBuffer (never transferred: see run-chunk.ts). */
  readonly values: Float64Array;
  /** The rows were written into the call's output matrix instead; `values` is empty. */
  readonly inPlace: boolean;
  /** `map()`: the results of items [start, end), as they are (failed items' slots are undefined). */
  readonly list?: readonly unknown[];
  /** Collect mode: the items that failed, in index order; their rows hold NaN. */
  readonly failures: readonly SerializedFailure[];
  /** How long the worker took to run the chunk, in ms: what the next chunks are expected to cost. */
  readonly ms?: number;
}

export interface ChunkFailedMessage {
  readonly type: typeof MessageType.CHUNK_FAILED;
  readonly jobId: number;
  readonly chunkId: number;
  readonly failure: SerializedFailure;
}

export interface ChunkSkippedMessage {
  readonly type: typeof MessageType.CHUNK_SKIPPED;
  readonly jobId: number;
  readonly chunkId: number;
}

export interface JobFailedMessage {
  readonly type: typeof MessageType.JOB_FAILED;
  readonly jobId: number;
  readonly failure: SerializedFailure;
}

export type WorkerMessage = ChunkDoneMessage | ChunkFailedMessage | ChunkSkippedMessage | JobFailedMessage;

/** A failure found in a worker, in a shape that survives structured clone. */
export interface SerializedFailure {
  readonly code: string;
  readonly message: string;
  /** The item to blame, when there is one. */
  readonly index?: number;
  /** Result length of the reference row and of the failing row, for `ERR_RESULT_SHAPE`. */
  readonly cols?: number;
  readonly cause?: SerializedError;
}

/** An error value as plain data: structured clone drops subclasses and own properties. */
export interface SerializedError {
  /** `false` when the thrown value was not an Error (a string, `null`, a plain object). */
  readonly isError: boolean;
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly props: Record<string, unknown>;
  readonly cause?: SerializedError;
  /** The thrown value itself, when it was not an Error and could be cloned. */
  readonly value?: unknown;
}
