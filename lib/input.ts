import { invalidArg } from './errors.js';
import { Matrix } from './matrix.js';
import { isTypedArray, packRagged, toShared } from './memory.js';
import type { InputSpec, SharedTypedArray } from './protocol.js';

/** The caller's data, ready to be read by workers. */
export interface Input {
  readonly count: number;
  /** What every worker gets once per call. */
  readonly spec: InputSpec;
  /** For `array` inputs: the items of rows [start, end), sent with each chunk. */
  readonly items?: readonly unknown[];
}

/**
 * Classifies `data` and moves typed values into shared memory (at most one copy per call).
 * Throws an `ERR_INVALID_ARG` error that names the offending item.
 */
export function prepareInput(data: unknown): Input {
  if (data instanceof Matrix) {
    checkAttached('data.data', data.data);
    return { count: data.rows, spec: { kind: 'matrix', values: toShared(data.data), cols: data.cols } };
  }
  if (isTypedArray(data)) {
    checkAttached('data', data);
    return { count: data.length, spec: { kind: 'typed', values: toShared(data) } };
  }
  if (!Array.isArray(data)) throw invalidArg('data', 'an Array, a typed array or a Matrix', data);
  checkDense(data);
  if (data.length > 0 && isTypedArray(data[0])) {
    checkOneKind(data);
    const { values, offsets } = packRagged(data as SharedTypedArray[]);
    return { count: data.length, spec: { kind: 'ragged', values, offsets } };
  }
  return { count: data.length, spec: { kind: 'array' }, items: data };
}

/** A detached buffer reads as empty; we refuse it rather than return an empty result for data that was moved away. */
function checkAttached(name: string, view: ArrayBufferView): void {
  if (view.byteLength !== 0 || view.buffer instanceof SharedArrayBuffer || view.buffer.byteLength !== 0) return;
  try {
    structuredClone(view.buffer);
  } catch {
    throw invalidArg(name, 'a typed array whose buffer is still attached (it was transferred or detached)', view);
  }
}

function checkDense(data: readonly unknown[]): void {
  for (let i = 0; i < data.length; i++) {
    if (!(i in data)) throw invalidArg('data', `a dense Array, but \`data[${i}]\` is a hole in a sparse Array`, data);
  }
}

function checkOneKind(data: readonly unknown[]): void {
  const Type = (data[0] as SharedTypedArray).constructor;
  for (let i = 1; i < data.length; i++) {
    const item = data[i];
    if (!isTypedArray(item) || item.constructor !== Type) {
      throw invalidArg(`data[${i}]`, `a ${Type.name} like \`data[0]\` (an Array of typed arrays must hold one kind)`, item);
    }
  }
}
