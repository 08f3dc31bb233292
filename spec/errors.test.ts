import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ParallelizeError } from '@parallelize/core';
import { describe as describeValue, deserializeError, serializeError } from '../lib/errors.ts';

/** What the caller gets back for a thrown value, after the trip through structured clone. */
const roundTrip = (thrown: unknown) => deserializeError(structuredClone(serializeError(thrown)));

describe('ParallelizeError', () => {
  test('carries code, index and cause', () => {
    const cause = new Error('inner');
    const error = new ParallelizeError('ERR_TASK_FAILED', 'outer', { index: 3, cause });
    assert.ok(error instanceof Error);
    assert.deepEqual([error.name, error.code, error.index, error.cause, error.message], ['ParallelizeError', 'ERR_TASK_FAILED', 3, cause, 'outer']);
    assert.equal('index' in new ParallelizeError('ERR_POOL_CLOSED', 'x'), false);
  });
});

describe('error transport', () => {
  test('keeps name, message, stack, own enumerable properties and nested causes', () => {
    const inner = Object.assign(new TypeError('inner'), { code: 'E_INNER' });
    const thrown = Object.assign(new Error('outer', { cause: inner }), { name: 'LoadError', subject: 'sub-01', nums: [1, 2] });
    const rebuilt = roundTrip(thrown) as Error & Record<string, unknown>;
    assert.ok(rebuilt instanceof Error);
    assert.deepEqual([rebuilt.name, rebuilt.message, rebuilt.stack], ['LoadError', 'outer', thrown.stack]);
    assert.deepEqual({ ...rebuilt }, { name: 'LoadError', subject: 'sub-01', nums: [1, 2] });
    const cause = rebuilt.cause as Error & { code: string };
    assert.deepEqual([cause.name, cause.message, cause.code], ['TypeError', 'inner', 'E_INNER']);
  });

  test('non-Error values come back as themselves when they can be cloned', () => {
    assert.equal(roundTrip('text'), 'text');
    assert.equal(roundTrip(null), null);
    assert.deepEqual(roundTrip({ reason: 1 }), { reason: 1 });
    assert.equal(roundTrip(Symbol('s')), 'Symbol(s)');
  });

  test('a hostile error is rebuilt safely, without prototype pollution', () => {
    const hostile = new Error('x'.repeat(50_000));
    Object.defineProperty(hostile, 'boom', { enumerable: true, get() { throw new Error('getter'); } });
    Object.defineProperty(hostile, '__proto__', { enumerable: true, value: { polluted: true } });
    Object.defineProperty(hostile, 'constructor', { enumerable: true, value: { prototype: { polluted: true } } });
    (hostile as unknown as { self: unknown }).self = hostile;
    (hostile as { cause?: unknown }).cause = hostile;
    const rebuilt = roundTrip(hostile) as Error & Record<string, unknown>;
    assert.ok(rebuilt.message.length < 11_000, 'the message is truncated');
    assert.match(rebuilt.message, /more characters\]$/);
    assert.equal('boom' in rebuilt, false, 'the throwing getter is left out');
    assert.equal(Object.getPrototypeOf(rebuilt), Error.prototype);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(rebuilt.constructor, Error);
    let depth = 0;
    for (let e: unknown = rebuilt; e instanceof Error && depth < 100; e = e.cause) depth++;
    assert.ok(depth <= 10, `the circular cause chain is cut (depth ${depth})`);
  });

  test('errors whose name or message getters throw still serialize', () => {
    const error = new Error('m');
    Object.defineProperty(error, 'message', { get() { throw new Error('no'); } });
    Object.defineProperty(error, 'name', { get() { throw new Error('no'); } });
    const data = serializeError(error);
    assert.deepEqual([data.name, data.message], ['Error', '']);
  });
});

describe('describe()', () => {
  test('shows a value and its type on one short line', () => {
    assert.equal(describeValue(0), '`0` (number)');
    assert.equal(describeValue([1, 2]), '`[ 1, 2 ]` (Array)');
    assert.equal(describeValue(Object.create(null)), '`[Object: null prototype] {}` (object)');
    // A prototype whose constructor has no name: the value's tag names it.
    assert.equal(describeValue((function* () {})()), '`Object [Generator] {}` (Generator)');
    assert.ok(describeValue('y'.repeat(500)).length < 100);
  });
});
