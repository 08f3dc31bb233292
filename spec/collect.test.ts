import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { describe, test } from 'node:test';
import { createPool } from '@parallelize/core';
import { runModule } from './helpers.ts';
import { collectorFor, findCollector, garbageCollector, kCollectAfterBytes, kRecycleMinBytes, recyclerFor, releaseDropped, sharedFlagLock } from '../lib/collect.ts';

const MiB = 2 ** 20;
const exposedHere = typeof (globalThis as { gc?: unknown }).gc === 'function';

/** A collector that counts its calls, on a heap of `heap` bytes, counting from `from`. */
function counting(heap = 0, from = 0): { collect: (allocated: number, now?: boolean) => void; readonly count: number; readonly asked: unknown[] } {
  const asked: unknown[] = [];
  const collect = collectorFor(from, () => (options) => asked.push(options ?? 'now'), () => heap);
  return { collect, get count() { return asked.length; }, asked };
}

/** Runs `body` in a child `node` with `flags`, and `NODE_DEBUG=parallelize` when asked. */
const child = (body: string, flags: string[] = [], env: Record<string, string> = {}) => runModule(body, { flags, env });

/** A child's loop over a pool that makes results of 8 MiB, enough to cross kCollectAfterBytes. */
const poolLoop = `
  import { createPool } from '@parallelize/core';
  const pool = createPool({ cores: 2 });
  const data = new Float64Array(new SharedArrayBuffer(8 * 2 ** 20));
  for (let call = 0; call < 12; call++) await pool.parallelize(data, (x) => x, { callingThread: false });
  await pool.close();
`;

describe('garbage collection of shared memory', () => {
  test('collects once kCollectAfterBytes of shared memory were allocated since the last time, not before', () => {
    const tally = counting();
    tally.collect(kCollectAfterBytes - 1);
    assert.equal(tally.count, 0);
    tally.collect(kCollectAfterBytes);
    assert.equal(tally.count, 1);
    tally.collect(2 * kCollectAfterBytes - 1);
    assert.equal(tally.count, 1, 'counted from the last collection');
    tally.collect(2 * kCollectAfterBytes);
    assert.equal(tally.count, 2);
  });

  test('asks for a collection as a task of its own, or at once for a thread about to block', () => {
    const tally = counting();
    tally.collect(kCollectAfterBytes);
    tally.collect(2 * kCollectAfterBytes, true);
    assert.deepEqual(tally.asked, [{ type: 'major', execution: 'async' }, 'now']);
  });

  test('collects at once when the task it asked for had no chance to run: the event loop never turned since', async () => {
    const tally = counting();
    tally.collect(kCollectAfterBytes);
    tally.collect(2 * kCollectAfterBytes); // as a caller awaiting calls that never leave the calling thread
    await new Promise((resolve) => setImmediate(resolve));
    tally.collect(3 * kCollectAfterBytes);
    const task = { type: 'major', execution: 'async' };
    assert.deepEqual(tally.asked, [task, 'now', task]);
  });

  test('counts from where a worker started, and waits for as much as the heap holds when it is larger', () => {
    const late = counting(0, 5 * kCollectAfterBytes);
    late.collect(5 * kCollectAfterBytes + 1);
    assert.equal(late.count, 0, 'memory allocated before the thread started is none of its business');
    const big = counting(3 * kCollectAfterBytes);
    big.collect(2 * kCollectAfterBytes);
    assert.equal(big.count, 0, 'a full collection costs in proportion to the heap');
    big.collect(3 * kCollectAfterBytes);
    assert.equal(big.count, 1);
  });

  test('finds V8\'s gc() without --expose-gc, and leaves no `gc` for other code to see', { skip: exposedHere && 'run with --expose-gc' }, () => {
    assert.equal(typeof garbageCollector(), 'function');
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
    assert.equal(runInNewContext('typeof gc'), 'undefined', 'the flag is unset again');
  });

  test('takes a gc() already exposed, and sets no flag where they are frozen or collecting is turned off', () => {
    const untouched = (): never => assert.fail('no flag may be set here');
    const exposed = (): void => {};
    assert.equal(findCollector(process.versions, {}, [], exposed, untouched), exposed);
    assert.equal(findCollector({ ...process.versions, electron: '39.0.0' }, {}, [], undefined, untouched), null);
    assert.equal(findCollector({ ...process.versions, nw: '0.90.0' }, {}, [], undefined, untouched), null);
    assert.equal(findCollector(process.versions, {}, ['--freeze-flags-after-init'], undefined, untouched), null);
    assert.equal(findCollector(process.versions, { NODE_OPTIONS: '--freeze_flags_after_init' }, [], undefined, untouched), null);
    assert.equal(findCollector(process.versions, { PARALLELIZE_GC: '0' }, [], exposed, untouched), null);
  });

  test('sets the flag only while holding the lock its threads share', () => {
    const lock = sharedFlagLock();
    const held: number[] = [];
    findCollector(process.versions, {}, [], undefined, () => { held.push(Atomics.load(lock, 0)); });
    assert.deepEqual(held, [1, 1], 'set and unset under the lock');
    assert.equal(Atomics.load(lock, 0), 0, 'released');
  });

  test('gives up where setting a flag throws, and tries again where the flag did not take', () => {
    assert.equal(findCollector(process.versions, {}, [], undefined, () => { throw new Error('frozen'); }), null);
    assert.equal(findCollector(process.versions, {}, [], undefined, () => {}), undefined, 'no gc in a context made without the flag');
  });

  test('a pool gives the memory of dropped results back, however many calls it makes', async () => {
    const pool = createPool({ cores: 2 });
    // fn allocates nothing, so nothing but us starts a collection on the workers, and an idle
    // worker never collects by itself: each one held a handle to every result it wrote into.
    const data = new Float64Array(new SharedArrayBuffer(8 * MiB));
    garbageCollector()?.({ type: 'major', execution: 'async' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = process.memoryUsage().arrayBuffers;
    let most = 0;
    try {
      for (let call = 0; call < 48; call++) {
        const result = await pool.parallelize(data, (x: number, i: number) => x + i, { callingThread: false });
        assert.equal(result.get(data.length - 1, 0), data.length - 1, 'every call is still right');
        most = Math.max(most, (process.memoryUsage().arrayBuffers - before) / MiB);
      }
    } finally {
      await pool.close();
    }
    // 48 results of 8 MiB: 384 MiB if none were freed; at most about kCollectAfterBytes (or the heap) are not.
    assert.ok(most < 160, `up to ${most.toFixed(0)} MiB of dropped results were still allocated`);
  });

  test('before a big shared allocation, a young-generation collection, once as much was allocated since the last one', () => {
    const asked: unknown[] = [];
    const recycle = recyclerFor(() => (options) => asked.push(options));
    recycle(kRecycleMinBytes - 1, 100 * MiB);
    assert.equal(asked.length, 0, 'small allocations cost less than a collection');
    recycle(8 * MiB, 4 * MiB);
    assert.equal(asked.length, 0, 'less was allocated before than is asked for now');
    recycle(8 * MiB, 8 * MiB);
    assert.deepEqual(asked, [{ type: 'minor' }]);
    recycle(8 * MiB, 12 * MiB);
    assert.equal(asked.length, 1, 'counted from the last one');
    recycle(8 * MiB, 16 * MiB);
    assert.equal(asked.length, 2);
    recyclerFor(() => undefined)(8 * MiB, 64 * MiB); // no gc() to be had: nothing to do, no throw
  });

  test('a worker frees its handle of a big result as the call ends, and only of a big one', () => {
    const asked: unknown[] = [];
    releaseDropped(kRecycleMinBytes - 8, () => (options) => asked.push(options));
    assert.equal(asked.length, 0);
    releaseDropped(kRecycleMinBytes, () => (options) => asked.push(options));
    assert.deepEqual(asked, [{ type: 'minor' }]);
  });

  for (const where of ['the calling thread', 'threads'] as const) {
    test(`a loop of calls on ${where} reuses the memory of the results it dropped, long before a full collection`, () => {
      // 24 results of 2 MiB: 48 MiB if none were freed before kCollectAfterBytes (64 MiB) came into play.
      const run = child(`
        import { createPool } from '@parallelize/core';
        // One core for the calling thread: a pool of one core never starts a thread of its own accord.
        const pool = createPool({ cores: ${where === 'threads' ? 2 : 1} });
        const options = { callingThread: ${where === 'the calling thread'} };
        const data = new Float64Array(new SharedArrayBuffer(2 * 2 ** 20));
        await pool.parallelize(data, (x) => x + 1, options);
        const before = process.memoryUsage().arrayBuffers;
        let most = 0;
        for (let call = 0; call < 24; call++) {
          const result = await pool.parallelize(data, (x) => x + 1, options);
          if (result.get(5, 0) !== data[5] + 1) throw new Error('wrong result');
          most = Math.max(most, process.memoryUsage().arrayBuffers - before);
        }
        await pool.close();
        console.log(most / 2 ** 20);
      `, [], { NODE_DEBUG: 'parallelize' });
      assert.equal(run.status, 0, run.stderr);
      const mostMiB = Number(run.stdout.trim());
      assert.ok(mostMiB < 16, `up to ${mostMiB} MiB of dropped results were still allocated`);
      assert.doesNotMatch(run.stderr, /collecting garbage/, 'no full collection did it');
      if (where === 'threads') assert.match(run.stderr, /rows \d+-\d+ done/, 'the calls ran on threads');
      else assert.doesNotMatch(run.stderr, /rows \d+-\d+ done/, 'the calls ran on the calling thread');
    });
  }

  test('a big result the caller dropped is freed with no further call, though threads wrote into it', () => {
    const run = child(`
      import { createPool } from '@parallelize/core';
      const pool = createPool({ cores: 2 });
      const data = new Float64Array(new SharedArrayBuffer(16 * 2 ** 20));
      const base = process.memoryUsage().arrayBuffers;
      // In a function of its own: a suspended async frame may still hold what it awaited.
      async function once() {
        const result = await pool.parallelize(data, (x) => x + 1, { callingThread: false });
        return result.get(3, 0);
      }
      if (await once() !== 1) throw new Error('wrong result');
      const held = process.memoryUsage().arrayBuffers - base;
      await new Promise((resolve) => setTimeout(resolve, 100));
      gc(); // the caller's own handle
      await new Promise((resolve) => setTimeout(resolve, 100));
      console.log(JSON.stringify({ held, after: process.memoryUsage().arrayBuffers - base }));
      await pool.close();
    `, ['--expose-gc']);
    assert.equal(run.status, 0, run.stderr);
    const { held, after } = JSON.parse(run.stdout) as { held: number; after: number };
    assert.ok(held > 15 * MiB, `the result was allocated (${held} bytes)`);
    assert.ok(after < 4 * MiB, `${(after / MiB).toFixed(1)} MiB were still allocated: a thread kept its handle`);
  });

  test('a pool\'s threads free a big result\'s handle as its call ends; a one-shot call\'s threads, about to exit, do not', () => {
    const run = child(`
      import { createPool, parallelize } from '@parallelize/core';
      const data = new Float64Array(new SharedArrayBuffer(2 * 2 ** 20));
      await parallelize(data, (x) => x + 1, { cores: 2, callingThread: false });
      console.error('ONE-SHOT DONE');
      const pool = createPool({ cores: 2 });
      await pool.parallelize(data, (x) => x + 1, { callingThread: false });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await pool.close();
    `, [], { NODE_DEBUG: 'parallelize' });
    assert.equal(run.status, 0, run.stderr);
    const [oneShot, pooled] = run.stderr.split('ONE-SHOT DONE') as [string, string];
    const releases = (text: string) => text.split('\n').filter((line) => / thread [1-9]\d*: young-generation collection after letting go of 2 MiB/.test(line));
    assert.deepEqual(releases(oneShot), [], 'the threads of a one-shot call do not collect');
    assert.equal(releases(pooled).length, 2, 'each thread of a pool does');
  });

  test('a one-shot call\'s threads do not collect for memory allocated before they started', () => {
    const run = child(`
      import { Matrix, parallelize } from '@parallelize/core';
      const kept = Matrix.alloc(100, 2 ** 17); // 100 MiB the caller keeps
      for (let call = 0; call < 3; call++) await parallelize(new Float64Array(1000), (x) => x, { callingThread: false, cores: 2 });
      console.log(kept.rows);
    `, [], { NODE_DEBUG: 'parallelize' });
    assert.equal(run.status, 0, run.stderr);
    const collections = run.stderr.split('\n').filter((line) => / thread \d+: collecting garbage/.test(line));
    assert.ok(collections.length > 0, 'the calling thread collects');
    assert.deepEqual(collections.filter((line) => !/ thread 0:/.test(line)), [], 'no worker thread does');
  });

  test('parallelizeSync collects at once: a thread blocking in one call after another never runs a task', () => {
    const run = child(`
      import { parallelizeSync } from '@parallelize/core';
      for (let call = 0; call < 10; call++) parallelizeSync(new Float64Array(2 ** 20), (x) => x, { cores: 2 });
    `, [], { NODE_DEBUG: 'parallelize' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, / thread 0: collecting garbage now/);
  });

  test('leaves a flag the caller set alone, and does not abort where flags are frozen', () => {
    const user = child(`
      import { setFlagsFromString } from 'node:v8';
      import { runInNewContext } from 'node:vm';
      setFlagsFromString('--expose-gc');
      ${poolLoop}
      console.log(runInNewContext('typeof gc'));
    `, [], { NODE_DEBUG: 'parallelize' });
    assert.equal(user.status, 0, user.stderr);
    assert.match(user.stderr, /collecting garbage/);
    assert.equal(user.stdout.trim(), 'function');
    const frozen = child(poolLoop, ['--freeze-flags-after-init'], { NODE_DEBUG: 'parallelize' });
    assert.equal(frozen.status, 0, frozen.stderr);
    assert.match(frozen.stderr, /cannot collect garbage/);
  });

  test('does not abort in a Worker started with no flags of its own in a process with frozen flags', { skip: !existsSync('/proc/self/cmdline') && 'no /proc to read the process\'s flags from' }, () => {
    const run = child(`
      import { Worker } from 'node:worker_threads';
      const worker = new Worker(${JSON.stringify(poolLoop)} + 'console.log("done")', { eval: true, execArgv: [] });
      worker.on('exit', (code) => console.log('exit', code));
    `, ['--freeze-flags-after-init']);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.stdout.trim().split('\n'), ['done', 'exit 0']);
  });
});
