import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Matrix } from '@parallelize/core';

/** A small seeded generator (mulberry32), so every run sees the same "random" data. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomFloats(rows: number, seed: number): Float64Array {
  const next = random(seed);
  return Float64Array.from({ length: rows }, () => next() * 200 - 100);
}

/** The items `parallelize` hands to fn for each kind of data, read the obvious way. */
function items(data: unknown): unknown[] {
  if (data instanceof Matrix) return Array.from({ length: data.rows }, (_, i) => data.row(i));
  if (ArrayBuffer.isView(data)) return Array.from(data as unknown as ArrayLike<unknown>);
  return data as unknown[];
}

function flatten(value: unknown, out: number[]): void {
  if (typeof value === 'number') out.push(value);
  else for (const element of Array.from(value as ArrayLike<unknown>)) flatten(element, out);
}

/** The reference implementation: a plain serial loop with numpy's `reshape(len, -1)`. */
export async function serialMap(data: unknown, fn: (item: any, index: number, context: any) => unknown, context?: unknown): Promise<Matrix> {
  const rows: number[][] = [];
  const list = items(data);
  for (let i = 0; i < list.length; i++) {
    const row: number[] = [];
    flatten(await fn(list[i], i, context), row);
    rows.push(row);
  }
  const cols = rows[0]?.length ?? 0;
  return new Matrix(Float64Array.from(rows.flat()), rows.length, cols);
}

/** Same shape and the same bits in every cell (NaN equals NaN, 0 differs from -0). */
export function assertSameMatrix(actual: Matrix, expected: Matrix): void {
  assert.ok(actual instanceof Matrix, 'result is a Matrix');
  assert.deepEqual([actual.rows, actual.cols], [expected.rows, expected.cols], 'shape');
  const a = new Uint8Array(actual.data.buffer, actual.data.byteOffset, actual.data.byteLength);
  const b = new Uint8Array(expected.data.buffer, expected.data.byteOffset, expected.data.byteLength);
  if (Buffer.compare(a, b) !== 0) {
    const i = actual.data.findIndex((value, k) => !Object.is(value, expected.data[k]));
    assert.fail(`cell ${i} differs: ${actual.data[i]} vs ${expected.data[i]}`);
  }
}

/** OS threads of this process: each live worker is one. */
export function threadCount(): number {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
}

/** The thread count once it has held still for 50 ms (a thread that just exited may take a moment to go). */
export async function steadyThreadCount(): Promise<number> {
  let last = threadCount();
  for (let tries = 0; tries < 100; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = threadCount();
    if (now === last) return now;
    last = now;
  }
  return last;
}

/** Fails unless the thread count falls back to `count` within `ms` (exited workers are joined, not leaked). */
export async function threadsBackTo(count: number, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (threadCount() > count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(threadCount() <= count, `${threadCount()} threads are alive, expected at most ${count}`);
}

/** Settles with `promise`, or fails the test if it takes longer than `ms` (a hang is a failure, not a timeout). */
export async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves with the rejection of `promise`, failing if it fulfils. */
export async function rejection(promise: Promise<unknown>, ms = 10_000): Promise<any> {
  try {
    await within(ms, promise);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('did not settle')) throw error;
    return error;
  }
  assert.fail('expected the promise to reject');
}

/** The package root, where `@parallelize/core` names the built package. */
const packageRoot = fileURLToPath(new URL('..', import.meta.url));

/**
 * The environment of a spec's child process: ours, with `env` added, but without PARALLELIZE_CORES.
 * A shell that sets it above this machine's CPUs would make every child warn of oversubscription
 * (and change its thread count): specs that want it set it themselves.
 */
export function childEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { PARALLELIZE_CORES: _, ...inherited } = process.env;
  return { ...inherited, ...env };
}

/**
 * Runs `body`, an ES module, in a child `node` started in the package root, where `@parallelize/core`
 * names the built package (or in `cwd`); `flags` go before it (`--require`, V8 flags), `env` adds to ours (childEnv).
 */
export function runModule(body: string, { flags = [], env = {}, timeout = 60_000, cwd = packageRoot }: { flags?: string[]; env?: Record<string, string>; timeout?: number; cwd?: string } = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [...flags, '--input-type=module', '-e', body], { cwd, encoding: 'utf8', timeout, env: childEnv(env) });
}

/**
 * Starts `body`, an ES module, in a child `node` as runModule does, with stdout and stderr piped,
 * for a spec that talks to it while it runs; it is killed after `timeout` ms, so a hang fails the spec.
 */
export function spawnModule(body: string, timeout = 60_000, env: Record<string, string> = {}): ChildProcessByStdio<null, Readable, Readable> {
  return spawn(process.execPath, ['--input-type=module', '-e', body], { cwd: packageRoot, stdio: ['ignore', 'pipe', 'pipe'], signal: AbortSignal.timeout(timeout), env: childEnv(env) });
}
