/**
 * The synthetic neuroimaging workload shared by the demo and the benchmarks: subjects are
 * 64×32×32 volumes (65,536 voxels), smoothed, then summarised inside a brain-shaped mask.
 */
import { Matrix } from '@parallelize/core';

export const dims = { x: 64, y: 32, z: 32 } as const;
export const voxels = dims.x * dims.y * dims.z;

export interface StudyContext {
  readonly mask: Uint8Array;
  readonly dims: { readonly x: number; readonly y: number; readonly z: number };
}

/**
 * Smooths one volume and returns [mean, std, min, max] inside the mask. Self-contained: it runs in
 * workers. Its two scratch volumes are made once per thread and kept on the function itself:
 * allocating large typed arrays for every item makes V8's garbage collector the bottleneck, and
 * it does not scale across threads (see the README's performance notes).
 */
export function maskedStats(volume: Float64Array, _index: number, context: StudyContext): number[] {
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
export function brainMask(): Uint8Array {
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

/** Seeded synthetic subjects: smooth anatomy plus per-subject noise and intensity, in shared memory. */
export function syntheticSubjects(subjects: number): Matrix {
  const data = Matrix.alloc(subjects, voxels);
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

/** maskedStats written naively: fresh scratch volumes for every item (a trap, see the README). */
export function maskedStatsAllocating(volume: Float64Array, index: number, context: StudyContext): number[] {
  (maskedStats as { scratch?: unknown }).scratch = undefined;
  return maskedStats(volume, index, context);
}

/** maskedStats, after the thread detached one small buffer (a trap, see the README). */
export function maskedStatsDetaching(volume: Float64Array, index: number, context: StudyContext): number[] {
  if (!detachedOnce) {
    const buffer = new ArrayBuffer(8);
    structuredClone(buffer, { transfer: [buffer] });
    detachedOnce = true;
  }
  return maskedStats(volume, index, context);
}
let detachedOnce = false;
