import assert from 'node:assert/strict';
import { test } from 'node:test';
import { now } from '../lib/clock.ts';

test('now() counts milliseconds, as performance.now() does', () => {
  const outerStart = now();
  const innerStart = performance.now();
  while (performance.now() < innerStart + 20);
  const inner = performance.now() - innerStart;
  const outer = now() - outerStart;
  // The outer interval holds the inner one; a wrong unit would be off by a factor of 1,000.
  assert.ok(outer >= inner, `now() measured ${outer} ms around ${inner} ms`);
  assert.ok(outer < inner + 25, `now() measured ${outer} ms around ${inner} ms`);
});
