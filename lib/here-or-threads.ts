/**
 * The rule that decides where a call's items run, kept apart from the machinery that runs them
 * (calling-thread.ts): whether the calling thread finishes a call or hands it to threads, how
 * its timing batches grow, and which measured cost may size the threads' chunks. Pure functions
 * of measured costs, so each can change, and be tested, alone.
 */

/** How long we time items on the calling thread before deciding (one slow item may take longer). */
export const kProbeMs = 1;
/** Once decided, how often we look again, in ms of work: item costs may change along the data. */
export const kStepMs = 2;
/** The longest we keep timing while the cost per item still falls (the JIT is still warming up). */
export const kMaxProbeMs = 10;
/**
 * Until a function has run this many items on this thread, its cost is no measure (unless
 * kMaxProbeMs has passed): the first items run in V8's interpreter, and the optimized loop only
 * arrives after ~20,000 items or ~9 ms. In a fresh process `x * 2 + 1` measured 200 ns per item
 * after 4,000 items (then 4 ns), which handed a 1,000,000-item call to threads. Items whose
 * cheapest batch cost more than kWarmUpNs each are real work, and need no such wait.
 */
export const kMinProbeItems = 32_768;
export const kWarmUpNs = 20_000;

/**
 * What a batch of one item may cost beyond the item itself, in ns: its setup and clock reads, a
 * few µs, but 20–28 µs right after a full collection (2-core VM), and more under coverage.
 */
export const kLoneItemNs = 200_000;

/**
 * How many items the calling thread runs in its next batch, after a batch of `batch` items that
 * took `batchNs` each: twice as many, up to kStepMs of work at that cost. After a call's first
 * batch (one item, as one item may take long, and whose result fixes the width of the rows), a
 * function that ran here before (`knownNs`, its cost here then) goes on at about half of
 * kProbeMs of work at that cost, up to kStepMs: doubling from one item every call, a call of
 * 1,000,000 cheap items ran ~20 batches, each with its promise, objects and looks at the clock,
 * and a lone item's time, mostly a batch's own overhead, is no measure of a cheap one. Unless
 * that first item took clearly more than the known cost (kLoneItemNs more): a function cheap last
 * time and costly now doubles from one item, as a new one does. (The budget of a batch stopped
 * such items only every 16 items but for rows of one number: ~54 ms for items of 3 ms.)
 */
export function nextBatch(batch: number, batchNs: number, knownNs: number | undefined, first: boolean): number {
  if (first && knownNs !== undefined && batchNs <= knownNs + kLoneItemNs) {
    const itemNs = Math.max(knownNs, 1);
    return Math.max(2, Math.min(Math.floor((kProbeMs * 1e6) / 2 / itemNs), Math.floor((kStepMs * 1e6) / itemNs)));
  }
  return Math.max(1, Math.min(2 * batch, Math.floor((kStepMs * 1e6) / Math.max(batchNs, 1))));
}

/** What starting threads costs a call, in ms: spawn, first compile, and stopping them (measured ~40–100 ms here). */
export const kThreadStartMs = 50;
/** What a call on threads that are already running costs, in ms: messages both ways, merging. */
export const kWarmCallMs = 0.5;
/** What each item costs on threads beyond fn itself, in ns, for shared-memory input (measured 36–49 ns). */
export const kItemOverheadNs = 50;

export interface Estimate {
  /** Items left after the probe. */
  readonly remaining: number;
  /** Measured cost of fn per item on the calling thread, in ns. */
  readonly itemNs: number;
  /** Measured cost of sending one item to a worker, both ends, in ns: a structured clone, or packing and unpacking it (0 for shared-memory input). */
  readonly sendNs: number;
  /** Threads that would run the rest. */
  readonly cores: number;
  /** Whether those threads would have to be started first. */
  readonly coldStart: boolean;
}

/**
 * Whether the calling thread should finish a call itself: when the rest would take it no longer
 * than threads would. Threads cost a fixed start (or a warm call) plus a per-item overhead, and
 * for Array input the calling thread must also serialize or pack every item (about half of the cost
 * of sending it), which no number of threads makes faster.
 */
export function finishHere(estimate: Estimate): boolean {
  const { remaining, itemNs } = estimate;
  return (remaining * itemNs) / 1e6 <= threadsMs(estimate);
}

/** What the rest of a call would take on threads, in ms, by the rule of `finishHere`. */
export function threadsMs({ remaining, itemNs, sendNs, cores, coldStart }: Estimate): number {
  const serializeMs = (remaining * sendNs) / 2 / 1e6;
  const computeMs = (remaining * (itemNs + kItemOverheadNs + sendNs / 2)) / cores / 1e6;
  return (coldStart ? kThreadStartMs : kWarmCallMs) + Math.max(serializeMs, computeMs);
}

/**
 * The measured cost per item that chunks may be sized by: none when the last batch cost clearly
 * more per item than the cheapest one, as items that grow costlier along the data must not size
 * the chunks (the tail would be cut into chunks sized for the cheap first items, and one core
 * would finish long after the others: the bench's uneven case fell from 0.97 to 0.88).
 */
export function steadyCost(lastBatchNs: number, cheapestBatchNs: number, itemNs: number): number | undefined {
  return lastBatchNs > 1.5 * cheapestBatchNs ? undefined : itemNs;
}
