/**
 * The thread that runs one `parallelizeSync` call while its caller is blocked in Atomics.wait.
 * The caller cannot receive events, so everything it needs goes through shared memory and ports
 * it reads without events: a heartbeat while we run, output as it comes, then the outcome, then
 * the settled state (in that order, so the outcome is there when the caller wakes).
 */
import { workerData } from 'node:worker_threads';
import { compileInline } from '../lib/compile.js';
import { serializeError } from '../lib/errors.js';
import { Matrix, ParallelizeError, parallelize, task, type CollectedMatrix } from '../lib/index.js';
import {
  kHeartbeatMs, kSyncHeartbeatField, kSyncSettled, kSyncStateField, wakeCaller, type CoordinatorOutcome, type CoordinatorOutput, type CoordinatorStartup,
} from '../lib/protocol.js';

const { data, matrix, fn, options, state, port, output } = workerData as CoordinatorStartup;

/**
 * Called by the thread's entry script (lib/location.ts): runs the call, then reports it. The task
 * importer the script hands every thread goes unused here: the workers this call starts import.
 */
export async function start(): Promise<void> {
  // Our workers' output, and ours, reaches the process's stdout and stderr through events on the
  // caller's thread, which is blocked: it came after the caller's own next output, and was lost when
  // the process ended right after the call. We post it to the caller instead, which writes it while
  // it waits, and all of it before the call returns (a one-shot call waits for its workers' exit,
  // which delivers their last output to us first).
  process.stdout.write = forwardTo('stdout');
  process.stderr.write = forwardTo('stderr');
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
  output.close();
  Atomics.store(state, kSyncStateField, kSyncSettled);
  wakeCaller(state);
}

function describeFailure(error: unknown): CoordinatorOutcome {
  const serialized = serializeError(error);
  if (error instanceof ParallelizeError) {
    return { ok: false, kind: 'parallelize', error: serialized, code: error.code, ...(error.index !== undefined && { index: error.index }) };
  }
  const code = (error as { code?: unknown } | null)?.code;
  const kind = error instanceof TypeError ? 'TypeError' : error instanceof RangeError ? 'RangeError' : 'other';
  return { ok: false, kind, error: serialized, ...(typeof code === 'string' && { code }) };
}

/** A `write` for process.stdout or process.stderr that posts each chunk to the caller and wakes it. */
function forwardTo(stream: CoordinatorOutput['stream']): typeof process.stdout.write {
  return ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((error?: Error | null) => void), callback?: (error?: Error | null) => void): boolean => {
    const done = typeof encoding === 'function' ? encoding : callback;
    const bytes = typeof chunk === 'string' && typeof encoding === 'string' ? Buffer.from(chunk, encoding) : chunk;
    // A Buffer is often a slice of a larger pool, all of which a clone would copy: we send a copy of its own bytes.
    output.postMessage({ stream, chunk: typeof bytes === 'string' ? bytes : new Uint8Array(bytes) } satisfies CoordinatorOutput);
    wakeCaller(state);
    if (done !== undefined) queueMicrotask(() => done(null));
    return true;
  }) as typeof process.stdout.write;
}
