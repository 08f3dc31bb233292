import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { Matrix, readNpy, writeNpy } from '@parallelize/core';
import { childEnv, randomFloats } from './helpers.ts';

const bin = fileURLToPath(new URL('../dist/lib/bin.js', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/row-stats.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'parallelize-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000, env: childEnv() });

function input(rows: number, cols: number, name = 'in.npy'): { path: string; data: Matrix } {
  const data = Matrix.alloc(rows, cols);
  data.data.set(randomFloats(rows * cols, rows));
  const path = join(dir, name);
  writeNpy(path, data);
  return { path, data };
}

describe('parallelize run', () => {
  test('maps the module over the rows of the input and writes the result', () => {
    const { path, data } = input(50, 4);
    const context = join(dir, 'ctx.npy');
    writeNpy(context, new Matrix(Float64Array.of(7), 1, 1));
    const out = join(dir, 'out.npy');
    const run = cli('run', fixture, '--export', 'rowStats', '--in', path, '--out', out, '--cores', '2', '--chunk-size', '5', '--context', context);
    assert.equal(run.status, 0, run.stderr);
    const result = readNpy(out);
    assert.deepEqual([result.rows, result.cols], [50, 3]);
    for (let i = 0; i < 50; i++) {
      const row = data.row(i);
      assert.deepEqual(Array.from(result.row(i)), [row.reduce((a, b) => a + b, 0), 4, 7]);
    }
    assert.match(run.stderr, /50\/50 rows \(100%\), [\d.]+ rows\/s, ETA 0 s\n/, 'plain progress lines when stderr is not a terminal');
    assert.match(run.stderr, /wrote .*out\.npy: 50 × 3/);
  });

  test('shows a progress bar with rate and ETA on a terminal, and takes a module path relative to the working directory', { skip: spawnSync('script', ['--version']).status !== 0 && 'no script(1) to make a terminal' }, () => {
    const { path } = input(400, 2, 'tty.npy');
    const out = join(dir, 'tty-out.npy');
    // script(1) runs the command on a pseudo-terminal, so stderr.isTTY is true.
    const run = spawnSync('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} run spec/fixtures/row-stats.js --export rowStats --in ${path} --out ${out}`, '/dev/null'], { encoding: 'utf8', timeout: 30_000, env: childEnv() });
    assert.equal(run.status, 0, run.stdout);
    assert.match(run.stdout, /\r\[#{30}\] 400\/400 rows \(100%\), [\d.]+ rows\/s, ETA 0 s\x1b\[K/, 'each line clears what a longer one left');
    assert.equal(readNpy(out).rows, 400);
  });

  test('--quiet prints nothing; --help prints the usage and exits 0', () => {
    const { path } = input(3, 2, 'quiet.npy');
    const quiet = cli('run', fixture, '--export', 'rowStats', '--in', path, '--out', join(dir, 'q.npy'), '--quiet');
    assert.deepEqual([quiet.status, quiet.stderr, quiet.stdout], [0, '', '']);
    const help = cli('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: parallelize run <module> --in <data\.npy> --out <result\.npy>/);
  });

  test('--quiet silences progress only: a warning still prints', () => {
    const { path } = input(3, 2, 'warn.npy');
    // One CPU granted by the job scheduler, two threads asked for: PARALLELIZE_OVERSUBSCRIBED.
    const run = spawnSync(process.execPath, [bin, 'run', fixture, '--export', 'rowStats', '--in', path, '--out', join(dir, 'w.npy'), '--cores', '2', '--quiet'],
      { encoding: 'utf8', timeout: 30_000, env: { ...childEnv(), SLURM_CPUS_PER_TASK: '1' } });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /^\(node:\d+\) \[PARALLELIZE_OVERSUBSCRIBED\] Warning: A pool is starting more worker threads than the 1 CPU this process may use/);
    assert.doesNotMatch(run.stderr, /rows|wrote/, 'and no progress');
  });

  test('a failing row exits 1 with a message that names it', () => {
    const { path, data } = input(20, 3, 'bad.npy');
    data.data[13 * 3] = -1;
    writeNpy(path, data);
    const run = cli('run', fixture, '--export', 'rowStats', '--in', path, '--out', join(dir, 'never.npy'), '--quiet');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^parallelize: fn threw at item 13: RangeError: row 13 is marked bad\n/);
  });

  test('a package name is found from the working directory, as node finds it', () => {
    const project = join(dir, 'project');
    mkdirSync(join(project, 'node_modules', 'row-sums'), { recursive: true });
    writeFileSync(join(project, 'node_modules', 'row-sums', 'package.json'), JSON.stringify({ name: 'row-sums', main: 'index.js' }));
    writeFileSync(join(project, 'node_modules', 'row-sums', 'index.js'), 'exports.sum = (row) => row.reduce((a, b) => a + b, 0);\n');
    const { path, data } = input(6, 3, 'pkg.npy');
    const run = spawnSync(process.execPath, [bin, 'run', 'row-sums', '--export', 'sum', '--in', path, '--out', 'sums.npy', '--quiet'], { cwd: project, encoding: 'utf8', timeout: 30_000, env: childEnv() });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(Array.from(readNpy(join(project, 'sums.npy')).data), Array.from({ length: 6 }, (_, i) => data.row(i).reduce((a, b) => a + b, 0)));
    // An ES-only package, which require() cannot find: through its exports, as import() finds it.
    mkdirSync(join(project, 'node_modules', 'row-max'), { recursive: true });
    writeFileSync(join(project, 'node_modules', 'row-max', 'package.json'), JSON.stringify({ name: 'row-max', type: 'module', exports: { '.': { import: './max.js' } } }));
    writeFileSync(join(project, 'node_modules', 'row-max', 'max.js'), 'export default (row) => Math.max(...row);\n');
    const esm = spawnSync(process.execPath, [bin, 'run', 'row-max', '--in', path, '--out', 'max.npy', '--quiet'], { cwd: project, encoding: 'utf8', timeout: 30_000, env: childEnv() });
    assert.equal(esm.status, 0, esm.stderr);
    assert.deepEqual(Array.from(readNpy(join(project, 'max.npy')).data), Array.from({ length: 6 }, (_, i) => Math.max(...data.row(i))));
  });

  test('an output that cannot be written at the end keeps the result in a temporary file, and exits 1', () => {
    const { path, data } = input(4, 2, 'keep.npy');
    const gone = join(dir, 'gone');
    mkdirSync(gone);
    const run = spawnSync(process.execPath, [bin, 'run', fileURLToPath(new URL('./fixtures/removes-dir.js', import.meta.url)), '--in', path, '--out', join(gone, 'o.npy'), '--quiet'],
      { encoding: 'utf8', timeout: 30_000, env: childEnv({ PARALLELIZE_SPEC_REMOVE: gone }) });
    assert.equal(run.status, 1, run.stderr);
    const kept = /could not write .*o\.npy \(.*ENOENT.*\); the result is in (\S+\.npy)\n$/.exec(run.stderr)?.[1];
    assert.ok(kept !== undefined && existsSync(kept), run.stderr);
    assert.deepEqual(Array.from(readNpy(kept).data), Array.from({ length: 4 }, (_, i) => data.get(i, 0)));
    rmSync(kept);
    // Where the temporary directory fails too, the message says both, and that the result is lost.
    mkdirSync(gone);
    const lost = spawnSync(process.execPath, [bin, 'run', fileURLToPath(new URL('./fixtures/removes-dir.js', import.meta.url)), '--in', path, '--out', join(gone, 'o.npy'), '--quiet'],
      { encoding: 'utf8', timeout: 30_000, env: childEnv({ PARALLELIZE_SPEC_REMOVE: gone, TMPDIR: join(dir, 'no-such-tmp') }) });
    assert.equal(lost.status, 1, lost.stderr);
    assert.match(lost.stderr, /could not write .*o\.npy \(.*ENOENT.*\), nor .*no-such-tmp.*\.npy \(.*ENOENT.*\); the result is lost\n$/);
  });

  test('a reader of its output that goes away early (`| head -1`) does not cost the result', () => {
    const { path, data } = input(400, 2, 'printed.npy');
    const printer = join(dir, 'printer.mjs');
    writeFileSync(printer, 'export default (row, i) => { const until = Date.now() + 1; while (Date.now() < until); console.log(`row ${i}`); return [row[0] + row[1]]; };\n');
    const out = join(dir, 'printed-out.npy');
    const run = spawnSync('bash', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} run ${printer} --in ${path} --out ${out} --cores 2 --quiet | head -1; echo "exit \${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 30_000, env: childEnv() });
    assert.equal(run.stdout.split('\n').at(-2), 'exit 0', run.stderr);
    assert.doesNotMatch(run.stderr, /EPIPE/);
    assert.deepEqual(Array.from(readNpy(out).data), Array.from({ length: 400 }, (_, i) => data.get(i, 0) + data.get(i, 1)));
  });

  test('bad usage exits 2 and says what is wrong', () => {
    const { path } = input(2, 2, 'usage.npy');
    const cases: [string[], RegExp][] = [
      [[], /missing command: run/],
      [['go', fixture], /unknown command: go/],
      [['run'], /missing <module>/],
      [['run', fixture, '--out', 'x.npy'], /missing --in <data\.npy>/],
      [['run', fixture, '--in', path], /missing --out <result\.npy>/],
      [['run', fixture, '--in', path, '--out', 'x.npy', '--cores', 'zero'], /--cores must be a positive integer, got 'zero'/],
      [['run', fixture, '--in', path, '--out', 'x.npy', '--colors'], /Unknown option '--colors'/],
      [['run', fixture, '--in', join(dir, 'none.npy'), '--out', 'x.npy'], /parallelize: --in: ENOENT/],
      [['run', fixture, '--in', path, '--context', join(dir, 'none.npy'), '--out', 'x.npy'], /parallelize: --context: ENOENT/],
      [['run', fixture, '--in', path, '--out', 'x.npy', '--cores', '99999999999999999999'], /--cores must be a positive integer, got '99999999999999999999'/],
      [['run', fixture, '--export', 'nope', '--in', path, '--out', 'x.npy', '--quiet'], /has no export `nope`/],
    ];
    for (const [args, message] of cases) {
      const run = cli(...args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
    }
    // An output that cannot be written, or a module file that is not there, is found before any work.
    const early: [string[], RegExp][] = [
      [['run', fixture, '--export', 'rowStats', '--in', path, '--out', join(dir, 'missing', 'o.npy')], /--out .*o\.npy: the directory .*missing does not exist/],
      [['run', fixture, '--export', 'rowStats', '--in', path, '--out', dir], /--out .* is a directory; name the \.npy file to write/],
      [['run', fixture, '--export', 'rowStats', '--in', path, '--out', `${join(dir, 'new')}/`], /--out .*new\/ names a directory; name the \.npy file to write/],
      [['run', fixture, '--export', 'rowStats', '--in', path, '--out', join(path, 'o.npy')], /--out .*o\.npy: .*\.npy is not a directory/],
      [['run', fixture, '--export', 'rowStats', '--in', dir, '--out', 'x.npy'], /--in: Cannot read .* as \.npy: it is a directory/],
      [['run', './spec/fixtures/no-such-module.js', '--in', path, '--out', 'x.npy'], /cannot find the module \.\/spec\/fixtures\/no-such-module\.js: no such file/],
      [['run', 'no-such-module.mjs', '--in', path, '--out', 'x.npy'], /cannot find the module no-such-module\.mjs: it is no file here, and neither import\(\) from here nor from where this command is installed finds a package of that name/],
    ];
    for (const [args, message] of early) {
      const run = cli(...args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
      assert.doesNotMatch(run.stderr, /rows/, 'no row ran');
    }
    writeFileSync(join(dir, 'junk.npy'), 'not numpy');
    const junk = cli('run', fixture, '--in', join(dir, 'junk.npy'), '--out', 'x.npy');
    assert.equal(junk.status, 2);
    assert.match(junk.stderr, /does not start with the \.npy magic string/);
  });
});
