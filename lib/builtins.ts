import { createRequire } from 'node:module';
import type * as V8 from 'node:v8';
import type * as WorkerThreads from 'node:worker_threads';

/**
 * Node's `worker_threads` and `v8` modules, loaded when first used rather than when the library
 * is imported: each loads Node's streams, and together they took ~4 of the ~10 ms an import took
 * on our 2-core VM, which a process whose calls all stay on the calling thread never needs (the
 * bench's one-shot process is one).
 */
export function workerThreads(): typeof WorkerThreads {
  return (loaded.workerThreads ??= load('node:worker_threads'));
}

/** Node's `v8` module, loaded on first use (see `workerThreads`). */
export function v8(): typeof V8 {
  return (loaded.v8 ??= load('node:v8'));
}

const loaded: { workerThreads?: typeof WorkerThreads; v8?: typeof V8 } = {};

/** @internal A built-in module by its `node:` id. */
export function load<T>(id: string): T {
  // process.getBuiltinModule came with Node 20.16; before it, a require() made for any absolute path
  // finds built-in modules (not process.execPath, which an embedder may leave relative or empty).
  return (process.getBuiltinModule?.(id) ?? createRequire('/')(id)) as T;
}
