import { readFileSync, writeFileSync } from 'node:fs';
import { invalidArg } from './errors.js';
import { Matrix } from './matrix.js';

const kMagic = '\x93NUMPY';
/** numpy pads the header so that the data starts on a multiple of 64 bytes. */
const kAlignment = 64;

/** How to read one element of each supported dtype kind and size, as a float64. */
const kReaders: Record<string, (view: DataView, offset: number, littleEndian: boolean) => number> = {
  f8: (v, o, le) => v.getFloat64(o, le),
  f4: (v, o, le) => v.getFloat32(o, le),
  i8: (v, o, le) => Number(v.getBigInt64(o, le)),
  i4: (v, o, le) => v.getInt32(o, le),
  i2: (v, o, le) => v.getInt16(o, le),
  i1: (v, o) => v.getInt8(o),
  u8: (v, o, le) => Number(v.getBigUint64(o, le)),
  u4: (v, o, le) => v.getUint32(o, le),
  u2: (v, o, le) => v.getUint16(o, le),
  u1: (v, o) => v.getUint8(o),
  b1: (v, o) => (v.getUint8(o) === 0 ? 0 : 1),
};

/**
 * Reads a numpy `.npy` file (a path, or its bytes) into a `Matrix` in shared memory, shaped like
 * numpy's `reshape(len(a), -1)`: a 1-D array of n values gives n × 1, a 2-D array keeps its shape,
 * and further dimensions are folded into the columns. Float, signed and unsigned integer and bool
 * dtypes of either byte order are converted to float64 (64-bit integers past 2^53 lose precision).
 *
 * @example
 * ```ts
 * const subjects = readNpy('subjects.npy');   // np.save('subjects.npy', a) in Python
 * const stats = await parallelize(subjects, analyse);
 * writeNpy('stats.npy', stats);               // np.load('stats.npy') in Python
 * ```
 */
export function readNpy(source: string | Uint8Array): Matrix {
  const where = typeof source === 'string' ? source : 'the .npy bytes';
  const bytes = typeof source === 'string' ? readFileSync(source) : source;
  if (!(bytes instanceof Uint8Array)) throw invalidArg('source', 'a path or a Uint8Array', source);
  const fail = (problem: string): never => {
    throw Object.assign(new TypeError(`Cannot read ${where} as .npy: ${problem}`), { code: 'ERR_INVALID_ARG' });
  };
  if (bytes.length < 10 || String.fromCharCode(...bytes.subarray(0, 6)) !== kMagic) fail('it does not start with the .npy magic string');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  if (major < 1 || major > 3) fail(`format version ${major}.${bytes[7]} is not supported`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = (major === 1 ? 10 : 12) + headerLength;
  if (bytes.length < dataStart) fail('the header is truncated');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(major === 1 ? 10 : 12, dataStart));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail(`the header is not a plain array header: ${header.trim()}`);
  if (fortran === 'True') fail('Fortran-order arrays are not supported; save np.ascontiguousarray(a) instead');
  const [, order, kind] = /^([<>|=])?([a-zA-Z]\d*)$/.exec(descr!) ?? [];
  const read = kind === undefined ? undefined : kReaders[kind];
  if (read === undefined) fail(`dtype '${descr}' is not supported (only numeric and bool dtypes are; object arrays cannot be read)`);
  const size = Number(kind!.slice(1));
  const shape = shapeText!.split(',').map((part) => part.trim()).filter(Boolean).map(Number);
  if (shape.some((n) => !Number.isSafeInteger(n) || n < 0)) fail(`the shape (${shapeText}) is not a list of sizes`);
  const count = shape.reduce((a, b) => a * b, 1);
  const rows = shape.length === 0 ? 1 : shape[0]!;
  const cols = shape.length <= 1 ? 1 : shape.slice(1).reduce((a, b) => a * b, 1);
  if (bytes.length - dataStart < count * size) fail(`the data is truncated: expected ${count * size} bytes, found ${bytes.length - dataStart}`);
  const matrix = Matrix.alloc(rows, cols);
  const littleEndian = order !== '>';
  if (kind === 'f8' && littleEndian && (bytes.byteOffset + dataStart) % 8 === 0) {
    matrix.data.set(new Float64Array(bytes.buffer, bytes.byteOffset + dataStart, count));
  } else {
    for (let k = 0; k < count; k++) matrix.data[k] = read!(view, dataStart + k * size, littleEndian);
  }
  return matrix;
}

/**
 * A `Matrix` as the bytes of a `.npy` file: float64, little-endian, C order, shape (rows, cols).
 *
 * @example
 * ```ts
 * response.end(toNpy(stats));   // np.load(io.BytesIO(body)) on the other side
 * ```
 */
export function toNpy(matrix: Matrix): Uint8Array {
  if (!(matrix instanceof Matrix)) throw invalidArg('matrix', 'a Matrix', matrix);
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${matrix.rows}, ${matrix.cols}), }`;
  const unpadded = 10 + header.length + 1;
  header += `${' '.repeat((kAlignment - (unpadded % kAlignment)) % kAlignment)}\n`;
  const bytes = new Uint8Array(10 + header.length + matrix.data.byteLength);
  for (let k = 0; k < kMagic.length; k++) bytes[k] = kMagic.charCodeAt(k);
  bytes[6] = 1;
  bytes[7] = 0;
  new DataView(bytes.buffer).setUint16(8, header.length, true);
  for (let k = 0; k < header.length; k++) bytes[10 + k] = header.charCodeAt(k);
  const data = new DataView(bytes.buffer, 10 + header.length);
  for (let k = 0; k < matrix.data.length; k++) data.setFloat64(k * 8, matrix.data[k]!, true);
  return bytes;
}

/**
 * Writes a `Matrix` to a `.npy` file that `np.load` reads as a (rows, cols) float64 array.
 *
 * @example
 * ```ts
 * writeNpy('stats.npy', await parallelize(subjects, analyse));
 * ```
 */
export function writeNpy(path: string, matrix: Matrix): void {
  if (typeof path !== 'string' || path === '') throw invalidArg('path', 'a non-empty string', path);
  writeFileSync(path, toNpy(matrix));
}
