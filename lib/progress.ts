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
    // Never less than reported before: a worker's place, read between its writes, can lag. Nor
    // `total` before the end, which the call's last report says (answers may still be on their way).
    const done = final ? total : Math.max(reported, Math.min(total - 1, itemsDone(job, workers)));
    if ((done === reported && !final) || job.settled !== final) return;
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
 * The items of a call done so far: the rows of its finished chunks, plus, for each chunk of it that
 * a worker holds, the items that worker has passed in it: all of them once the worker has moved on
 * (the chunk's answer is on its way to us), none before it starts. A worker may be in its second
 * chunk while the first one's answer is in flight, and the two need not be neighbours in the data
 * nor of the same call, so each held chunk is counted against where the worker says it is.
 */
export function itemsDone(job: Job, workers: Iterable<WorkerHandle>): number {
  let done = job.rowsDone;
  for (const worker of workers) {
    const running = worker.running;
    for (const chunk of worker.held) {
      if (chunk.jobId !== job.id) continue;
      const where = worker.whereIs(chunk);
      if (where === 'past') done += chunk.end - chunk.start;
      // The worker writes its place item by item, and may move on between our reads: an index
      // outside this chunk says nothing about it.
      else if (where === 'in' && running?.jobId === job.id && running.index >= chunk.start && running.index < chunk.end) done += running.index - chunk.start;
    }
  }
  return done;
}
