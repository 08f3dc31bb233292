import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

// Run in a child process with --expose-gc, so that RSS is measured after real collections.
const script = `
  import { readFileSync } from 'node:fs';
  import { createPool } from '@parallelize/core';
  const threads = () => Number(/Threads:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
  const settle = async () => { for (let k = 0; k < 3; k++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } };
  const base = threads();
  const pool = createPool({ cores: 2 });
  const data = Array.from({ length: 64 }, (_, i) => i);
  let wrong = 0;
  let maxThreads = 0;
  const sample = () => { maxThreads = Math.max(maxThreads, threads()); };
  const timer = setInterval(sample, 5);
  for (let call = 0; call < 50; call++) await pool.parallelize(data, (x, i, c) => [x * c.k, i], { context: { k: call }, callingThread: false });
  await settle();
  const rssBefore = process.memoryUsage().rss;
  for (let call = 0; call < 1000; call++) {
    const result = await pool.parallelize(data, (x, i, c) => [x * c.k, i], { context: { k: call }, callingThread: false });
    if (result.get(63, 0) !== 63 * call || result.get(17, 1) !== 17) wrong++;
    if (call % 50 === 0) sample();
  }
  const concurrent = await Promise.all(Array.from({ length: 16 }, (_, c) =>
    pool.parallelize(Float64Array.from(data), (x, i, ctx) => x + ctx.c, { context: { c }, chunkSize: 4, callingThread: false })));
  concurrent.forEach((result, c) => { for (let i = 0; i < 64; i++) if (result.get(i, 0) !== i + c) wrong++; });
  sample();
  clearInterval(timer);
  await settle();
  const growthMiB = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
  await pool.close();
  console.log(JSON.stringify({ wrong, extraThreads: maxThreads - base, growthMiB }));
`;

test('1,000 successive and 16 concurrent calls on one pool: right results, bounded threads and memory', { timeout: 120_000 }, () => {
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 110_000 });
  assert.equal(child.error, undefined, 'the child finished in time');
  assert.equal(child.status, 0, child.stderr);
  const { wrong, extraThreads, growthMiB } = JSON.parse(child.stdout) as { wrong: number; extraThreads: number; growthMiB: number };
  assert.equal(wrong, 0, 'every result was right');
  assert.ok(extraThreads > 0 && extraThreads <= 2, `${extraThreads} worker threads at most, for cores: 2`);
  assert.ok(growthMiB <= 20, `RSS grew by ${growthMiB.toFixed(1)} MiB`);
});
