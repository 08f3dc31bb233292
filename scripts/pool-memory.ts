/**
 * What a long-lived pool keeps in memory: one pool makes many calls whose results (8 MiB each) are
 * dropped at once, and we print RSS and array-buffer memory as it goes, side by side with the same
 * loop under PARALLELIZE_GC=0 (no collection for shared memory; see docs/performance.md).
 *
 *   npx tsx scripts/pool-memory.ts                 # 100 calls
 *   npx tsx scripts/pool-memory.ts --calls 300
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPool } from '@parallelize/core';

const { values: args } = parseArgs({ options: { calls: { type: 'string', default: '100' }, child: { type: 'boolean', default: false } } });
const calls = Number(args.calls);
const MiB = 2 ** 20;

if (args.child) {
  const pool = createPool({ cores: 2 });
  const data = new Float64Array(new SharedArrayBuffer(8 * MiB));
  let peakRss = 0;
  let peakBuffers = 0;
  for (let call = 1; call <= calls; call++) {
    // fn allocates nothing, as much numeric work does: nothing else starts a collection.
    await pool.parallelize(data, (x: number, i: number) => x + i, { callingThread: false });
    const { rss, arrayBuffers } = process.memoryUsage();
    peakRss = Math.max(peakRss, rss / MiB);
    peakBuffers = Math.max(peakBuffers, arrayBuffers / MiB);
  }
  await pool.close();
  console.log(JSON.stringify({ peakRss, peakBuffers }));
} else {
  const run = (env: Record<string, string>): { peakRss: number; peakBuffers: number } => {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', '--calls', String(calls)], {
      encoding: 'utf8', env: { ...process.env, ...env },
    });
    if (child.status !== 0) throw new Error(child.stderr);
    return JSON.parse(child.stdout.trim().split('\n').at(-1)!);
  };
  const off = run({ PARALLELIZE_GC: '0' });
  const on = run({});
  console.log(`${calls} calls of a 2-thread pool, 8 MiB results dropped at once (Node ${process.version}, ${new Date().toISOString().slice(0, 10)})`);
  console.log('| collection for shared memory | peak RSS MiB | peak array buffers MiB |\n| --- | --- | --- |');
  console.log(`| off (PARALLELIZE_GC=0) | ${off.peakRss.toFixed(0)} | ${off.peakBuffers.toFixed(0)} |`);
  console.log(`| on (default) | ${on.peakRss.toFixed(0)} | ${on.peakBuffers.toFixed(0)} |`);
}
