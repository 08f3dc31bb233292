import { kNamePart, kNameStart } from './identifiers.js';

/** An inline function as the workers and the calling thread run it. */
export type Mapper = (item: unknown, index: number, context: unknown) => unknown;

// A pool runs the same function call after call; compiling it again each time would be waste.
const compiled = new Map<string, Mapper>();
const kMaxCompiled = 64;

/** `compileInline`, remembering the last 64 sources compiled in this thread. */
export function compileCached(source: string): Mapper {
  let fn = compiled.get(source);
  if (fn === undefined) {
    fn = compileInline(source) as Mapper;
    if (compiled.size >= kMaxCompiled) compiled.delete(compiled.keys().next().value!);
    compiled.set(source, fn);
  }
  return fn;
}

/**
 * Compiles the source of an inline function. The same code runs in the workers.
 *
 * tsx and esbuild (with `keepNames`) rewrite function source to call a `__name(fn, "name")`
 * helper that exists only in the caller's module scope; we supply a harmless one.
 * Method shorthand (`{ f(x) {...} }.f`) has source `f(x) {...}`, which is not an expression on its
 * own, so we retry it inside an object literal.
 */
export function compileInline(source: string): (...args: unknown[]) => unknown {
  let compiled: unknown;
  try {
    compiled = new Function('__name', `"use strict"; return (${source}\n);`)(nameHelper);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    try {
      compiled = new Function('__name', `"use strict"; const o = { ${source}\n}; return o[Object.keys(o)[0]];`)(nameHelper);
    } catch (retryError) {
      // Whichever attempt matched the source's form explains what is wrong (strict mode, say).
      throw kExpression.test(source) ? error : retryError;
    }
  }
  if (typeof compiled !== 'function') throw new TypeError('the source does not evaluate to a function');
  return compiled as (...args: unknown[]) => unknown;
}

/** How a function expression starts (`function`, `async function`, `(x) =>`, `x =>`); method shorthand starts otherwise. */
const kExpression = new RegExp(`^(?:async\\s*)?(?:function\\b|\\(|[${kNameStart}][${kNamePart}]*\\s*=>)`);

function nameHelper<T extends object>(target: T, value: string): T {
  try {
    Object.defineProperty(target, 'name', { value, configurable: true });
  } catch { /* frozen: the name is cosmetic */ }
  return target;
}
