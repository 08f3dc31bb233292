import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { cachedQuota, cgroupQuota, detectCores, kQuotaTtlMs } from '../lib/cores.ts';
import { runModule } from './helpers.ts';

const machine = { env: {}, affinity: 128, quota: undefined };

describe('detectCores', () => {
  test('is the affinity when nothing else limits it', () => {
    assert.equal(detectCores(machine), 128);
  });

  test('takes the smallest of affinity, cgroup quota (rounded up) and scheduler grants', () => {
    assert.equal(detectCores({ ...machine, quota: 6.5 }), 7);
    assert.equal(detectCores({ ...machine, env: { SLURM_CPUS_PER_TASK: '8' } }), 8);
    assert.equal(detectCores({ ...machine, env: { PBS_NCPUS: '12', NSLOTS: '4' }, quota: 6 }), 4);
    assert.equal(detectCores({ ...machine, env: { NCPUS: '16' } }), 16);
    assert.equal(detectCores({ ...machine, affinity: 2, env: { SLURM_CPUS_PER_TASK: '8' } }), 2);
  });

  test('ignores scheduler variables that are not positive integers', () => {
    assert.equal(detectCores({ ...machine, env: { SLURM_CPUS_PER_TASK: '', NSLOTS: 'all', NCPUS: '0' } }), 128);
  });

  test('PARALLELIZE_CORES overrides everything, and must be a positive integer', () => {
    assert.equal(detectCores({ ...machine, env: { PARALLELIZE_CORES: '3', SLURM_CPUS_PER_TASK: '8' }, quota: 1 }), 3);
    assert.throws(() => detectCores({ ...machine, env: { PARALLELIZE_CORES: 'many' } }), {
      name: 'TypeError', code: 'ERR_INVALID_ARG', message: "Expected `PARALLELIZE_CORES` to be a positive integer, got `'many'` (string)",
    });
  });

  test('is at least 1', () => {
    assert.equal(detectCores({ ...machine, quota: 0.1 }), 1);
  });
});

describe('cgroupQuota', () => {
  const files = (entries: Record<string, string>) => (path: string) => entries[path];

  test('reads cpu.max of a cgroup v2 and of its parents, keeping the smallest', () => {
    const read = files({
      '/proc/self/cgroup': '0::/job/step\n',
      '/sys/fs/cgroup/job/step/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/job/cpu.max': '350000 100000\n',
      '/sys/fs/cgroup/cpu.max': '800000 100000\n',
    });
    assert.equal(cgroupQuota(read), 3.5);
  });

  test('reads cfs quota and period of a cgroup v1', () => {
    const read = files({
      '/proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n',
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '200000\n',
      '/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    assert.equal(cgroupQuota(read), 2);
  });

  test('finds a cgroup v1 hierarchy listed in another order than its directory is named (RHEL 7), or through the `cpu` link', () => {
    const quota = { 'cpu.cfs_quota_us': '150000\n', 'cpu.cfs_period_us': '100000\n' };
    const at = (dir: string) => Object.fromEntries(Object.entries(quota).map(([name, value]) => [`${dir}/${name}`, value]));
    assert.equal(cgroupQuota(files({ '/proc/self/cgroup': '3:cpuacct,cpu:/slurm/job7\n', ...at('/sys/fs/cgroup/cpu,cpuacct/slurm/job7') })), 1.5);
    assert.equal(cgroupQuota(files({ '/proc/self/cgroup': '3:cpuacct,cpu:/slurm/job7\n', ...at('/sys/fs/cgroup/cpu/slurm/job7') })), 1.5);
    assert.equal(cgroupQuota(files({ '/proc/self/cgroup': '3:cpu,cpuacct:/\n', ...at('/sys/fs/cgroup/cpu') })), 1.5);
  });

  test('is undefined without cgroups or without a quota', () => {
    assert.equal(cgroupQuota(files({})), undefined);
    assert.equal(cgroupQuota(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000' })), undefined);
  });
});

/** What availableCores() says in a child without PARALLELIZE_CORES: the CPUs it may use. */
function availableCoresHere(): number {
  // An empty PARALLELIZE_CORES counts as unset.
  return Number(runModule("import { availableCores } from '@parallelize/core'; console.log(availableCores());", { env: { PARALLELIZE_CORES: '' } }).stdout);
}

describe('cachedQuota', () => {
  test('reads the cgroup quota again only once its time to live has passed', () => {
    let reads = 0;
    let time = 5000;
    const quota = cachedQuota(() => ++reads, () => time);
    assert.deepEqual([quota(), quota(), reads], [1, 1, 1]);
    time += kQuotaTtlMs - 1;
    assert.deepEqual([quota(), reads], [1, 1], 'still good just before its time is up');
    time += 1;
    assert.deepEqual([quota(), reads], [2, 2], 'read again once it is');
  });

  test('keeps a quota of undefined (no cgroup limit) as it keeps a number', () => {
    let reads = 0;
    const quota = cachedQuota(() => { reads++; return undefined; }, () => 0);
    assert.deepEqual([quota(), quota(), reads], [undefined, undefined, 1]);
  });
});

describe('availableCores', () => {
  const run = (env: Record<string, string>) => runModule(`
    import { availableCores, createPool } from '@parallelize/core';
    console.log(JSON.stringify({ cores: availableCores(), pool: createPool().cores }));
  `, { env });

  test('a pool that starts more threads than the CPUs this process may use warns, once', () => {
    const cpus = availableCoresHere();
    // One chunk per item, and enough of them, so that a pool starts every thread it may.
    const started = (env: Record<string, string>, cores?: number) => runModule(`
      import { createPool } from '@parallelize/core';
      const warnings = [];
      process.on('warning', (warning) => warnings.push([warning.code, warning.message]));
      for (let pool = 0; pool < 2; pool++) {
        const threads = createPool(${cores === undefined ? '' : `{ cores: ${cores} }`});
        await threads.parallelize(Array.from({ length: ${4 * (cpus + 2)} }, (_, i) => i), (x) => x + 1, { callingThread: false, chunkSize: 1 });
        await threads.close();
      }
      await new Promise((resolve) => setImmediate(resolve));
      console.log(JSON.stringify(warnings));
    `, { env });
    const over = started({ PARALLELIZE_CORES: String(cpus + 1) });
    assert.equal(over.status, 0, over.stderr);
    const warnings = JSON.parse(over.stdout) as [string, string][];
    assert.equal(warnings.length, 1, 'once per process, though two pools started that many');
    assert.equal(warnings[0]![0], 'PARALLELIZE_OVERSUBSCRIBED');
    assert.match(warnings[0]![1], new RegExp(`more worker threads than the ${cpus} CPUs? this process may use .*, up to ${cpus + 1}: `));
    assert.match(warnings[0]![1], new RegExp(`Ask for ${cpus} or fewer`));
    const option = started({}, cpus + 2);
    assert.equal(option.status, 0, option.stderr);
    assert.match(JSON.parse(option.stdout)[0]?.[1] ?? '', new RegExp(`, up to ${cpus + 2}: `), 'the cores option too');
    const fits = started({ PARALLELIZE_CORES: String(cpus) });
    assert.equal(fits.status, 0, fits.stderr);
    assert.deepEqual(JSON.parse(fits.stdout), []);
  });

  test('parallelizeSync warns once, from the calling thread, however many calls; pools in worker threads never', () => {
    const cpus = availableCoresHere();
    const run = runModule(`
      import { Worker } from 'node:worker_threads';
      import { createPool, parallelizeSync } from '@parallelize/core';
      const warnings = [];
      process.on('warning', (warning) => warnings.push(warning.code));
      // A pool in a thread of the caller's own: no warning from there.
      await new Promise((resolve, reject) => new Worker(\`
        import { createPool } from '@parallelize/core';
        const pool = createPool({ cores: ${cpus + 1} });
        await pool.parallelize(Array.from({ length: ${4 * (cpus + 2)} }, (_, i) => i), (x) => x, { callingThread: false, chunkSize: 1 });
        await pool.close();
      \`, { eval: true }).on('exit', resolve).on('error', reject));
      const inThread = warnings.length;
      for (let call = 0; call < 3; call++) parallelizeSync(Array.from({ length: ${4 * (cpus + 2)} }, (_, i) => i), (x) => x, { cores: ${cpus + 1}, chunkSize: 1 });
      await new Promise((resolve) => setImmediate(resolve));
      console.log(JSON.stringify({ inThread, warnings }));
    `);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), { inThread: 0, warnings: ['PARALLELIZE_OVERSUBSCRIBED'] });
    assert.equal(run.stderr.match(/PARALLELIZE_OVERSUBSCRIBED/g)?.length, 1, 'printed once, by the calling thread: no coordinator printed it');
  });

  test('is the default number of threads, and follows the environment', () => {
    const slurm = run({ SLURM_CPUS_PER_TASK: '1' });
    assert.deepEqual(JSON.parse(slurm.stdout), { cores: 1, pool: 1 });
    const override = run({ PARALLELIZE_CORES: '5' });
    assert.deepEqual(JSON.parse(override.stdout), { cores: 5, pool: 5 });
    const plain = run({});
    assert.ok(JSON.parse(plain.stdout).cores <= availableParallelism());
  });
});
