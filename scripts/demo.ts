/**
 * The main job, on built-in synthetic data: a neuroimaging-style study of many subjects, each a
 * 64×32×32 volume (65,536 voxels). Per subject we smooth the volume with a 5×5×5 binomial filter and
 * compute masked statistics (mean, std, min, max) inside a brain-shaped mask. We run it once
 * as a plain loop and once with `parallelize`, and check that both give the same bits.
 *
 *   npm run demo                 # 1,000 subjects
 *   npm run demo -- --subjects 200
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Matrix, parallelize } from '@parallelize/core';

const { values: args } = parseArgs({ options: { subjects: { type: 'string', default: '1000' }, cores: { type: 'string' } } });
const subjects = Number(args.subjects);
const cores = args.cores === undefined ? availableParallelism() : Number(args.cores);
const dims = { x: 64, y: 32, z: 32 };
const voxels = dims.x * dims.y * dims.z;

/**
 * Smooths one volume and returns [mean, std, min, max] inside the mask. Self-contained: it runs in
 * workers. Its two scratch volumes are made once per thread and kept on the function itself:
 * allocating large typed arrays for every item makes V8's garbage collector the bottleneck, and
 * it does not scale across threads (see the README's performance notes).
 */
function maskedStats(volume: Float64Array, _index: number, context: { mask: Uint8Array; dims: { x: number; y: number; z: number } }): number[] {
  const { mask, dims: { x: nx, y: ny, z: nz } } = context;
  const self = maskedStats as typeof maskedStats & { scratch?: [Float64Array, Float64Array] };
  if (self.scratch?.[0].length !== volume.length) self.scratch = [new Float64Array(volume.length), new Float64Array(volume.length)];
  const [a, b] = self.scratch;
  // A 5×5×5 binomial (Gaussian-like) filter, as three separable 5-tap passes along x, y and z;
  // at the edges, the missing neighbours repeat the edge voxel.
  let source: Float64Array = volume;
  let target = a;
  const axes = [[1, nx], [nx, ny], [nx * ny, nz]] as const;
  for (const [stride, size] of axes) {
    for (let v = 0; v < source.length; v++) {
      const position = Math.floor(v / stride) % size;
      const m2 = source[v - stride * Math.min(2, position)]!;
      const m1 = source[v - stride * Math.min(1, position)]!;
      const p1 = source[v + stride * Math.min(1, size - 1 - position)]!;
      const p2 = source[v + stride * Math.min(2, size - 1 - position)]!;
      target[v] = (m2 + 4 * m1 + 6 * source[v]! + 4 * p1 + p2) / 16;
    }
    source = target;
    target = target === a ? b : a;
  }
  let n = 0;
  let sum = 0;
  let sumSquares = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let v = 0; v < source.length; v++) {
    if (mask[v] === 0) continue;
    const value = source[v]!;
    n++;
    sum += value;
    sumSquares += value * value;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  const mean = sum / n;
  return [mean, Math.sqrt(Math.max(0, sumSquares / n - mean * mean)), min, max];
}

/** A brain-like mask: an ellipsoid filling most of the volume, with a dented surface. */
function brainMask(): Uint8Array {
  const mask = new Uint8Array(voxels);
  for (let z = 0; z < dims.z; z++) {
    for (let y = 0; y < dims.y; y++) {
      for (let x = 0; x < dims.x; x++) {
        const dx = (x - dims.x / 2) / (dims.x * 0.45);
        const dy = (y - dims.y / 2) / (dims.y * 0.42);
        const dz = (z - dims.z / 2) / (dims.z * 0.4);
        const folds = 0.08 * Math.sin(x * 0.9) * Math.cos(y * 1.3);
        if (dx * dx + dy * dy + dz * dz < 1 + folds) mask[x + dims.x * (y + dims.y * z)] = 1;
      }
    }
  }
  return mask;
}

/** Seeded synthetic subjects: smooth anatomy plus per-subject noise and intensity. */
function syntheticSubjects(): Matrix {
  const data = Matrix.alloc(subjects, voxels); // shared memory: workers read it in place
  let state = 12345;
  for (let s = 0; s < subjects; s++) {
    const row = data.row(s);
    const gain = 0.8 + (s % 17) / 40;
    for (let v = 0; v < voxels; v++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      row[v] = gain * (100 + 20 * Math.sin(v / 900)) + (state / 4294967296 - 0.5) * 30;
    }
  }
  return data;
}

const started = performance.now();
const mask = brainMask();
const data = syntheticSubjects();
const context = { mask, dims };
console.log(`Synthetic study: ${subjects} subjects × ${voxels} voxels (${(data.data.byteLength / 2 ** 20).toFixed(0)} MiB), ` +
  `mask of ${mask.reduce((a, b) => a + b, 0)} voxels; made in ${((performance.now() - started) / 1000).toFixed(2)} s`);

let t = performance.now();
const serial = Matrix.alloc(subjects, 4);
for (let s = 0; s < subjects; s++) serial.row(s).set(maskedStats(data.row(s), s, context));
const serialSeconds = (performance.now() - t) / 1000;

t = performance.now();
const parallel = await parallelize(data, maskedStats, { context, cores });
const parallelSeconds = (performance.now() - t) / 1000;

const identical = parallel.rows === serial.rows && parallel.cols === serial.cols &&
  Buffer.compare(Buffer.from(parallel.data.buffer), Buffer.from(serial.data.buffer)) === 0;
const speedup = serialSeconds / parallelSeconds;

console.log(`cores:            ${cores}`);
console.log(`serial loop:      ${serialSeconds.toFixed(3)} s`);
console.log(`parallelize:      ${parallelSeconds.toFixed(3)} s (threads started and stopped inside)`);
console.log(`speed-up:         ${speedup.toFixed(2)}×`);
console.log(`efficiency:       ${(speedup / cores).toFixed(2)} (speed-up / cores)`);
console.log(`result:           ${parallel.rows} × ${parallel.cols} (mean, std, min, max per subject)`);
console.log(`identical:        ${identical ? 'yes, bit for bit' : 'NO'}`);
console.log(`subject 0:        ${Array.from(parallel.row(0), (v) => v.toFixed(3)).join(', ')}`);
if (!identical) process.exitCode = 1;
