/**
 * The benchmark workloads. Each case makes its data once, then can run as a plain serial loop or
 * through `parallelize`; both give the same matrix. Sizes aim at 1–4 s of serial work on a 2-core
 * machine; `scale` shrinks them for a quick run.
 */
import { Matrix, task, type Pool, type TaskRef } from '@parallelize/core';
import { brainMask, dims, maskedStats, maskedStatsAllocating, syntheticSubjects, type StudyContext } from './workload.ts';

// Trap cases run as task() modules: their functions call maskedStats, so they are not self-contained.
// The path goes through scripts/ so that it also holds from the bundle in .bundles/ (see plain-node.ts).
const workloadModule = new URL('../scripts/workload.ts', import.meta.url);

export interface BenchCase {
  readonly name: string;
  readonly description: string;
  /** Makes the data; called once per process. */
  prepare(scale: number): Prepared;
}

export interface Prepared {
  readonly items: number;
  serial(): Matrix;
  parallel(pool: Pool): Promise<Matrix>;
  /** Where the input is one shared Float64Array (`width` numbers per item): what hand-written workers need (scaling.ts). */
  readonly shared?: SharedInput;
}

export interface SharedInput {
  readonly data: Float64Array;
  readonly width: number;
  readonly cols: number;
  readonly fn: (item: never, index: number, context: never) => number | ArrayLike<number>;
  readonly context?: unknown;
}

/** Runs `fn` over items the way a plain loop would, into a matrix of `cols` columns. */
function loop<T>(items: number, cols: number, item: (i: number) => T, fn: (item: T, i: number) => number | ArrayLike<number>): Matrix {
  const out = new Matrix(new Float64Array(items * cols), items, cols);
  for (let i = 0; i < items; i++) {
    const r = fn(item(i), i);
    if (typeof r === 'number') out.data[i] = r;
    else out.data.set(r, i * cols);
  }
  return out;
}

/** Cost grows with the square of the index. */
function uneven(x: number, index: number): number {
  let s = x;
  const n = 2000 + index * index * 40;
  for (let k = 0; k < n; k++) s = Math.sqrt(s + k) * 1.0001;
  return s;
}

function cheap(x: number): number {
  return x * 2 + 1;
}

/** 40 square roots per item (~170 ns on the 2-core test machine). */
function medium(x: number): number {
  let s = x;
  for (let k = 0; k < 40; k++) s = Math.sqrt(s * s + k);
  return s;
}

/** 90 square roots per item (~0.4 µs on the 2-core test machine). */
function moderate(x: number): number {
  let s = x;
  for (let k = 0; k < 90; k++) s = Math.sqrt(s * s + k);
  return s;
}

interface Obj { readonly id: number; readonly values: readonly number[] }

function objectStats(o: Obj): number[] {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of o.values) { sum += v; if (v < min) min = v; if (v > max) max = v; }
  return [sum / o.values.length, min, max];
}

/** A few µs per object: a small polynomial fit of every value. */
function objectWork(o: Obj): number[] {
  let a = 0;
  let b = 0;
  let c = 0;
  for (let r = 0; r < 6; r++) {
    for (let k = 0; k < o.values.length; k++) {
      const v = o.values[k]!;
      a += Math.sin(v * (r + 1)) * k;
      b += Math.cos(v + r);
      c += Math.sqrt(Math.abs(v) + k + r);
    }
  }
  return [a, b, c];
}

function objects(count: number, width: number): Obj[] {
  let state = 7;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 4294967296;
  return Array.from({ length: count }, (_, id) => ({ id, values: Array.from({ length: width }, next) }));
}

function numbers(count: number): Float64Array {
  const data = new Float64Array(new SharedArrayBuffer(count * 8));
  for (let i = 0; i < count; i++) data[i] = (i % 1000) / 7;
  return data;
}

const size = (n: number, scale: number) => Math.max(1, Math.round(n * scale));

/** A case over a typed array or an Array, with an inline function of `cols` results per item. */
function listCase<T>(name: string, description: string, make: (scale: number) => Float64Array | T[], cols: number, fn: (item: T, i: number) => number | number[]): BenchCase {
  return {
    name, description,
    prepare(scale) {
      const data = make(scale);
      const item = (i: number) => data[i] as T;
      return {
        items: data.length, serial: () => loop(data.length, cols, item, fn), parallel: (pool) => pool.parallelize(data as T[], fn as never),
        shared: data instanceof Float64Array ? { data, width: 1, cols, fn: fn as SharedInput['fn'] } : undefined,
      };
    },
  };
}

type Stats = (row: Float64Array, index: number, context: StudyContext) => ArrayLike<number>;

/** The subjects workload: `count` synthetic subjects, `stats` per subject in the loop, `onThreads` in the pool. */
function subjectsCase(name: string, description: string, count: number, stats: Stats, onThreads: Stats | TaskRef): BenchCase {
  return {
    name, description,
    prepare(scale) {
      const data = syntheticSubjects(size(count, scale));
      const context: StudyContext = { mask: brainMask(), dims };
      return {
        items: data.rows,
        serial: () => loop(data.rows, 4, (i) => data.row(i), (row, i) => stats(row, i, context)),
        parallel: (pool) => pool.parallelize(data, onThreads as never, { context }),
        shared: { data: data.data, width: data.cols, cols: 4, fn: stats as SharedInput['fn'], context },
      };
    },
  };
}

export const cases: readonly BenchCase[] = [
  subjectsCase('subjects', '1,000 × 65,536 voxels in Matrix.alloc, 5×5×5 smoothing + masked mean/std/min/max → 4 cols', 1000, maskedStats, maskedStats),
  listCase('uneven', '300 items whose cost grows with the square of the index → 1 col', (scale) => numbers(size(300, Math.sqrt(scale))), 1, uneven),
  listCase('cheap', '1,000,000 numbers, x * 2 + 1 (a few ns each)', (scale) => numbers(size(1_000_000, scale)), 1, cheap),
  listCase('cheap-150ns', '1,000,000 numbers, 40 square roots each (~170 ns here)', (scale) => numbers(size(1_000_000, scale)), 1, medium),
  listCase('moderate', '1,000,000 numbers, 90 square roots each (~0.4 µs here)', (scale) => numbers(size(1_000_000, scale)), 1, moderate),
  listCase('cheap-array', 'the cheap case on a plain Array of numbers', (scale) => Array.from(numbers(size(1_000_000, scale))), 1, cheap),
  listCase('cheap-plain', 'the cheap case on a Float64Array of a plain ArrayBuffer (copied for threads only)', (scale) => numbers(size(1_000_000, scale)).slice(), 1, cheap),
  listCase('moderate-array', 'the moderate case on a plain Array of numbers', (scale) => Array.from(numbers(size(1_000_000, scale))), 1, moderate),
  listCase('objects', '200,000 objects { id, values: number[10] } → sum/min/max, 3 cols (packed in shared memory)', (scale) => objects(size(200_000, scale), 10), 3, objectStats),
  listCase('objects-work', '100,000 objects of 32 numbers, a few µs each → 3 cols', (scale) => objects(size(100_000, scale), 32), 3, objectWork),
];

/** Traps a user's fn can fall into, measured to back the README's performance notes. */
export const traps: readonly BenchCase[] = [
  subjectsCase('trap:allocate', 'subjects, but allocating both 512 KiB scratch volumes for every item', 400, maskedStatsAllocating, task(workloadModule, 'maskedStatsAllocating')),
  subjectsCase('trap:detach', 'subjects, but each thread detaches one small ArrayBuffer first', 400, maskedStats, task(workloadModule, 'maskedStatsDetaching')),
];
