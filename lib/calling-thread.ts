import { debuglog } from 'node:util';
import { now } from './clock.js';
import { compileCached } from './compile.js';
import { failureToError, ParallelizeError } from './errors.js';
import { unreadableItem, type Input } from './input.js';
import type { Job } from './job.js';
import { allocateShared } from './memory.js';
import { isPlainArray, packRecords } from './records.js';
import { finishHere, kMaxProbeMs, kMinProbeItems, kProbeMs, kStepMs, kWarmCallMs, kWarmUpNs, nextBatch, steadyCost, threadsMs } from './here-or-threads.js';
import { kControlFieldCount, kStatusFieldCount, kStatusIndexField } from './protocol.js';
import { itemReader, typedItems } from '../workers/items.js';
import { runChunk, unsendableResults, type ChunkOutcome } from '../workers/run-chunk.js';
import { kStalled, stalledItem, untilStalled } from './stalled.js';

const debug = debuglog('parallelize');

/** Items each compiled function has run on this thread, across calls: a warm function needs no wait. */
const itemsRunHere = new WeakMap<object, number>();
/** What an item of each compiled function cost here in its last call that ran some here, in ns (as `finishHere` was told). */
const hereCosts = new WeakMap<object, number>();

/** What an item of each compiled function cost on threads, in ns, in the last call of it that they took, where that was kRememberNs or more. */
const threadCosts = new WeakMap<object, number>();
/**
 * Items that cost less on threads are timed on the calling thread in every call (at most ~1–2 ms
 * while threads wait), and a call of cheap items that threads took measures mostly the overhead of
 * its chunks (tens of µs for a chunk of a row or two), which must not pass for a costly function.
 */
const kRememberNs = 100_000;

/**
 * Remembers what an item of the inline function `source` cost on threads in a call they took (the
 * workers' time over their rows), for its next call (see `runOnCallingThread`); forgets it where
 * that is unknown or under kRememberNs. Called for calls that the calling thread could have run, whose
 * function it has compiled already.
 */
export function rememberThreadCost(source: string, itemNs: number | undefined): void {
  const fn = compileCached(source);
  if (itemNs !== undefined && itemNs >= kRememberNs) threadCosts.set(fn, itemNs);
  else threadCosts.delete(fn);
}

/**
 * Runs the first items of an inline-function call on the calling thread, timing them, and
 * finishes the call here when threads would not be faster (see `finishHere`). The function is
 * compiled from its source, exactly as in a worker, so it sees the same empty scope, and the
 * context is a structured clone, as a worker gets. Array items are the caller's own, not clones:
 * cloning them would cost more than cheap work itself. Returns the index of the first item left
 * for the threads (the item count when none is), and what an item was measured to cost; for a
 * call finished here while the pool had no threads ready, the ms that running threads would have
 * saved (`forgoneMs`), by which the pool decides to start its threads.
 */
export async function runOnCallingThread(job: Job, input: Input, source: string, context: unknown, cores: number, coldStart: boolean): Promise<{ start: number; itemNs?: number; forgoneMs?: number }> {
  const fn = compileCached(source);
  // On running threads, a function that the threads took last time, at kRememberNs or more an item
  // there, is not timed again: the rule of finishHere decides from that cost. Timing it kept every
  // thread idle, and for long, as the first items run slowly here, where one or two run per call,
  // too few for V8 to keep fn optimized: in the bench's subjects case, 10–35 ms for an item that
  // takes 0.9 ms on a thread, in every call. Should this call's items be cheap after all, running
  // threads cost it little: ~0.5 ms, and ~50 ns an item shared among them. Not where threads must
  // be started first: a memory wrong by this much (a function whose cost depends on its context,
  // or on its rows' width) would cost a cheap call a thread start, ~50–100 ms.
  // What sending an item costs, measured once per call.
  let sendNs: number | undefined;
  const costBefore = coldStart ? undefined : threadCosts.get(fn);
  if (costBefore !== undefined) {
    sendNs = timeSending(input, 0);
    if (!finishHere({ remaining: input.count, itemNs: costBefore, sendNs, cores: Math.min(cores, input.count), coldStart })) {
      debug('job %d: its function took %s ns an item on threads last time; threads take it all', job.id, costBefore.toFixed(0));
      return { start: 0, itemNs: costBefore };
    }
  }
  let clonedContext: unknown;
  try {
    clonedContext = structuredClone(context);
  } catch {
    return { start: 0 }; // the threads report it as ERR_DATA_CLONE
  }
  // Items are read where they are: asking for the threads' spec would copy them to shared memory.
  // Not for map() over a Matrix: a result that is a view of its row (a subarray) is cloned with
  // the whole buffer under it, shared memory but once, the caller's own every batch.
  const local = input.local();
  const spec = job.keepValues && local.kind === 'matrix' ? input.spec() : local;
  const getItem = itemReader(spec)(input.items, 0);
  // A plain Array is read in place like a typed array: through getItem, fn's numbers loop calls a
  // closure that each call makes anew, and in about half the processes V8 then ran 1,000,000
  // cheap items in ~8 ms instead of ~2.
  const items = typedItems(spec) ?? (input.items !== undefined && isPlainArray(input.items) ? input.items : undefined);
  const control = allocateShared(Int32Array, kControlFieldCount);
  const status = allocateShared(Float64Array, kStatusFieldCount);
  /**
   * Runs items [start, end), or fewer when they take over twice kStepMs, and returns where it
   * stopped and the ms that fn took, leaving out merging (which allocates the result, once).
   */
  const run = async (start: number, end: number): Promise<{ spent: number; end: number }> => {
    const started = now();
    // An async fn waiting on nothing that could settle it would end the process with the call
    // unsettled (its event loop empties): the call fails instead (see stalled.ts).
    const ran = await untilStalled(runChunk({
      fn, context: clonedContext, getItem, typedItems: items, onCallingThread: true, start, end, control, status,
      inline: true, collect: job.collect, output: job.output,
      keepValues: job.keepValues, budgetMs: 2 * kStepMs,
    }));
    const outcome: ChunkOutcome = ran === kStalled ? { status: 'failed', failure: stalledItem(status[kStatusIndexField]!) } : ran;
    const spent = now() - started;
    const stop = outcome.status === 'done' ? outcome.end : end;
    // Before its rows count: the caller may have transferred its typed array while fn awaited.
    // Failing the job, not throwing: a failure that came first (the pool closed) stays the call's.
    const misread = inputChanged(input) ?? unreadableAmong(input, outcome);
    if (misread !== undefined) {
      job.fail(misread);
      return { spent, end: stop };
    }
    itemsRunHere.set(fn, (itemsRunHere.get(fn) ?? 0) + stop - start);
    // map()'s results are cloned here as they would be when sent back from a worker: the same
    // result never comes back shared with the input, and one that cannot be sent fails here too.
    let sent = outcome;
    if (outcome.status === 'done' && outcome.list !== undefined) {
      try {
        sent = { ...outcome, list: structuredClone(outcome.list) };
      } catch (error) {
        // In collect mode each such item fails alone, else the first fails the call.
        const { sendable, failures } = unsendableResults(outcome.list, start, outcome.end, error);
        if (!job.collect || failures[0]!.index === undefined) {
          job.fail(failureToError(failures[0]!));
          return { spent, end: stop };
        }
        sent = { ...outcome, list: structuredClone(sendable), failures: [...outcome.failures, ...failures] };
      }
    }
    job.doneHere(start, end, sent);
    return { spent, end: stop };
  };
  let done = 0;
  let elapsed = 0;
  let previousNs = Infinity;
  const recentNs: number[] = [];
  let cheapestNs = Infinity;
  // Batches double from a single item (the first may be slow), or go on from about kProbeMs / 2 of
  // work for a function that ran here before (see nextBatch), up to kStepMs of work each at the
  // last batch's cost (so items that grow costlier cannot make one batch overshoot by much). After
  // kProbeMs we decide after every batch, from the cheapest of the last three batches: recent,
  // because items may grow costlier along the data (then we hand the rest over instead of running
  // it all here), and the cheapest, because one batch can be slowed by a garbage collection. While
  // the cost per item still falls fast, or before kMinProbeItems, the JIT is still compiling fn:
  // we wait (up to kMaxProbeMs), or unoptimized first items would make cheap work look worth threads.
  const knownNs = hereCosts.get(fn);
  for (let batch = 1, batches = 1; done < input.count && !job.settled; batches++) {
    const ranBefore = itemsRunHere.get(fn) ?? 0;
    const { spent, end } = await run(done, Math.min(input.count, done + batch));
    const batchNs = (spent * 1e6) / (end - done);
    recentNs.push(batchNs);
    if (recentNs.length > 3) recentNs.shift();
    const itemNs = Math.min(...recentNs);
    hereCosts.set(fn, itemNs);
    cheapestNs = Math.min(cheapestNs, batchNs);
    elapsed += spent;
    done = end;
    const warming = elapsed < kMaxProbeMs && (batchNs < 0.9 * previousNs || (ranBefore < kMinProbeItems && cheapestNs < kWarmUpNs));
    previousNs = batchNs;
    if (elapsed >= kProbeMs && !warming && done < input.count) {
      sendNs ??= timeSending(input, done);
      const remaining = input.count - done;
      if (!finishHere({ remaining, itemNs, sendNs, cores: Math.min(cores, remaining), coldStart })) {
        debug('job %d: items cost %s ns (sending %s ns) after %d on the calling thread; threads take the rest', job.id, itemNs.toFixed(0), sendNs.toFixed(0), done);
        return { start: done, itemNs: steadyCost(batchNs, cheapestNs, itemNs) };
      }
    }
    batch = nextBatch(batch, batchNs, knownNs, batches === 1);
  }
  // Finished here for want of threads: what threads already running would have saved, counted
  // only where they would have taken the call, and at the steady cost per item. The call's own
  // time also holds the JIT's warm-up, pauses and other calls' batches, none of which threads
  // would have saved: counting it started threads for cheap calls that never went to them.
  let forgoneMs = 0;
  if (coldStart && job.rowsDone === input.count && elapsed > kWarmCallMs) {
    sendNs ??= timeSending(input, 0);
    const itemNs = Math.min(...recentNs);
    const hereMs = (input.count * itemNs) / 1e6;
    const onThreadsMs = threadsMs({ remaining: input.count, itemNs, sendNs, cores: Math.min(cores, input.count), coldStart: false });
    if (hereMs > onThreadsMs) forgoneMs = Math.max(0, Math.min(elapsed, hereMs) - onThreadsMs);
  }
  return { start: input.count, forgoneMs };
}

/**
 * What sending one of the next items to a worker costs, in ns: packing it twice over (packing and
 * unpacking cost about the same) for records, else a structured clone; Infinity when one cannot
 * be sent. Packing goes to memory of its own, so that a call that stays here takes none for it.
 */
function timeSending(input: Input, from: number): number {
  if (input.items === undefined) return 0;
  const end = Math.min(input.count, from + 64);
  const started = now();
  let items: unknown[];
  try {
    items = input.items.slice(from, end); // as a chunk's items are taken (Input.chunkItems)
  } catch {
    return Infinity; // an item whose getter throws: the calling thread reads it next, and reports it
  }
  // packRecords returns false, never throws, for items it cannot read: the clone below then fails.
  if (input.shape !== undefined) {
    const scratch = { ...input.shape, values: new Float64Array(items.length * input.shape.stride) };
    // Timed the second time: right after a full garbage collection, the first took 5–10 times
    // longer (~10 µs for 64 numbers, which pack at ~1 ns each), and sent moderate work to no thread.
    if (packRecords(scratch, items, 0, items.length)) {
      const packing = now();
      packRecords(scratch, items, 0, items.length);
      return (2 * (now() - packing) * 1e6) / items.length;
    }
  }
  try {
    structuredClone(items);
  } catch {
    return Infinity;
  }
  return ((now() - started) * 1e6) / (end - from);
}

/** The error that says the caller's typed input changed under this call, if it did. */
function inputChanged(input: Input): unknown {
  try {
    input.checkUnchanged();
    return undefined;
  } catch (error) {
    return error;
  }
}

/**
 * The error for an item that failed here because reading it threw (a getter, or a Proxy's trap),
 * which is the data's fault, not fn's: on threads, the chunk's clone finds it. Such an item is read
 * again to tell, after the fact, so that the loop reads every other item at full speed.
 */
function unreadableAmong(input: Input, outcome: ChunkOutcome): ParallelizeError | undefined {
  if (input.items === undefined || outcome.status === 'cancelled') return undefined;
  const failures = outcome.status === 'failed' ? [outcome.failure] : outcome.failures;
  for (const { index } of failures) {
    const error = index === undefined ? undefined : unreadableItem(input.items, index, index + 1);
    if (error !== undefined) return error;
  }
  return undefined;
}
