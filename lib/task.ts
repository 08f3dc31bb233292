import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { invalidArg } from './errors.js';
import { isFile } from './files.js';
import { compileInline } from './compile.js';
import type { FnSpec } from './protocol.js';

const kTaskRef = Symbol('parallelize.taskRef');

/**
 * A function exported by a module, to be imported by each worker. Make one with `task()`.
 * The type parameter records the function's type, for the compiler only.
 */
export interface TaskRef<F = (...args: never[]) => unknown> {
  readonly [kTaskRef]: true;
  /** The module's URL (`file:` for files). */
  readonly module: string;
  readonly exportName: string;
  /** Never set; carries `F` for type inference. */
  readonly __fn?: F;
}

/**
 * Names a function exported by a module, for workers to import. Unlike inline functions, a task
 * module may import anything and use its own top-level state.
 *
 * `module` is a `URL`, a `file:` URL string, an absolute path, a path relative to the current
 * working directory (`./jobs/stats.js`, or `jobs/stats.js` where that file exists), or a package
 * name (found from where this library is installed, else from the working directory). `.ts`
 * modules work when the caller runs under `tsx`.
 *
 * @example
 * ```ts
 * const stats = task(new URL('./stats.js', import.meta.url), 'maskedStats');
 * const m = await parallelize(subjects, stats, { context: { mask } });
 * ```
 */
export function task<F = (...args: never[]) => unknown>(module: string | URL, exportName = 'default'): TaskRef<F> {
  if (typeof exportName !== 'string' || exportName === '') throw invalidArg('exportName', 'a non-empty string', exportName);
  return { [kTaskRef]: true, module: moduleUrl(module), exportName };
}

/** @internal */
export function isTaskRef(value: unknown): value is TaskRef {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[kTaskRef] === true;
}

function moduleUrl(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module === '') throw invalidArg('module', 'a URL or a non-empty string', module);
  if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) return module;
  // A path: absolute, `./`-relative, or naming a file here (`jobs/stats.js`, as `node` reads it).
  if (isAbsolute(module) || module.startsWith('.') || isFile(module)) return pathToFileURL(resolve(module)).href;
  return module;
}

/**
 * @internal
 * What workers need to find `fn`. Inline functions travel as source and must be self-contained;
 * we compile them here once too, so a syntax problem is reported before any thread starts. The
 * spec of a function seen before is the one made then: a pool called with one function over and
 * over would compile it each time, ~6–8 µs, or 18–28 µs after a full collection, which empties
 * V8's own cache of compiled strings (a cache of sources here would keep a large one alive).
 */
export function toFnSpec(fn: unknown): FnSpec {
  if (isTaskRef(fn)) {
    if (fn.module.startsWith('file:') && !existsSync(new URL(fn.module))) {
      throw Object.assign(new TypeError(`Expected \`fn\` to be a task() whose module exists, but there is no file ${fileURLToPath(fn.module)}`), { code: 'ERR_INVALID_ARG' });
    }
    return { kind: 'module', url: fn.module, exportName: fn.exportName };
  }
  if (typeof fn !== 'function') throw invalidArg('fn', 'a function or a task() reference', fn);
  let spec = inlineSpecs.get(fn);
  if (spec === undefined) inlineSpecs.set(fn, (spec = inlineSpec(fn)));
  return spec;
}

/** Specs of the inline functions checked so far, for as long as each function lives. */
const inlineSpecs = new WeakMap<Function, FnSpec>();

function inlineSpec(fn: Function): FnSpec {
  const kind = fn.constructor?.name;
  if (kind === 'GeneratorFunction' || kind === 'AsyncGeneratorFunction') {
    throw invalidArg('fn', 'a plain or async function (generators cannot return a row)', fn);
  }
  const source = Function.prototype.toString.call(fn);
  if (/^class\b/.test(source)) throw invalidArg('fn', 'a function, not a class', fn);
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
    throw invalidArg('fn', 'a function written in JavaScript (native and bound functions have no source to send to a worker; wrap it: `(x) => Math.sqrt(x)`)', fn);
  }
  try {
    compileInline(source);
  } catch (error) {
    throw invalidArg('fn', `a function whose source compiles on its own (${(error as Error).message}); use task() for this one`, fn);
  }
  return { kind: 'inline', source };
}
