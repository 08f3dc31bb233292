import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { Matrix, ParallelizeError, parallelize, parallelizeSync, task } from '@parallelize/core';
import { kHeartbeatMs, kSyncFieldCount, kSyncHeartbeatField, kSyncSettled, kSyncStateField, kSyncWakeField } from '../lib/protocol.ts';
import { waitForCoordinator } from '../lib/sync.ts';
import { assertSameMatrix, randomFloats, runModule, serialMap, spawnModule, steadyThreadCount, threadsBackTo } from './helpers.ts';

describe('parallelizeSync', () => {
  test('blocks and returns what parallelize would, for every kind of data', async () => {
    const matrix = Matrix.alloc(30, 3);
    matrix.data.set(randomFloats(90, 5));
    const fn = (item: unknown, i: number) => (typeof item === 'number' ? [item, i] : [Array.from(item as ArrayLike<number>).reduce((a, b) => a + b, 0), i]);
    for (const data of [Array.from(randomFloats(40, 1)), randomFloats(40, 2), matrix, [Int16Array.of(1, 2), Int16Array.of(3)]]) {
      assertSameMatrix(parallelizeSync(data as never, fn as never, { cores: 2 }), await serialMap(data, fn));
    }
  });

  test('works in `node --input-type=module -e`, whose flag every thread inherits', () => {
    // A worker started from a file fails to load under --input-type; the coordinator then never
    // beat, and the caller waited 5 s for ERR_WORKER_EXIT.
    const child = runModule(`
      import { parallelizeSync } from '@parallelize/core';
      console.log(parallelizeSync([1, 2, 3], (x) => x * 2, { cores: 2 }).data.join());
    `, { timeout: 30_000 });
    assert.equal(child.status, 0, child.stderr.slice(-500));
    assert.equal(child.stdout.trim(), '2,4,6');
  });

  test('what fn prints reaches stdout and stderr while the caller waits, all of it before the call returns', () => {
    // The workers' output went through the blocked caller's thread: it came after the caller's own
    // next line, and was lost when the process ended right after the call.
    const child = runModule(`
      import { parallelizeSync } from '@parallelize/core';
      parallelizeSync([1, 2, 3], (x) => { console.log('out', x); console.error('err', x); return x; }, { cores: 2 });
      console.log('after the call');
      console.error('after the call');
    `, { timeout: 30_000, env: { NODE_DEBUG: '', NODE_NO_WARNINGS: '1' } }); // its stderr is compared line by line (no warning where cores: 2 is more than the CPUs)
    assert.equal(child.status, 0, child.stderr.slice(-500));
    for (const [stream, prefix] of [[child.stdout, 'out'], [child.stderr, 'err']] as const) {
      const lines = stream.trim().split('\n');
      assert.deepEqual(lines.slice(0, -1).sort(), [1, 2, 3].map((x) => `${prefix} ${x}`));
      assert.equal(lines.at(-1), 'after the call');
    }
  });

  test('what fn prints shows while the call still runs', async () => {
    // fn prints, then waits for a file that this test makes only once it has read the line.
    const dir = mkdtempSync(join(tmpdir(), 'parallelize-live-'));
    const file = join(dir, 'seen');
    const child = spawnModule(`
      import { parallelizeSync, task } from '@parallelize/core';
      const result = parallelizeSync([0], task(${JSON.stringify(new URL('./fixtures/waits-for-file.js', import.meta.url).href)}), { context: ${JSON.stringify(file)} });
      console.log('seen while running:', result.data[0]);
    `);
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      if (stdout.includes('started')) writeFileSync(file, '');
    });
    const [code] = (await once(child, 'close').finally(() => rmSync(dir, { recursive: true, force: true }))) as [number];
    assert.equal(code, 0);
    assert.match(stdout, /seen while running: 1/);
  });

  test('a reader that goes away (EPIPE) does not crash the caller, as with console.log, call after call', async () => {
    // The stream emits 'error' again after its event loop turned: the second call crashed.
    const child = spawnModule(`
      import { parallelizeSync } from '@parallelize/core';
      const chatty = (x) => { for (let k = 0; k < 20_000; k++) console.log('line', x, k); return x; };
      console.error('returned', parallelizeSync([1, 2], chatty, { cores: 2 }).data.join());
      await new Promise((resolve) => setTimeout(resolve, 100));
      console.error('returned', parallelizeSync([3, 4], chatty, { cores: 2 }).data.join());
    `, 60_000, { NODE_NO_WARNINGS: '1' }); // where cores: 2 is more than the CPUs, a warning would come between the lines
    child.stdout.once('data', () => child.stdout.destroy());
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
    const [code] = (await once(child, 'close')) as [number];
    assert.equal(code, 0, stderr.slice(-500));
    assert.match(stderr, /returned 1,2\nreturned 3,4/);
  });

  test('code that captures process.stdout.write gets what fn wrote, as strings or Buffers', () => {
    const captured: unknown[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: unknown) => captured.push(chunk) > 0) as typeof process.stdout.write;
    try {
      parallelizeSync([7], (x) => {
        console.log('logged', x);
        process.stdout.write(new Uint8Array([98, 121, 116, 101, 115, 10]));
        return x;
      }, { cores: 1 });
    } finally {
      process.stdout.write = write;
    }
    assert.ok(captured.every((chunk) => typeof chunk === 'string' || Buffer.isBuffer(chunk)), 'a clone arrives as a plain Uint8Array');
    assert.equal(captured.map(String).join(''), 'logged 7\nbytes\n');
  });

  test('a write of ours that throws fails the call once it has settled, and leaves no thread running', async () => {
    const before = await steadyThreadCount();
    const write = process.stdout.write;
    process.stdout.write = (() => { throw new Error('no output here'); }) as typeof process.stdout.write;
    const started = Date.now();
    try {
      // fn goes on for 300 ms after it prints: the call must not throw (and leave it running unwatched) before then.
      assert.throws(() => parallelizeSync([1, 2], (x) => {
        console.log(x);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
        return x;
      }, { cores: 2 }), /no output here/);
    } finally {
      process.stdout.write = write;
    }
    assert.ok(Date.now() - started >= 300, `threw after ${Date.now() - started} ms, while fn still ran`);
    await threadsBackTo(before);
  });

  test('runs task() modules and passes the context', () => {
    const result = parallelizeSync(Float64Array.of(1, 2), task(new URL('./fixtures/scale.js', import.meta.url)));
    assert.equal(result.rows, 2);
    const withContext = parallelizeSync([1, 2], (x: number, _i: number, ctx: { k: number }) => x * ctx.k, { context: { k: 10 } });
    assert.deepEqual(Array.from(withContext.data), [10, 20]);
  });

  test('throws the errors parallelize rejects with', () => {
    assert.throws(() => parallelizeSync([1, 2, 3], (x: number) => { if (x === 3) throw new RangeError('three'); return x; }), (error: unknown) => {
      assert.ok(error instanceof ParallelizeError);
      assert.deepEqual([error.code, error.index, error.message], ['ERR_TASK_FAILED', 2, 'fn threw at item 2: RangeError: three']);
      assert.equal((error.cause as Error).name, 'RangeError');
      return true;
    });
    assert.throws(() => parallelizeSync([1], (x: number) => x, { cores: 0 }), { name: 'TypeError', code: 'ERR_INVALID_ARG', message: 'Expected `cores` to be a positive integer, got `0` (number)' });
    assert.throws(() => parallelizeSync([1], 'nope' as never), { name: 'TypeError', code: 'ERR_INVALID_ARG' });
    const unreadable = [1, 2, 3, 4];
    Object.defineProperty(unreadable, 2, { enumerable: true, get() { throw new RangeError('unreadable'); } });
    assert.throws(() => parallelizeSync(unreadable, (x: number) => x), (error: unknown) => {
      assert.ok(error instanceof ParallelizeError);
      assert.deepEqual([error.code, error.index, error.message], ['ERR_DATA_CLONE', 2, 'data[2] cannot be read: unreadable']);
      return true;
    });
    // What cannot be cloned is named as parallelize names it: the item, or the context.
    const items = Array.from({ length: 5000 }, (_, i): unknown => (i === 4000 ? () => 2 : i));
    assert.throws(() => parallelizeSync(items, () => 1), { code: 'ERR_DATA_CLONE', index: 4000, message: /^data\[4000\] cannot be sent to a worker thread: .*could not be cloned/ });
    assert.throws(() => parallelizeSync([1, 2], (x: number) => x, { context: { f: () => 1 } }), (error: unknown) => {
      assert.ok(error instanceof ParallelizeError);
      assert.deepEqual([error.code, error.index], ['ERR_DATA_CLONE', undefined]);
      assert.match(error.message, /^options\.context cannot be sent to a worker thread: .*could not be cloned/);
      return true;
    });
  });

  test('takes a Proxy of an Array (a reactive framework\'s state), as parallelize does, and its errors too', async () => {
    const proxied = new Proxy([1, 2, 3], {});
    assert.deepEqual(Array.from(parallelizeSync(proxied, (x: number) => x * 2).data), Array.from((await parallelize(proxied, (x: number) => x * 2)).data));
    const throwing = new Proxy([1, 2, 3], { get: (target, key) => { if (key === '1') throw new RangeError('no'); return Reflect.get(target, key); } });
    assert.throws(() => parallelizeSync(throwing, (x: number) => x), { code: 'ERR_DATA_CLONE', index: 1, message: 'data[1] cannot be read: no' });
    const sparse = new Proxy([1, , 3] as number[], {}); // eslint-disable-line no-sparse-arrays
    const asynchronous = await parallelize(sparse, (x: number) => x).catch((error: Error) => error.message);
    assert.throws(() => parallelizeSync(sparse, (x: number) => x), { code: 'ERR_INVALID_ARG', message: asynchronous });
    // A Proxy of anything else is refused as parallelize refuses it.
    for (const target of [{}, { length: 2, 0: 1, 1: 2 }]) {
      const proxy = new Proxy(target, {}) as unknown as number[];
      const refused = await parallelize(proxy, (x: number) => x).catch((error: Error) => error.message);
      assert.throws(() => parallelizeSync(proxy, (x: number) => x), { code: 'ERR_INVALID_ARG', message: refused });
    }
  });

  test("with onError: 'collect', lists the failed items", () => {
    const result = parallelizeSync([1, 2, 3, 4], (x: number) => { if (x % 2 === 0) throw new Error(`even ${x}`); return [x]; }, { onError: 'collect' });
    assert.deepEqual(result.errors.map((e) => [e.index, e.error.code, (e.error.cause as Error).message]), [[1, 'ERR_TASK_FAILED', 'even 2'], [3, 'ERR_TASK_FAILED', 'even 4']]);
    assert.ok(Number.isNaN(result.get(1, 0)) && result.get(2, 0) === 3);
  });

  test('refuses signal and onProgress, which cannot reach a blocked thread', () => {
    assert.throws(() => parallelizeSync([1], (x: number) => x, { signal: new AbortController().signal }), { code: 'ERR_INVALID_ARG', message: /^Expected `signal` to be absent in parallelizeSync/ });
    assert.throws(() => parallelizeSync([1], (x: number) => x, { onProgress: () => {} }), { code: 'ERR_INVALID_ARG', message: /^Expected `onProgress` to be absent in parallelizeSync/ });
  });

  test('a timeout stops an endless loop instead of blocking forever', () => {
    const started = Date.now();
    assert.throws(() => parallelizeSync([1, 2], () => { for (;;); }, { timeout: 300 }), { code: 'ERR_TIMEOUT' });
    assert.ok(Date.now() - started < 3000, `returned after ${Date.now() - started} ms`);
  });

  test('a worker that exits fails the call instead of hanging it', () => {
    assert.throws(() => parallelizeSync(Array.from({ length: 20 }, (_, i) => i), task(new URL('./fixtures/exits.js', import.meta.url))), { code: 'ERR_WORKER_EXIT', index: 5 } as never);
  });

  test('leaves no thread running', async () => {
    const before = await steadyThreadCount();
    parallelizeSync([1, 2, 3], (x: number) => x, { cores: 2 });
    await threadsBackTo(before);
  });
});

describe('waiting for the coordinator thread', () => {
  const sharedState = () => new Int32Array(new SharedArrayBuffer(kSyncFieldCount * 4));

  test('gives up with ERR_WORKER_EXIT when its heartbeat stops, instead of blocking for ever', () => {
    const state = sharedState();
    const started = Date.now();
    let wakes = 0;
    // The heartbeat moves once (as a coordinator that started, then died), then never again.
    assert.throws(() => waitForCoordinator(state, 400, () => { if (wakes++ === 0) Atomics.add(state, kSyncHeartbeatField, 1); }), (error: ParallelizeError) =>
      error.code === 'ERR_WORKER_EXIT' && /gave no sign of life for 0.4 s; it died or its event loop is blocked/.test(error.message));
    const waited = Date.now() - started;
    assert.ok(waited >= 400 && waited < 5000, `gave up after ${waited} ms`);
  });

  test('says so when the coordinator never started, and the process lives on', () => {
    // Every worker thread fails before it loads: the coordinator's error, which comes only once
    // the caller is awake again, crashed the process after the call had thrown.
    const child = runModule(`
      import { parallelizeSync } from '@parallelize/core';
      try {
        parallelizeSync([1], (x) => x);
      } catch (error) {
        console.log(error.code, error.message);
      }
      setTimeout(() => console.log('still alive'), 100);
    `, { flags: ['--require', './spec/fixtures/fail-in-workers.cjs'], timeout: 30_000 });
    assert.equal(child.status, 0, child.stderr.slice(-500));
    // The limit is 5 s plus four times what sending the input took, which a busy machine makes
    // a tenth of a second or so longer.
    const silence = /ERR_WORKER_EXIT .*gave no sign of life for (\d+(?:\.\d)?) s; it could not start/.exec(child.stdout);
    assert.ok(silence, child.stdout);
    assert.ok(Number(silence[1]) >= 5 && Number(silence[1]) < 6, `waited ${silence[1]} s`);
    assert.match(child.stdout, /still alive/);
  });

  test('a coordinator given up for dead is stopped: it never runs fn after the call threw', () => {
    // It stalls past the 5 s of silence, then would go on and run every item, unwatched.
    const child = runModule(`
      import { parallelizeSync } from '@parallelize/core';
      const runs = new Int32Array(new SharedArrayBuffer(4));
      try {
        parallelizeSync([1, 2, 3], (x, _i, { runs }) => Atomics.add(runs, 0, 1), { context: { runs } });
      } catch (error) {
        console.log(error.code);
      }
      setTimeout(() => console.log('items run after the throw:', Atomics.load(runs, 0)), 3000);
    `, { flags: ['--require', './spec/fixtures/stall-coordinator.cjs'], timeout: 30_000 });
    assert.equal(child.status, 0, child.stderr.slice(-500));
    assert.match(child.stdout, /^ERR_WORKER_EXIT\nitems run after the throw: 0$/m);
  });

  test('waits as long as the heartbeat goes on, and returns when the call settles', async () => {
    const state = sharedState();
    // A stand-in coordinator: says it is up after its first beat, beats for two silences' time, then settles.
    const beater = new Worker(`
      const { parentPort, workerData: state } = require('node:worker_threads');
      const beat = setInterval(() => Atomics.add(state, ${kSyncHeartbeatField}, 1), ${kHeartbeatMs});
      Atomics.add(state, ${kSyncHeartbeatField}, 1);
      parentPort.postMessage('beating');
      setTimeout(() => { clearInterval(beat); Atomics.store(state, ${kSyncStateField}, ${kSyncSettled}); Atomics.add(state, ${kSyncWakeField}, 1); Atomics.notify(state, ${kSyncWakeField}); }, 2000);
    `, { eval: true, workerData: state });
    await new Promise((resolve) => beater.once('message', resolve));
    const started = Date.now();
    waitForCoordinator(state, 1000);
    assert.ok(Date.now() - started >= 1500, 'it waited for the settle, past one silence\'s length');
    assert.equal(Atomics.load(state, kSyncStateField), kSyncSettled);
    await beater.terminate();
  });
});
