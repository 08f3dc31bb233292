/** What bench.ts and scaling.ts both measure with: timing, medians, spans, bit-for-bit checks. */
import type { Matrix } from '@parallelize/core';

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** "min–max" of `values`, in whole ms. */
export const span = (values: number[]) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;

export function sameBits(a: Matrix, b: Matrix): boolean {
  return a.rows === b.rows && a.cols === b.cols && a.data.every((v, k) => Object.is(v, b.data[k]));
}

/** Milliseconds `run` takes, awaited. */
export async function time(run: () => unknown): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}
