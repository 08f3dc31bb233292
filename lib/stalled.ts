/**
 * Work on the calling thread that can never settle: an async fn waiting on nothing (no timer, I/O
 * or message) that could ever settle it. The process would end with its call unsettled, the
 * caller's `await` never answered (exit code 13, or 0); we fail the call instead, when Node says
 * the event loop has emptied (`beforeExit`). Not on a worker: there the port to the main thread
 * keeps the loop alive, and letting it go would fail work that still settles (an unref'd timer,
 * `Atomics.waitAsync` notified by another thread), which keeps no handle open.
 */
import type { SerializedFailure } from './protocol.js';

export const kStalled = Symbol('stalled');

/** What to call when the event loop empties: one listener for every wait, however many calls run. */
const waiting = new Set<() => void>();
const onEmpty = (): void => {
  for (const stalled of waiting) stalled();
};

/** What `work` settles to, or kStalled once this thread's event loop has emptied while waiting for it. */
export function untilStalled<T>(work: Promise<T>): Promise<T | typeof kStalled> {
  let stalled!: () => void;
  const emptied = new Promise<typeof kStalled>((resolve) => { stalled = () => resolve(kStalled); });
  if (waiting.size === 0) process.on('beforeExit', onEmpty);
  waiting.add(stalled);
  return Promise.race([work, emptied]).finally(() => {
    waiting.delete(stalled);
    if (waiting.size === 0) process.off('beforeExit', onEmpty);
  });
}

/** The failure of item `index`, whose promise never settled. */
export function stalledItem(index: number): SerializedFailure {
  return {
    code: 'ERR_TASK_FAILED', index,
    message: `fn's promise for item ${index} never settled: it waits on nothing that could settle it (no timer, I/O or message is pending), and the process was about to end`,
  };
}
