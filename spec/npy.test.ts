import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { Matrix, readNpy, toNpy, writeNpy } from '@parallelize/core';
import { assertSameMatrix, randomFloats } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'parallelize-npy-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
const python = (code: string) => execFileSync('python3', ['-c', code], { encoding: 'utf8' });

function sample(rows: number, cols: number): Matrix {
  const m = Matrix.alloc(rows, cols);
  m.data.set(randomFloats(rows * cols, rows + cols));
  m.data[0] = NaN;
  if (m.data.length > 2) [m.data[1], m.data[2]] = [-0, Infinity];
  return m;
}

describe('.npy', () => {
  test('round-trips a matrix bit for bit, in shared memory', () => {
    for (const [rows, cols] of [[3, 4], [1, 1], [0, 5], [7, 0]] as const) {
      const back = readNpy(toNpy(sample(rows, cols)));
      assertSameMatrix(back, sample(rows, cols));
      assert.ok(back.data.buffer instanceof SharedArrayBuffer);
    }
  });

  test('writes a header padded so the data starts on a multiple of 64 bytes', () => {
    const bytes = toNpy(sample(2, 3));
    const headerLength = bytes[8]! + 256 * bytes[9]!;
    assert.equal((10 + headerLength) % 64, 0);
    assert.equal(bytes[10 + headerLength - 1], 0x0a, 'the header ends with a newline');
    assert.equal(bytes.length, 10 + headerLength + 6 * 8);
  });

  test('writes and reads files', () => {
    const path = join(dir, 'm.npy');
    writeNpy(path, sample(5, 2));
    assertSameMatrix(readNpy(path), sample(5, 2));
    assert.deepEqual(readFileSync(path).subarray(1, 6).toString(), 'NUMPY');
  });

  test('refuses what it cannot read, saying why', () => {
    const good = toNpy(sample(2, 2));
    const withHeader = (edit: (header: string) => string) => {
      const headerLength = good[8]! + 256 * good[9]!;
      const header = edit(Buffer.from(good.subarray(10, 10 + headerLength)).toString('latin1'));
      return Buffer.concat([good.subarray(0, 8), Buffer.from([header.length & 255, header.length >> 8]), Buffer.from(header, 'latin1'), good.subarray(10 + headerLength)]);
    };
    assert.throws(() => readNpy(Uint8Array.of(1, 2, 3)), { name: 'TypeError', code: 'ERR_INVALID_ARG', message: 'Cannot read the .npy bytes as .npy: it does not start with the .npy magic string' });
    assert.throws(() => readNpy(good.subarray(0, good.length - 1)), { message: 'Cannot read the .npy bytes as .npy: the data is truncated: expected 32 bytes, found 31' });
    assert.throws(() => readNpy(good.subarray(0, 40)), { message: /the header is truncated/ });
    assert.throws(() => readNpy(withHeader((h) => h.replace('False', 'True '))), { message: /Fortran-order arrays are not supported; save np\.ascontiguousarray\(a\) instead/ });
    assert.throws(() => readNpy(withHeader((h) => h.replace("'<f8'", "'|O' "))), { message: /dtype '\|O' is not supported \(only numeric and bool dtypes are; object arrays cannot be read\)/ });
    assert.throws(() => readNpy(join(dir, 'missing.npy')), { code: 'ENOENT' });
    assert.throws(() => readNpy(dir), { code: 'ERR_INVALID_ARG', message: `Cannot read ${dir} as .npy: it is a directory` });
    // Crafted: sizes whose product no number holds exactly, even with no data at all.
    const huge = '(0, 9007199254740991, 9007199254740991)';
    assert.throws(() => readNpy(withHeader((h) => h.replace('(2, 2)', huge))), { message: `Cannot read the .npy bytes as .npy: the shape ${huge} is too large` });
    assert.throws(() => toNpy({} as never), { name: 'TypeError', message: 'Expected `matrix` to be a Matrix, got `{}` (Object)' });
    // Versions 2 and 3 have a 4-byte header length: 10 or 11 bytes of one are truncated too.
    const version2 = Uint8Array.from([...good.subarray(0, 6), 2, 0, 0, 0, 0]);
    assert.throws(() => readNpy(version2), { code: 'ERR_INVALID_ARG', message: 'Cannot read the .npy bytes as .npy: the header is truncated' });
    for (const shape of ['(,)', '(1,,2)', '(2.0,)', '(0x2,)', '(2e0,)', '(2)', '(-1, 2)']) {
      assert.throws(() => readNpy(withHeader((h) => h.replace('(2, 2)', shape.padEnd(6)))), { message: `Cannot read the .npy bytes as .npy: the shape ${shape} is not a tuple of sizes` }, shape);
    }
    assert.throws(() => readNpy(withHeader((h) => h.replace("'<f8'", "[('a', '<f8')]".padEnd(6)).replace(/ {11}\n$/, '\n'))), { message: /structured dtypes \(records with named fields\) are not supported/ });
  });

  test('reads what numpy accepts: double quotes, trailing commas, Python 2 longs, float16', () => {
    const good = toNpy(sample(2, 2));
    const headerLength = good[8]! + 256 * good[9]!;
    const withHeader = (header: string, data = good.subarray(10 + headerLength)) =>
      Buffer.concat([good.subarray(0, 8), Buffer.from([header.length & 255, header.length >> 8]), Buffer.from(header, 'latin1'), data]);
    assertSameMatrix(readNpy(withHeader('{"descr": "<f8", "fortran_order": False, "shape": (2, 2,), }\n')), sample(2, 2));
    assertSameMatrix(readNpy(withHeader("{'descr': '<f8', 'fortran_order': False, 'shape': (2L, 2L), }\n")), sample(2, 2));
    // float16: 1, -2, 0.5, -0, a subnormal, infinity, NaN, 65504 (the largest).
    const halves = new Uint8Array(Uint16Array.of(0x3c00, 0xc000, 0x3800, 0x8000, 0x0001, 0x7c00, 0x7e00, 0x7bff).buffer);
    const m = readNpy(withHeader("{'descr': '<f2', 'fortran_order': False, 'shape': (8,), }\n", halves));
    assert.deepEqual(Array.from(m.data), [1, -2, 0.5, -0, 2 ** -24, Infinity, NaN, 65504]);
  });

  test('reads and writes files larger than one read, converting piece by piece', () => {
    // 34 MiB of float64, then 17 MiB of float32: more than the 16 MiB read at a time.
    const big = Matrix.alloc(17 * 262_144, 1);
    big.data.set(randomFloats(big.data.length, 5));
    const path = join(dir, 'big.npy');
    writeNpy(path, big);
    assertSameMatrix(readNpy(path), big);
    const narrow = toNpy(big);
    const headerLength = narrow[8]! + 256 * narrow[9]!;
    const header = Buffer.from(narrow.subarray(10, 10 + headerLength)).toString('latin1').replace("'<f8'", "'<f4'");
    const floats = Float32Array.from(big.data);
    writeFileSync(path, Buffer.concat([narrow.subarray(0, 10), Buffer.from(header, 'latin1'), Buffer.from(floats.buffer)]));
    assert.deepEqual(readNpy(path).data, Float64Array.from(floats));
  });

  test('reads a pipe to its end, and writes to one in place', () => {
    const library = fileURLToPath(new URL('../dist/lib/index.cjs', import.meta.url));
    const file = join(dir, 'piped.npy');
    writeNpy(file, new Matrix(Float64Array.of(1.5, -2, 3, 4), 2, 2));
    // A shell pipe (a FIFO), as in `cat m.npy | …`: Node's own child pipes are sockets, which /dev/stdin cannot open.
    const script = `const m = require(${JSON.stringify(library)}).readNpy('/dev/stdin'); console.log(m.rows, m.cols, Array.from(m.data).join(' '))`;
    const read = spawnSync('sh', ['-c', `cat "$1" | "$2" -e "$3"`, 'sh', file, process.execPath, script], { encoding: 'utf8' });
    assert.equal(read.stdout, '2 2 1.5 -2 3 4\n', read.stderr);
    const writer = `const { Matrix, writeNpy } = require(${JSON.stringify(library)}); writeNpy('/dev/stdout', new Matrix(Float64Array.of(7, 8), 2, 1))`;
    const write = spawnSync('sh', ['-c', '"$1" -e "$2" | cat', 'sh', process.execPath, writer]);
    assert.equal(write.status, 0, String(write.stderr));
    assertSameMatrix(readNpy(new Uint8Array(write.stdout)), new Matrix(Float64Array.of(7, 8), 2, 1));
  });

  test('a file that cannot be written whole leaves what was there, and no half-written file; a link is written through, and stays a link', () => {
    const library = fileURLToPath(new URL('../dist/lib/index.cjs', import.meta.url));
    const folder = mkdtempSync(join(dir, 'full-'));
    const fresh = join(folder, 'too-big.npy');
    const kept = join(folder, 'kept.npy');
    writeNpy(kept, sample(3, 2));
    chmodSync(kept, 0o640);
    // A file-size limit of 8 KiB (its signal ignored, so the write fails with EFBIG) against 8 MB,
    // for a new file and over one that exists (the CLI's --out the same as its --in, on a full disk).
    const script = `const { Matrix, writeNpy } = require(${JSON.stringify(library)});
      for (const path of ${JSON.stringify([fresh, kept])}) try { writeNpy(path, Matrix.alloc(1000, 1000)); } catch (e) { console.log(e.code); }`;
    const child = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 16; "$1" -e "$2"`, 'sh', process.execPath, script], { encoding: 'utf8' });
    assert.equal(child.stdout, 'EFBIG\nEFBIG\n', child.stderr);
    assert.deepEqual(readdirSync(folder), ['kept.npy'], 'no half-written file is left, and the one there stays');
    assertSameMatrix(readNpy(kept), sample(3, 2));
    writeNpy(kept, sample(1, 1));
    assertSameMatrix(readNpy(kept), sample(1, 1));
    assert.equal(statSync(kept).mode & 0o777, 0o640, 'a file replaced keeps its permissions');
    const target = join(dir, 'target.npy');
    const link = join(dir, 'link.npy');
    writeNpy(target, sample(1, 1));
    symlinkSync(target, link);
    writeNpy(link, sample(2, 2));
    assert.ok(lstatSync(link).isSymbolicLink());
    assertSameMatrix(readNpy(target), sample(2, 2));
    const dangling = join(dir, 'dangling.npy');
    symlinkSync(join(dir, 'not-yet.npy'), dangling);
    writeNpy(dangling, sample(2, 1));
    assert.ok(lstatSync(dangling).isSymbolicLink());
    assertSameMatrix(readNpy(join(dir, 'not-yet.npy')), sample(2, 1));
  });

  test('a file with another name (a hard link), another owner, or no write permission for us is written in place, or refused, as np.save does', () => {
    const folder = mkdtempSync(join(dir, 'in-place-'));
    const a = join(folder, 'a.npy');
    const b = join(folder, 'b.npy');
    writeNpy(a, sample(1, 1));
    linkSync(a, b);
    writeNpy(a, sample(2, 2));
    assert.equal(statSync(a).nlink, 2, 'still one file with two names');
    assertSameMatrix(readNpy(b), sample(2, 2));
    const readOnly = join(folder, 'read-only.npy');
    writeNpy(readOnly, sample(1, 1));
    if (process.getuid?.() === 0) {
      // Root may write anything: a file it does not own is written in place, and keeps its owner.
      chownSync(readOnly, 65534, 65534);
      writeNpy(readOnly, sample(2, 1));
      assert.deepEqual([statSync(readOnly).uid, statSync(readOnly).gid], [65534, 65534]);
      assertSameMatrix(readNpy(readOnly), sample(2, 1));
    } else {
      chmodSync(readOnly, 0o444);
      assert.throws(() => writeNpy(readOnly, sample(2, 1)), { code: 'EACCES' });
      assertSameMatrix(readNpy(readOnly), sample(1, 1));
    }
    assert.deepEqual(readdirSync(folder).sort(), ['a.npy', 'b.npy', 'read-only.npy'], 'no partial file left');
  });

  test('a file whose set-user-ID bit, or whose long name, leaves no room for a partial file beside it is still written whole', () => {
    const folder = mkdtempSync(join(dir, 'modes-'));
    const setuid = join(folder, 'setuid.npy');
    writeNpy(setuid, sample(1, 1));
    chmodSync(setuid, 0o4750);
    writeNpy(setuid, sample(2, 2));
    assert.equal(statSync(setuid).mode & 0o7777, 0o4750, 'the bit is given back after the write');
    assertSameMatrix(readNpy(setuid), sample(2, 2));
    // A name of 250 characters: the partial file's name beside it would pass the 255 allowed.
    const long = join(folder, `${'x'.repeat(246)}.npy`);
    writeNpy(long, sample(1, 1));
    writeNpy(long, sample(3, 1));
    assertSameMatrix(readNpy(long), sample(3, 1));
  });

  test('a write through a link to no file that fails removes the file it made', () => {
    const library = fileURLToPath(new URL('../dist/lib/index.cjs', import.meta.url));
    const folder = mkdtempSync(join(dir, 'dangling-'));
    const target = join(folder, 'target.npy');
    const link = join(folder, 'link.npy');
    symlinkSync(target, link);
    const script = `const { Matrix, writeNpy } = require(${JSON.stringify(library)}); try { writeNpy(${JSON.stringify(link)}, Matrix.alloc(1000, 1000)); } catch (e) { console.log(e.code); }`;
    const child = spawnSync('sh', ['-c', `trap '' XFSZ; ulimit -f 16; "$1" -e "$2"`, 'sh', process.execPath, script], { encoding: 'utf8' });
    assert.equal(child.stdout, 'EFBIG\n', child.stderr);
    assert.deepEqual(readdirSync(folder), ['link.npy'], 'the link stays, and no half-written target');
  });

  test('numpy loads what we write', { skip: !hasNumpy && 'python3 with numpy is not installed' }, () => {
    const path = join(dir, 'from-js.npy');
    writeNpy(path, sample(4, 3));
    const out = python(`import numpy as np, json; a = np.load(${JSON.stringify(path)}); print(json.dumps([str(a.dtype), list(a.shape), a.flags['C_CONTIGUOUS'], [repr(x) for x in a.ravel()[:3]], float(a[3, 2])]))`);
    const [dtype, shape, contiguous, first, last] = JSON.parse(out) as [string, number[], boolean, string[], number];
    assert.deepEqual([dtype, shape, contiguous], ['float64', [4, 3], true]);
    assert.deepEqual(first, ['np.float64(nan)', 'np.float64(-0.0)', 'np.float64(inf)']);
    assert.equal(last, sample(4, 3).get(3, 2));
  });

  test('we read what numpy writes, in every numeric dtype and byte order', { skip: !hasNumpy && 'python3 with numpy is not installed' }, () => {
    const cases: [string, string, number, number][] = [
      ['np.arange(12, dtype="<f4").reshape(3, 4) / 4', 'f4', 3, 4],
      ['np.arange(-6, 6, dtype=">i2").reshape(4, 3)', 'i2 big-endian', 4, 3],
      ['np.arange(10, dtype="u1")', 'u1, 1-D', 10, 1],
      ['np.arange(24, dtype="<i8").reshape(2, 3, 4)', 'i8, 3-D', 2, 12],
      ['np.array([[True, False], [False, True]])', 'bool', 2, 2],
      ['np.arange(6, dtype=">f8").reshape(2, 3)', 'f8 big-endian', 2, 3],
      ['(np.arange(6, dtype="<f2") - 2.5).reshape(3, 2)', 'f2', 3, 2],
      ['np.arange(6, dtype=">f2").reshape(2, 3) / 8', 'f2 big-endian', 2, 3],
    ];
    for (const [expression, label, rows, cols] of cases) {
      const path = join(dir, `${label.replace(/\W+/g, '-')}.npy`);
      const expected = JSON.parse(python(`import numpy as np, json; a = ${expression}; np.save(${JSON.stringify(path)}, a); print(json.dumps(a.astype(float).ravel().tolist()))`)) as number[];
      const m = readNpy(path);
      assert.deepEqual([m.rows, m.cols], [rows, cols], label);
      assert.deepEqual(Array.from(m.data), expected, label);
    }
    const fortran = join(dir, 'fortran.npy');
    python(`import numpy as np; np.save(${JSON.stringify(fortran)}, np.asfortranarray(np.ones((3, 2))))`);
    assert.throws(() => readNpy(fortran), { message: /Fortran-order arrays are not supported/ });
  });
});
