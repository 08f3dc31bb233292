import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { Matrix, readNpy, writeNpy } from '@parallelize/core';
import { randomFloats } from './helpers.ts';

const bin = fileURLToPath(new URL('../dist/lib/bin.js', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/row-stats.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'parallelize-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000 });

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
    const run = spawnSync('script', ['-qec', `${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} run spec/fixtures/row-stats.js --export rowStats --in ${path} --out ${out}`, '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 0, run.stdout);
    assert.match(run.stdout, /\r\[#{30}\] 400\/400 rows \(100%\), [\d.]+ rows\/s, ETA 0 s/);
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

  test('a failing row exits 1 with a message that names it', () => {
    const { path, data } = input(20, 3, 'bad.npy');
    data.data[13 * 3] = -1;
    writeNpy(path, data);
    const run = cli('run', fixture, '--export', 'rowStats', '--in', path, '--out', join(dir, 'never.npy'), '--quiet');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^parallelize: fn threw at item 13: RangeError: row 13 is marked bad\n/);
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
      [['run', fixture, '--in', join(dir, 'none.npy'), '--out', 'x.npy'], /ENOENT/],
      [['run', fixture, '--export', 'nope', '--in', path, '--out', 'x.npy', '--quiet'], /has no export `nope`/],
    ];
    for (const [args, message] of cases) {
      const run = cli(...args);
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(' '));
    }
    writeFileSync(join(dir, 'junk.npy'), 'not numpy');
    const junk = cli('run', fixture, '--in', join(dir, 'junk.npy'), '--out', 'x.npy');
    assert.equal(junk.status, 2);
    assert.match(junk.stderr, /does not start with the \.npy magic string/);
  });
});
