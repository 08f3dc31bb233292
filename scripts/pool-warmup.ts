/**
 * A fresh pool making many calls that are each smaller than a thread start (600 items of ~30 µs:
 * ~18 ms of work), side by side with the same calls as a serial loop, which is what such a pool
 * did before it learned to start its threads by itself (see docs/performance.md), and
 * with `callingThread: false`, which starts threads at the first call. Runs alternate; medians.
 *
 *   npx tsx scripts/plain-node.ts scripts/pool-warmup.ts
 *   npx tsx scripts/plain-node.ts scripts/pool-warmup.ts --runs 7 --calls 3,20,100
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { createPool } from '@parallelize/core';
import { median, span, time } from './measure.ts';

const { values: args } = parseArgs({ options: { runs: { type: 'string', default: '5' }, calls: { type: 'string', default: '3,100' } } });
const runs = Number(args.runs);
const data = Float64Array.from({ length: 600 }, (_, i) => i);
const busy = (x: number): number => {
  const end = performance.now() + 0.03;
  let s = x;
  while (performance.now() < end) s = Math.sqrt(s + 1);
  return s;
};

async function poolCalls(calls: number, callingThread: boolean): Promise<void> {
  const pool = createPool({ cores: 2 });
  for (let call = 0; call < calls; call++) await pool.parallelize(data, busy, { callingThread });
  await pool.close();
}

function serialCalls(calls: number): void {
  for (let call = 0; call < calls; call++) {
    const out = new Float64Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = busy(data[i]!);
  }
}

console.log(`fresh 2-thread pool, calls of 600 items at ~30 µs; ${availableParallelism()} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ${runs} runs`);
console.log('| calls | serial loop ms | pool ms | pool, callingThread: false ms |\n| --- | --- | --- | --- |');
for (const calls of args.calls.split(',').map(Number)) {
  const serial: number[] = [];
  const pool: number[] = [];
  const threads: number[] = [];
  await poolCalls(calls, true); // warm-up: compile everything once
  for (let run = 0; run < runs; run++) {
    serial.push(await time(() => serialCalls(calls)));
    pool.push(await time(() => poolCalls(calls, true)));
    threads.push(await time(() => poolCalls(calls, false)));
  }
  const show = (values: number[]) => `${median(values).toFixed(0)} (${span(values)})`;
  console.log(`| ${calls} | ${show(serial)} | ${show(pool)} | ${show(threads)} |`);
}
