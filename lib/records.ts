/**
 * Array items of one simple shape travel to workers as float64 slots in shared memory instead of
 * structured clones: numbers, plain objects whose values are numbers or Arrays of numbers
 * (`{ id, values }`), or Arrays of numbers. Deserializing the clone of a 32-number object costs a
 * worker ~2 µs, as much as moderate work on it; rebuilding it from shared memory costs about its
 * allocation.
 *
 * The shape is read from the first item. Each chunk is packed when it is handed out (so packing
 * overlaps the workers' computing), and every item is checked: a chunk with any item of another
 * shape goes as clones, exactly as before, and so does a chunk whose items cannot be read (a
 * throwing getter): the clone then reports the item. Known differences from a clone: other
 * properties set on an Array of numbers (`values.unit = 'mm'`) are not sent, as checking for them
 * would cost more than sending the item; and one Array or object reached twice arrives as two
 * equal copies, where a clone of a chunk keeps them one.
 */
import { types } from 'node:util';

/** How an item's numbers are laid out; a width of -1 is a number, any other an Array of that length. */
export type RecordLayout =
  | { readonly kind: 'number' }
  | { readonly kind: 'array'; readonly width: number }
  | { readonly kind: 'object'; readonly keys: readonly string[]; readonly widths: readonly number[] };

/** The shape of packed items: item `i` takes `stride` slots, read with `layout`. */
export interface RecordShape {
  readonly layout: RecordLayout;
  readonly stride: number;
}

/** Packed items: item `i` is `values[i * stride, (i + 1) * stride)`. */
export interface PackedRecords extends RecordShape {
  readonly values: Float64Array;
}

/** Beyond this many keys, or values in all (2 GiB), items travel as clones: a layout that big is no record. */
const kMaxKeys = 256;
const kMaxValues = 2 ** 28;

/** The shape of `count` items like `first`, or undefined when that shape does not pack. */
export function recordShape(first: unknown, count: number): RecordShape | undefined {
  try {
    const layout = layoutOf(first);
    if (layout === undefined) return undefined;
    const stride = layout.kind === 'number' ? 1 : layout.kind === 'array' ? layout.width : layout.widths.reduce((sum, width) => sum + (width < 0 ? 1 : width), 0);
    if (stride === 0 || count * stride > kMaxValues) return undefined;
    return { layout, stride };
  } catch {
    return undefined; // an item that cannot be read: clones will tell
  }
}

/**
 * Shared memory for `count` items of `shape`, or undefined when there is none to be had.
 * `allocate` gives a shared Float64Array of the length asked for, not necessarily zero-filled.
 */
export function packedRecords(shape: RecordShape, count: number, allocate: (length: number) => Float64Array): PackedRecords | undefined {
  try {
    return { ...shape, values: allocate(count * shape.stride) };
  } catch {
    return undefined; // no memory for the slots: the items go as clones
  }
}

function layoutOf(item: unknown): RecordLayout | undefined {
  if (typeof item === 'number') return { kind: 'number' };
  const width = numberArrayWidth(item);
  if (width >= 0) return { kind: 'array', width };
  if (!isPlainObject(item)) return undefined;
  const keys = Object.keys(item);
  // Assigning `__proto__` would set the prototype instead of a property.
  if (keys.length > kMaxKeys || keys.includes('__proto__')) return undefined;
  const widths: number[] = [];
  for (const key of keys) {
    const value = (item as Record<string, unknown>)[key];
    const width = typeof value === 'number' ? -1 : numberArrayWidth(value);
    if (width === -2) return undefined;
    widths.push(width);
  }
  return { kind: 'object', keys, widths };
}

/** The length of a plain Array of numbers, else -2. */
function numberArrayWidth(value: unknown): number {
  if (!isPlainArray(value)) return -2;
  for (let k = 0; k < value.length; k++) if (typeof value[k] !== 'number') return -2;
  return value.length;
}

// A Proxy cannot be cloned: it must fail as it would in a chunk of clones, not pass here. It is
// told apart first, so that none of its traps runs.
function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !types.isProxy(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/** An Array of Array.prototype, not a subclass nor a Proxy. */
export function isPlainArray(value: unknown): value is unknown[] {
  return Array.isArray(value) && !types.isProxy(value) && Object.getPrototypeOf(value) === Array.prototype;
}

/**
 * Writes items [start, end) into their slots. False when one of them has another shape or cannot
 * be read; the slots written so far are then left unused, as the chunk goes as clones.
 */
export function packRecords(records: PackedRecords, items: readonly unknown[], start: number, end: number): boolean {
  const { layout, stride, values } = records;
  try {
    if (layout.kind === 'number') return writeEachNumber(items, start, end, values);
    for (let i = start; i < end; i++) {
      const fits = layout.kind === 'array'
        ? writeNumbers(items[i], layout.width, values, i * stride)
        : writeObject(items[i], layout.keys, layout.widths, values, i * stride);
      if (!fits) return false;
    }
  } catch {
    return false;
  }
  return true;
}

// Its own loop: an Array of numbers is the commonest input, and packing it is a copy.
function writeEachNumber(items: readonly unknown[], start: number, end: number, values: Float64Array): boolean {
  for (let i = start; i < end; i++) {
    const number = items[i];
    if (typeof number !== 'number') return false;
    values[i] = number;
  }
  return true;
}

function writeObject(item: unknown, keys: readonly string[], widths: readonly number[], values: Float64Array, at: number): boolean {
  if (!isPlainObject(item)) return false;
  const own = Object.keys(item);
  if (own.length !== keys.length) return false;
  let p = at;
  for (let j = 0; j < keys.length; j++) {
    if (own[j] !== keys[j]) return false;
    const value = (item as Record<string, unknown>)[keys[j]!];
    const width = widths[j]!;
    if (width < 0) {
      if (typeof value !== 'number') return false;
      values[p++] = value;
    } else {
      if (!writeNumbers(value, width, values, p)) return false;
      p += width;
    }
  }
  return true;
}

function writeNumbers(value: unknown, width: number, values: Float64Array, at: number): boolean {
  if (!isPlainArray(value) || value.length !== width) return false;
  for (let k = 0; k < width; k++) {
    const number = value[k];
    if (typeof number !== 'number') return false;
    values[at + k] = number;
  }
  return true;
}

/** Rebuilds item `index` (on a worker) from its slots: an equal object or Array, freshly allocated. */
export function recordReader({ layout, stride, values }: PackedRecords): (index: number) => unknown {
  if (layout.kind === 'number') return (index) => values[index];
  if (layout.kind === 'array') return (index) => readNumbers(values, index * stride, layout.width);
  const { keys, widths } = layout;
  return (index) => {
    const item: Record<string, unknown> = {};
    let p = index * stride;
    for (let j = 0; j < keys.length; j++) {
      const width = widths[j]!;
      if (width < 0) {
        item[keys[j]!] = values[p++];
      } else {
        item[keys[j]!] = readNumbers(values, p, width);
        p += width;
      }
    }
    return item;
  };
}

function readNumbers(values: Float64Array, at: number, width: number): number[] {
  const numbers: number[] = [];
  for (let k = 0; k < width; k++) numbers.push(values[at + k]!);
  return numbers;
}
