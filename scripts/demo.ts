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
import { mkdirSync } from 'node:fs';
import { Matrix, parallelize, writeNpy } from '@parallelize/core';
import { brainMask, dims, maskedStats, syntheticSubjects, voxels } from './workload.ts';

const { values: args } = parseArgs({ options: { subjects: { type: 'string', default: '1000' }, cores: { type: 'string' } } });
const subjects = Number(args.subjects);
const cores = args.cores === undefined ? availableParallelism() : Number(args.cores);

const started = performance.now();
const mask = brainMask();
const data = syntheticSubjects(subjects); // shared memory: workers read it in place
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
mkdirSync('demo-output', { recursive: true });
writeNpy('demo-output/subject-stats.npy', parallel);
console.log(`saved:            demo-output/subject-stats.npy; in Python: np.load('demo-output/subject-stats.npy')  # shape (${parallel.rows}, ${parallel.cols})`);
if (!identical) process.exitCode = 1;
