import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { load, v8, workerThreads } from '../lib/builtins.ts';
import { runModule } from './helpers.ts';

test('worker_threads and v8 are the modules Node has', () => {
  assert.equal(workerThreads().Worker, (process.getBuiltinModule('node:worker_threads') as typeof import('node:worker_threads')).Worker);
  assert.equal(typeof v8().getHeapStatistics, 'function');
  assert.equal(workerThreads(), workerThreads(), 'loaded once');
});

test('before Node 20.16, which has no process.getBuiltinModule, they come from require()', () => {
  const { getBuiltinModule } = process;
  Object.defineProperty(process, 'getBuiltinModule', { value: undefined, configurable: true, writable: true });
  try {
    assert.equal(load<{ availableParallelism: unknown }>('node:os').availableParallelism, availableParallelism);
  } finally {
    Object.defineProperty(process, 'getBuiltinModule', { value: getBuiltinModule, configurable: true, writable: true });
  }
  assert.equal(typeof process.getBuiltinModule, 'function');
});

test('importing the library and a call that stays on the calling thread load no worker_threads, v8 or perf_hooks', () => {
  // Each of them loaded ~1.5–3 ms of Node's own modules, a large part of a one-shot process's cost.
  const run = runModule(`
    const heavy = () => process.moduleLoadList.filter((name) => /^NativeModule (worker_threads|v8|perf_hooks)$/.test(name)).map((name) => name.slice(13));
    const atStart = heavy();
    const { parallelize, createPool } = await import('@parallelize/core');
    const afterImport = heavy();
    const result = await parallelize(Array.from({ length: 16 }, (_, i) => i), (x) => x * 2);
    const afterCall = heavy();
    const pool = createPool({ cores: 2 });
    await pool.parallelize([1, 2, 3], (x) => x, { callingThread: false });
    await pool.close();
    console.log(JSON.stringify({ atStart, afterImport, afterCall, onThreads: heavy(), last: result.get(15, 0) }));
  `);
  assert.equal(run.status, 0, run.stderr);
  const seen = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.deepEqual(seen, { atStart: [], afterImport: [], afterCall: [], onThreads: ['worker_threads'], last: 30 });
});
