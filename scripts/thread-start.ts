/**
 * What starting threads costs a call: a fresh pool's first call of 16 trivial items on its threads
 * (`callingThread: false`), and a `parallelizeSync` call, each timed 5 times in a fresh process.
 * Given the package roots of other builds (each with its own dist/), it alternates them with this
 * one, process by process, so that the machine's drift hits all alike; medians.
 *
 *   npx tsx scripts/thread-start.ts
 *   npx tsx scripts/thread-start.ts --processes 8 /tmp/older-checkout
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './measure.ts';

const { values: args, positionals } = parseArgs({ options: { processes: { type: 'string', default: '8' } }, allowPositionals: true });
const roots = [fileURLToPath(new URL('..', import.meta.url)), ...positionals.map((root) => resolve(root))];

// Plain node, CommonJS: no tsx in the timed processes, and no ES module loader of their own.
const script = (root: string): string => `
  const { createPool, parallelizeSync } = require(${JSON.stringify(`${root}/dist/lib/index.cjs`)});
  const items = Array.from({ length: 16 }, (_, i) => i);
  const ms = (since) => Number(process.hrtime.bigint() - since) / 1e6;
  (async () => {
    const pool = [], sync = [];
    for (let run = 0; run < 5; run++) {
      let since = process.hrtime.bigint();
      const fresh = createPool();
      await fresh.parallelize(items, (x) => x * 2, { callingThread: false });
      pool.push(ms(since));
      await fresh.close();
      since = process.hrtime.bigint();
      parallelizeSync(items, (x) => x * 2);
      sync.push(ms(since));
    }
    console.log(JSON.stringify({ pool, sync }));
  })();
`;

const times = roots.map(() => ({ pool: [] as number[], sync: [] as number[] }));
for (let round = 0; round < Number(args.processes); round++) {
  const order = roots.map((_, k) => k);
  if (round % 2 === 1) order.reverse();
  for (const k of order) {
    const { pool, sync } = JSON.parse(execFileSync(process.execPath, ['-e', script(roots[k]!)], { encoding: 'utf8' })) as { pool: number[]; sync: number[] };
    times[k]!.pool.push(...pool);
    times[k]!.sync.push(...sync);
  }
}
console.log(`Node ${process.version}, ${new Date().toISOString().slice(0, 10)}, ${times[0]!.pool.length} calls each`);
console.log('| build | fresh pool, first call on threads ms | parallelizeSync call ms |\n| --- | --- | --- |');
roots.forEach((root, k) => console.log(`| ${root} | ${median(times[k]!.pool).toFixed(1)} | ${median(times[k]!.sync).toFixed(1)} |`));
