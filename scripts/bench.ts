/**
 * Benchmarks `parallelize` side by side with a plain serial loop on the same data, in one run.
 * Reports; never asserts. Serial and parallel runs alternate (the machines are noisy), and we
 * print the median and min–max of several runs after a warm-up of each.
 *
 *   npm run bench                          # every case, 5 runs each
 *   npm run bench -- --cases uneven,cheap --runs 7 --scale 0.5
 *   npm run bench -- --traps               # also the traps behind the README's notes
 *
 * Parallel times use a warm Pool; "one-shot" times start and stop the threads inside the call.
 * Each case is timed in a process of its own, so that the JIT's view of one case (which functions
 * a call site has seen) cannot slow down another; peak RSS is measured per case and mode in
 * further child processes (`process.resourceUsage().maxRSS`).
 *
 * The children run a bundle of this script on plain `node`, not under tsx (see plain-node.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createPool, parallelize } from '@parallelize/core';
import { cases, traps, type BenchCase } from './bench-cases.ts';
import { median, ms, sameBits, span, time } from './measure.ts';
import { bundleForNode } from './plain-node.ts';

const { values: args } = parseArgs({
  options: {
    cases: { type: 'string' }, runs: { type: 'string', default: '5' }, scale: { type: 'string', default: '1' },
    traps: { type: 'boolean', default: false }, child: { type: 'string' }, mode: { type: 'string' },
    out: { type: 'string', default: 'bench-results' },
  },
});
const scale = Number(args.scale);
const runs = Number(args.runs);
const cores = availableParallelism();
const all = [...cases, ...traps];

if (args.child !== undefined) {
  const benchCase = all.find((c) => c.name === args.child)!;
  if (args.mode === 'timing') console.log(JSON.stringify(await timing(benchCase)));
  else await child(benchCase, args.mode as 'serial' | 'parallel');
  process.exit(0);
}

/** One mode of one case in a fresh process, for its peak RSS. */
async function child(benchCase: BenchCase, mode: 'serial' | 'parallel'): Promise<void> {
  const prepared = benchCase.prepare(scale);
  if (mode === 'serial') prepared.serial();
  else await parallelize([0], (x: number) => x).then(async () => { const pool = createPool(); await prepared.parallel(pool); await pool.close(); });
  console.log(JSON.stringify({ maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
}

/** This script bundled for plain `node`, made once by the parent process (children never read it). */
let bundle = '';

/** Runs this script again for one case and mode, and returns the JSON line it prints last. */
function inChild<T>(name: string, mode: 'serial' | 'parallel' | 'timing'): T {
  const argv = ['--expose-gc', bundle, '--child', name, '--mode', mode, '--scale', String(scale), '--runs', String(runs)];
  const run = spawnSync(process.execPath, argv, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.status !== 0) throw new Error(`child ${name}/${mode} failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as T;
}

const peakRss = (name: string, mode: 'serial' | 'parallel') => inChild<{ maxRssMiB: number }>(name, mode).maxRssMiB;

interface Row {
  name: string; items: number; serialMs: number[]; parallelMs: number[]; oneShotMs: number[];
  speedup: number; efficiency: number; oneShotEfficiency: number; nsPerItemOverhead: number;
  rssSerialMiB: number; rssParallelMiB: number; identical: boolean;
}

type Timing = Pick<Row, 'items' | 'serialMs' | 'parallelMs' | 'oneShotMs' | 'identical'>;

/** The interleaved timing runs of one case (in its own process). */
async function timing(benchCase: BenchCase): Promise<Timing> {
  const prepared = benchCase.prepare(scale);
  const pool = createPool();
  // Warm-up: JIT both paths and start the pool's threads.
  const reference = prepared.serial();
  const identical = sameBits(await prepared.parallel(pool), reference);
  const serialMs: number[] = [];
  const parallelMs: number[] = [];
  const oneShotMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    // Alternate which goes first, so drift in the machine's speed hits both alike.
    const order = r % 2 === 0 ? ['serial', 'parallel'] : ['parallel', 'serial'];
    for (const mode of order) {
      settle();
      if (mode === 'serial') serialMs.push(await time(() => prepared.serial()));
      else parallelMs.push(await time(() => prepared.parallel(pool)));
    }
    settle();
    oneShotMs.push(await time(async () => { const fresh = createPool(); await prepared.parallel(fresh); await fresh.close(); }));
  }
  await pool.close();
  return { items: prepared.items, serialMs, parallelMs, oneShotMs, identical };
}

/**
 * A full collection before each timed run, outside its time. Both sides drop a fresh result every
 * run, and a run that allocates after a collection gets that memory back already touched, while
 * fresh memory costs ~2.5 ms per MiB to touch: with 8 MiB results, which side found the other's
 * freed memory decided the cheap case (1.5 against 23 ms, either way round). Now every run starts
 * with the garbage of the last one gone, as in a program that calls one or the other in a loop.
 */
function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function measure(benchCase: BenchCase): Row {
  const { items, serialMs, parallelMs, oneShotMs, identical } = inChild<Timing>(benchCase.name, 'timing');
  const serial = median(serialMs);
  const parallel = median(parallelMs);
  return {
    name: benchCase.name, items, serialMs, parallelMs, oneShotMs,
    speedup: serial / parallel,
    efficiency: serial / (cores * parallel),
    oneShotEfficiency: serial / (cores * median(oneShotMs)),
    // What the threads spent beyond an even share of the serial work, per item.
    nsPerItemOverhead: ((parallel * cores - serial) / items) * 1e6,
    rssSerialMiB: peakRss(benchCase.name, 'serial'),
    rssParallelMiB: peakRss(benchCase.name, 'parallel'),
    identical,
  };
}

/** The whole process: import the library, map 16 trivial items, exit; against `node -e 0`. */
function oneShotProcess(): { baselineMs: number[]; libraryMs: number[]; importMs: number[]; callMs: number[] } {
  // The path goes through scripts/ so that it also holds from the bundle in .bundles/.
  const script = new URL('../scripts/one-shot.mjs', import.meta.url).pathname;
  const wall = (argv: string[]): { ms: number; output: string } => {
    const started = performance.now();
    const output = execFileSync(process.execPath, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { ms: performance.now() - started, output };
  };
  wall(['-e', '0']);
  wall([script]);
  const baselineMs: number[] = [];
  const libraryMs: number[] = [];
  const importMs: number[] = [];
  const callMs: number[] = [];
  for (let r = 0; r < Math.max(runs, 10); r++) {
    baselineMs.push(wall(['-e', '0']).ms);
    const { ms, output } = wall([script]);
    libraryMs.push(ms);
    const [imported, called] = output.trim().split(' ').map(Number);
    importMs.push(imported!);
    callMs.push(called!);
  }
  return { baselineMs, libraryMs, importMs, callMs };
}

// Already a bundle when run as one (as on a machine without the dev dependencies); else make it.
bundle = import.meta.url.endsWith('.ts') ? await bundleForNode(fileURLToPath(import.meta.url)) : fileURLToPath(import.meta.url);

const selected = args.cases?.split(',') ?? [...cases, ...(args.traps ? traps : [])].map((c) => c.name);
const started = new Date();
console.log(`@parallelize/core benchmarks: ${cores} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${started.toISOString().slice(0, 10)}, ${runs} runs, scale ${scale}`);
const rows: Row[] = [];
for (const name of selected.filter((name) => name !== 'one-shot')) { // one-shot is a whole process, below
  const benchCase = all.find((c) => c.name === name);
  if (benchCase === undefined) throw new Error(`no case ${name}; cases: ${all.map((c) => c.name).join(', ')}, one-shot`);
  process.stderr.write(`${name}: ${benchCase.description}\n`);
  rows.push(measure(benchCase));
}
const process16 = selected.includes('one-shot') || args.cases === undefined ? oneShotProcess() : undefined;

const table = [
  ['case', 'items', 'serial ms (min–max)', 'parallel ms (min–max)', 'speed-up', 'efficiency', 'one-shot ms', 'one-shot eff.', 'overhead ns/item', 'RSS serial / parallel MiB', 'same bits'],
  ...rows.map((row) => [
    row.name, String(row.items),
    `${ms(median(row.serialMs))} (${span(row.serialMs)})`,
    `${ms(median(row.parallelMs))} (${span(row.parallelMs)})`,
    `${row.speedup.toFixed(2)}×`, row.efficiency.toFixed(2),
    ms(median(row.oneShotMs)), row.oneShotEfficiency.toFixed(2),
    row.nsPerItemOverhead.toFixed(0),
    `${row.rssSerialMiB.toFixed(0)} / ${row.rssParallelMiB.toFixed(0)}`,
    row.identical ? 'yes' : 'NO',
  ]),
];
const widths = table[0]!.map((_, k) => Math.max(...table.map((line) => line[k]!.length)));
for (const [n, line] of table.entries()) {
  console.log(`| ${line.map((cell, k) => cell.padEnd(widths[k]!)).join(' | ')} |`);
  if (n === 0) console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
}
if (process16) {
  const extra = median(process16.libraryMs) - median(process16.baselineMs);
  console.log(`\none-shot process (import, map 16 trivial items, exit): ${median(process16.libraryMs).toFixed(0)} ms vs node -e 0 ${median(process16.baselineMs).toFixed(0)} ms: +${extra.toFixed(0)} ms (median of ${process16.libraryMs.length})`);
  // Process start-up swings by tens of ms on a shared machine; these, timed inside, do not.
  console.log(`  inside the process: import ${median(process16.importMs).toFixed(1)} ms, call ${median(process16.callMs).toFixed(1)} ms (medians)`);
}
mkdirSync(args.out, { recursive: true });
const json = JSON.stringify({ date: started.toISOString(), node: process.version, cores, cpu: cpus()[0]?.model, runs, scale, rows, oneShotProcess: process16 }, null, 2);
writeFileSync(`${args.out}/latest.json`, json);
console.log(`\nresults: ${args.out}/latest.json`);
