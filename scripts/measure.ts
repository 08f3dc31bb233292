/** What bench.ts and scaling.ts both measure with: timing, medians, spans, bit-for-bit checks. */
import type { Matrix } from '@parallelize/core';

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Milliseconds to print: whole ones, or tenths under 10 ms (a cheap call takes 1–3 ms). */
export const ms = (value: number) => value.toFixed(value < 9.95 ? 1 : 0);

/** "min–max" of `values`, in ms as `ms` prints them. */
export const span = (values: number[]) => `${ms(Math.min(...values))}–${ms(Math.max(...values))}`;

export function sameBits(a: Matrix, b: Matrix): boolean {
  return a.rows === b.rows && a.cols === b.cols && a.data.every((v, k) => Object.is(v, b.data[k]));
}

/** Milliseconds `run` takes, awaited. */
export async function time(run: () => unknown): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}
