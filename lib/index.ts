export { parallelize } from './parallelize.js';
export { createPool, Pool } from './pool.js';
export type { Data, ItemOf, Mapper, Row, TypedArray } from './pool.js';
export { task } from './task.js';
export type { TaskRef } from './task.js';
export { Matrix } from './matrix.js';
export { ParallelizeError } from './errors.js';
export type { ParallelizeErrorCode } from './errors.js';
export type { ParallelizeOptions, PoolOptions } from './options.js';
