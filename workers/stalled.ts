/**
 * Work that can never settle: an async fn, or a task module's top-level await, waiting on nothing
 * (no timer, I/O or message) that could ever settle it. A call would wait for it forever, as the
 * caller cannot tell it from slow work; its thread's event loop can: it empties.
 */
import type { SerializedFailure } from '../lib/protocol.js';

export const kStalled = Symbol('stalled');

/**
 * What `work` settles to, or kStalled once this thread's event loop has emptied while waiting for
 * it (`beforeExit`). On a worker this needs its port to the main thread unref'd meanwhile, which
 * otherwise keeps the loop alive.
 */
export function untilStalled<T>(work: Promise<T>): Promise<T | typeof kStalled> {
  let stalled!: () => void;
  const emptied = new Promise<typeof kStalled>((resolve) => { stalled = () => resolve(kStalled); });
  process.once('beforeExit', stalled);
  return Promise.race([work, emptied]).finally(() => process.off('beforeExit', stalled));
}

const kWaitsOnNothing = 'waits on nothing that could settle it (no timer, I/O or message is pending in its thread)';

/** The failure of item `index`, whose promise never settled. */
export function stalledItem(index: number): SerializedFailure {
  return { code: 'ERR_TASK_FAILED', index, message: `fn's promise for item ${index} never settled: it ${kWaitsOnNothing}` };
}

/** The failure of a task module whose top-level await never settled. */
export function stalledModule(url: string): SerializedFailure {
  return { code: 'ERR_TASK_LOAD', message: `Task module ${url} never finished loading: its top-level await ${kWaitsOnNothing}` };
}
