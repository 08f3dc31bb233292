import { debuglog } from 'node:util';
import type { Worker } from 'node:worker_threads';
import { workerThreads } from './builtins.js';
import { sharedFlagLock } from './collect.js';
import { ParallelizeError } from './errors.js';
import { entryScript, kBootstrapUrl } from './location.js';
import { allocatedSharedBytes, allocatePadded } from './memory.js';
import type { ResourceLimits } from './options.js';
import {
  MessageType, kStatusFieldCount, kStatusIndexField, kStatusJobField, kStatusReadyField, kStatusStartedField,
  type MainMessage, type RunChunkMessage, type WorkerMessage, type WorkerStartup,
} from './protocol.js';

const debug = debuglog('parallelize');

const kEntry = entryScript(kBootstrapUrl);

/** How long a worker gets to leave by itself after SHUTDOWN before we terminate it. */
export const kShutdownGraceMs = 500;

export interface WorkerEvents {
  message(handle: WorkerHandle, message: WorkerMessage): void;
  /**
   * The thread is gone. `expected` is true when we stopped it (close or terminate); otherwise
   * `error` is what it threw, if anything.
   */
  exit(handle: WorkerHandle, exitCode: number, expected: boolean, error: Error | undefined): void;
}

/** One worker thread: its spawn, its messages, its exit, and the chunks it has in hand. */
export class WorkerHandle {
  readonly threadId: number;
  /** Chunks sent and not yet answered, oldest first: the first is the one running. */
  readonly held: RunChunkMessage[] = [];
  /** Chunks sent so far, and where each stands among them: the thread starts them in that order. */
  #sent = 0;
  readonly #positions = new WeakMap<RunChunkMessage, number>();
  readonly #worker: Worker;
  readonly #status = allocatePadded(Float64Array, kStatusFieldCount);
  #stopping: Promise<void> | undefined;
  #error: Error | undefined;
  #exited = false;

  constructor(events: WorkerEvents, resourceLimits: ResourceLimits | undefined) {
    this.#status[kStatusIndexField] = -1;
    const workerData: WorkerStartup = { status: this.#status, sharedBytes: allocatedSharedBytes(), flagLock: sharedFlagLock() };
    this.#worker = new (workerThreads().Worker)(kEntry, { eval: true, workerData, ...(resourceLimits && { resourceLimits }) });
    this.threadId = this.#worker.threadId;
    debug('[%d] worker started', this.threadId);
    this.#worker.on('message', (message: WorkerMessage) => {
      if (message.type !== MessageType.JOB_FAILED) {
        this.held.splice(this.held.findIndex((chunk) => chunk.jobId === message.jobId && chunk.chunkId === message.chunkId), 1);
        // Not once it is stopping: whoever awaits its exit (a pool's close(), a one-shot call's
        // result) would otherwise see the process end first, that promise never settled.
        if (this.held.length === 0 && this.#stopping === undefined) this.#worker.unref();
      }
      events.message(this, message);
    });
    this.#worker.on('error', (error) => { this.#error = error; });
    this.#worker.on('exit', (code) => {
      this.#exited = true;
      debug('[%d] worker exited with code %d', this.threadId, code);
      events.exit(this, code, this.#stopping !== undefined, this.#error);
    });
    // Only a worker with chunks in hand keeps the process alive (send() refs it): one that never
    // got a chunk, because posting the call's setup failed, must not either. This comes after the
    // listeners, because adding a 'message' listener refs the worker's port again.
    this.#worker.unref();
  }

  /** True once the thread has loaded its bootstrap, while it is alive: a chunk sent now starts at once. */
  get ready(): boolean {
    return this.#status[kStatusReadyField] === 1 && !this.#exited;
  }

  /** True once we asked the thread to stop: it takes no more chunks. */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /**
   * Where the thread is, by its own account, against a chunk it holds: not yet at it, in it, or
   * past it (its answer still on the way to us).
   */
  whereIs(chunk: RunChunkMessage): 'before' | 'in' | 'past' {
    const started = this.#status[kStatusStartedField]!;
    const position = this.#positions.get(chunk)!;
    return started < position ? 'before' : started === position ? 'in' : 'past';
  }

  /** The job and item this worker is running, if it is running one. */
  get running(): { jobId: number; index: number } | undefined {
    const index = this.#status[kStatusIndexField]!;
    return index < 0 ? undefined : { jobId: this.#status[kStatusJobField]!, index };
  }

  post(message: MainMessage): void {
    this.#worker.postMessage(message);
  }

  /**
   * Sends a chunk. A busy worker keeps the process alive; an idle one must not (the message
   * handler above unrefs it), so a forgotten pool never blocks the process from exiting.
   */
  send(chunk: RunChunkMessage): void {
    this.#worker.postMessage(chunk);
    this.held.push(chunk);
    this.#positions.set(chunk, ++this.#sent);
    this.#worker.ref();
  }

  /** Asks the thread to leave, then terminates it if it has not within `graceMs`. */
  close(graceMs = kShutdownGraceMs): Promise<void> {
    this.#stopping ??= new Promise<void>((resolve) => {
      if (this.#exited) return resolve();
      const timer = setTimeout(() => {
        debug('[%d] worker did not leave within %d ms; terminating it', this.threadId, graceMs);
        void this.#worker.terminate();
      }, graceMs);
      this.#worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.post({ type: MessageType.SHUTDOWN });
    });
    return this.#stopping;
  }

  /** Stops the thread now, in the middle of whatever it runs (an endless loop cannot be asked). */
  terminate(): Promise<void> {
    debug('[%d] terminating worker', this.threadId);
    this.#stopping ??= this.#exited ? Promise.resolve() : new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    void this.#worker.terminate();
    return this.#stopping;
  }
}

/** The error for the item (or the chunk) a thread was running when it exited by itself. */
export function exitError(exitCode: number, error: Error | undefined, index: number | undefined, chunk?: RunChunkMessage): ParallelizeError {
  const where = index !== undefined ? ` while running item ${index}`
    : chunk ? ` while it held ${chunk.end - chunk.start === 1 ? `item ${chunk.start}` : `items ${chunk.start} to ${chunk.end - 1}`}, outside any call of fn (loading the module, or between items)` : '';
  const options = { ...(index !== undefined && { index }), ...(error && { cause: error }) };
  if ((error as { code?: unknown } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return new ParallelizeError('ERR_WORKER_OOM', `A worker thread ran out of memory${where}; raise \`resourceLimits\` or use less memory per item`, options);
  }
  return new ParallelizeError('ERR_WORKER_EXIT', `A worker thread exited with code ${exitCode}${where}${error ? `: ${error.message}` : ''}`, options);
}
