import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parallelize, type Progress } from '@parallelize/core';
import { rejection } from './helpers.ts';

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

  test('must be a function', async () => {
    const error = await rejection(parallelize([1], (x: number) => x, { onProgress: 'yes' as never }));
    assert.equal(error.message, "Expected `onProgress` to be a function, got `'yes'` (string)");
  });
});
