import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { workerThreads } from './builtins.js';
import { now } from './clock.js';
import { invalidArg } from './errors.js';

/** Job schedulers' variables for the CPUs granted to this task, in the order we read them. */
const kSchedulerVariables = ['SLURM_CPUS_PER_TASK', 'PBS_NCPUS', 'NCPUS', 'NSLOTS'] as const;

/** @internal */
export interface CoreSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** CPUs this process may run on (its affinity mask). */
  readonly affinity: number;
  /** The cgroup CPU quota in CPUs (may be fractional), if there is one. */
  readonly quota: number | undefined;
}

/**
 * How many threads to run by default: `PARALLELIZE_CORES` if it is set; otherwise the smallest of
 * the CPUs this process may run on (its affinity), the cgroup CPU quota (rounded up), and the job
 * scheduler's grant (`SLURM_CPUS_PER_TASK`, `PBS_NCPUS` or `NCPUS`, `NSLOTS`); at least 1.
 *
 * Login and compute nodes of a cluster show every CPU of the machine, while a job may use only
 * what it was granted: starting a thread per visible CPU oversubscribes the node.
 *
 * @example
 * ```ts
 * // In a Slurm job started with --cpus-per-task=8 on a 128-core node:
 * availableCores(); //=> 8
 * ```
 */
export function availableCores(): number {
  return coresFor(process.env);
}

/** detectCores with this process's affinity and cgroup quota, and the variables of `env`. */
function coresFor(env: CoreSources['env']): number {
  return detectCores({ env, affinity: availableParallelism(), quota: currentQuota() });
}

/** @internal How long a cgroup quota read stays good: an administrator may change it while we run, seldom. */
export const kQuotaTtlMs = 1000;

/**
 * @internal `read()` (the cgroup quota), read again only once `kQuotaTtlMs` have passed since the
 * last read. Every `parallelize()` call asks for the default `cores`, and the files under
 * /sys/fs/cgroup cost ~0.07 ms a time on our 2-core VM (~1 ms the first), more than the rest of
 * a trivial call on the calling thread (~0.04 ms).
 */
export function cachedQuota(read: () => number | undefined = cgroupQuota, clock: () => number = now): () => number | undefined {
  let quota: number | undefined;
  let readAt = -Infinity;
  return () => {
    const time = clock();
    if (time - readAt >= kQuotaTtlMs) {
      quota = read();
      readAt = time;
    }
    return quota;
  };
}

const currentQuota = cachedQuota();

let warnedOversubscribed = false;
/** The CPUs this process may use, without `PARALLELIZE_CORES`: read once, not at every thread start. */
let cpuLimit: number | undefined;

/**
 * @internal Called on the main thread as a pool of up to `cores` threads starts its thread number
 * `threads`, or as a `parallelizeSync` call asks for `threads`: warns once when that is more than
 * the CPUs this process may use (`availableCores()` without `PARALLELIZE_CORES`). Threads beyond
 * them share the CPUs and each runs slower; on a shared cluster node, so do other users' jobs. A
 * `cores` or `PARALLELIZE_CORES` set for another machine is an easy mistake to make. Not from
 * other threads, which would each warn again: parallelizeSync's coordinator starts afresh with
 * every call.
 */
export function warnIfOversubscribed(threads: number, cores: number): void {
  if (warnedOversubscribed || !workerThreads().isMainThread) return;
  const limit = (cpuLimit ??= coresFor({ ...process.env, PARALLELIZE_CORES: undefined }));
  if (threads <= limit) return;
  warnedOversubscribed = true;
  process.emitWarning(
    `A pool is starting more worker threads than the ${limit} CPU${limit === 1 ? '' : 's'} this process may use (its CPU affinity, cgroup quota or job scheduler's grant), up to ${cores}: they share the CPUs, and each runs slower. Ask for ${limit} or fewer (the \`cores\` option, --cores or PARALLELIZE_CORES), unless fn mostly waits.`,
    { code: 'PARALLELIZE_OVERSUBSCRIBED' },
  );
}

/** @internal `availableCores` from explicit sources, for tests. */
export function detectCores({ env, affinity, quota }: CoreSources): number {
  const override = env.PARALLELIZE_CORES;
  if (override !== undefined && override !== '') {
    const cores = positiveInteger(override);
    if (cores === undefined) throw invalidArg('PARALLELIZE_CORES', 'a positive integer', override);
    return cores;
  }
  const limits = [affinity];
  if (quota !== undefined) limits.push(Math.ceil(quota));
  for (const name of kSchedulerVariables) {
    const granted = positiveInteger(env[name]);
    if (granted !== undefined) limits.push(granted);
  }
  return Math.max(1, Math.min(...limits));
}

/**
 * @internal
 * The CPU quota of this process's cgroup and its parents, in CPUs: the smallest `quota / period`
 * found, from `cpu.max` (cgroup v2) or `cpu.cfs_quota_us` / `cpu.cfs_period_us` (v1).
 */
export function cgroupQuota(read: (path: string) => string | undefined = readOrUndefined, root = '/sys/fs/cgroup'): number | undefined {
  const membership = read('/proc/self/cgroup');
  if (membership === undefined) return undefined;
  let smallest: number | undefined;
  const consider = (quota: number, period: number) => {
    if (quota > 0 && period > 0) smallest = Math.min(smallest ?? Infinity, quota / period);
  };
  for (const line of membership.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (path === undefined) continue;
    for (const dir of ancestors(path)) {
      if (controllers === '') {
        const [quota, period] = (read(`${root}${dir}/cpu.max`) ?? '').trim().split(/\s+/);
        if (quota !== undefined && quota !== 'max') consider(Number(quota), Number(period));
      } else if (controllers!.split(',').includes('cpu')) {
        for (const hierarchy of v1Directories(controllers!)) {
          const base = `${root}/${hierarchy}${dir}`;
          consider(Number(read(`${base}/cpu.cfs_quota_us`)), Number(read(`${base}/cpu.cfs_period_us`)));
        }
      }
    }
  }
  return smallest;
}

/**
 * Where a cgroup v1 hierarchy of these controllers may be mounted under the cgroup root: named as
 * /proc/self/cgroup lists them, which need not be the mount's order (RHEL/CentOS 7 lists
 * `cpuacct,cpu` for `cpu,cpuacct`), in sorted order, or as `cpu`, the link systemd makes.
 */
function v1Directories(controllers: string): Set<string> {
  return new Set([controllers, controllers.split(',').sort().join(','), 'cpu']);
}

/** '/a/b' → ['/a/b', '/a', ''] (the root is ''). */
function ancestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.map((_, k) => `/${parts.slice(0, parts.length - k).join('/')}`).concat('');
}

function positiveInteger(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  const number = Number(value);
  return number > 0 && Number.isSafeInteger(number) ? number : undefined;
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
