import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parallelize, type Progress } from '@parallelize/core';
import { itemsDone, kProgressIntervalMs, reportProgress } from '../lib/progress.ts';
import type { Job } from '../lib/job.ts';
import type { RunChunkMessage } from '../lib/protocol.ts';
import type { WorkerHandle } from '../lib/worker-handle.ts';
import { rejection, runModule } from './helpers.ts';

const slow = (x: number) => { const until = performance.now() + 25; while (performance.now() < until); return x; };

describe('onProgress', () => {
  test('reports rising progress at most 10 times a second, and once at the end', async () => {
    const seen: Progress[] = [];
    const started = performance.now();
    await parallelize(Array.from({ length: 40 }, (_, i) => i), slow, { cores: 2, callingThread: false, onProgress: (p) => seen.push(p) });
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seen.length >= 3, `${seen.length} reports over ${seconds.toFixed(2)} s`);
    assert.ok(seen.length <= Math.ceil(seconds * 10) + 2, `${seen.length} reports over ${seconds.toFixed(2)} s`);
    assert.deepEqual(seen.at(-1), { done: 40, total: 40 });
    assert.ok(seen.every((p) => p.total === 40));
    for (let k = 1; k < seen.length; k++) assert.ok(seen[k]!.done > seen[k - 1]!.done, 'done only grows, and repeats are not reported');
    assert.ok(seen.some((p) => p.done > 0 && p.done < 40), 'progress inside chunks is seen, not only at the end');
  });

  test('a cheap call reports once, at the end', async () => {
    const seen: Progress[] = [];
    await parallelize([1, 2, 3], (x: number) => x, { onProgress: (p) => seen.push(p) });
    assert.deepEqual(seen, [{ done: 3, total: 3 }]);
  });

  test('an empty call reports once too, with done === total === 0', async () => {
    const seen: Progress[] = [];
    await parallelize([], (x: number) => x, { onProgress: (p) => seen.push(p) });
    assert.deepEqual(seen, [{ done: 0, total: 0 }]);
  });

  test('a throwing callback rejects the call with what it threw', async () => {
    const error = new Error('progress bar broke');
    const thrown = await rejection(parallelize([1, 2, 3], (x: number) => x, { onProgress: () => { throw error; } }));
    assert.equal(thrown, error);
  });

  test('a callback that throws while the calling thread runs the call rejects the call, and the process lives on', () => {
    const run = runModule(`
      import { parallelize } from '@parallelize/core';
      process.on('unhandledRejection', (error) => console.log('unhandled:', error.message));
      const fn = async (x) => { await new Promise((r) => setTimeout(r, 250)); return x; };
      const outcome = await parallelize([1], fn, { onProgress: () => { throw new Error('progress bar broke'); } }).then(() => 'resolved', (error) => error.message);
      await new Promise((r) => setTimeout(r, 50));
      console.log(outcome);
    `, { timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'progress bar broke\n');
  });

  test('must be a function', async () => {
    const error = await rejection(parallelize([1], (x: number) => x, { onProgress: 'yes' as never }));
    assert.equal(error.message, "Expected `onProgress` to be a function, got `'yes'` (string)");
  });
});

describe('itemsDone (what progress and ERR_TIMEOUT count)', () => {
  const chunk = (jobId: number, start: number, end: number): RunChunkMessage => ({ type: 0 as never, jobId, chunkId: start, start, end });
  /** A worker holding `held`, by its own account at `position` (1 = in the first) and running item `index` of job `jobId`. */
  const worker = (held: RunChunkMessage[], position: number, running?: { jobId: number; index: number }) => ({
    held,
    running,
    whereIs: (c: RunChunkMessage) => {
      const at = held.indexOf(c) + 1;
      return position < at ? 'before' : position === at ? 'in' : 'past';
    },
  }) as unknown as WorkerHandle;
  const job = (id: number, rowsDone: number) => ({ id, rowsDone }) as Job;

  test('counts finished chunks and the items a worker has passed in the one it runs', () => {
    const w = worker([chunk(1, 100, 200), chunk(1, 300, 400)], 1, { jobId: 1, index: 150 });
    assert.equal(itemsDone(job(1, 40), [w]), 40 + 50);
  });

  test('a chunk whose answer is in flight counts whole, and the next one from where it starts', () => {
    // The worker finished rows 100-199 and runs row 310 of a chunk far from it: 100 + 10, not 310 - 100.
    const w = worker([chunk(1, 100, 200), chunk(1, 300, 400)], 2, { jobId: 1, index: 310 });
    assert.equal(itemsDone(job(1, 0), [w]), 110);
  });

  test('a chunk in flight still counts when the worker has gone on to another call', () => {
    const w = worker([chunk(1, 100, 200), chunk(2, 0, 50)], 2, { jobId: 2, index: 20 });
    assert.equal(itemsDone(job(1, 0), [w]), 100);
    assert.equal(itemsDone(job(2, 0), [w]), 20);
  });

  test('counts nothing for chunks not started, nor for a place read outside the chunk', () => {
    assert.equal(itemsDone(job(1, 7), [worker([chunk(1, 0, 10), chunk(1, 10, 20)], 0)]), 7);
    // Read between the worker's writes: its count says the first chunk, its index the next one.
    assert.equal(itemsDone(job(1, 7), [worker([chunk(1, 0, 10), chunk(1, 10, 20)], 1, { jobId: 1, index: 12 })]), 7);
  });
});

describe('reportProgress', () => {
  test('never reports less than before, nor the total, while the call runs; the total once it has settled', async () => {
    // Counts as a lagging read of the workers' places can give them; each tick reads one.
    const counts = [50, 30, 30, 60, 900];
    const seen: number[] = [];
    const job = { id: 1, settled: false, get rowsDone() { return counts.shift() ?? 900; }, fail: assert.fail } as unknown as Job;
    const progress = reportProgress(job, 100, (p) => seen.push(p.done), []);
    while (counts.length > 0) await new Promise((resolve) => setTimeout(resolve, kProgressIntervalMs / 2));
    await new Promise((resolve) => setTimeout(resolve, 2 * kProgressIntervalMs));
    progress.stop();
    assert.deepEqual(seen, [50, 60, 99], 'and not the total before the end');
    progress.finish(); // a call that has not settled gets no final report
    assert.deepEqual(seen, [50, 60, 99]);
    (job as { settled: boolean }).settled = true;
    progress.finish();
    assert.deepEqual(seen, [50, 60, 99, 100]);
  });
});
