import { failureToError, ParallelizeError } from './errors.js';
import type { Input } from './input.js';
import type { Matrix } from './matrix.js';
import { allocateShared } from './memory.js';
import { ResultAssembler } from './merge.js';
import type { Chunk } from './plan.js';
import {
  MessageType, kCancelledField, kControlFieldCount, kRowsDoneField,
  type FnSpec, type JobStartMessage, type RunChunkMessage, type SerializedFailure,
} from './protocol.js';
import type { WorkerHandle } from './worker-handle.js';

let nextJobId = 1;

/** One call of `parallelize`: its chunks, where they are, and its result. */
export class Job {
  readonly id = nextJobId++;
  /** The most workers this call may use at once. */
  readonly cores: number;
  readonly promise: Promise<Matrix>;
  /** Workers that got JOB_START, with how many of our chunks each has in hand. */
  readonly inFlight = new Map<WorkerHandle, number>();
  readonly #chunks: readonly Chunk[];
  readonly #start: JobStartMessage;
  readonly #input: Input;
  readonly #control = allocateShared(Int32Array, kControlFieldCount);
  readonly #assembler: ResultAssembler;
  #nextChunk = 0;
  #chunksDone = 0;
  #settled = false;
  #resolve!: (matrix: Matrix) => void;
  #reject!: (error: unknown) => void;

  constructor(input: Input, fn: FnSpec, context: unknown, chunks: readonly Chunk[], cores: number) {
    this.cores = cores;
    this.#chunks = chunks;
    this.#input = input;
    this.#assembler = new ResultAssembler(input.count);
    this.#start = { type: MessageType.JOB_START, jobId: this.id, fn, input: input.spec, context, control: this.#control };
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  get settled(): boolean {
    return this.#settled;
  }

  get remainingChunks(): number {
    return this.#settled ? 0 : this.#chunks.length - this.#nextChunk;
  }

  get startMessage(): JobStartMessage {
    return this.#start;
  }

  /** The next chunk's message; the items of `array` inputs are cloned when it is posted. */
  takeChunk(): RunChunkMessage {
    const { id, start, end } = this.#chunks[this.#nextChunk++]!;
    const items = this.#input.items?.slice(start, end);
    return { type: MessageType.RUN_CHUNK, jobId: this.id, chunkId: id, start, end, ...(items && { items }) };
  }

  chunkDone(chunkId: number, cols: number, values: Float64Array): void {
    if (this.#settled) return;
    const failure = this.#assembler.place(this.#chunks[chunkId]!, cols, values);
    if (failure !== undefined) return this.chunkFailed(failure);
    if (++this.#chunksDone === this.#chunks.length) {
      this.#settled = true;
      this.#resolve(this.#assembler.finish(Atomics.load(this.#control, kRowsDoneField)));
    }
  }

  chunkFailed(failure: SerializedFailure): void {
    this.fail(failureToError(failure));
  }

  /** Settles the call with `error` (the first failure wins) and tells every worker to stop its chunks. */
  fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    // Workers read this flag before each item, so they drop the rest of our chunks at once.
    Atomics.store(this.#control, kCancelledField, 1);
    this.#reject(error);
  }

  /** Finds which of a chunk's items cannot be sent to a worker, after `postMessage` said one cannot. */
  cloneFailure(chunk: RunChunkMessage, error: unknown): ParallelizeError {
    const items = chunk.items ?? [];
    let index = chunk.start;
    for (let k = 0; k < items.length; k++) {
      try {
        structuredClone(items[k]);
      } catch {
        index = chunk.start + k;
        break;
      }
    }
    return new ParallelizeError('ERR_DATA_CLONE', `data[${index}] cannot be sent to a worker thread: ${(error as Error).message}`, { index, cause: error });
  }
}
