import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { finishHere, kLoneItemNs, kProbeMs, kStepMs, kThreadStartMs, nextBatch, steadyCost } from '../lib/here-or-threads.ts';

describe('finishHere', () => {
  const base = { sendNs: 0, cores: 2, coldStart: false };
  test('keeps cheap work when threads must first be started', () => {
    assert.equal(finishHere({ ...base, remaining: 16, itemNs: 100, coldStart: true }), true);
    // Work just under the cost of starting threads stays; twice that goes.
    assert.equal(finishHere({ ...base, remaining: 1000, itemNs: (kThreadStartMs * 1e6) / 1000, coldStart: true }), true);
    assert.equal(finishHere({ ...base, remaining: 1000, itemNs: (4 * kThreadStartMs * 1e6) / 1000, coldStart: true }), false);
  });

  test('on warm threads, gives away items that cost more than the per-item overhead', () => {
    assert.equal(finishHere({ ...base, remaining: 1_000_000, itemNs: 5 }), true);
    assert.equal(finishHere({ ...base, remaining: 1_000_000, itemNs: 300 }), false);
  });

  test('keeps Array items whose cloning costs more than fn', () => {
    assert.equal(finishHere({ ...base, remaining: 200_000, itemNs: 100, sendNs: 1000 }), true);
    assert.equal(finishHere({ ...base, remaining: 200_000, itemNs: 5000, sendNs: 1000 }), false);
  });
});

describe('the calling thread\'s batches', () => {
  test('double from one item, up to kStepMs of work at the last batch\'s cost', () => {
    assert.equal(nextBatch(1, 5000, undefined, true), 2);
    assert.equal(nextBatch(64, 10, undefined, false), 128);
    assert.equal(nextBatch(1 << 20, 10, undefined, false), (kStepMs * 1e6) / 10, 'at most kStepMs of work');
    assert.equal(nextBatch(4, 10 * kStepMs * 1e6, undefined, false), 1, 'an item over kStepMs: one at a time');
  });

  test('go on from half of kProbeMs of work after the first item, for a function that ran here before', () => {
    assert.equal(nextBatch(1, 3000, 2, true), (kProbeMs * 1e6) / 2 / 2);
    assert.equal(nextBatch(1, 3000, 2, false), 2, 'only after the first batch');
    assert.equal(nextBatch(1, 3000, 1e9, true), 2, 'a costly function still doubles');
    // Cheap last call, 3 ms an item now: this call's own first item decides, as for a new function.
    assert.equal(nextBatch(1, 3e6, 2, true), 1);
    assert.equal(nextBatch(1, 2 + kLoneItemNs, 2, true), (kProbeMs * 1e6) / 2 / 2, 'a lone item\'s overhead is not counted against it');
  });
});

describe('the cost the calling thread measured', () => {
  test('sizes chunks only when it was steady', () => {
    assert.equal(steadyCost(110, 100, 105), 105);
    assert.equal(steadyCost(149, 100, 120), 120);
    assert.equal(steadyCost(160, 100, 130), undefined, 'the last batch cost 1.6x the cheapest: growing');
  });
});
