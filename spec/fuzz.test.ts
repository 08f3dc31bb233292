import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPool, Matrix, ParallelizeError } from '@parallelize/core';
import { assertSameMatrix, random, serialMap } from './helpers.ts';

/** What one generated case asks fn to do; fn reads it from the context. */
interface Plan {
  readonly shape: 'number' | 'vector' | 'typed' | 'nested' | 'empty';
  readonly k: number;
  readonly throwAt: number;
  readonly badAt: number;
}

// One self-contained mapper for every case: it summarises any kind of item, then shapes its result.
const mapper = (item: unknown, index: number, plan: Plan) => {
  if (index === plan.throwAt) throw new Error(`planned failure at ${index}`);
  if (index === plan.badAt) return 'bad' as never;
  let s = index * 0.25;
  if (typeof item === 'number') s += item;
  else if (ArrayBuffer.isView(item)) for (const v of item as unknown as Iterable<number>) s += Number(v);
  else if (item && typeof item === 'object') s += (item as { v: number }).v;
  switch (plan.shape) {
    case 'number': return s;
    case 'vector': return Array.from({ length: plan.k }, (_, j) => s * (j + 1));
    case 'typed': return Float32Array.from({ length: plan.k }, (_, j) => s - j);
    case 'nested': return [[s, plan.k], [index, -s]];
    default: return [];
  }
};

const kCases = 10_000;

test(`${kCases} generated cases match a serial map or fail as documented`, { timeout: 600_000 }, async () => {
  const next = random(20261127);
  const pick = <T,>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const pool = createPool({ cores: 3 });
  const counts = { matched: 0, failed: 0, collected: 0 };
  async function runCase(n: number): Promise<void> {
    const rows = Math.floor(next() ** 2 * 40);
    const kind = pick(['numbers', 'objects', 'mixed objects', 'Float64Array', 'Int32Array', 'Matrix', 'ragged'] as const);
    const data = kind === 'numbers' ? Array.from({ length: rows }, () => next() * 10)
      : kind === 'objects' ? Array.from({ length: rows }, (_, i) => ({ v: next(), i }))
      // Mostly one shape (sent packed), with strays that send their chunk as clones.
      : kind === 'mixed objects' ? Array.from({ length: rows }, (_, i) => {
        const v = next();
        const stray = next();
        return stray < 0.05 ? { i, v } : stray < 0.1 ? { v, i, tag: 'stray' } : stray < 0.15 ? { v, i: [i] } : { v, i };
      })
        : kind === 'Float64Array' ? Float64Array.from({ length: rows }, () => next())
          : kind === 'Int32Array' ? Int32Array.from({ length: rows }, () => Math.floor(next() * 1000))
            : kind === 'Matrix' ? new Matrix(Float64Array.from({ length: rows * 3 }, () => next()), rows, 3)
              : Array.from({ length: rows }, () => Float64Array.from({ length: Math.floor(next() * 5) }, () => next()));
    const failing = next();
    const plan: Plan = {
      shape: pick(['number', 'vector', 'typed', 'nested', 'empty'] as const),
      k: 1 + Math.floor(next() * 4),
      throwAt: rows > 0 && failing < 0.1 ? Math.floor(next() * rows) : -1,
      badAt: rows > 0 && failing >= 0.1 && failing < 0.15 ? Math.floor(next() * rows) : -1,
    };
    const collect = next() < 0.2;
    const options = {
      context: plan, cores: 1 + Math.floor(next() * 4),
      chunkSize: next() < 0.5 ? 'auto' as const : 1 + Math.floor(next() * 10),
      onError: collect ? 'collect' as const : 'throw' as const,
      callingThread: next() < 0.5,
    };
    const failAt = Math.max(plan.throwAt, plan.badAt);
    const label = `case ${n}: ${kind} × ${rows}, ${JSON.stringify(plan)}, ${JSON.stringify({ ...options, context: undefined })}`;
    if (failAt >= 0 && !collect) {
      const error = await pool.parallelize(data as never, mapper as never, options).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof ParallelizeError, label);
      assert.deepEqual([error.code, error.index], [plan.throwAt >= 0 ? 'ERR_TASK_FAILED' : 'ERR_RESULT_TYPE', failAt], label);
      counts.failed++;
      return;
    }
    const result = await pool.parallelize(data as never, mapper as never, options);
    let expected = await serialMap(data, (item, index) => mapper(item, index, { ...plan, throwAt: -1, badAt: -1 }));
    // When every item failed, nothing tells how wide a row is: the documented result is rows × 0.
    if (failAt >= 0 && rows === 1) expected = new Matrix(new Float64Array(0), 1, 0);
    if (failAt >= 0) {
      const collected = result as typeof result & { errors: { index: number }[] };
      assert.deepEqual(collected.errors.map((e) => e.index), [failAt], label);
      expected.data.fill(NaN, failAt * expected.cols, (failAt + 1) * expected.cols);
      counts.collected++;
    }
    try {
      assertSameMatrix(result, expected);
    } catch (error) {
      assert.fail(`${label}: ${(error as Error).message}`);
    }
    counts.matched++;
  }
  try {
    // Eight calls at a time, so concurrent calls on one pool are fuzzed too.
    for (let n = 0; n < kCases; n += 8) {
      await Promise.all(Array.from({ length: Math.min(8, kCases - n) }, (_, k) => runCase(n + k)));
    }
  } finally {
    await pool.close();
  }
  assert.equal(counts.matched + counts.failed, kCases);
  assert.ok(counts.failed > 500 && counts.collected > 100, `every path was taken: ${JSON.stringify(counts)}`);
});
