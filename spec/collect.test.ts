import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { describe, test } from 'node:test';
import { createPool } from '@parallelize/core';
import { collectorFor, findCollector, garbageCollector, kCollectAfterBytes } from '../lib/collect.ts';

const MiB = 2 ** 20;

/** A collector that counts its calls, on a heap of `heap` bytes. */
function counting(heap = 0): { collect: (allocated: number) => void; readonly count: number } {
  let count = 0;
  const collect = collectorFor(() => () => count++, () => heap);
  return { collect, get count() { return count; } };
}

/** Array-buffer memory of this process in MiB. */
function arrayBufferMiB(): number {
  return process.memoryUsage().arrayBuffers / MiB;
}

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

  test('waits for as much shared memory as the heap holds when the heap is larger', () => {
    const tally = counting(3 * kCollectAfterBytes);
    tally.collect(2 * kCollectAfterBytes);
    assert.equal(tally.count, 0, 'a full collection costs in proportion to the heap');
    tally.collect(3 * kCollectAfterBytes);
    assert.equal(tally.count, 1);
  });

  test('finds V8\'s gc() without --expose-gc, and leaves no `gc` for other code to see', () => {
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'this spec runs without --expose-gc');
    assert.equal(typeof garbageCollector(), 'function');
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
    assert.equal(runInNewContext('typeof gc'), 'undefined', 'the flag is unset again');
  });

  test('uses a gc() the command line exposed, and none in Electron or NW.js, whose flags are frozen', () => {
    const exposed = (): void => {};
    assert.equal(findCollector(process.versions, exposed), exposed);
    const refuse = (): never => assert.fail('no flag may be set where flags are frozen');
    assert.equal(findCollector({ ...process.versions, electron: '39.0.0' }, undefined, refuse), null);
    assert.equal(findCollector({ ...process.versions, nw: '0.90.0' }, undefined, refuse), null);
  });

  test('gives up where flags cannot be set, and tries again where the flag was unset under it', () => {
    assert.equal(findCollector(process.versions, undefined, () => { throw new Error('frozen'); }), null);
    assert.equal(findCollector(process.versions, undefined, () => {}), undefined, 'no gc in a context made without the flag');
  });

  test('a pool gives the memory of dropped results back, however many calls it makes', async () => {
    const pool = createPool({ cores: 2 });
    // fn allocates nothing, so nothing but us starts a collection on the workers, and an idle
    // worker never collects by itself: each one held a handle to every result it wrote into.
    const data = new Float64Array(new SharedArrayBuffer(8 * MiB));
    garbageCollector()!();
    const before = arrayBufferMiB();
    try {
      for (let call = 0; call < 48; call++) {
        const result = await pool.parallelize(data, (x: number, i: number) => x + i, { callingThread: false });
        assert.equal(result.get(data.length - 1, 0), data.length - 1, 'every call is still right');
      }
      // Measured while the workers live: a closed pool's threads take their handles with them.
      // 48 results of 8 MiB: 384 MiB if none were freed; at most about kCollectAfterBytes (or the heap) are not.
      const kept = arrayBufferMiB() - before;
      assert.ok(kept < 160, `${kept.toFixed(0)} MiB of dropped results are still allocated`);
    } finally {
      await pool.close();
    }
  });
});
