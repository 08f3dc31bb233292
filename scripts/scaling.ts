/**
 * The scaling table: the subjects and uneven workloads at 1, 2, 4, 8, … cores, each against the
 * same serial loop in the same process. Reports; never asserts. Meant for a many-core machine.
 *
 *   tsx scripts/plain-node.ts scripts/scaling.ts                       # 1, 2, 4, 8, 16 cores, 5 runs
 *   tsx scripts/plain-node.ts scripts/scaling.ts --cores 1,2 --runs 3 --scale 0.2
 *
 * Each case runs in a process of its own (as in bench.ts), with one warm pool per core count.
 * Every round times the serial loop and each core count once, in an order that rotates from round
 * to round, so that drift in the machine's speed hits them all alike. Efficiency is
 * serial / (cores × parallel), both medians.
 *
 * Beside ours, each round also times hand-written raw workers (raw-workers.ts) on the same shared
 * input. That is the ceiling of the machine for the workload, so that a shortfall can be told
 * apart from the machine's own (memory bandwidth, shared caches, noisy neighbours).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { availableCores, createPool, type Pool } from '@parallelize/core';
import { cases } from './bench-cases.ts';
import { rawWorkers } from './raw-workers.ts';
import { median, sameBits, span, time } from './measure.ts';

const { values: args } = parseArgs({
  options: {
    cases: { type: 'string', default: 'subjects,uneven' }, cores: { type: 'string', default: '1,2,4,8,16' },
    runs: { type: 'string', default: '5' }, scale: { type: 'string', default: '1' },
    child: { type: 'string' }, out: { type: 'string', default: 'bench-results' },
  },
});
const coreCounts = args.cores.split(',').map(Number);
const runs = Number(args.runs);
const scale = Number(args.scale);

interface Timings { items: number; serialMs: number[]; parallelMs: Record<number, number[]>; rawMs: Record<number, number[]>; identical: boolean }


/** The interleaved rounds of one case, in this (child) process. */
async function timings(name: string): Promise<Timings> {
  const benchCase = cases.find((c) => c.name === name);
  if (benchCase === undefined) throw new Error(`no case ${name}; cases: ${cases.map((c) => c.name).join(', ')}`);
  const prepared = benchCase.prepare(scale);
  const pools = new Map<number, Pool>(coreCounts.map((n) => [n, createPool({ cores: n })]));
  const reference = prepared.serial();
  const shared = prepared.shared;
  if (shared === undefined) throw new Error(`case ${name} has no shared input for hand-written workers`);
  const raws = new Map(coreCounts.map((n) => [n, rawWorkers(shared, n)]));
  let identical = true;
  for (const pool of pools.values()) identical &&= sameBits(await prepared.parallel(pool), reference);
  for (const raw of raws.values()) identical &&= sameBits((await raw.run()).result, reference);
  const serialMs: number[] = [];
  const parallelMs: Record<number, number[]> = Object.fromEntries(coreCounts.map((n) => [n, []]));
  const rawMs: Record<number, number[]> = Object.fromEntries(coreCounts.map((n) => [n, []]));
  const modes = [0, ...coreCounts, ...coreCounts.map((n) => -n)]; // 0: the serial loop; -n: n raw workers
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < modes.length; k++) {
      const mode = modes[(k + r) % modes.length]!;
      if (mode === 0) serialMs.push(await time(() => prepared.serial()));
      else if (mode > 0) parallelMs[mode]!.push(await time(() => prepared.parallel(pools.get(mode)!)));
      else rawMs[-mode]!.push(await time(() => raws.get(-mode)!.run()));
    }
  }
  await Promise.all([...[...pools.values()].map((pool) => pool.close()), ...[...raws.values()].map((raw) => raw.close())]);
  return { items: prepared.items, serialMs, parallelMs, rawMs, identical };
}

if (args.child !== undefined) {
  console.log(JSON.stringify(await timings(args.child)));
  process.exit(0);
}

const started = new Date();
console.log(`@parallelize/core scaling: ${availableParallelism()} CPUs (${cpus()[0]?.model.trim()}), availableCores() = ${availableCores()}, Node ${process.version}, ${started.toISOString().slice(0, 10)}, ${runs} runs, scale ${scale}`);
const header = ['case', 'cores', 'serial ms', 'parallel ms (min–max)', 'speed-up', 'efficiency', 'raw workers ms (min–max)', 'raw efficiency', 'same bits'];
console.log(`| ${header.join(' | ')} |`);
console.log(`| ${header.map(() => '---').join(' | ')} |`);
mkdirSync(args.out, { recursive: true });
const results: Record<string, Timings> = {};
// Each case's rows and the JSON go out as soon as the case is done, so that a run stopped by a
// time limit (as on a lent machine) keeps what it measured.
for (const name of args.cases.split(',')) {
  process.stderr.write(`${name}…\n`);
  const child = spawnSync(process.execPath, [process.argv[1]!, ...process.argv.slice(2), '--child', name], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (child.status !== 0) throw new Error(`child ${name} failed: ${child.stderr}`);
  const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Timings;
  results[name] = result;
  const serial = median(result.serialMs);
  for (const n of coreCounts) {
    const parallel = median(result.parallelMs[n]!);
    const raw = median(result.rawMs[n]!);
    console.log(`| ${[name, String(n), serial.toFixed(0), `${parallel.toFixed(0)} (${span(result.parallelMs[n]!)})`,
      `${(serial / parallel).toFixed(2)}×`, (serial / (n * parallel)).toFixed(2),
      `${raw.toFixed(0)} (${span(result.rawMs[n]!)})`, (serial / (n * raw)).toFixed(2), result.identical ? 'yes' : 'NO'].join(' | ')} |`);
  }
  writeFileSync(`${args.out}/scaling.json`, JSON.stringify({ date: started.toISOString(), node: process.version, cpus: availableParallelism(), cpu: cpus()[0]?.model, runs, scale, results }, null, 2));
}
console.log(`\nresults: ${args.out}/scaling.json`);
