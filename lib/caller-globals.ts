/**
 * Which caller's globals an inline function names. Run on the calling thread, a function sees the
 * globals the caller set; run on a worker, it does not: such a function must not run on the
 * calling thread, or whether a call works would depend on its size (see calling-thread.ts).
 */

import { kNamePart, kNameStart } from './identifiers.js';

/**
 * Node's enumerable globals (Node 20 to 24), which worker threads have too. Every other global
 * that Node or the language defines is not enumerable, while one the caller sets
 * (`globalThis.K = 2`, `global.K = 2`, a sloppy `K = 2`) is: a global that was there when the
 * library loaded is not the worker's too for that alone, since the caller may have set it first.
 */
const kNodeEnumerableGlobals = new Set([
  'atob', 'btoa', 'clearImmediate', 'clearInterval', 'clearTimeout', 'crypto', 'fetch', 'global', 'navigator',
  'performance', 'queueMicrotask', 'setImmediate', 'setInterval', 'setTimeout', 'structuredClone',
]);

/**
 * The global names of this thread when the library loaded that a worker's global scope has too.
 * Enumerability is read with Object.keys: reading a descriptor of one of Node's lazy globals
 * (`FormData`, `Performance`) loads its modules, ~100 of them on Node 22 and 24.
 */
const callerSet = new Set(Object.keys(globalThis).filter((name) => !kNodeEnumerableGlobals.has(name)));
const startGlobals = new Set(Object.getOwnPropertyNames(globalThis).filter((name) => !callerSet.has(name)));
/** For each inline function's source, the names in it that were not globals then (most are its own variables). */
const laterNames = new Map<string, readonly string[]>();
const kIdentifier = new RegExp(`(?<![.${kNamePart}])[${kNameStart}][${kNamePart}]*`, 'g');
const kRenamedKey = new RegExp(`[${kNamePart}]+\\s*:`, 'g');
const kSingleParameter = new RegExp(`^\\s*(?:async\\s+)?([${kNameStart}][${kNamePart}]*)\\s*=>`);

/**
 * The names of a function's parameters, destructured ones included, default values left out (a
 * default may read a global). Names declared in its body are not counted: an inner block may
 * shadow a name the rest reads as a global, and telling them apart takes a parser. A name missed
 * here only sends a call to threads; one counted wrongly would bring back calls that work only
 * while small.
 */
function parameterNames(source: string): Set<string> {
  const names = new Set<string>();
  // Without defaults, and without the keys of destructuring renames (`{ K: a }` binds `a`).
  const bindings = withoutDefaults(parametersOf(source) ?? '').replace(kRenamedKey, '');
  for (const name of bindings.match(kIdentifier) ?? []) names.add(name);
  return names;
}

/** Parameter text with every default value (`= …` up to the next `,` or closing bracket at its depth) taken out. */
function withoutDefaults(text: string): string {
  let kept = '';
  for (let k = 0; k < text.length; k++) {
    if (text[k] !== '=' || text[k + 1] === '>') {
      kept += text[k];
      continue;
    }
    for (let depth = 0; k + 1 < text.length; k++) {
      const next = text[k + 1]!;
      if (depth === 0 && (next === ',' || next === ')' || next === ']' || next === '}')) break;
      if (next === '(' || next === '[' || next === '{') depth++;
      else if (next === ')' || next === ']' || next === '}') depth--;
    }
  }
  return kept;
}

/** The text of a function's parameters: `x` of `x =>`, else its first parenthesized list. */
function parametersOf(source: string): string | undefined {
  const single = kSingleParameter.exec(source);
  if (single) return single[1];
  const open = source.indexOf('(');
  let depth = 0;
  for (let k = open; open >= 0 && k < source.length; k++) {
    if (source[k] === '(') depth++;
    else if (source[k] === ')' && --depth === 0) return source.slice(open + 1, k);
  }
  return undefined;
}

/**
 * The first name in `source` that is a global the caller set (`globalThis.K = 2`), before or
 * after the library loaded, if any. A worker has no such global: `fn` reading it would work here and
 * fail on threads, so whether a call works would depend on its size. Such a call goes to threads,
 * where it fails the same way whatever its size, saying what to do. Its parameters' names do not
 * count; any other name does, even in a string or a comment: at worst, a call that could have run
 * here runs on threads.
 */
export function callerGlobalIn(source: string): string | undefined {
  let names = laterNames.get(source);
  if (names === undefined) {
    const declared = parameterNames(source);
    // compileInline supplies __name.
    names = [...new Set(source.match(kIdentifier))].filter((name) => !startGlobals.has(name) && !declared.has(name) && name !== '__name');
    if (laterNames.size >= 64) laterNames.delete(laterNames.keys().next().value!);
    laterNames.set(source, names);
  }
  return names.find((name) => Object.hasOwn(globalThis, name));
}
