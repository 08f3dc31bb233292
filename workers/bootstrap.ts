/**
 * The script every worker thread runs. It owns no policy: the main thread decides which chunk
 * runs where; we load each call's function once, run the chunks we are sent one after another,
 * and answer every RUN_CHUNK with exactly one message, so the main thread's count of chunks in
 * flight can never drift.
 */
import { debuglog } from 'node:util';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { now } from '../lib/clock.js';
import { collectorFor, releaseDropped, useFlagLock } from '../lib/collect.js';
import { serializeError } from '../lib/errors.js';
import type { ImportTask } from '../lib/location.js';
import { allocatedSharedBytes } from '../lib/memory.js';
import {
  MessageType, kStatusIndexField, kStatusJobField, kStatusReadyField, kStatusStartedField,
  type JobStartMessage, type MainMessage, type OutputSpec, type RunChunkMessage, type SerializedFailure, type WorkerMessage, type WorkerStartup,
} from '../lib/protocol.js';
import { itemReader, typedItems, type ItemReader } from './items.js';
import { loadFunction } from './load-function.js';
import { runChunk, unsendableResults } from './run-chunk.js';

interface Job {
  readonly fn: (item: unknown, index: number, context: unknown) => unknown;
  readonly inline: boolean;
  readonly collect: boolean;
  readonly keepValues: boolean;
  readonly context: unknown;
  readonly control: Int32Array;
  readonly itemReader: ItemReader;
  readonly typedItems: ArrayLike<unknown> | undefined;
}

const debug = debuglog('parallelize');
/** How long a thread told to leave waits for its event loop to empty before it exits anyway, in ms. */
const kLeaveMs = 50;
const port = parentPort!;
const { status, sharedBytes, flagLock } = workerData as WorkerStartup;
// A job's load starts as soon as JOB_START arrives, so a module import overlaps the first chunk's trip.
const jobs = new Map<number, Promise<Job | SerializedFailure>>();
// Each call's result matrix, once the main thread has it; read when a chunk starts.
const outputs = new Map<number, OutputSpec>();
// Chunks run strictly one at a time, in arrival order, even when fn is async.
let queue: Promise<void> = Promise.resolve();
// An idle thread never collects garbage by itself, and every call's result matrix would stay
// allocated for as long as we hold a handle to it (see collect.ts). Memory the main thread
// allocated before we started is none of ours: a one-shot call's threads would collect for nothing.
const collect = collectorFor(sharedBytes);

// An error that escapes fn's call (a throwing timer, a rejected promise fn did not await) would
// end the thread, and be blamed on whichever item runs then. We blame the call that last ran here
// instead, by name of what happened, and keep the thread.
function onStray(error: unknown): void {
  const cause = serializeError(error);
  const message = `an error escaped fn's call (from a timer or a promise it did not await): ${cause.isError ? `${cause.name}: ${cause.message}` : cause.message}`;
  port.postMessage({ type: MessageType.JOB_FAILED, jobId: status[kStatusJobField]!, failure: { code: 'ERR_TASK_FAILED', message, cause } } satisfies WorkerMessage);
}

/** Called by the thread's entry script (lib/location.ts), with what to import task modules with. */
export function start(importTask: ImportTask): void {
  useFlagLock(flagLock);
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);

  port.on('message', (message: MainMessage) => {
    switch (message.type) {
      case MessageType.JOB_START:
        jobs.set(message.jobId, loadJob(message, importTask));
        if (message.output) outputs.set(message.jobId, message.output);
        break;
      case MessageType.JOB_OUTPUT:
        outputs.set(message.jobId, message.output);
        break;
      case MessageType.RUN_CHUNK: {
        // Look the job up now, not when the chunk's turn comes: JOB_END may arrive in between.
        const job = jobs.get(message.jobId);
        if (job === undefined) throw new Error(`RUN_CHUNK for unknown job ${message.jobId}`);
        queue = queue.then(() => runAndReport(job, message));
        break;
      }
      case MessageType.JOB_END: {
        // Only its size: a handle to the result still held here would survive the collection.
        const resultBytes = outputs.get(message.jobId)?.values.byteLength;
        jobs.delete(message.jobId);
        outputs.delete(message.jobId);
        collect(message.sharedBytes + allocatedSharedBytes());
        // Not in the threads of a one-shot call, about to be shut down: they would first look for
        // gc() (~5 ms in a fresh thread), and then collect what their exit frees anyway.
        if (resultBytes !== undefined && message.release) releaseDropped(resultBytes);
        break;
      }
      case MessageType.SHUTDOWN:
        // Closing the port empties our event loop, so the thread exits by itself; unlike
        // terminate(), a normal exit lets V8 write coverage and runs exit handlers. Unless a
        // task module left a timer or a socket open: then we leave all the same, rather than
        // make the pool wait its grace period (kShutdownGraceMs) for every one-shot call.
        port.close();
        setTimeout(() => process.exit(0), kLeaveMs).unref();
        break;
      default:
        throw new Error(`Unknown message type ${(message as { type: unknown }).type}`);
    }
  });

  // Last, once every listener is in place: the pool counts a thread as warm from here.
  status[kStatusReadyField] = 1;
}

async function loadJob(message: JobStartMessage, importTask: ImportTask): Promise<Job | SerializedFailure> {
  const loaded = await loadFunction(message.fn, importTask);
  if ('code' in loaded) return loaded;
  return {
    ...loaded, context: message.context, collect: message.collect, keepValues: message.keepValues, control: message.control,
    itemReader: itemReader(message.input), typedItems: typedItems(message.input),
  };
}

async function runAndReport(pending: Promise<Job | SerializedFailure>, chunk: RunChunkMessage): Promise<void> {
  const { jobId, chunkId } = chunk;
  let reply: WorkerMessage;
  let collect = false;
  status[kStatusJobField] = jobId;
  status[kStatusStartedField]! += 1;
  try {
    const job = await pending;
    if ('code' in job) {
      reply = { type: MessageType.CHUNK_FAILED, jobId, chunkId, failure: job };
    } else {
      collect = job.collect;
      const started = now();
      const outcome = await runChunk({
        fn: job.fn,
        context: job.context,
        inline: job.inline,
        collect: job.collect,
        keepValues: job.keepValues,
        getItem: job.itemReader(chunk.items, chunk.start),
        typedItems: chunk.items === undefined ? job.typedItems : undefined, // a chunk sent with its items reads those
        start: chunk.start,
        end: chunk.end,
        control: job.control,
        status,
        output: outputs.get(jobId),
      });
      debug('[%d] job %d chunk %d: rows %d-%d %s in %s ms', threadId, jobId, chunkId, chunk.start, chunk.end, outcome.status, (now() - started).toFixed(1));
      if (outcome.status === 'done') {
        reply = {
          type: MessageType.CHUNK_DONE, jobId, chunkId, cols: outcome.cols, values: outcome.values, inPlace: outcome.inPlace,
          failures: outcome.failures, ...(outcome.list && { list: outcome.list }), ms: now() - started,
        };
      } else if (outcome.status === 'failed') {
        reply = { type: MessageType.CHUNK_FAILED, jobId, chunkId, failure: outcome.failure };
      } else {
        reply = { type: MessageType.CHUNK_SKIPPED, jobId, chunkId };
      }
    }
  } catch (error) {
    // A bug of ours, not of fn: still answer, so the caller gets an error instead of a hang.
    reply = { type: MessageType.CHUNK_FAILED, jobId, chunkId, failure: { code: 'ERR_TASK_FAILED', message: `internal error in worker: ${String(error)}`, cause: serializeError(error) } };
  }
  status[kStatusIndexField] = -1;
  // Nothing is transferred: the rows sit on a SharedArrayBuffer (see run-chunk.ts).
  try {
    port.postMessage(reply);
  } catch (error) {
    // Only map() results can fail to clone: in collect mode each such item fails alone, else the
    // first fails the chunk (and the call).
    const list = reply.type === MessageType.CHUNK_DONE ? reply.list ?? [] : [];
    const { sendable, failures } = unsendableResults(list, chunk.start, chunk.end, error);
    port.postMessage(collect && reply.type === MessageType.CHUNK_DONE && failures[0]!.index !== undefined
      ? { ...reply, list: sendable, failures: [...reply.failures, ...failures] }
      : { type: MessageType.CHUNK_FAILED, jobId, chunkId, failure: failures[0]! });
  }
}
