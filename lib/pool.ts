import { debuglog } from 'node:util';
import { collectBeforeCall } from './collect.js';
import { warnIfOversubscribed } from './cores.js';
import { cannotSend, ParallelizeError } from './errors.js';
import { prepareInput } from './input.js';
import { callerGlobalIn } from './caller-globals.js';
import { rememberThreadCost, runOnCallingThread } from './calling-thread.js';
import { Job, withErrors } from './job.js';
import type { CollectedArray, CollectedMatrix, Data, ItemOf, Mapper, ValueMapper } from './types.js';
import { Matrix } from './matrix.js';
import { allocatedSharedBytes, shareContext, SpareBuffer } from './memory.js';
import { resolveOptions, resolvePoolOptions, type CallOptions, type PoolOptions, type ResolvedOptions, type ResourceLimits } from './options.js';
import { planChunks } from './plan.js';
import { itemsDone, reportProgress } from './progress.js';
import { MessageType, type RunChunkMessage, type WorkerMessage } from './protocol.js';
import { toFnSpec, type TaskRef } from './task.js';
import { WarmUp } from './warm-up.js';
import { exitError, kShutdownGraceMs, WorkerHandle } from './worker-handle.js';

const debug = debuglog('parallelize');

// While a worker runs one chunk it may hold the next, so that it need not wait for a round trip
// to us (what it may hold: see #feed).
const kChunksPerWorker = 2;
/** @internal After a call failed, timed out or was aborted, how long a worker may go on with its current item before we terminate it. */
export const kStopGraceMs = 100;
/** @internal Runs a call with options already checked: `parallelize()` checks them itself. */
export const kRun = Symbol('run');

/**
 * Worker threads kept for many calls. Idle workers do not keep the process alive, so a pool that
 * is never closed does not stop the process from exiting.
 *
 * @example
 * ```ts
 * await using pool = createPool({ cores: 8 });
 * const a = await pool.parallelize(subjects, smooth);
 * const b = await pool.parallelize(a, stats);
 * ```
 */
export class Pool {
  /** The most worker threads this pool runs at once. */
  readonly cores: number;
  readonly #resourceLimits: ResourceLimits | undefined;
  readonly #workers = new Set<WorkerHandle>();
  /** Calls in progress, oldest first. */
  readonly #jobs: Job[] = [];
  /** Every call some worker still knows about, settled or not. */
  readonly #jobsById = new Map<number, Job>();
  /** Lent to each call in turn for packing its Array items. */
  readonly #spare = new SpareBuffer();
  #closing: Promise<void> | undefined;
  /** The last call a stray error was reported for, after it settled. */
  #warnedJob = -1;
  /** When to start threads that no call asked for. */
  readonly #warmUp = new WarmUp();

  /** Use `createPool()`, which checks the options the same way. */
  constructor(options?: PoolOptions) {
    const resolved = resolvePoolOptions(options);
    this.cores = resolved.cores;
    this.#resourceLimits = resolved.resourceLimits;
  }

  /**
   * Calls `fn(item, index, context)` for every item of `data` on this pool's workers, and resolves
   * with one row per item. Same contract as `parallelize()`.
   */
  parallelize<D extends Data, Context = unknown>(data: D, fn: Mapper<ItemOf<D>, Context> | TaskRef, options: CallOptions<Context> & { readonly onError: 'collect' }): Promise<CollectedMatrix>;
  parallelize<D extends Data, Context = unknown>(data: D, fn: Mapper<ItemOf<D>, Context> | TaskRef, options?: CallOptions<Context>): Promise<Matrix>;
  async parallelize(data: Data, fn: Mapper<never> | TaskRef, options?: CallOptions): Promise<Matrix> {
    return this[kRun](data, fn, resolveOptions(options, this.cores), false) as Promise<Matrix>;
  }

  /**
   * Like `pool.parallelize()`, for results that are not numbers: resolves with an Array of what
   * `fn` returned (any structured-cloneable value), in input order. Same contract as `map()`.
   */
  map<D extends Data, R, Context = unknown>(data: D, fn: ValueMapper<ItemOf<D>, R, Context> | TaskRef, options: CallOptions<Context> & { readonly onError: 'collect' }): Promise<CollectedArray<Awaited<R> | undefined>>;
  map<D extends Data, R, Context = unknown>(data: D, fn: ValueMapper<ItemOf<D>, R, Context> | TaskRef, options?: CallOptions<Context>): Promise<Awaited<R>[]>;
  async map(data: Data, fn: ValueMapper<never, unknown> | TaskRef, options?: CallOptions): Promise<unknown[]> {
    return this[kRun](data, fn, resolveOptions(options, this.cores), true) as Promise<unknown[]>;
  }

  /** @internal Runs one call; `keepValues` for map(); `lastCall` when the pool is closed right after it (a one-shot call). */
  async [kRun](data: Data, fn: unknown, options: ResolvedOptions, keepValues: boolean, lastCall = false): Promise<Matrix | unknown[]> {
    if (this.#closing) throw new ParallelizeError('ERR_POOL_CLOSED', 'This pool is closed; create another with createPool()');
    const spec = toFnSpec(fn);
    const { signal, timeout } = options;
    if (signal?.aborted) throw signal.reason;
    collectBeforeCall(allocatedSharedBytes());
    const input = prepareInput(data, (length) => this.#spare.take(length));
    if (input.count === 0) {
      options.onProgress?.({ done: 0, total: 0 }); // the call at the end, as every call makes
      const empty = keepValues ? [] : Matrix.alloc(0, 0);
      return options.collect ? withErrors(empty, []) : empty;
    }
    const cores = Math.min(options.cores, input.count);
    const context = shareContext(options.context);
    const job = new Job({ input, fn: spec, context, cores, collect: options.collect, keepValues, lastCall });
    const timer = timeout === undefined ? undefined : setTimeout(() => job.fail(new ParallelizeError('ERR_TIMEOUT',
      `The call did not finish within ${timeout} ms (${itemsDone(job, this.#workers)} of ${input.count} items were done)`)), timeout);
    const onAbort = (): void => job.fail(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const progress = options.onProgress && reportProgress(job, input.count, options.onProgress, this.#workers);
    this.#jobs.push(job);
    this.#jobsById.set(job.id, job);
    try {
      // Not when the caller asked to be able to stop fn or bound its memory: on the calling
      // thread an endless loop could not be terminated, nor an allocation be limited.
      // Nor when fn reads a global that worker threads lack (see callerGlobalIn).
      const callerGlobal = spec.kind === 'inline' && options.callingThread ? callerGlobalIn(spec.source) : undefined;
      if (callerGlobal !== undefined) debug('job %d: fn names `%s`, a global of this thread that worker threads lack; threads take it all', job.id, callerGlobal);
      const here = spec.kind === 'inline' && options.callingThread && callerGlobal === undefined && timeout === undefined && signal === undefined && this.#resourceLimits === undefined;
      const { start, itemNs, forgoneMs } = here ? await runOnCallingThread(job, input, spec.source, context, cores, !this.#warm) : { start: 0, itemNs: undefined, forgoneMs: 0 };
      if (forgoneMs && this.#warmUp.forgo(forgoneMs, !this.#closing && this.#workers.size === 0)) this.#startThreads();
      if (start < input.count && !job.settled) {
        job.takeNewOutput(); // when the calling thread found the shape, workers get the matrix with JOB_START
        input.spec(); // copies typed input to shared memory now: failing to, it rejects the call here, not as a thread is sent the call
        const chunks = planChunks(input.count - start, Math.min(cores, input.count - start), options.chunkSize, itemNs);
        job.itemNs = itemNs;
        job.enqueue(chunks, start);
        debug('job %d: %d items, %d on the calling thread, the rest in %d chunks on up to %d workers', job.id, input.count, start, chunks.length, cores);
        this.#dispatch();
      } else {
        debug('job %d: all %d items on the calling thread', job.id, input.count);
      }
      const result = await job.promise;
      if (here && start < input.count) rememberThreadCost(spec.source, job.threadItemNs);
      progress?.finish();
      return result;
    } finally {
      clearTimeout(timer);
      progress?.stop();
      signal?.removeEventListener('abort', onAbort);
      this.#jobs.splice(this.#jobs.indexOf(job), 1);
      for (const worker of this.#workers) this.#release(job, worker);
      // A call we leave by a throw of our own is stopped, so that no worker reads its items any
      // more; and one that failed meanwhile (the pool closed) was never awaited: abandon() keeps
      // its rejection from going unhandled, which would end the process.
      job.abandon();
      this.#forgetIfDone(job);
      for (const worker of this.#workers) this.#stopIfStraggling(worker);
    }
  }

  /** Stops every worker (calls in progress reject with `ERR_POOL_CLOSED`); resolves when all have exited. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#spare.dispose();
      for (const job of this.#jobs) job.fail(new ParallelizeError('ERR_POOL_CLOSED', 'The pool was closed while this call was running'));
      // A thread still loading would only read SHUTDOWN once loaded: we need nothing from it. One
      // that holds a chunk holds one of a call just failed above or already over: it drops the
      // rest at its next item, then leaves, its output and exit handlers done; but inside an
      // endless item it never would, and the full grace period made every one-shot call that
      // timed out or was aborted settle ~0.5 s late. It gets kStopGraceMs, as a straggler does.
      await Promise.all([...this.#workers].map((worker) => (!worker.ready ? worker.terminate() : worker.close(worker.held.length > 0 ? kStopGraceMs : kShutdownGraceMs))));
    })();
    return this.#closing;
  }

  /** `await using pool = createPool()` closes the pool at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Whether the pool has threads, every one of them loaded: a call sent now starts at once. */
  get #warm(): boolean {
    const live = [...this.#workers].filter((worker) => !worker.stopping);
    return live.length > 0 && live.every((worker) => worker.ready);
  }

  /** Starts every thread, for calls to come: the warm-up rule said so. */
  #startThreads(): void {
    debug('time on the calling thread that would have been saved by running threads adds up to a thread start: starting %d', this.cores);
    try {
      while (this.#workers.size < this.cores) this.#spawn();
    } catch (error) {
      // No call asked for these threads, and the one that led here has its result already.
      debug('could not start a thread: %s', (error as Error).message);
      this.#warmUp.giveUp();
    }
  }

  /** Hands chunks to workers that have room, and starts workers while calls want more. */
  #dispatch(): void {
    for (const worker of this.#workers) if (!worker.stopping) this.#feed(worker);
    // Threads that are stopping still count: they are alive until their exit event.
    while (!this.#closing && this.#workers.size < this.cores && this.#jobs.some((job) => this.#canJoin(job))) this.#feed(this.#spawn());
  }

  #spawn(): WorkerHandle {
    const worker = new WorkerHandle({
      message: (handle, message) => this.#onMessage(handle, message),
      exit: (handle, code, expected, error) => this.#onExit(handle, code, expected, error),
    }, this.#resourceLimits);
    this.#workers.add(worker);
    warnIfOversubscribed(this.#workers.size, this.cores);
    return worker;
  }

  /** True when a call has chunks left and may take one more worker. */
  #canJoin(job: Job): boolean {
    return job.queuedChunks > 0 && job.workers.size < job.cores;
  }

  #feed(worker: WorkerHandle): void {
    while (worker.held.length < kChunksPerWorker) {
      // Oldest call first. A busy worker takes a second chunk only while there are enough for
      // everyone: near the end, a chunk queued behind a long one would leave another core idle.
      // And a whole chunk waits only behind one that was expected to be short when sent, which
      // will soon be done; behind a longer one, only a short piece of it may (Job.queueableRows).
      const running = worker.held[0];
      // Behind a chunk of a call that is over, a chunk would wait until that thread is stopped.
      if (this.#over(running)) return;
      const behindShort = running === undefined || this.#jobsById.get(running.jobId)?.isShort(running) === true;
      const job = this.#jobs.find((candidate) => (candidate.workers.has(worker) ? candidate.queuedChunks > 0 : this.#canJoin(candidate))
        && (running === undefined || (candidate.queuedChunks > candidate.workers.size && (behindShort || candidate.queueableRows > 0))));
      if (job === undefined) return;
      if (!job.workers.has(worker)) {
        try {
          worker.post(job.startMessage);
        } catch (error) {
          job.fail(cannotSend('options.context', error));
          continue;
        }
        job.workers.add(worker);
      }
      let chunk: RunChunkMessage;
      try {
        chunk = job.takeChunk(behindShort ? Infinity : job.queueableRows);
      } catch (error) {
        job.fail(error); // an item that cannot be read (Input.chunkItems)
        continue;
      }
      try {
        worker.send(chunk);
      } catch (error) {
        job.fail(job.cloneFailure(chunk, error));
      }
    }
  }

  #onMessage(worker: WorkerHandle, message: WorkerMessage): void {
    const job = this.#jobsById.get(message.jobId);
    // Only a stray error can come for a call that is over; the caller has its result, so we warn
    // rather than lose the error (once per call: fn may leave one behind for every item).
    if (message.type === MessageType.JOB_FAILED && (job === undefined || job.settled) && this.#warnedJob !== message.jobId) {
      this.#warnedJob = message.jobId;
      process.emitWarning(`${message.failure.message} (after call ${message.jobId} had settled)`, { code: 'PARALLELIZE_STRAY_ERROR' });
    }
    if (job === undefined) return;
    try {
      if (message.type === MessageType.CHUNK_DONE) job.chunkDone(message);
      else if (message.type === MessageType.CHUNK_FAILED || message.type === MessageType.JOB_FAILED) job.chunkFailed(message.failure);
    } catch (error) {
      // A broken invariant of ours must fail the call, not crash the caller's process.
      job.fail(new ParallelizeError('ERR_INTERNAL', `@parallelize/core lost track of a result (${(error as Error).message}); please report this`, { cause: error }));
    }
    const output = job.takeNewOutput();
    if (output !== undefined) {
      for (const other of this.#workers) if (job.workers.has(other) && !other.stopping) other.post({ type: MessageType.JOB_OUTPUT, jobId: job.id, output });
    }
    if (job.settled) {
      this.#release(job, worker);
      this.#forgetIfDone(job);
    }
    this.#stopIfStraggling(worker); // it may have moved on to a chunk of a call that is over
    this.#dispatch();
  }

  /**
   * A thread is gone. Chunks it held go back to their calls' queues, except the one it was
   * running when it died by itself: that item is to blame, and fails.
   */
  #onExit(worker: WorkerHandle, exitCode: number, expected: boolean, error: Error | undefined): void {
    this.#workers.delete(worker);
    // Starting another would likely fail again (a thread that dies before loading, or soon after),
    // and a call that needs threads starts its own.
    if (!expected) this.#warmUp.giveUp();
    const running = worker.running;
    for (const chunk of worker.held) {
      const job = this.#jobsById.get(chunk.jobId)!;
      const culprit = !expected && chunk === worker.held[0];
      if (!culprit) {
        job.requeue(chunk.start, chunk.end);
      } else if (running?.jobId === job.id && running.index >= chunk.start && running.index < chunk.end) {
        job.itemFailed(exitError(exitCode, error, running.index));
        job.requeue(chunk.start, running.index);
        job.requeue(running.index + 1, chunk.end);
      } else {
        job.fail(exitError(exitCode, error, undefined, chunk));
      }
    }
    for (const job of this.#jobsById.values()) {
      job.workers.delete(worker);
      this.#forgetIfDone(job);
    }
    this.#dispatch();
  }

  /** Whether `chunk` belongs to a call that has settled. */
  #over(chunk: RunChunkMessage | undefined): boolean {
    return chunk !== undefined && this.#jobsById.get(chunk.jobId)?.settled === true;
  }

  /**
   * Terminates a thread whose oldest chunk belongs to a call that is over, if a moment later it is
   * inside that chunk, or loaded and still not at it. A failed call's other threads stop at their
   * next item, but one inside a long item (or an endless one, or still loading the call's module),
   * or whose event loop something fn left behind holds, would keep its thread, and the chunks of
   * later calls queued behind it, for as long as that runs: it is lost work, so we take the thread
   * back. Checked when a call settles, and whenever a thread answers (its next chunk, queued behind
   * another call's, may belong to a call that is over).
   */
  #stopIfStraggling(worker: WorkerHandle): void {
    const running = worker.held[0];
    if (running === undefined || !this.#over(running)) return;
    const check = (): void => {
      if (worker.held[0] !== running || worker.stopping || !this.#workers.has(worker)) return;
      // In that chunk by its own account; or loaded and still not at it, its event loop held by
      // something fn left behind: either way it will not answer soon. Past it (its answer on the
      // way to us), or still starting, we look again.
      const where = worker.whereIs(running);
      if (where === 'in' || (where === 'before' && worker.ready)) void worker.terminate();
      else setTimeout(check, kStopGraceMs).unref();
    };
    setTimeout(check, kStopGraceMs).unref(); // a thread with a chunk in hand keeps the process alive by itself
  }

  /** Tells a worker that a settled call is over, once it holds none of the call's chunks. */
  #release(job: Job, worker: WorkerHandle): void {
    if (!job.workers.has(worker) || worker.held.some((chunk) => chunk.jobId === job.id)) return;
    if (!worker.stopping) worker.post({ type: MessageType.JOB_END, jobId: job.id, sharedBytes: allocatedSharedBytes(), release: !job.lastCall });
    job.workers.delete(worker);
  }

  #forgetIfDone(job: Job): void {
    if (!job.settled || job.workers.size > 0 || !this.#jobsById.delete(job.id)) return;
    // No thread holds a chunk of the call any more, so none reads its packed items: reuse them.
    if (job.packed !== undefined) this.#spare.give(job.packed);
  }
}

/**
 * Creates a pool of worker threads to reuse across calls, which saves starting threads each time.
 *
 * @example
 * ```ts
 * const pool = createPool();
 * for (const batch of batches) results.push(await pool.parallelize(batch, analyse));
 * await pool.close();
 * ```
 */
export function createPool(options?: PoolOptions): Pool {
  return new Pool(options);
}
