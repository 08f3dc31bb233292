import type { Job } from './job.js';
import type { Progress } from './options.js';
import type { WorkerHandle } from './worker-handle.js';

/** How often `onProgress` may be called, at most. */
export const kProgressIntervalMs = 100;

/**
 * Reports a call's progress to `onProgress` every kProgressIntervalMs while it runs, and once at
 * the end (`finish`). Progress is the rows of finished chunks, plus, for each worker inside one
 * of the call's chunks, the items it has passed: a worker publishes the index it runs in shared
 * memory, so progress costs no message per item. `workers` is the pool's live set of threads.
 */
export function reportProgress(job: Job, total: number, onProgress: (progress: Progress) => void, workers: Iterable<WorkerHandle>): { finish(): void; stop(): void } {
  let reported = -1;
  const report = (final: boolean): void => {
    const done = final ? total : itemsDone(job, workers);
    if (done === reported || job.settled !== final) return;
    reported = done;
    try {
      onProgress({ done, total });
    } catch (error) {
      // A throwing onProgress fails the call, as a throwing fn does.
      job.fail(error);
      if (final) throw error;
    }
  };
  const ticker = setInterval(() => report(false), kProgressIntervalMs).unref();
  return { finish: () => report(true), stop: () => clearInterval(ticker) };
}

/**
 * The items of a call done so far: the rows of its finished chunks, plus, for each worker inside
 * one of its chunks, the items that worker has passed.
 */
export function itemsDone(job: Job, workers: Iterable<WorkerHandle>): number {
  let done = job.rowsDone;
  for (const worker of workers) {
    const running = worker.running;
    const chunk = worker.held[0];
    if (running?.jobId === job.id && chunk?.jobId === job.id) done += running.index - chunk.start;
  }
  return done;
}
