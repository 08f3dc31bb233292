import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'parallelize-pack-'));
const run = (command: string, args: string[], cwd = work) => execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('the packed package', { timeout: 120_000 }, () => {
  let files: string[] = [];

  before(() => {
    // --ignore-scripts: the suite already built dist/, and prepare would rebuild it under our feet.
    const [packed] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], root)) as [{ filename: string; files: { path: string }[] }];
    files = packed.files.map((file) => file.path);
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, packed.filename)]);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  test('holds the built library and no sources, specs or scripts', () => {
    assert.ok(files.includes('dist/lib/index.js') && files.includes('dist/lib/index.cjs') && files.includes('dist/lib/index.d.ts'));
    for (const script of ['bootstrap.cjs', 'coordinator.cjs', 'import-task.js']) assert.ok(files.includes(`dist/workers/${script}`), `dist/workers/${script} ships`);
    assert.ok(files.includes('README.md') && files.includes('CHANGELOG.md') && files.includes('LICENSE'));
    assert.deepEqual(files.filter((file) => /^(lib|workers|spec|scripts)\//.test(file) || file.endsWith('.map')), []);
  });

  test('has no long lines in its scripts: Node prints the whole source line of an uncaught error', () => {
    for (const file of files.filter((name) => /\.[cm]?js$/.test(name))) {
      const longest = Math.max(...readFileSync(join(work, 'node_modules', '@parallelize', 'core', file), 'utf8').split('\n').map((line) => line.length));
      assert.ok(longest <= 1000, `${file}: a line of ${longest} characters`);
    }
  });

  test('installs with no dependencies at all', () => {
    const installed = readdirSync(join(work, 'node_modules')).filter((name) => !name.startsWith('.'));
    assert.deepEqual(installed, ['@parallelize']);
  });

  test('runs in a TypeScript project under tsx: an inline function and a .ts task module', () => {
    // The consumer's own dev dependency; we lend it ours rather than download it.
    symlinkSync(join(root, 'node_modules', 'tsx'), join(work, 'node_modules', 'tsx'), 'dir');
    writeFileSync(join(work, 'square.ts'), 'export function square(x: number): number { return x * x; }\n');
    writeFileSync(join(work, 'main.ts'), `
      import { parallelize, task, type Matrix } from '@parallelize/core';
      const inline: Matrix = await parallelize([1, 2, 3], (x: number) => { const twice = (y: number) => 2 * y; return twice(x); }, { callingThread: false });
      const fromModule = await parallelize(Float64Array.of(2, 3), task(new URL('./square.ts', import.meta.url), 'square'));
      console.log(JSON.stringify([Array.from(inline.data), Array.from(fromModule.data)]));
    `);
    assert.deepEqual(JSON.parse(run(process.execPath, ['--import', 'tsx', 'main.ts'])), [[2, 4, 6], [4, 9]]);
  });

  test('is one library whether imported or required: one error class, one Matrix class', () => {
    writeFileSync(join(work, 'both.mjs'), `
      import { createRequire } from 'node:module';
      import * as esm from '@parallelize/core';
      const cjs = createRequire(import.meta.url)('@parallelize/core');
      const failure = await cjs.parallelize([1], (x) => { throw new Error('no'); }, { callingThread: false }).catch((error) => error);
      console.log(JSON.stringify({
        sameError: esm.ParallelizeError === cjs.ParallelizeError, sameMatrix: esm.Matrix === cjs.Matrix,
        caught: failure instanceof esm.ParallelizeError, code: failure.code, exports: Object.keys(esm).sort().join() === Object.keys(cjs).sort().join(),
      }));
    `);
    assert.deepEqual(JSON.parse(run(process.execPath, ['both.mjs'])), { sameError: true, sameMatrix: true, caught: true, code: 'ERR_TASK_FAILED', exports: true });
  });

  test('has types that TypeScript accepts from ESM and from CommonJS consumers', () => {
    mkdirSync(join(work, 'node_modules', '@types'), { recursive: true });
    symlinkSync(join(root, 'node_modules', '@types', 'node'), join(work, 'node_modules', '@types', 'node'), 'dir');
    const uses = `const m: Matrix = await parallelize(Float64Array.of(1), (x: number) => [x]);
      const rows: Array<{ n: number }> = await map([1], (x: number) => ({ n: x }));
      const n: number = availableCores() + m.rows + rows.length + (readNpy(toNpy(m)).cols);
      parallelizeSync([1], (x: number) => x, { timeout: 1000, onError: 'collect' }).errors;`;
    writeFileSync(join(work, 'types.mts'), `import { availableCores, map, parallelize, parallelizeSync, readNpy, toNpy, type Matrix } from '@parallelize/core';\n${uses}\nexport { n };\n`);
    writeFileSync(join(work, 'types.cts'), `import { availableCores, map, parallelize, parallelizeSync, readNpy, toNpy, type Matrix } from '@parallelize/core';\nasync function f() {\n${uses}\nreturn n;\n}\nexport = f;\n`);
    writeFileSync(join(work, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'es2022', lib: ['es2023', 'esnext.disposable'], strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
      files: ['types.mts', 'types.cts'],
    }));
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', work], { encoding: 'utf8' });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  });

  test('installs the parallelize command', () => {
    const help = run(join(work, 'node_modules', '.bin', 'parallelize'), ['--help']);
    assert.match(help, /^Usage: parallelize run <module>/);
  });

  test('is imported by name and runs an inline function and a task module', () => {
    writeFileSync(join(work, 'task.js'), 'export const cube = (x) => x ** 3;\n');
    writeFileSync(join(work, 'main.js'), `
      import { parallelize, task, Matrix, ParallelizeError, createPool } from '@parallelize/core';
      const a = await parallelize([1, 2, 3], (x) => [x, x * 2]);
      const b = await parallelize(Float64Array.of(1, 2, 3), task(new URL('./task.js', import.meta.url), 'cube'));
      console.log(JSON.stringify({ a: a.toArrays(), b: Array.from(b.data), types: [typeof Matrix, typeof ParallelizeError, typeof createPool] }));
    `);
    const output = JSON.parse(run(process.execPath, ['main.js']));
    assert.deepEqual(output, { a: [[1, 2], [2, 4], [3, 6]], b: [1, 8, 27], types: ['function', 'function', 'function'] });
  });

  test('is required from CommonJS, and its threads still start, parallelizeSync\'s too', () => {
    writeFileSync(join(work, 'main.cjs'), `
      const { parallelize, parallelizeSync, Matrix } = require('@parallelize/core');
      const blocking = parallelizeSync([1, 2], (x) => x * 10);
      parallelize(Float64Array.of(1, 2, 3), (x) => x + 1, { callingThread: false })
        .then((m) => console.log(JSON.stringify({ data: Array.from(m.data), matrix: m instanceof Matrix, sync: Array.from(blocking.data) })));
    `);
    assert.deepEqual(JSON.parse(run(process.execPath, ['main.cjs'])), { data: [2, 3, 4], matrix: true, sync: [10, 20] });
  });
});
