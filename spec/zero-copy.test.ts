import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { Matrix, parallelize } from '@parallelize/core';

describe('zero copy', () => {
  test("workers read a shared Matrix in place: a worker's write is visible to the caller", async () => {
    const data = Matrix.alloc(64, 4);
    data.data.fill(1);
    await parallelize(data, (row: Float64Array, index: number) => { row[0] = -index; return row[1]!; }, { cores: 2, chunkSize: 4, callingThread: false });
    for (let i = 0; i < data.rows; i++) assert.equal(data.get(i, 0), -i, `row ${i} was written in place`);
  });

  test('typed arrays in the context are one shared buffer for every worker', async () => {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    await parallelize(Array.from({ length: 100 }, (_, i) => i), (_x: number, _i: number, ctx: { counter: Int32Array }) => Atomics.add(ctx.counter, 0, 1), { context: { counter }, cores: 2, chunkSize: 3, callingThread: false });
    assert.equal(counter[0], 100, 'every call incremented the same counter');
  });

  test('an Array of typed arrays is packed once, and each item is a view of its own kind and length', async () => {
    const data = [Uint8Array.of(1, 2, 3), Uint8Array.of(), Uint8Array.of(9)];
    const result = await parallelize(data, (item: Uint8Array) => [item.length, item instanceof Uint8Array ? 1 : 0, item.buffer instanceof SharedArrayBuffer ? 1 : 0, item.reduce((a, b) => a + b, 0)]);
    assert.deepEqual(result.toArrays(), [[3, 1, 1, 6], [0, 1, 1, 0], [1, 1, 1, 9]]);
  });

  test('an ArrayBuffer-backed input is copied into shared memory exactly once per call, and results are shared', () => {
    // NODE_DEBUG=parallelize logs each copy; we count them in a child process.
    const script = `
      import { Matrix, parallelize } from '@parallelize/core';
      const plain = new Matrix(new Float64Array(200 * 3).fill(2), 200, 3);
      const m = await parallelize(plain, (row) => { row[0] = 5; return row[0] + row[1]; }, { cores: 2, chunkSize: 1, callingThread: false });
      const typed = await parallelize(new Float32Array(500).fill(1), (x) => x, { cores: 2, chunkSize: 7, callingThread: false });
      console.log(JSON.stringify({ first: m.get(199, 0), callerUntouched: plain.get(0, 0), shared: m.data.buffer instanceof SharedArrayBuffer, typedRows: typed.rows }));
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8', timeout: 20_000, env: { ...process.env, NODE_DEBUG: 'parallelize' },
    });
    assert.equal(child.status, 0, child.stderr);
    const copies = child.stderr.split('\n').filter((line) => /copied \d+ bytes of \w+ input into shared memory/.test(line));
    assert.deepEqual(copies.map((line) => /copied (\d+) bytes of (\w+)/.exec(line)!.slice(1).join(' ')), ['4800 Float64Array', '2000 Float32Array']);
    assert.deepEqual(JSON.parse(child.stdout), { first: 7, callerUntouched: 2, shared: true, typedRows: 500 });
  });
});
