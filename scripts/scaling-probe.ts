/**
 * Where the library's time goes against hand-written workers on the subjects workload, at a few
 * core counts: variants of the call, raw workers with a private or a shared mask, and each side's
 * busy time per item (the workers' own clocks), so that a gap can be told apart as slower items or
 * idle threads.
 *
 *   tsx scripts/plain-node.ts scripts/scaling-probe.ts --cores 4,16 --runs 7
 *   tsx scripts/plain-node.ts scripts/scaling-probe.ts --cores 4,16 --trace-case objects-work --variants ''
 *
 * `--trace-case` traces another bench case instead of the subjects (its calls as bench.ts makes
 * them); with `--variants ''` the timing table is skipped.
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { createPool, Matrix, type CallOptions, type Pool } from '@parallelize/core';
import { cases } from './bench-cases.ts';
import { median, ms, span } from './measure.ts';
import { rawWorkers, type RawWorkers } from './raw-workers.ts';

const { values: args } = parseArgs({
  options: {
    cores: { type: 'string', default: '4,16' }, runs: { type: 'string', default: '7' }, scale: { type: 'string', default: '1' },
    child: { type: 'string' }, variants: { type: 'string', default: 'auto,chunk1,chunk4,threads-only,raw,raw-shared' },
    'trace-case': { type: 'string', default: 'subjects' },
  },
});
const coreCounts = args.cores.split(',').map(Number);
const runs = Number(args.runs);
const variants = args.variants.split(',').filter(Boolean);
const traceCase = cases.find((c) => c.name === args['trace-case']);
if (traceCase === undefined) throw new Error(`no case ${args['trace-case']}; cases: ${cases.map((c) => c.name).join(', ')}`);
// Made only where needed: 1,000 subjects take seconds and 512 MiB.
const needsSubjects = variants.length > 0 || traceCase.name === 'subjects';
const prepared = needsSubjects ? cases.find((c) => c.name === 'subjects')!.prepare(Number(args.scale)) : undefined;
const shared = prepared?.shared ?? { data: new Float64Array(0), width: 1, cols: 1, fn: () => [], context: { mask: new Uint8Array(0) } };
const rows = prepared?.items ?? 0;
const data = new Matrix(shared.data, rows, shared.width);
const context = shared.context as { mask: Uint8Array; dims: unknown };

/** Raw workers over the subjects, with the mask as the caller has it (copied to each) or in shared memory. */
function rawOver(n: number, sharedMask: boolean): RawWorkers {
  let { mask } = context;
  if (sharedMask) {
    mask = new Uint8Array(new SharedArrayBuffer(mask.length));
    mask.set(context.mask);
  }
  return rawWorkers({ ...shared, context: { ...context, mask } }, n);
}

const callOptions: Record<string, CallOptions> = {
  auto: { context }, chunk1: { context, chunkSize: 1 }, chunk4: { context, chunkSize: 4 }, 'threads-only': { context, callingThread: false },
};

interface Result { wall: Record<string, number[]>; busyNsPerItem: Record<string, number[]> }

async function child(): Promise<Result> {
  const pools = new Map<number, Pool>(coreCounts.map((n) => [n, createPool({ cores: n })]));
  // Only the raw variants asked for: 16 idle threads per variant are not free.
  const raws = new Map<string, RawWorkers>(coreCounts.flatMap((n) => [
    ...(variants.includes('raw') ? [[`raw@${n}`, rawOver(n, false)] as const] : []),
    ...(variants.includes('raw-shared') ? [[`raw-shared@${n}`, rawOver(n, true)] as const] : []),
  ]));
  const modes = coreCounts.flatMap((n) => variants.map((v) => `${v}@${n}`));
  const wall: Record<string, number[]> = Object.fromEntries(modes.map((m) => [m, []]));
  const busy: Record<string, number[]> = Object.fromEntries(modes.map((m) => [m, []]));
  const once = async (mode: string) => {
    const [variant, n] = mode.split('@') as [string, string];
    const started = performance.now();
    if (variant.startsWith('raw')) {
      const { busyMs } = await raws.get(mode)!.run();
      wall[mode]!.push(performance.now() - started);
      busy[mode]!.push((busyMs * 1e6) / rows);
    } else {
      await pools.get(Number(n))!.parallelize(data, shared.fn as never, callOptions[variant]);
      wall[mode]!.push(performance.now() - started);
    }
  };
  for (const mode of modes) await once(mode); // warm-up
  for (const mode of modes) { wall[mode] = []; busy[mode] = []; }
  for (let r = 0; r < runs; r++) for (let k = 0; k < modes.length; k++) await once(modes[(k + r) % modes.length]!);
  await Promise.all([...[...pools.values()].map((p) => p.close()), ...[...raws.values()].map((r) => r.close())]);
  return { wall, busyNsPerItem: busy };
}

/** Library calls under NODE_DEBUG: every chunk's rows and ms, from the workers' own clocks. */
async function traceChild(): Promise<void> {
  const traced = traceCase!.name === 'subjects' ? prepared! : traceCase!.prepare(Number(args.scale));
  for (const n of coreCounts) {
    const pool = createPool({ cores: n });
    for (let k = 0; k < 4; k++) {
      const started = performance.now();
      await traced.parallel(pool);
      process.stderr.write(`CALL cores=${n} k=${k} wall=${(performance.now() - started).toFixed(1)}\n`);
    }
    await pool.close();
  }
}

if (args.child === 'timing') {
  console.log(JSON.stringify(await child()));
  process.exit(0);
}
if (args.child === 'trace') {
  await traceChild();
  process.exit(0);
}

const self = [process.argv[1]!, ...process.argv.slice(2)];
console.log(`subjects probe: ${availableParallelism()} CPUs, Node ${process.version}, ${rows} rows, ${runs} runs; tracing ${traceCase.name}`);
if (variants.length > 0) {
  const timing = spawnSync(process.execPath, [...self, '--child', 'timing'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (timing.status !== 0) throw new Error(`timing child failed: ${timing.stderr}`);
  const result = JSON.parse(timing.stdout.trim().split('\n').at(-1)!) as Result;
  console.log('| variant | wall ms median (min–max) | busy time per item (raw workers\' own clocks) |\n| --- | --- | --- |');
  for (const [mode, values] of Object.entries(result.wall)) {
    const b = result.busyNsPerItem[mode]!;
    console.log(`| ${mode} | ${ms(median(values))} (${span(values)}) | ${b.length ? (median(b) / 1e6).toFixed(3) + ' ms' : ''} |`);
  }
}

// Trace: per call, the workers' summed chunk time per item, per-thread busy, and the calling thread's share.
const trace = spawnSync(process.execPath, [...self, '--child', 'trace'], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, NODE_DEBUG: 'parallelize' } });
if (trace.status !== 0) throw new Error(`trace child failed: ${trace.stderr}`);
const jobs = new Map<number, { chunks: { tid: number; rows: number; ms: number }[]; plan: string }>();
const walls: string[] = [];
for (const line of trace.stderr.split('\n')) {
  const chunk = /\[(\d+)\] job (\d+) chunk \d+: rows (\d+)-(\d+) done in ([\d.]+) ms/.exec(line);
  const plan = /job (\d+): (\d+) items, (\d+) on the calling thread, the rest in (\d+) chunks/.exec(line);
  const id = Number(chunk ? chunk[2] : plan?.[1]);
  if (chunk || plan) jobs.set(id, jobs.get(id) ?? { chunks: [], plan: '' });
  if (chunk) jobs.get(id)!.chunks.push({ tid: Number(chunk[1]), rows: Number(chunk[4]) - Number(chunk[3]), ms: Number(chunk[5]) });
  if (plan) jobs.get(id)!.plan = `${plan[3]} items here, ${plan[4]} chunks planned`;
  const call = /CALL (cores=\d+ k=\d+ wall=[\d.]+)/.exec(line);
  if (call) walls.push(call[1]!);
}
[...jobs.keys()].sort((a, b) => a - b).forEach((id) => {
  const { chunks, plan } = jobs.get(id)!;
  const byThread = new Map<number, number>();
  for (const c of chunks) byThread.set(c.tid, (byThread.get(c.tid) ?? 0) + c.ms);
  const totalMs = chunks.reduce((s, c) => s + c.ms, 0);
  const items = chunks.reduce((s, c) => s + c.rows, 0);
  const busies = [...byThread.values()];
  console.log(`trace job ${id} (${walls[id - 1] ?? '?'}): ${plan}; ${chunks.length} chunks, ${items} items on ${byThread.size} threads at ${(totalMs / items).toFixed(4)} ms/item; thread busy ms min ${Math.min(...busies).toFixed(0)} max ${Math.max(...busies).toFixed(0)}`);
});
