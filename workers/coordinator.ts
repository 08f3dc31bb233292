/**
 * The thread that runs one `parallelizeSync` call while its caller is blocked in Atomics.wait.
 * The caller cannot receive events, so everything it needs goes through shared memory: a
 * heartbeat while we run, then the outcome on a port, then the settled state (in that order, so
 * the outcome is there when the caller wakes).
 */
import { writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { compileInline } from '../lib/compile.js';
import { serializeError } from '../lib/errors.js';
import { Matrix, ParallelizeError, parallelize, task, type CollectedMatrix } from '../lib/index.js';
import {
  kHeartbeatMs, kSyncHeartbeatField, kSyncSettled, kSyncStateField, type CoordinatorOutcome, type CoordinatorStartup,
} from '../lib/protocol.js';

const { data, matrix, fn, options, state, port } = workerData as CoordinatorStartup;
// Our workers' output, and ours, reaches the process's stdout and stderr through the caller's
// thread, which is blocked until we are done: it waited there, in memory, and was lost when the
// process exited right after the call. Written to the file descriptors directly, it shows as it
// comes, and all of it before the caller goes on (a one-shot call waits for its workers' exit,
// which delivers their last output first).
process.stdout.write = writeStraightTo(1);
process.stderr.write = writeStraightTo(2);
const heartbeat = setInterval(() => Atomics.add(state, kSyncHeartbeatField, 1), kHeartbeatMs);
let outcome: CoordinatorOutcome;
try {
  const input = matrix ? new Matrix(matrix.data, matrix.rows, matrix.cols) : data;
  // compileInline gives back a function whose source is the caller's, as parallelize needs.
  const mapper = 'source' in fn ? compileInline(fn.source) : task(fn.module, fn.exportName);
  // Never on this thread: a long fn here would stop the heartbeat the caller watches.
  const result = await parallelize(input as never, mapper as never, { ...options, callingThread: false });
  const errors = (result as Partial<CollectedMatrix>).errors?.map(({ index, error }) => ({
    code: error.code, message: error.message, index, ...(error.cause !== undefined && { cause: serializeError(error.cause) }),
  }));
  outcome = { ok: true, rows: result.rows, cols: result.cols, data: result.data, ...(errors && { errors }) };
} catch (error) {
  outcome = describeFailure(error);
}
clearInterval(heartbeat);
port.postMessage(outcome);
port.close();
Atomics.store(state, kSyncStateField, kSyncSettled);
Atomics.notify(state, kSyncStateField);

function describeFailure(error: unknown): CoordinatorOutcome {
  const serialized = serializeError(error);
  if (error instanceof ParallelizeError) {
    return { ok: false, kind: 'parallelize', error: serialized, code: error.code, ...(error.index !== undefined && { index: error.index }) };
  }
  const code = (error as { code?: unknown } | null)?.code;
  const kind = error instanceof TypeError ? 'TypeError' : error instanceof RangeError ? 'RangeError' : 'other';
  return { ok: false, kind, error: serialized, ...(typeof code === 'string' && { code }) };
}

/** A `write` for process.stdout or process.stderr that writes to `fd` at once. */
function writeStraightTo(fd: number): typeof process.stdout.write {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  return ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((error?: Error | null) => void), callback?: (error?: Error | null) => void): boolean => {
    const done = typeof encoding === 'function' ? encoding : callback;
    let bytes = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : chunk;
    try {
      while (bytes.length > 0) {
        try {
          bytes = bytes.subarray(writeSync(fd, bytes));
        } catch (error) {
          // A non-blocking pipe that is full: wait for its reader, as a blocking write would.
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
          Atomics.wait(pause, 0, 0, 1);
        }
      }
      done?.(null);
    } catch (error) {
      done?.(error as Error);
    }
    return true;
  }) as typeof process.stdout.write;
}
