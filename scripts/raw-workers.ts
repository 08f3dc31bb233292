/**
 * Hand-written "raw" workers, the yardstick of scaling.ts and scaling-probe.ts: plain `Worker`s
 * that take one item at a time from an Atomics counter and write results straight into shared
 * memory, with no library. What they reach is what the machine allows for the workload.
 */
import { Worker } from 'node:worker_threads';
import type { Matrix } from '@parallelize/core';
import type { SharedInput } from './bench-cases.ts';

// Takes items from a shared counter until none is left, then reports the time it was busy.
const kRawWorker = `
const { parentPort, workerData: { data, width, cols, source, context, counter, result } } = require('node:worker_threads');
const fn = (0, eval)('(' + source + ')');
const count = data.length / width;
parentPort.on('message', () => {
  const started = performance.now();
  for (let i = Atomics.add(counter, 0, 1); i < count; i = Atomics.add(counter, 0, 1)) {
    const r = fn(width === 1 ? data[i] : data.subarray(i * width, (i + 1) * width), i, context);
    if (typeof r === 'number') result[i] = r;
    else result.set(r, i * cols);
  }
  parentPort.postMessage(performance.now() - started);
});`;

export interface RawWorkers {
  /** Runs the whole input once: the result, and the ms the workers were busy, summed. */
  run(): Promise<{ result: Matrix; busyMs: number }>;
  close(): Promise<unknown>;
}

/** `n` raw workers over `input`. */
export function rawWorkers(input: SharedInput, n: number): RawWorkers {
  const count = input.data.length / input.width;
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const result = new Float64Array(new SharedArrayBuffer(count * input.cols * 8));
  const workerData = { data: input.data, width: input.width, cols: input.cols, source: input.fn.toString(), context: input.context, counter, result };
  const workers = Array.from({ length: n }, () => new Worker(kRawWorker, { eval: true, workerData }));
  return {
    async run() {
      Atomics.store(counter, 0, 0);
      const busy = await Promise.all(workers.map((worker) => new Promise<number>((done) => { worker.once('message', done); worker.postMessage(0); })));
      return { result: { rows: count, cols: input.cols, data: result } as Matrix, busyMs: busy.reduce((sum, ms) => sum + ms, 0) };
    },
    close: () => Promise.all(workers.map((worker) => worker.terminate())),
  };
}
