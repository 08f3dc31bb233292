import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { planChunks, type Chunk } from '../lib/plan.ts';

function assertCovers(chunks: Chunk[], count: number): void {
  let next = 0;
  chunks.forEach((chunk, k) => {
    assert.equal(chunk.id, k, 'ids count up from 0');
    assert.equal(chunk.start, next, `chunk ${k} starts where the previous one ended`);
    assert.ok(chunk.end > chunk.start, `chunk ${k} is not empty`);
    next = chunk.end;
  });
  assert.equal(next, count, 'the chunks end at the last item');
}

describe('planChunks', () => {
  test('plans nothing for 0 items', () => {
    assert.deepEqual(planChunks(0, 4, 'auto'), []);
    assert.deepEqual(planChunks(0, 4, 10), []);
  });

  test('covers every item exactly once, in order, for many sizes', () => {
    for (const count of [1, 2, 3, 7, 100, 999, 10_007, 1_000_000]) {
      for (const workers of [1, 2, 3, 16]) {
        assertCovers(planChunks(count, workers, 'auto'), count);
        assertCovers(planChunks(count, workers, 7), count);
      }
    }
  });

  test('a fixed chunkSize gives equal chunks with a shorter tail', () => {
    const sizes = planChunks(23, 2, 5).map((c) => c.end - c.start);
    assert.deepEqual(sizes, [5, 5, 5, 5, 3]);
  });

  test('auto starts with half of the items per worker and never grows', () => {
    const count = 10_000;
    const workers = 4;
    const sizes = planChunks(count, workers, 'auto').map((c) => c.end - c.start);
    assert.equal(sizes[0], Math.ceil(count / (2 * workers)));
    for (let k = 1; k < sizes.length; k++) assert.ok(sizes[k]! <= sizes[k - 1]!, `chunk ${k} is not larger than chunk ${k - 1}`);
  });

  test('auto ends with single items when items are few, so no core idles at the tail', () => {
    const sizes = planChunks(300, 2, 'auto').map((c) => c.end - c.start);
    assert.equal(sizes.at(-1), 1);
    assert.ok(sizes.length < 40, `${sizes.length} chunks stay few`);
  });

  test('auto bounds the number of chunks for many cheap items', () => {
    const chunks = planChunks(1_000_000, 2, 'auto');
    const floor = Math.floor(1_000_000 / (2 * 256));
    assert.ok(chunks.slice(0, -1).every((c) => c.end - c.start >= floor), 'only the last chunk is under the floor');
    assert.ok(chunks.length < 64, `${chunks.length} chunks`);
  });

  test('a measured item cost sets a floor of 0.5 ms of work per chunk', () => {
    const count = 1_000_000;
    const cheap = planChunks(count, 2, 'auto', 50); // 0.5 ms / 50 ns = 10,000 items
    assertCovers(cheap, count);
    assert.ok(cheap.slice(0, -1).every((c) => c.end - c.start >= 10_000), 'only the last chunk is under the floor');
    assert.ok(cheap.length < planChunks(count, 2, 'auto').length, 'fewer chunks than without a measured cost');
  });

  test('the measured floor never takes more than a quarter of a worker\'s share, nor applies to a fixed size', () => {
    const sizes = planChunks(1000, 2, 'auto', 1).map((c) => c.end - c.start); // 0.5 ms / 1 ns would be 500,000
    assert.ok(sizes.every((size, k) => k === sizes.length - 1 || size >= 125), 'floor capped at 1000 / (4 × 2)');
    assert.ok(sizes.length >= 4, `${sizes.length} chunks still balance two workers`);
    assert.deepEqual(planChunks(10, 2, 3, 1).map((c) => c.end - c.start), [3, 3, 3, 1]);
    assert.deepEqual(planChunks(300, 2, 'auto', 1e9).at(-1)!.end - planChunks(300, 2, 'auto', 1e9).at(-1)!.start, 1, 'slow items keep single-item tails');
  });

  test('fewer items than workers gives one chunk per item', () => {
    assert.deepEqual(planChunks(3, 8, 'auto').map((c) => c.end - c.start), [1, 1, 1]);
  });
});
