import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { writeWhole } from './files.js';
import { invalidArg } from './errors.js';
import { Matrix } from './matrix.js';

const kMagic = '\x93NUMPY';
/** numpy pads the header so that the data starts on a multiple of 64 bytes. */
const kAlignment = 64;
/** Bytes read or written at a time: one read() or write() is limited to 2 GiB, and conversion needs a buffer. */
const kReadBytes = 1 << 24;

/** How to read one element of each supported dtype kind and size, as a float64. */
const kReaders: Record<string, (view: DataView, offset: number, littleEndian: boolean) => number> = {
  f8: (v, o, le) => v.getFloat64(o, le),
  f4: (v, o, le) => v.getFloat32(o, le),
  f2: (v, o, le) => halfToNumber(v.getUint16(o, le)),
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

/** IEEE 754 half precision (numpy's float16), which Node 20 has no typed array for. */
function halfToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const kHostIsLittleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** What a .npy header says: where the data starts, how to read it, and the matrix it makes. */
interface Layout {
  readonly dataStart: number;
  readonly read: (view: DataView, offset: number, littleEndian: boolean) => number;
  readonly size: number;
  readonly littleEndian: boolean;
  /** Whether the data is little-endian float64 as this machine stores it: copied, not converted. */
  readonly native: boolean;
  readonly rows: number;
  readonly cols: number;
}

/**
 * Reads a numpy `.npy` file (a path, or its bytes) into a `Matrix` in shared memory, shaped like
 * numpy's `reshape(len(a), -1)`: a 1-D array of n values gives n × 1, a 2-D array keeps its shape,
 * and further dimensions are folded into the columns. Float (float16 to float64), signed and
 * unsigned integer and bool dtypes of either byte order are converted to float64 (64-bit integers
 * past 2^53 lose precision). A file is read piece by piece straight into the matrix, so it may be
 * larger than 2 GiB, and needs no memory beyond the matrix.
 *
 * @example
 * ```ts
 * const subjects = readNpy('subjects.npy');   // np.save('subjects.npy', a) in Python
 * const stats = await parallelize(subjects, analyse);
 * writeNpy('stats.npy', stats);               // np.load('stats.npy') in Python
 * ```
 */
export function readNpy(source: string | Uint8Array): Matrix {
  if (typeof source === 'string') return readNpyFile(source);
  if (!(source instanceof Uint8Array)) throw invalidArg('source', 'a path or a Uint8Array', source);
  return readNpyBytes(source, 'the .npy bytes');
}

function readNpyBytes(bytes: Uint8Array, where: string): Matrix {
  const layout = parseLayout((length) => bytes.subarray(0, length), bytes.length, where);
  const matrix = Matrix.alloc(layout.rows, layout.cols);
  convert(layout, bytes.subarray(layout.dataStart), matrix.data, 0);
  return matrix;
}

function readNpyFile(path: string): Matrix {
  const fd = openSync(path, 'r');
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) throw unreadable(path, 'it is a directory');
    // A pipe or a terminal (`--in /dev/stdin`) has no size to read by: it is read to its end.
    if (!stats.isFile()) return readNpyBytes(readFileSync(fd), path);
    const fileSize = stats.size;
    const layout = parseLayout((length) => {
      const bytes = new Uint8Array(Math.min(length, fileSize));
      readSync(fd, bytes, 0, bytes.length, 0);
      return bytes;
    }, fileSize, path);
    const matrix = Matrix.alloc(layout.rows, layout.cols);
    const total = matrix.data.length * layout.size;
    if (layout.native) {
      readFully(fd, new Uint8Array(matrix.data.buffer, matrix.data.byteOffset, total), layout.dataStart, path);
      return matrix;
    }
    const chunk = new Uint8Array(Math.min(total, kReadBytes - (kReadBytes % layout.size)));
    for (let done = 0; done < total;) {
      const length = Math.min(chunk.length, total - done);
      readFully(fd, chunk.subarray(0, length), layout.dataStart + done, path);
      convert(layout, chunk.subarray(0, length), matrix.data, done / layout.size);
      done += length;
    }
    return matrix;
  } finally {
    closeSync(fd);
  }
}

/** Fills `target` from the file at `position`, kReadBytes at a time; a file that ends first is truncated. */
function readFully(fd: number, target: Uint8Array, position: number, path: string): void {
  for (let done = 0; done < target.length;) {
    const read = readSync(fd, target, done, Math.min(kReadBytes, target.length - done), position + done);
    if (read === 0) throw unreadable(path, 'the data is truncated (the file shrank while it was read)');
    done += read;
  }
}

/** Writes the elements in `bytes` into `values` from element `first` on. */
function convert({ read, size, littleEndian, native }: Layout, bytes: Uint8Array, values: Float64Array, first: number): void {
  const count = Math.min(values.length - first, Math.floor(bytes.length / size));
  if (native) {
    new Uint8Array(values.buffer, values.byteOffset + first * 8, count * 8).set(bytes.subarray(0, count * 8));
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let k = 0; k < count; k++) values[first + k] = read(view, k * size, littleEndian);
}

/** The error for a source that is no .npy we can read: `ERR_INVALID_ARG`, naming it and the problem. */
function unreadable(where: string, problem: string): TypeError {
  return Object.assign(new TypeError(`Cannot read ${where} as .npy: ${problem}`), { code: 'ERR_INVALID_ARG' });
}

/**
 * Reads and checks the header of a .npy file of `totalBytes`, whose first bytes `head(n)` gives;
 * throws an `ERR_INVALID_ARG` error that names `where` and the problem.
 */
function parseLayout(head: (length: number) => Uint8Array, totalBytes: number, where: string): Layout {
  const fail = (problem: string): never => {
    throw unreadable(where, problem);
  };
  let bytes = head(12);
  if (bytes.length < 10 || String.fromCharCode(...bytes.subarray(0, 6)) !== kMagic) fail('it does not start with the .npy magic string');
  const major = bytes[6]!;
  if (major < 1 || major > 3) fail(`format version ${major}.${bytes[7]} is not supported`);
  const prefix = major === 1 ? 10 : 12;
  if (bytes.length < prefix) fail('the header is truncated');
  const prefixView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataStart = prefix + (major === 1 ? prefixView.getUint16(8, true) : prefixView.getUint32(8, true));
  if (totalBytes < dataStart) fail('the header is truncated');
  bytes = head(dataStart);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(prefix, dataStart));
  // Python dict syntax, as numpy writes it; either kind of quotes, as numpy's own parser accepts.
  const descr = /(['"])descr\1\s*:\s*(['"])([^'"]*)\2/.exec(header)?.[3];
  const fortran = /(['"])fortran_order\1\s*:\s*(True|False)/.exec(header)?.[2];
  const shapeText = /(['"])shape\1\s*:\s*\(([^)]*)\)/.exec(header)?.[2];
  if (descr === undefined && /(['"])descr\1\s*:\s*\[/.test(header)) fail('structured dtypes (records with named fields) are not supported');
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail(`the header is not a plain array header: ${header.trim()}`);
  if (fortran === 'True') fail('Fortran-order arrays are not supported; save np.ascontiguousarray(a) instead');
  const [, order, kind] = /^([<>|=])?([a-zA-Z]\d*)$/.exec(descr!) ?? [];
  const read = kind === undefined ? undefined : kReaders[kind];
  if (read === undefined) fail(`dtype '${descr}' is not supported (only numeric and bool dtypes are; object arrays cannot be read)`);
  const shape = parseShape(shapeText!) ?? fail(`the shape (${shapeText}) is not a tuple of sizes`);
  const size = Number(kind!.slice(1));
  const count = shape.reduce((a, b) => a * b, 1);
  const cols = shape.length <= 1 ? 1 : shape.slice(1).reduce((a, b) => a * b, 1);
  // Only a crafted file holds more: numpy makes no array of more than 2^63 bytes.
  if (!Number.isSafeInteger(count * size) || !Number.isSafeInteger(cols)) fail(`the shape (${shapeText}) is too large`);
  if (totalBytes - dataStart < count * size) fail(`the data is truncated: expected ${count * size} bytes, found ${totalBytes - dataStart}`);
  const littleEndian = order === '<' || (order !== '>' && kHostIsLittleEndian);
  return {
    dataStart, read: read!, size, littleEndian, native: kind === 'f8' && littleEndian && kHostIsLittleEndian,
    rows: shape.length === 0 ? 1 : shape[0]!, cols,
  };
}

/** The sizes of a Python tuple of ints, `()`, `(3,)` or `(3, 4)` (a `3L` of Python 2 too); undefined for anything else. */
function parseShape(text: string): number[] | undefined {
  if (text.trim() === '') return [];
  const parts = text.split(',').map((part) => part.trim());
  if (parts.at(-1) === '') parts.pop(); // a trailing comma
  else if (parts.length === 1) return undefined; // `(3)` is the int 3, not a tuple
  if (!parts.every((part) => /^\d+L?$/.test(part))) return undefined;
  const sizes = parts.map((part) => Number.parseInt(part, 10));
  return sizes.every(Number.isSafeInteger) ? sizes : undefined;
}

/** The header of a .npy file (version 1.0) for a float64 (rows, cols) matrix, padded so that the data is aligned. */
function headerFor(matrix: Matrix): Uint8Array {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${matrix.rows}, ${matrix.cols}), }`;
  const unpadded = 10 + header.length + 1;
  header += `${' '.repeat((kAlignment - (unpadded % kAlignment)) % kAlignment)}\n`;
  const bytes = new Uint8Array(10 + header.length);
  for (let k = 0; k < kMagic.length; k++) bytes[k] = kMagic.charCodeAt(k);
  bytes[6] = 1;
  bytes[7] = 0;
  new DataView(bytes.buffer).setUint16(8, header.length, true);
  for (let k = 0; k < header.length; k++) bytes[10 + k] = header.charCodeAt(k);
  return bytes;
}

/** The matrix's values as little-endian bytes: its own memory where this machine is little-endian. */
function littleEndianBytes(data: Float64Array): Uint8Array {
  if (kHostIsLittleEndian) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const bytes = new Uint8Array(data.byteLength);
  const view = new DataView(bytes.buffer);
  for (let k = 0; k < data.length; k++) view.setFloat64(k * 8, data[k]!, true);
  return bytes;
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
  const header = headerFor(matrix);
  const bytes = new Uint8Array(header.length + matrix.data.byteLength);
  bytes.set(header);
  bytes.set(littleEndianBytes(matrix.data), header.length);
  return bytes;
}

/**
 * Writes a `Matrix` to a `.npy` file that `np.load` reads as a (rows, cols) float64 array. The
 * values go to the file straight from the matrix, with no copy of them in memory. A new file, or
 * one of ours that we may write and that has no other name, is replaced only once the new one is
 * written whole (beside it, then renamed over it): a failed write (a full disk) leaves what was
 * there. Any other file is written in place, as `np.save` does, and removed if that fails.
 *
 * @example
 * ```ts
 * writeNpy('stats.npy', await parallelize(subjects, analyse));
 * ```
 */
export function writeNpy(path: string, matrix: Matrix): void {
  if (typeof path !== 'string' || path === '') throw invalidArg('path', 'a non-empty string', path);
  if (!(matrix instanceof Matrix)) throw invalidArg('matrix', 'a Matrix', matrix);
  writeWhole(path, (fd) => {
    for (const bytes of [headerFor(matrix), littleEndianBytes(matrix.data)]) {
      for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, Math.min(kReadBytes, bytes.length - done));
    }
  });
}
