import { debuglog } from 'node:util';
import { Worker } from 'node:worker_threads';
import { allocateShared } from './memory.js';
import { MessageType, type MainMessage, type WorkerMessage, type WorkerStartup } from './protocol.js';

const debug = debuglog('parallelize');

// The bootstrap sits beside us after compilation: dist/lib/x.js → dist/workers/bootstrap.js.
// Workers inherit the parent's execArgv, and a file entry point fails under `--input-type`
// (as in `node --input-type=module -e ...`), while an evaluated one is unaffected; so the entry
// point is a one-line script that imports the bootstrap.
const kEntry = `import(${JSON.stringify(new URL('../workers/bootstrap.js', import.meta.url).href)})`;

/** How long a worker gets to leave by itself after SHUTDOWN before we terminate it. */
export const kShutdownGraceMs = 500;

export interface WorkerEvents {
  message(handle: WorkerHandle, message: WorkerMessage): void;
  /** The thread ended without being asked to; `error` is what it threw, if anything. */
  exit(handle: WorkerHandle, exitCode: number, error: Error | undefined): void;
}

/** One worker thread: its spawn, its messages, its exit, and how many chunks it has in hand. */
export class WorkerHandle {
  readonly #worker: Worker;
  readonly #currentIndex = allocateShared(Float64Array, 1);
  #closing: Promise<void> | undefined;
  #error: Error | undefined;
  #exited = false;
  /** Chunks sent and not yet answered. */
  inFlight = 0;

  constructor(events: WorkerEvents) {
    this.#currentIndex[0] = -1;
    const startup: WorkerStartup = { currentIndex: this.#currentIndex };
    this.#worker = new Worker(kEntry, { eval: true, workerData: startup });
    this.threadId = this.#worker.threadId;
    debug('[%d] worker started', this.threadId);
    this.#worker.on('message', (message: WorkerMessage) => events.message(this, message));
    this.#worker.on('error', (error) => { this.#error = error; });
    this.#worker.on('exit', (code) => {
      this.#exited = true;
      debug('[%d] worker exited with code %d', this.threadId, code);
      if (this.#closing === undefined) events.exit(this, code, this.#error);
    });
  }

  readonly threadId: number;

  /** The index of the item this worker is running, or -1 between chunks. */
  get currentIndex(): number {
    return this.#currentIndex[0]!;
  }

  post(message: MainMessage): void {
    this.#worker.postMessage(message);
  }

  /** Busy workers keep the process alive; idle ones must not, so a forgotten pool never blocks exit. */
  setBusy(busy: boolean): void {
    if (busy) this.#worker.ref();
    else this.#worker.unref();
  }

  /** Asks the thread to leave, then terminates it if it has not within the grace period. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      if (this.#exited) return resolve();
      const timer = setTimeout(() => {
        debug('[%d] worker did not leave within %d ms; terminating it', this.threadId, kShutdownGraceMs);
        void this.#worker.terminate();
      }, kShutdownGraceMs);
      this.#worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.post({ type: MessageType.SHUTDOWN });
    });
    return this.#closing;
  }
}
