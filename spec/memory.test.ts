import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allocateShared, packRagged, shareContext, toShared } from '../lib/memory.ts';

describe('shared memory', () => {
  test('allocateShared gives a zero-filled view on a SharedArrayBuffer', () => {
    const view = allocateShared(Int16Array, 5);
    assert.ok(view.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(Array.from(view), [0, 0, 0, 0, 0]);
  });

  test('toShared adopts a view that is already shared', () => {
    const shared = new Float32Array(new SharedArrayBuffer(16), 4, 2);
    assert.equal(toShared(shared), shared);
  });

  test('toShared copies an ArrayBuffer-backed view once, keeping kind and values', () => {
    const plain = Uint16Array.of(1, 2, 65535);
    const copy = toShared(plain);
    assert.notEqual(copy, plain);
    assert.ok(copy instanceof Uint16Array && copy.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(Array.from(copy), [1, 2, 65535]);
  });

  test('packRagged lays items end to end with offsets', () => {
    const { values, offsets } = packRagged([Int32Array.of(1, 2), Int32Array.of(), Int32Array.of(3, 4, 5)]);
    assert.ok(values instanceof Int32Array && values.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(Array.from(values), [1, 2, 3, 4, 5]);
    assert.deepEqual(Array.from(offsets), [0, 2, 2, 5]);
  });

  test('shareContext moves typed arrays to shared memory and keeps everything else', () => {
    const weights = Float64Array.of(1, 2);
    const already = new Int8Array(new SharedArrayBuffer(2));
    const context = { weights, again: weights, already, list: [weights, 3], map: new Map([['w', weights]]), text: 'x', date: new Date(0) };
    const shared = shareContext(context) as typeof context;
    assert.ok(shared.weights.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(Array.from(shared.weights), [1, 2]);
    assert.equal(shared.again, shared.weights, 'one array seen twice is moved once');
    assert.equal(shared.list[0], shared.weights);
    assert.equal(shared.map.get('w'), shared.weights);
    assert.equal(shared.already, already);
    assert.equal(shared.date, context.date, 'class instances are left to structured clone');
    assert.equal(context.weights, weights, 'the caller\'s object is not changed');
    assert.equal(shareContext(5), 5);
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    const copy = shareContext(cyclic) as { self: unknown };
    assert.equal(copy.self, copy, 'cycles are kept');
  });
});
