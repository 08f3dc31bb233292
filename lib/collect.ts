import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * V8 starts a garbage collection when a thread's heap grows, or its ArrayBuffer memory, but it does
 * not count SharedArrayBuffer memory (nodejs/node#34703). Every result of ours lives on a fresh
 * SharedArrayBuffer, which stays allocated until every thread that was sent it has collected its
 * handle, and a thread that allocates little JavaScript rarely collects: an idle worker never does.
 * A pool making 100 calls with results of 8 MiB grew to 900 MiB of RSS, all of it garbage. So once
 * this many bytes of shared memory have been allocated since a thread last collected, it collects,
 * as V8 itself would for as much ArrayBuffer memory.
 */
export const kCollectAfterBytes = 64 * 2 ** 20;

type Collect = () => void;

/** V8's `gc()` once found, or null where it cannot be had (then we never try again). */
let found: Collect | null | undefined;

/**
 * V8's `gc()` function, without `--expose-gc` on the command line: a context created while the flag
 * is set has one. The flag is unset again at once, so no other code sees a `gc` it did not ask for.
 * Undefined where none can be had.
 */
export function garbageCollector(): Collect | undefined {
  found ??= findCollector();
  return found ?? undefined;
}

/**
 * @internal Looks for V8's `gc()`: null where it cannot be had, undefined where it may be next time.
 * The parameters are for specs.
 */
export function findCollector(versions: NodeJS.ProcessVersions = process.versions, exposed: unknown = (globalThis as { gc?: unknown }).gc, setFlags = setFlagsFromString): Collect | null | undefined {
  if (typeof exposed === 'function') return exposed as Collect;
  // Electron and NW.js freeze V8's flags once started, and setting one then aborts the process.
  if (versions.electron !== undefined || versions.nw !== undefined) return null;
  try {
    setFlags('--expose-gc');
    try {
      const collect: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
      // Undefined when another thread unset the flag between our two steps: try again next time.
      return typeof collect === 'function' ? (collect as Collect) : undefined;
    } finally {
      setFlags('--no-expose-gc');
    }
  } catch {
    return null;
  }
}

/**
 * A function to call with the running total of shared bytes this thread knows were allocated. Once
 * that total has grown since the last collection by `kCollectAfterBytes`, or by the size of this
 * thread's heap if larger, it collects everything: dropped shared memory then stays below about
 * the heap's own size, and the time spent collecting (which grows with the heap) stays in
 * proportion to the memory given back. A young-generation collection is not enough: a result the
 * caller held across a collection or two is promoted, and only a full one frees it.
 */
export function collectorFor(collector: () => Collect | undefined = garbageCollector, heapBytes = usedHeapBytes): (allocatedBytes: number) => void {
  let collectedAt = 0;
  return (allocatedBytes) => {
    const grown = allocatedBytes - collectedAt;
    if (grown < kCollectAfterBytes || grown < heapBytes()) return;
    collectedAt = allocatedBytes;
    // A bare gc() is a full collection; `{ type: 'major' }` left the ArrayBuffers of old objects allocated.
    collector()?.();
  };
}

function usedHeapBytes(): number {
  return getHeapStatistics().used_heap_size;
}

/** Called on the calling thread as each call starts, with `allocatedSharedBytes()`. */
export const collectBeforeCall = collectorFor();
