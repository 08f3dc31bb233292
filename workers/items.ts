import type { InputSpec } from '../lib/protocol.js';
import { recordReader } from '../lib/records.js';

/** Reads item `index` of a chunk; `items` holds the chunk's own items for `array` inputs. */
export type ItemReader = (items: readonly unknown[] | undefined, start: number) => (index: number) => unknown;

/** How item `i` is read for each kind of input (see `InputSpec`); the main thread uses it too. */
export function itemReader(input: InputSpec): ItemReader {
  switch (input.kind) {
    case 'array':
      return (items, start) => (index) => items![index - start];
    case 'records': {
      const unpack = recordReader(input.records);
      return (items, start) => (items === undefined ? unpack : (index) => items[index - start]);
    }
    case 'typed':
      return () => (index) => input.values[index];
    case 'matrix':
      return () => (index) => input.values.subarray(index * input.cols, (index + 1) * input.cols);
    case 'ragged':
      return () => (index) => input.values.subarray(input.offsets[index], input.offsets[index + 1]);
  }
}

/**
 * The items themselves for typed-array input and packed numbers, which the hot loop reads in place
 * (see numbers-loop.ts); a chunk of packed numbers sent with its own items reads those instead.
 */
export function typedItems(input: InputSpec): ArrayLike<unknown> | undefined {
  if (input.kind === 'typed') return input.values;
  return input.kind === 'records' && input.records.layout.kind === 'number' ? input.records.values : undefined;
}
