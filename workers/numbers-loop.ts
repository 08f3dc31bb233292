import type { Mapper } from '../lib/compile.js';
import { kCancelledField, kStatusIndexField } from '../lib/protocol.js';

/** What a numbers loop leaves behind when it stops early. */
export interface Held {
  /** What fn returned for the item the loop stopped at, when that was not a number. */
  result: unknown;
  /** The index at which the chunk looks at the clock next (Infinity without a deadline). */
  nextCheck: number;
  /** The chunk stopped because its deadline had passed. */
  late: boolean;
}

/** Returned by a numbers loop when the call was cancelled. */
export const kCancelled = -1;

/** A chunk's items: the typed array itself, or a function that reads item `i`. */
export type Items = ArrayLike<unknown> | ((index: number) => unknown);

/**
 * Runs fn over rows [index, end) while it returns numbers, writing row `i` at `values[i - base]`,
 * and returns where it stopped: `end`, kCancelled, or the index of an item whose result is
 * anything else (left in `held.result`). The index of the item it stopped at, or that threw, is
 * in `status[kStatusIndexField]`.
 */
export type NumbersLoop = (
  fn: Mapper, items: Items, context: unknown, index: number, end: number, values: Float64Array, base: number,
  control: Int32Array, status: Float64Array, held: Held,
) => number;

/**
 * The loop's source, for one fn. A watched loop runs where another thread may cancel the call or
 * see this one die: before each item it looks at the cancelled flag and publishes the item's
 * index, so that a thread that dies is blamed on its item. On the calling thread neither can
 * happen during a batch, and the two cost ~1 ns per item, a third of a cheap item's cost.
 */
function loopSource(typed: boolean, watched: boolean): string {
  const before = watched
    ? `if (control[${kCancelledField}] !== 0) return ${kCancelled}; status[${kStatusIndexField}] = index;`
    : '';
  const item = `{
        ${before}
        const result = fn(${typed ? 'items[index]' : 'items(index)'}, index, context);
        if (typeof result !== 'number') {
          held.result = result;
          status[${kStatusIndexField}] = index;
          return index;
        }
        values[index - base] = result;
        index++;
      }`;
  // Two items per pass: for every access to a typed array passed in, V8 checks its map and loads
  // its length and data pointer again, and the items of a pass share those. The first one or two
  // items run in a loop of their own that every call enters, leaving an even count for the passes,
  // so that no path is cold when V8 optimizes (a tail loop after the passes deoptimized the first
  // time it ran). Against one item per pass, 1,000,000 items of `x * 2 + 1` take ~0.9 ms instead of
  // ~1.5 (~1.7 instead of ~2.1 watched), a fn of ten arithmetic steps ~5.0 instead of ~5.8 (~5.4
  // instead of ~6.9 watched), a long one as long, and a new fn takes ~1 ms longer to optimize.
  // Eight per pass was faster still for cheap items (~0.8 ms), but eight inlined copies of fn used
  // up V8's inlining budget (a long fn ran ~15% slower, the ten-step one ~50%) and took ~2.6 ms
  // longer to optimize, which a fresh worker pays every time.
  // Each source differs by a number: V8 caches what it compiled from a string it has seen before,
  // and copies compiled from one string shared their optimized code (from the third fn on, ~7 ms
  // per 1,000,000 items instead of 1.5, with one item per pass).
  return `"use strict"; return function runNumbers(fn, items, context, index, end, values, base, control, status, held) {
    // loop ${++loopsCompiled}
    try {
      for (const head = index + 1 + (end - index - 1) % ${kItemsPerPass}; index < head;) ${item}
      while (index < end) {
        ${item.repeat(kItemsPerPass)}
      }
      return end;
    } catch (error) {
      status[${kStatusIndexField}] = index;
      throw error;
    }
  };`;
}

/** Items per pass of a compiled loop (see loopSource). */
const kItemsPerPass = 2;

/** The loop where strings cannot be compiled (`--disallow-code-generation-from-strings`): one for every fn. */
const sharedLoop: NumbersLoop = (fn, items, context, index, end, values, base, control, status, held) => {
  const read = typeof items === 'function' ? items : (i: number) => items[i];
  for (; index < end; index++) {
    if (control[kCancelledField] !== 0) return kCancelled;
    status[kStatusIndexField] = index;
    const result = fn(read(index), index, context);
    if (typeof result !== 'number') {
      held.result = result;
      return index;
    }
    values[index - base] = result;
  }
  return end;
};

/** Numbers each loop's source, to keep it unique. */
let loopsCompiled = 0;

/** Each fn's own loops, by variant (typed, watched), made when first needed. */
const loops = new WeakMap<Mapper, Map<string, NumbersLoop>>();

/**
 * `fn`'s own loop for typed-array items or an item reader, watched or not, compiled when first
 * asked for. V8 optimizes a loop for the functions it has seen called there: one loop shared by
 * every fn of a process stops inlining fn at the second one, and then boxes every number it passes.
 * On 1,000,000 items of `x * 2 + 1`, a shared loop that had seen five other functions took 14–20 ms,
 * and one given a fresh item reader for each chunk 4–6 ms; a copy of fn's own, reading a typed
 * array in place, takes ~1 ms (~2 ms watched).
 */
export function loopFor(fn: Mapper, typed: boolean, watched: boolean): NumbersLoop {
  let own = loops.get(fn);
  if (own === undefined) loops.set(fn, (own = new Map()));
  const variant = `${typed}${watched}`;
  let loop = own.get(variant);
  if (loop === undefined) {
    try {
      loop = new Function(loopSource(typed, watched))() as NumbersLoop;
    } catch {
      loop = sharedLoop;
    }
    own.set(variant, loop);
  }
  return loop;
}
