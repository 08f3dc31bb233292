import { cannotSend, cloneable, failureToError, ParallelizeError } from './errors.js';
import type { ItemError } from './types.js';
import type { Input } from './input.js';
import type { Matrix } from './matrix.js';
import { allocateShared } from './memory.js';
import { ResultAssembler } from './merge.js';
import type { Chunk } from './plan.js';
import {
  MessageType, kCancelledField, kControlFieldCount,
  type ChunkDoneMessage, type FnSpec, type JobStartMessage, type OutputSpec, type RunChunkMessage, type SerializedFailure,
} from './protocol.js';
import type { ChunkOutcome } from '../workers/run-chunk.js';

let nextJobId = 1;

/** The longest a chunk of shared-memory items may be expected to run and still wait in a busy worker's queue. */
export const kQueueBehindMs = 2;

export interface JobSettings {
  readonly input: Input;
  readonly fn: FnSpec;
  readonly context: unknown;
  readonly cores: number;
  readonly collect: boolean;
  /** `map()`: results are kept as they are, in an Array, instead of rows of a Matrix. */
  readonly keepValues: boolean;
  /** The pool is closed once this call is over, and its threads with it (a one-shot call). */
  readonly lastCall?: boolean;
}

/** Attaches the failures of a collect-mode call to its result (a Matrix, or map()'s Array). */
export function withErrors<T extends object>(result: T, errors: readonly ItemError[]): T & { readonly errors: readonly ItemError[] } {
  return Object.defineProperty(result, 'errors', { value: errors, enumerable: false }) as T & { readonly errors: readonly ItemError[] };
}

/** One call of `parallelize`: its chunks, where they are, and its result. */
export class Job {
  readonly id = nextJobId++;
  /** The most workers this call may use at once. */
  readonly cores: number;
  /** Settles with a Matrix, or with an Array for `map()`. */
  readonly promise: Promise<Matrix | unknown[]>;
  /** Workers that got JOB_START, and are told JOB_END once the call is over. */
  readonly workers = new Set<unknown>();
  readonly #chunks = new Map<number, Chunk>();
  #nextChunkId = 0;
  /** Sent chunks that were expected, when sent, to take no more than kQueueBehindMs. */
  readonly #sentShort = new Set<number>();
  /** Chunks not yet sent, in the order they go out. */
  readonly #queue: Chunk[] = [];
  /** What JOB_START carries besides the input and the flags below. */
  readonly #call: Pick<JobSettings, 'fn' | 'context'>;
  /** Built when the first worker joins: reading the input's spec may take shared memory (input.ts). */
  #start: JobStartMessage | undefined;
  readonly #input: Input;
  readonly #control = allocateShared(Int32Array, kControlFieldCount);
  readonly #assembler: ResultAssembler;
  readonly collect: boolean;
  readonly keepValues: boolean;
  readonly lastCall: boolean;
  /** `map()`'s results, in input order. */
  readonly #list: unknown[] | undefined;
  readonly #errors: ItemError[] = [];
  #rowsSettled = 0;
  /** What one item costs, in ns: the calling thread's measure, then the last chunk a worker ran. */
  #itemNs: number | undefined;
  /** Ms that workers spent on this call's chunks, and the rows of those chunks. */
  #threadMs = 0;
  #threadRows = 0;
  #settled = false;
  #outputAnnounced = false;
  #resolve!: (result: Matrix | unknown[]) => void;
  #reject!: (error: unknown) => void;

  constructor(settings: JobSettings) {
    this.cores = settings.cores;
    this.#input = settings.input;
    this.collect = settings.collect;
    this.keepValues = settings.keepValues;
    this.lastCall = settings.lastCall ?? false;
    this.#list = settings.keepValues ? Array.from({ length: settings.input.count }) : undefined;
    this.#assembler = new ResultAssembler(settings.input.count);
    this.#call = { fn: settings.fn, context: settings.context };
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // The call awaits this only once the calling thread has run its share: a failure before then
    // (the pool closed, onProgress threw) must not count as an unhandled rejection, which ends
    // the process. Awaiting it later still rejects.
    this.promise.catch(() => {});
  }

  /** The shared array this call's Array items are packed into, if they are. */
  get packed(): Float64Array | undefined {
    return this.#input.packed();
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** Items finished so far, failed ones included. */
  get rowsDone(): number {
    return this.#rowsSettled;
  }

  get queuedChunks(): number {
    return this.#settled ? 0 : this.#queue.length;
  }

  /** The message that sets the call up on a worker, with the result matrix once it exists. */
  get startMessage(): JobStartMessage {
    const { fn, context } = this.#call;
    this.#start ??= {
      type: MessageType.JOB_START, jobId: this.id, fn, input: this.#input.spec(), context,
      collect: this.collect, keepValues: this.keepValues, control: this.#control,
    };
    const output = this.#assembler.output;
    return output === undefined ? this.#start : { ...this.#start, output };
  }

  /** Where rows go, once the first finished rows told us how wide one is. */
  get output(): OutputSpec | undefined {
    return this.#assembler.output;
  }

  /** The result matrix, the first time this is asked after it came to exist: to tell the workers. */
  takeNewOutput(): OutputSpec | undefined {
    if (this.#outputAnnounced || this.#settled) return undefined;
    const output = this.#assembler.output;
    if (output !== undefined) this.#outputAnnounced = true;
    return output;
  }

  /**
   * What an item cost on the threads over the whole call, in ns: the workers' time over the rows
   * they ran (undefined before any). Not the last chunk's cost, which `queueableRows` follows: a
   * tail chunk of a row or two, or one from a thread sharing its core, can be off several times.
   */
  get threadItemNs(): number | undefined {
    return this.#threadRows === 0 ? undefined : (this.#threadMs * 1e6) / this.#threadRows;
  }

  /** Tells the call what one item was measured to cost on the calling thread, in ns (see `queueableRows`). */
  set itemNs(ns: number | undefined) {
    this.#itemNs = ns;
  }

  /**
   * How many rows a chunk may hold and still wait in the queue of a worker that is running
   * another. Queuing hides the message's round trip, and for Array items the packing or cloning
   * of the next chunk; but a queued chunk is promised to that worker, and when the worker runs
   * slower than the others (a shared core, a busy machine), they idle at the end while it
   * catches up: on 2 cores, with one thread 1.7× slower, the other idled 55 ms of a 188 ms call.
   * Items in shared memory cost nothing to prepare, so there only kQueueBehindMs of work may wait
   * (none before the cost is known), and the pool queues a piece of the next chunk that long
   * (see `takeChunk`).
   */
  get queueableRows(): number {
    if (this.#input.items !== undefined) return Infinity;
    return this.#itemNs === undefined ? 0 : Math.floor((kQueueBehindMs * 1e6) / Math.max(this.#itemNs, 1));
  }

  /**
   * Whether `chunk` was expected, when it was sent, to take no more than kQueueBehindMs: a worker
   * running it will soon be free, so a whole chunk may wait behind it. Decided at sending, not by
   * the latest cost: a chunk does not turn short because others turned out cheap.
   */
  isShort(chunk: RunChunkMessage): boolean {
    return this.#sentShort.has(chunk.chunkId);
  }

  /**
   * The next chunk's message; Array items sent with it are cloned when it is posted. With
   * `maxRows`, a longer chunk is split: its first `maxRows` rows go, the rest stays first in line.
   */
  takeChunk(maxRows = Infinity): RunChunkMessage {
    const head = this.#queue[0]!;
    let { id, start, end } = head;
    if (end - start > maxRows) {
      this.#chunks.delete(id);
      ({ id, start, end } = this.#register(start, start + maxRows));
      this.#queue[0] = this.#register(end, head.end);
    } else {
      this.#queue.shift();
    }
    if (this.#itemNs !== undefined && (end - start) * this.#itemNs <= kQueueBehindMs * 1e6) this.#sentShort.add(id);
    const items = this.#input.chunkItems(start, end);
    return { type: MessageType.RUN_CHUNK, jobId: this.id, chunkId: id, start, end, ...(items && { items }) };
  }

  /** Queues planned chunks for the workers, shifted to start at item `offset`. */
  enqueue(chunks: readonly Chunk[], offset: number): void {
    for (const { start, end } of chunks) this.#queue.push(this.#register(offset + start, offset + end));
  }

  /** Puts rows [start, end) back at the front of the queue, as a new chunk: its worker died. */
  requeue(start: number, end: number): void {
    if (this.#settled || start >= end) return;
    this.#queue.unshift(this.#register(start, end));
  }

  /** Takes the outcome of rows [start, end) run on the calling thread. */
  doneHere(start: number, end: number, outcome: ChunkOutcome): void {
    const chunk = this.#register(start, outcome.status === 'done' ? outcome.end : end);
    if (outcome.status === 'failed') return this.chunkFailed(outcome.failure);
    if (outcome.status === 'cancelled') return;
    this.chunkDone({
      type: MessageType.CHUNK_DONE, jobId: this.id, chunkId: chunk.id, cols: outcome.cols, values: outcome.values,
      inPlace: outcome.inPlace, failures: outcome.failures, ...(outcome.list && { list: outcome.list }),
    });
  }

  #register(start: number, end: number): Chunk {
    const chunk = { id: this.#nextChunkId++, start, end };
    this.#chunks.set(chunk.id, chunk);
    return chunk;
  }

  chunkDone(message: ChunkDoneMessage): void {
    if (this.#settled) return;
    const chunk = this.#chunks.get(message.chunkId)!;
    if (this.#list !== undefined) {
      for (let k = 0; k < chunk.end - chunk.start; k++) this.#list[chunk.start + k] = message.list![k];
    } else {
      const failure = this.#assembler.place(chunk, message.cols, message.inPlace ? undefined : message.values, message.failures.map((f) => f.index!));
      if (failure !== undefined) return this.fail(failureToError(failure));
    }
    for (const item of message.failures) this.#errors.push({ index: item.index!, error: failureToError(item) });
    this.#rowsSettled += chunk.end - chunk.start;
    // The latest chunk, not an average: item costs may change along the data.
    if (message.ms !== undefined) {
      this.#itemNs = (message.ms * 1e6) / (chunk.end - chunk.start);
      this.#threadMs += message.ms;
      this.#threadRows += chunk.end - chunk.start;
    }
    this.#finishIfDone();
  }

  /** An item failed: in collect mode it is recorded and the call goes on, otherwise the call fails. */
  itemFailed(error: ParallelizeError): void {
    if (this.#settled) return;
    if (!this.collect || error.index === undefined) return this.fail(error);
    this.#assembler.placeFailed(error.index);
    this.#errors.push({ index: error.index, error });
    this.#rowsSettled++;
    this.#finishIfDone();
  }

  chunkFailed(failure: SerializedFailure): void {
    this.fail(failureToError(failure));
  }

  /** Settles the call with `error` (the first failure wins) and tells every worker to drop its chunks. */
  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    // Workers read this flag before each item, so they drop the rest of our chunks at once.
    Atomics.store(this.#control, kCancelledField, 1);
    this.#reject(error);
  }

  /**
   * Cancels a call whose caller already got another error: workers drop its chunks, and nothing
   * awaits its promise. A call already settled only has its rejection, if any, marked handled.
   */
  abandon(): void {
    this.promise.catch(() => {});
    // Every call ends here: an error made for nothing captures a stack trace (a few µs).
    if (!this.#settled) this.fail(new ParallelizeError('ERR_INTERNAL', 'The call was abandoned'));
  }

  /** Finds which of a chunk's items cannot be sent to a worker, after `postMessage` said one cannot. */
  cloneFailure(chunk: RunChunkMessage, error: unknown): ParallelizeError {
    const index = chunk.start + Math.max(0, (chunk.items ?? []).findIndex((item) => !cloneable(item)));
    return cannotSend(`data[${index}]`, error, index);
  }

  #finishIfDone(): void {
    if (this.#rowsSettled < this.#input.count) return;
    this.#settled = true;
    const result = this.#list ?? this.#assembler.finish();
    this.#resolve(this.collect ? withErrors(result, this.#errors.sort((a, b) => a.index - b.index)) : result);
  }
}
