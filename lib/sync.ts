import { types } from 'node:util';
import type { Worker } from 'node:worker_threads';
import { workerThreads } from './builtins.js';
import { cannotSend, cloneable, deserializeError, failureToError, invalidArg, ParallelizeError, type ParallelizeErrorCode } from './errors.js';
import { checkTypedInput, notData, unreadableItem } from './input.js';
import { withErrors } from './job.js';
import { entryScript, kCoordinatorUrl } from './location.js';
import { Matrix } from './matrix.js';
import { now } from './clock.js';
import { collectBeforeCall } from './collect.js';
import { warnIfOversubscribed } from './cores.js';
import { allocatedSharedBytes, allocateShared, countSharedBytes, isTypedArray, toShared } from './memory.js';
import { resolveOneShotOptions, type ParallelizeOptions } from './options.js';
import type { CollectedMatrix, Data, ItemOf, Mapper } from './types.js';
import {
  kHeartbeatMs, kSilenceMs, kSyncHeartbeatField, kSyncRunning, kSyncStateField, kSyncWakeField, kSyncFieldCount,
  type CoordinatorOutcome, type CoordinatorOutput, type CoordinatorStartup,
} from './protocol.js';
import { toFnSpec, type TaskRef } from './task.js';

/**
 * `parallelize()` as a blocking call, for scripts and synchronous code paths: same data, function,
 * options and errors (thrown, not rejected), except `signal` and `onProgress`, which cannot reach
 * a thread that is blocked. A coordinator thread runs the call while this thread waits on shared
 * memory; as a blocked thread never sees a worker's `exit` event, the coordinator beats a heart
 * in shared memory, and a coordinator silent for 5 s is taken for dead (`ERR_WORKER_EXIT`).
 *
 * @example
 * ```ts
 * const stats = parallelizeSync(subjects, analyse, { context: { mask } });
 * ```
 */
export function parallelizeSync<D extends Data, Context = unknown>(data: D, fn: Mapper<ItemOf<D>, Context> | TaskRef, options: ParallelizeOptions<Context> & { readonly onError: 'collect' }): CollectedMatrix;
export function parallelizeSync<D extends Data, Context = unknown>(data: D, fn: Mapper<ItemOf<D>, Context> | TaskRef, options?: ParallelizeOptions<Context>): Matrix;
export function parallelizeSync(data: Data, fn: Mapper<never> | TaskRef, options?: ParallelizeOptions): Matrix {
  const { call } = resolveOneShotOptions(options);
  if (options?.signal !== undefined) throw invalidArg('signal', 'absent in parallelizeSync (a blocked thread cannot see an abort; use timeout)', options.signal);
  if (options?.onProgress !== undefined) throw invalidArg('onProgress', 'absent in parallelizeSync (a blocked thread cannot call it)', options.onProgress);
  const spec = toFnSpec(fn);
  // Here, once per process: the coordinator, a thread of its own, would warn on every call.
  const items = data instanceof Matrix ? data.rows : Array.isArray(data) || isTypedArray(data) ? data.length : 0;
  // Before the copy below, which would fail on such input with a TypeError of its own; and before
  // cloning the data, which fails for what is not data at all (a Proxy of an object) more vaguely.
  if (data instanceof Matrix || isTypedArray(data)) checkTypedInput(data);
  else if (!Array.isArray(data)) throw notData(data);
  warnIfOversubscribed(Math.min(call.cores, items), call.cores);
  collectBeforeCall(allocatedSharedBytes(), true);
  const state = allocateShared(Int32Array, kSyncFieldCount);
  const { MessageChannel, receiveMessageOnPort, Worker } = workerThreads();
  const { port1, port2 } = new MessageChannel();
  const output = new MessageChannel();
  // Typed values go to shared memory here, so the coordinator and its workers read them in place.
  const startup: CoordinatorStartup = {
    data: data instanceof Matrix ? undefined : isTypedArray(data) ? toShared(data) : Array.isArray(data) && types.isProxy(data) ? plainItems(data) : data,
    ...(data instanceof Matrix && { matrix: { rows: data.rows, cols: data.cols, data: toShared(data.data) } }),
    fn: spec.kind === 'inline' ? { source: spec.source } : { module: spec.url, exportName: spec.exportName },
    options: { ...options } as CoordinatorStartup['options'],
    state,
    port: port2,
    output: output.port2,
  };
  let coordinator: Worker;
  // Cloning the data into workerData takes this long here, and the coordinator takes about as long
  // again to read it before its heartbeat can start: silence that long is no sign of death.
  const started = now();
  try {
    // Its stdout and stderr are not piped to ours: its output comes on the output port.
    coordinator = new Worker(entryScript(kCoordinatorUrl), {
      eval: true, workerData: startup, transferList: [port2, output.port2], stdout: true, stderr: true,
    });
  } catch (error) {
    throw sendFailure(data, options, error);
  }
  coordinator.unref();
  // A coordinator that fails to start emits its error once we are awake again, long after we
  // reported it (ERR_WORKER_EXIT): unheard, it would crash the process.
  coordinator.on('error', () => {});
  // A write that throws (a caller's own process.stdout.write) must not leave the call running
  // unwatched: we go on waiting, and throw it once the call has settled.
  let writeFailure: { error: unknown } | undefined;
  const writeOutput = (): void => {
    for (;;) {
      const received = receiveMessageOnPort(output.port1);
      if (received === undefined) return;
      try {
        writeChunk(received.message as CoordinatorOutput);
      } catch (error) {
        writeFailure ??= { error };
      }
    }
  };
  const silenceMs = kSilenceMs + 4 * (now() - started);
  try {
    waitForCoordinator(state, silenceMs, writeOutput);
    writeOutput(); // what came between its last look and the settle
    if (writeFailure) throw writeFailure.error;
    const outcome = receiveMessageOnPort(port1)?.message as CoordinatorOutcome | undefined;
    if (outcome === undefined) throw new ParallelizeError('ERR_WORKER_EXIT', 'The coordinator thread settled without an outcome');
    if (outcome.ok) {
      countSharedBytes(outcome.data.byteLength);
      const matrix = new Matrix(outcome.data, outcome.rows, outcome.cols);
      return outcome.errors ? withErrors(matrix, outcome.errors.map((failure) => ({ index: failure.index!, error: failureToError(failure) }))) : matrix;
    }
    throw rebuild(outcome);
  } finally {
    writeOutput();
    port1.close();
    output.port1.close();
    // Given up for dead, it may be alive after all (stalled): it must not run fn after we threw.
    if (Atomics.load(state, kSyncStateField) === kSyncRunning) void coordinator.terminate();
  }
}

/**
 * Writes what the coordinator's threads printed to this thread's stream, as their own writes
 * would have been: bytes as a Buffer (a clone arrives as a plain Uint8Array, which code that
 * captures writes may not expect), and with a reader that went away (EPIPE) not crashing the
 * process, as console.log in a worker does not.
 */
function writeChunk({ stream, chunk }: CoordinatorOutput): void {
  const target = process[stream];
  target.write(typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), (error) => {
    // The stream emits 'error' after this callback; it may do so again after the next failure.
    if (error && !target.listeners('error').includes(ignoreError)) target.once('error', ignoreError);
  });
}

function ignoreError(): void {}

/**
 * @internal Blocks until the coordinator settles `state`; throws ERR_WORKER_EXIT when its heartbeat
 * stays still for `silenceMs` (it died, or its event loop is blocked). Calls `onWake` each time it
 * wakes: the coordinator wakes us when it has output for us to write.
 */
export function waitForCoordinator(state: Int32Array, silenceMs = kSilenceMs, onWake: () => void = () => {}): void {
  const first = Atomics.load(state, kSyncHeartbeatField);
  let heartbeat = first;
  let lastSign = Date.now();
  for (;;) {
    // Read before looking: news that comes after this makes the wait below return at once.
    const seen = Atomics.load(state, kSyncWakeField);
    onWake();
    if (Atomics.load(state, kSyncStateField) !== kSyncRunning) return;
    const now = Atomics.load(state, kSyncHeartbeatField);
    if (now !== heartbeat) {
      heartbeat = now;
      lastSign = Date.now();
    } else if (Date.now() - lastSign > silenceMs) {
      const why = heartbeat === first
        ? 'it could not start (a --require or --import that fails in worker threads, or too little memory?)'
        : 'it died or its event loop is blocked';
      throw new ParallelizeError('ERR_WORKER_EXIT', `The coordinator thread of parallelizeSync gave no sign of life for ${Math.round(silenceMs / 100) / 10} s; ${why}`);
    }
    Atomics.wait(state, kSyncWakeField, seen, kHeartbeatMs * 5);
  }
}

function rebuild(outcome: Extract<CoordinatorOutcome, { ok: false }>): unknown {
  const error = deserializeError(outcome.error);
  if (outcome.kind === 'parallelize') {
    const cause = error instanceof Error ? error.cause : undefined;
    return new ParallelizeError(outcome.code as ParallelizeErrorCode, outcome.error.message, {
      ...(outcome.index !== undefined && { index: outcome.index }), ...(cause !== undefined && { cause }),
    });
  }
  if (outcome.kind === 'TypeError' || outcome.kind === 'RangeError') {
    const Type = outcome.kind === 'TypeError' ? TypeError : RangeError;
    return Object.assign(new Type(outcome.error.message), { code: outcome.code });
  }
  return error;
}

/**
 * The items of a Proxy of an Array (a reactive framework's state), which cannot be cloned as it is,
 * read one by one into a plain Array, holes kept, as `parallelize` reads them.
 */
function plainItems(data: readonly unknown[]): unknown[] {
  const items: unknown[] = [];
  items.length = data.length;
  for (let i = 0; i < items.length; i++) {
    try {
      if (i in data) items[i] = data[i];
    } catch (error) {
      throw unreadableItem(data, i, i + 1) ?? error;
    }
  }
  return items;
}

/**
 * The error for a call whose `workerData` could not be cloned, naming what could not, as
 * `parallelize` names it: an item that cannot be read or sent, else the context.
 */
function sendFailure(data: Data, options: ParallelizeOptions | undefined, error: unknown): ParallelizeError {
  if (Array.isArray(data)) {
    const unreadable = unreadableItem(data);
    if (unreadable !== undefined) return unreadable;
    const index = data.findIndex((item) => !cloneable(item));
    if (index >= 0) return cannotSend(`data[${index}]`, error, index);
  }
  if (options?.context !== undefined && !cloneable(options.context)) return cannotSend('options.context', error);
  return cannotSend('The data, the function or the options', error);
}
