import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
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

test('importing the library and calls that stay on the calling thread load no worker_threads, v8 or perf_hooks, nor do workers load the last two', () => {
  // Each of them loaded ~1.5–3 ms of Node's own modules, a large part of a one-shot process's cost.
  const run = runModule(`
    const heavy = () => process.moduleLoadList.filter((name) => /^NativeModule (worker_threads|v8|perf_hooks)$/.test(name)).map((name) => name.slice(13));
    const atStart = heavy();
    const { parallelize, createPool } = await import('@parallelize/core');
    const afterImport = heavy();
    const result = await parallelize(Array.from({ length: 16 }, (_, i) => i), (x) => x * 2);
    const afterCall = heavy();
    // Big results: the calling thread then looks for V8's gc() (which may load v8) and runs
    // collections, which must not load the others for their debug lines. One core: the pool then
    // never starts a thread (a fresh fn's first items may look costly enough for threads).
    const alone = createPool({ cores: 1 });
    const big = new Float64Array(new SharedArrayBuffer(8 * 2 ** 20));
    for (let call = 0; call < 3; call++) await alone.parallelize(big, (x) => x + 1);
    await alone.close();
    const afterBigCalls = heavy().filter((name) => name !== 'v8');
    // On threads: worker_threads of course, but neither v8 nor perf_hooks in the workers either.
    const pool = createPool({ cores: 2 });
    const inWorkers = await pool.map([1, 2, 3], () => process.moduleLoadList.filter((name) => /^NativeModule (v8|perf_hooks)$/.test(name)), { callingThread: false });
    await pool.close();
    console.log(JSON.stringify({ atStart, afterImport, afterCall, afterBigCalls, onThreads: heavy().filter((name) => name !== 'v8'), inWorkers, last: result.get(15, 0) }));
  `);
  assert.equal(run.status, 0, run.stderr);
  const seen = JSON.parse(run.stdout) as Record<string, unknown>;
  assert.deepEqual(seen, { atStart: [], afterImport: [], afterCall: [], afterBigCalls: [], onThreads: ['worker_threads'], inWorkers: [[], [], []], last: 30 });
});

// Node 24 loads these modules for require() too (and there a thread starts only ~1 ms sooner).
const esmForRequireToo = Number(process.versions.node.split('.')[0]) >= 24 && 'Node 24 loads the ES module loader for require() too';

test('worker threads that run inline functions never start Node\'s ES module loader', { skip: esmForRequireToo }, () => {
  // It cost each new thread ~9 ms on Node 20. A plain CommonJS process: under --input-type=module
  // (as in runModule) every thread's entry script is itself a module.
  const script = `
    const { createPool } = require('@parallelize/core');
    const pool = createPool({ cores: 2 });
    pool.map([1, 2, 3, 4], () => process.moduleLoadList.some((name) => name.endsWith('/esm/module_job')), { callingThread: false })
      .then((started) => pool.close().then(() => console.log(JSON.stringify(started))));
  `;
  const run = spawnSync(process.execPath, ['-e', script], { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8', timeout: 60_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), [false, false, false, false]);
});
