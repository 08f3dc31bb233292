import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kThreadStartMs } from '../lib/here-or-threads.ts';
import { WarmUp } from '../lib/warm-up.ts';

describe('warm-up rule', () => {
  test('starts threads once the time they would have saved adds up to a thread start, then counts afresh', () => {
    const rule = new WarmUp();
    assert.equal(rule.forgo(kThreadStartMs * 0.6, true), false);
    assert.equal(rule.forgo(kThreadStartMs * 0.4, true), true, 'the sum, not each call, is what counts');
    assert.equal(rule.forgo(kThreadStartMs * 0.6, true), false, 'counted from the last start');
  });

  test('keeps counting while the pool cannot start threads, and starts them once it can', () => {
    const rule = new WarmUp();
    assert.equal(rule.forgo(kThreadStartMs, false), false, 'threads are still loading, or the pool is closing');
    assert.equal(rule.forgo(0, true), true);
  });

  test('after giving up, never starts threads by itself again', () => {
    const rule = new WarmUp();
    rule.giveUp();
    assert.equal(rule.forgo(10 * kThreadStartMs, true), false);
  });
});
