import { debuglog } from 'node:util';
import { ParallelizeError } from './errors.js';
import { prepareInput } from './input.js';
import { Job } from './job.js';
import { Matrix } from './matrix.js';
import { shareContext } from './memory.js';
import { resolveOptions, resolvePoolOptions, type ParallelizeOptions, type PoolOptions } from './options.js';
import { planChunks } from './plan.js';
import { MessageType, type RunChunkMessage, type WorkerMessage } from './protocol.js';
import { toFnSpec, type TaskRef } from './task.js';
import { WorkerHandle } from './worker-handle.js';

const debug = debuglog('parallelize');

/** A numeric view whose elements are items (`BigInt64Array` elements arrive as bigints). */
export type TypedArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array
  | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** What `fn` may return for one item: a number, an array-like of numbers, or a regular nested array of them. */
export type Row = number | ArrayLike<number> | readonly Row[];

/** The item `fn` receives for each kind of `data`. */
export type ItemOf<Data> =
  Data extends Matrix ? Float64Array
    : Data extends BigInt64Array | BigUint64Array ? bigint
      : Data extends TypedArray ? number
        : Data extends readonly (infer Item)[] ? Item
          : never;

/** The function mapped over the items. It runs in a worker thread, so it must be self-contained. */
export type Mapper<Item, Context = unknown> = (item: Item, index: number, context: Context) => Row | Promise<Row>;

/** The data `parallelize` accepts: an Array, a typed array, or a `Matrix` (one item per row). */
export type Data = readonly unknown[] | TypedArray | Matrix;

// While a worker runs one chunk it holds the next, so it never waits for a round trip to us.
const kChunksPerWorker = 2;

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
  readonly #workers = new Set<WorkerHandle>();
  /** Calls in progress, oldest first. */
  readonly #jobs: Job[] = [];
  /** Every call some worker still holds chunks of, settled or not. */
  readonly #jobsById = new Map<number, Job>();
  #closing: Promise<void> | undefined;

  /** @internal Use `createPool()`. */
  constructor(options?: PoolOptions) {
    this.cores = resolvePoolOptions(options).cores;
  }

  /**
   * Calls `fn(item, index, context)` for every item of `data` on this pool's workers, and resolves
   * with one row per item. Same contract as `parallelize()`.
   */
  async parallelize<D extends Data, Context = unknown>(
    data: D,
    fn: Mapper<ItemOf<D>, Context> | TaskRef,
    options?: ParallelizeOptions<Context>,
  ): Promise<Matrix> {
    if (this.#closing) throw new ParallelizeError('ERR_POOL_CLOSED', 'This pool is closed; create another with createPool()');
    const resolved = resolveOptions(options, this.cores);
    const spec = toFnSpec(fn);
    const input = prepareInput(data);
    if (input.count === 0) return Matrix.alloc(0, 0);
    const cores = Math.min(resolved.cores, input.count);
    const chunks = planChunks(input.count, cores, resolved.chunkSize);
    const job = new Job(input, spec, shareContext(resolved.context), chunks, cores);
    debug('job %d: %d items in %d chunks on up to %d workers', job.id, input.count, chunks.length, cores);
    this.#jobs.push(job);
    this.#jobsById.set(job.id, job);
    this.#dispatch();
    try {
      return await job.promise;
    } finally {
      this.#jobs.splice(this.#jobs.indexOf(job), 1);
      for (const worker of job.inFlight.keys()) this.#release(job, worker);
      if (job.inFlight.size === 0) this.#jobsById.delete(job.id);
    }
  }

  /** Stops every worker (calls in progress reject with `ERR_POOL_CLOSED`); resolves when all have exited. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const job of this.#jobs) job.fail(new ParallelizeError('ERR_POOL_CLOSED', 'The pool was closed while this call was running'));
      await Promise.all([...this.#workers].map((worker) => worker.close()));
      this.#workers.clear();
    })();
    return this.#closing;
  }

  /** `await using pool = createPool()` closes the pool at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Hands chunks to workers that have room, and starts workers while calls want more. */
  #dispatch(): void {
    for (const worker of this.#workers) this.#feed(worker);
    while (!this.#closing && this.#workers.size < this.cores && this.#jobs.some((job) => this.#canJoin(job))) {
      const worker = new WorkerHandle({
        message: (handle, message) => this.#onMessage(handle, message),
        exit: (handle, code, error) => this.#onExit(handle, code, error),
      });
      this.#workers.add(worker);
      this.#feed(worker);
    }
  }

  /** True when a call has chunks left and may take one more worker. */
  #canJoin(job: Job): boolean {
    return job.remainingChunks > 0 && job.inFlight.size < job.cores;
  }

  #feed(worker: WorkerHandle): void {
    while (worker.inFlight < kChunksPerWorker) {
      // Oldest call first. A busy worker takes a second chunk only while there are enough for
      // everyone: near the end, a chunk queued behind a long one would leave another core idle.
      const job = this.#jobs.find((candidate) => (candidate.inFlight.has(worker) ? candidate.remainingChunks > 0 : this.#canJoin(candidate))
        && (worker.inFlight === 0 || candidate.remainingChunks > candidate.inFlight.size));
      if (job === undefined) break;
      if (!job.inFlight.has(worker)) {
        try {
          worker.post(job.startMessage);
        } catch (error) {
          job.fail(new ParallelizeError('ERR_DATA_CLONE', `options.context cannot be sent to a worker thread: ${(error as Error).message}`, { cause: error }));
          continue;
        }
        job.inFlight.set(worker, 0);
      }
      const chunk = job.takeChunk();
      if (!this.#send(worker, job, chunk)) continue;
      job.inFlight.set(worker, job.inFlight.get(worker)! + 1);
      worker.inFlight++;
      worker.setBusy(true);
    }
  }

  #send(worker: WorkerHandle, job: Job, chunk: RunChunkMessage): boolean {
    try {
      worker.post(chunk);
      return true;
    } catch (error) {
      job.fail(job.cloneFailure(chunk, error));
      return false;
    }
  }

  #onMessage(worker: WorkerHandle, message: WorkerMessage): void {
    worker.inFlight--;
    const job = this.#jobsById.get(message.jobId)!;
    job.inFlight.set(worker, job.inFlight.get(worker)! - 1);
    if (message.type === MessageType.CHUNK_DONE) job.chunkDone(message.chunkId, message.cols, message.values);
    else if (message.type === MessageType.CHUNK_FAILED) job.chunkFailed(message.failure);
    if (job.settled) this.#release(job, worker);
    if (worker.inFlight === 0) worker.setBusy(false);
    this.#dispatch();
  }

  #onExit(worker: WorkerHandle, exitCode: number, error: Error | undefined): void {
    this.#workers.delete(worker);
    const index = worker.currentIndex;
    for (const job of this.#jobsById.values()) {
      const held = job.inFlight.get(worker);
      job.inFlight.delete(worker);
      if (job.inFlight.size === 0 && job.settled) this.#jobsById.delete(job.id);
      if (!held) continue;
      const where = index >= 0 ? ` while running item ${index}` : '';
      const why = error ? `: ${error.message}` : '';
      job.fail(new ParallelizeError('ERR_WORKER_EXIT', `A worker thread exited with code ${exitCode}${where}${why}`, {
        ...(index >= 0 && { index }), ...(error && { cause: error }),
      }));
    }
    this.#dispatch();
  }

  /** Tells a worker that a settled call is over, once it holds none of the call's chunks. */
  #release(job: Job, worker: WorkerHandle): void {
    if (job.inFlight.get(worker) !== 0) return;
    worker.post({ type: MessageType.JOB_END, jobId: job.id });
    job.inFlight.delete(worker);
    if (job.inFlight.size === 0) this.#jobsById.delete(job.id);
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
