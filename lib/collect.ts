import { readFileSync } from 'node:fs';
import { debuglog } from 'node:util';
import { runInNewContext } from 'node:vm';
import { v8, workerThreads } from './builtins.js';

const debug = debuglog('parallelize');

/** This thread's id, for debug lines: read only when they are on, as it loads `worker_threads`. */
const thread = (): number => (debug.enabled ? workerThreads().threadId : -1);

/**
 * V8 starts a garbage collection when a thread's heap grows, or its ArrayBuffer memory, but it does
 * not count SharedArrayBuffer memory (nodejs/node#34703). Every result of ours lives on a fresh
 * SharedArrayBuffer, which stays allocated until every thread that was sent it has collected its
 * handle, and a thread that allocates little JavaScript rarely collects: an idle worker never does.
 * A pool making 100 calls with results of 8 MiB reached 867 MiB of RSS, nearly all of it garbage. So once
 * this many bytes of shared memory have been allocated since a thread last collected, it collects,
 * as V8 itself would for as much ArrayBuffer memory.
 */
export const kCollectAfterBytes = 64 * 2 ** 20;

/**
 * V8's `gc()`: a full collection now when called bare, or soon after as a task of its own. A
 * synchronous `{ type: 'major' }` left the ArrayBuffers of old objects allocated.
 */
type Collect = (options?: { type: 'major'; execution: 'async' } | { type: 'minor' }) => void;

/** V8's `gc()` once found, or null where it cannot be had (then we never try again). */
let found: Collect | null | undefined;
let attempts = 0;
/** Tries before we take an empty context for a runtime that ignores the flag (Deno). */
const kMaxAttempts = 3;

/**
 * V8's `gc()` function, without `--expose-gc` on the command line: a context created while the flag
 * is set has one. The flag is unset again at once, so no other code sees a `gc` it did not ask for.
 * Undefined where none can be had, or where `PARALLELIZE_GC=0` turns collecting off.
 */
export function garbageCollector(): Collect | undefined {
  if (found === undefined && attempts++ < kMaxAttempts) found = findCollector();
  return found ?? undefined;
}

/**
 * A lock around setting the flag, shared by every thread of this library that one thread started
 * (workers get it in their startup data): when the threads of a pool looked for gc() at once, one
 * thread's unset landed between another's set and its look in half of the runs.
 */
let flagLock: Int32Array | undefined;

/** This thread's lock around the flag, for the threads it starts. */
export function sharedFlagLock(): Int32Array {
  return (flagLock ??= new Int32Array(new SharedArrayBuffer(4)));
}

/** Takes the lock of the thread that started this one. */
export function useFlagLock(lock: Int32Array): void {
  flagLock = lock;
}

function withFlagLock<T>(body: () => T): T {
  const lock = sharedFlagLock();
  while (Atomics.compareExchange(lock, 0, 0, 1) !== 0) Atomics.wait(lock, 0, 1, 5);
  try {
    return body();
  } finally {
    Atomics.store(lock, 0, 0);
    Atomics.notify(lock, 0);
  }
}

/**
 * The process's own flags: a worker's `process.execArgv` holds only what it was started with
 * (`[]` in a Worker started with `execArgv: []`, even under `node --freeze-flags-after-init`).
 */
function processFlags(): string[] {
  let commandLine: string[] = [];
  try {
    commandLine = readFileSync('/proc/self/cmdline', 'latin1').split('\0');
  } catch { /* not Linux: execArgv is all we know */ }
  return [...process.execArgv, ...commandLine];
}

/** @internal Looks for V8's `gc()`: null where it cannot be had, undefined where it may be next time. The parameters are for specs. */
export function findCollector(
  versions: NodeJS.ProcessVersions = process.versions, env: NodeJS.ProcessEnv = process.env, flags: readonly string[] = processFlags(),
  exposed: unknown = (globalThis as { gc?: unknown }).gc, setFlags = (flags: string) => v8().setFlagsFromString(flags),
): Collect | null | undefined {
  if (env.PARALLELIZE_GC === '0') return null;
  if (typeof exposed === 'function') return exposed as Collect;
  const inContext = (): unknown => runInNewContext('typeof gc === "function" ? gc : undefined');
  // The caller may have set the flag at run time: then we take its gc, and leave the flag alone.
  const already = inContext();
  if (typeof already === 'function') return already as Collect;
  // Setting a flag where V8's flags are frozen aborts the process: in Electron and NW.js, or when asked.
  const frozen = /--freeze[-_]flags[-_]after[-_]init\b/;
  if (versions.electron !== undefined || versions.nw !== undefined || flags.some((flag) => frozen.test(flag)) || frozen.test(env.NODE_OPTIONS ?? '')) return null;
  try {
    return withFlagLock(() => {
      setFlags('--expose-gc');
      try {
        const collect = inContext();
        // Undefined where setting flags does nothing (Deno), or where code of the caller's own
        // unset it meanwhile: try again later, a few times.
        return typeof collect === 'function' ? (collect as Collect) : undefined;
      } finally {
        setFlags('--no-expose-gc');
      }
    });
  } catch {
    return null;
  }
}

/**
 * A function to call with the running total of shared bytes this thread knows were allocated. Once
 * that total has grown by `kCollectAfterBytes` since `from` or the last collection, or by the size
 * of this thread's heap if larger, it asks V8 for a full collection, which runs as a task of its
 * own soon after (not inside the caller's call), or at once with `now`: a thread that blocks in
 * one parallelizeSync call after another never runs such a task. It also collects at once when
 * the task it asked for last time has had no chance to run. Dropped shared memory then stays
 * below about the heap's own size, and the time spent collecting, which grows with the heap
 * (~1 ms per MiB on our 2-core VM), stays in proportion to the memory given back. A
 * young-generation collection is not enough: a result that the caller held across a collection or
 * two is promoted, and only a full one frees it.
 */
export function collectorFor(from = 0, collector: () => Collect | undefined = garbageCollector, heapBytes = usedHeapBytes): (allocatedBytes: number, now?: boolean) => void {
  let collectedAt = from;
  // Whether the event loop has turned since we last asked for a collection as a task. A caller
  // awaiting one call after another that all ran on the calling thread never lets a task run: its
  // collections piled up until the loop ended (200 calls of 8 MiB each: calls slowed from ~4 to ~40 ms).
  let turned = true;
  return (allocatedBytes, now = false) => {
    const grown = allocatedBytes - collectedAt;
    if (grown < kCollectAfterBytes || grown < heapBytes()) return;
    collectedAt = allocatedBytes;
    const collect = collector();
    const atOnce = now || !turned;
    debug('thread %d: %s after %d MiB of shared memory', thread(), collect ? `collecting garbage ${atOnce ? 'now' : 'soon'}` : 'cannot collect garbage', Math.round(grown / 2 ** 20));
    if (collect === undefined) return;
    if (atOnce) return collect();
    collect({ type: 'major', execution: 'async' });
    turned = false;
    setImmediate(() => (turned = true)).unref();
  };
}

function usedHeapBytes(): number {
  return v8().getHeapStatistics().used_heap_size;
}

/** Called on the calling thread as each call starts, with `allocatedSharedBytes()` (and `now` for a blocking call). */
export const collectBeforeCall = collectorFor();

/** Shared allocations at least this big are worth a young-generation collection first (see `recyclerFor`). */
export const kRecycleMinBytes = 2 ** 20;

/**
 * A function to call before allocating `bytes` of shared memory, with the running total of shared
 * bytes this thread allocated so far. The first write to fresh memory faults its pages in (~2.5 ms
 * per MiB on our 2-core VM), while memory the allocator got back is already in place. A result the
 * caller dropped stays allocated until V8 collects its handle, which V8 does not hurry (see
 * `kCollectAfterBytes`); but the handle is young, and a young-generation collection frees it. So
 * before a big allocation, when at least as much was allocated since the last such collection, we
 * run one, and the allocator can hand that memory out again: in one loop of calls of 1,000,000
 * cheap items, from ~23.8 to ~1.9 ms a call. A call that copies its input into shared memory runs a
 * second one before its result, which frees nothing of its own but, we think, lets V8 finish giving
 * back what the first freed (it does so on another thread): with one collection at the start of the
 * call only, the allocator gave the memory of the last input and result back to the system in
 * most calls, and the loop took ~14 ms a call instead of ~3. Each costs ~0.2 ms here with few young
 * objects, and more with many (median 1.5 ms with 100,000 live ones, which it also promotes early),
 * and frees nothing when the caller keeps its results or a full collection freed them already.
 * (A WeakRef cannot tell that a full one ran: its target stays alive until the event loop turns,
 * which an await loop of calling-thread calls never lets it.)
 */
export function recyclerFor(collector: () => Collect | undefined = garbageCollector): (bytes: number, allocatedBytes: number) => void {
  let recycledAt = 0;
  return (bytes, allocatedBytes) => {
    if (bytes < kRecycleMinBytes || allocatedBytes - recycledAt < bytes) return;
    recycledAt = allocatedBytes;
    collectYoung(collector, `before allocating ${Math.round(bytes / 2 ** 20)} MiB`);
  };
}

/** A young-generation collection, where gc() can be had, and a debug line that says why. */
function collectYoung(collector: () => Collect | undefined, why: string): void {
  const collect = collector();
  debug('thread %d: %s %s', thread(), collect ? 'young-generation collection' : 'cannot collect garbage', why);
  collect?.({ type: 'minor' });
}

/** Called by this thread before each shared allocation (memory.ts). */
export const recycleBeforeAllocating = recyclerFor();

/**
 * A worker has let go of a call's result matrix of `bytes`: frees its young handle if the matrix is
 * big, so that the calling thread's allocator gets the memory back for a later result (see
 * `recyclerFor`). An idle worker would otherwise keep it until its next full collection.
 */
export function releaseDropped(bytes: number, collector: () => Collect | undefined = garbageCollector): void {
  if (bytes >= kRecycleMinBytes) collectYoung(collector, `after letting go of ${Math.round(bytes / 2 ** 20)} MiB`);
}
