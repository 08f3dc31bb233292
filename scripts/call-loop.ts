/**
 * A loop of calls on one warm pool, each dropping its 8 MiB result at once, as a script would:
 * the median time per call and the peak RSS, with the collection of shared memory on (the default)
 * and off (PARALLELIZE_GC=0), in child processes that alternate. It backs the note in
 * docs/performance.md on dropped results giving their memory to the next ones. Reports; never asserts.
 *
 *   npx tsx scripts/plain-node.ts scripts/call-loop.ts            # 70 calls, 3 processes each way
 *   npx tsx scripts/plain-node.ts scripts/call-loop.ts --calls 200 --rounds 5
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { createPool } from '@parallelize/core';
import { cases } from './bench-cases.ts';
import { median, ms } from './measure.ts';

const { values: args } = parseArgs({
  options: { calls: { type: 'string', default: '70' }, rounds: { type: 'string', default: '3' }, child: { type: 'string' } },
});
const calls = Number(args.calls);

/** The bench's cases of 1,000,000 numbers: `x * 2 + 1` runs on the calling thread, 40 square roots per item go to the threads. */
const kinds = ['cheap', 'cheap-150ns'] as const;
type Kind = (typeof kinds)[number];

interface Loop { medianMs: number; peakRssMiB: number }

if (args.child !== undefined) {
  const prepared = cases.find((c) => c.name === args.child)!.prepare(1);
  const pool = createPool({ cores: 2 });
  const times: number[] = [];
  // Ten calls to warm up (JIT, threads), then the ones we count.
  for (let call = 0; call < calls + 10; call++) {
    const started = performance.now();
    await prepared.parallel(pool);
    if (call >= 10) times.push(performance.now() - started);
  }
  await pool.close();
  console.log(JSON.stringify({ medianMs: median(times), peakRssMiB: process.resourceUsage().maxRSS / 1024 } satisfies Loop));
  process.exit(0);
}

const loop = (kind: Kind, env: Record<string, string>): Loop => {
  const child = spawnSync(process.execPath, [process.argv[1]!, '--child', kind, '--calls', String(calls)], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (child.status !== 0) throw new Error(child.stderr);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Loop;
};

console.log(`${calls} calls of 1,000,000 items on a 2-core pool, each 8 MiB result dropped at once (Node ${process.version}, ${new Date().toISOString().slice(0, 10)}); per process: median ms per call, peak RSS MiB`);
console.log('| fn | collection for shared memory | median ms per call, each process | peak RSS MiB, each process |\n| --- | --- | --- | --- |');
for (const kind of kinds) {
  const on: Loop[] = [];
  const off: Loop[] = [];
  for (let round = 0; round < Number(args.rounds); round++) {
    on.push(loop(kind, {}));
    off.push(loop(kind, { PARALLELIZE_GC: '0' }));
  }
  for (const [label, loops] of [['on (default)', on], ['off (PARALLELIZE_GC=0)', off]] as const) {
    console.log(`| ${kind} | ${label} | ${loops.map((l) => ms(l.medianMs)).join(', ')} | ${loops.map((l) => l.peakRssMiB.toFixed(0)).join(', ')} |`);
  }
}
