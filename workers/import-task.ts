/**
 * How a worker imports a task module. The only ES module a thread runs, loaded when a call first
 * needs a task module: the rest is CommonJS, which spares each thread the start of Node's ES
 * module loader (see entryScript() in lib/location.ts).
 */

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

let typeScriptHook: Promise<void> | undefined;

/** The module at `url` (a URL, or a package name), with TypeScript support registered first for `.ts` files. */
export async function importTask(url: string): Promise<Record<string, unknown>> {
  if (/\.[cm]?tsx?$/.test(url)) await registerTypeScript();
  return await import(locate(url)) as Record<string, unknown>;
}

/**
 * Where a package name is found: from here, as `import` finds it (beside the library), else from
 * the working directory, as `import` there would find it. A library installed apart from the app
 * that calls it (linked, global, another workspace) sees none of that app's packages from its own
 * place, and Node 20 resolves `import` only from a module's own place. Anything else, or a name
 * found nowhere, goes to `import` as it is (whose error then says it was not found).
 */
function locate(specifier: string): string {
  if (/^[a-z][a-z0-9+.-]*:|^\.{0,2}[\\/]/i.test(specifier)) return specifier;
  try {
    import.meta.resolve(specifier);
    return specifier;
  } catch {
    return fromWorkingDirectory(specifier) ?? specifier;
  }
}

/**
 * A package's module as `import` from the working directory would find it: through the `exports`
 * of the nearest `node_modules/<name>` (under the conditions `import` uses: `import`, `node`,
 * `module-sync` where Node has it, `default`; subpath patterns too), else, for a package without
 * `exports`, as `require` finds it there (its `main`, or `index.js`).
 */
export function fromWorkingDirectory(specifier: string): string | undefined {
  const [, name, subpath = ''] = /^((?:@[^/]+\/)?[^/]+)(\/.*)?$/.exec(specifier) ?? [];
  for (let dir = process.cwd(); name !== undefined; dir = dirname(dir)) {
    const root = join(dir, 'node_modules', name);
    if (existsSync(root)) {
      // The nearest copy, as Node takes it; a package.json that does not parse is its error too.
      let manifest: { exports?: unknown };
      try {
        manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports?: unknown };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') break;
        return undefined;
      }
      if (manifest.exports === undefined) break;
      const target = exportTarget(manifest.exports, `.${subpath}`);
      return target === undefined ? undefined : pathToFileURL(join(root, target)).href;
    }
    if (dirname(dir) === dir) break;
  }
  try {
    return pathToFileURL(createRequire(join(process.cwd(), 'noop.js')).resolve(specifier)).href;
  } catch {
    return undefined;
  }
}

const kConditions = new Set(['import', 'node', 'default', ...((process.features as { require_module?: boolean }).require_module ? ['module-sync'] : [])]);

/** The file `exports` maps `subpath` to under `import`'s conditions, if it maps it. */
function exportTarget(exports: unknown, subpath: string): string | undefined {
  const bySubpath = typeof exports === 'object' && exports !== null && !Array.isArray(exports) && Object.keys(exports).some((key) => key.startsWith('.'));
  if (!bySubpath) return subpath === '.' ? conditional(exports) : undefined;
  const map = exports as Record<string, unknown>;
  if (Object.hasOwn(map, subpath)) return conditional(map[subpath]);
  // A pattern (`./*`, `./lib/*.js`): the longest prefix that matches, its `*` filled in.
  const pattern = Object.keys(map).filter((key) => {
    const star = key.indexOf('*');
    return star >= 0 && subpath.startsWith(key.slice(0, star)) && subpath.endsWith(key.slice(star + 1)) && subpath.length >= key.length - 1;
  }).sort((a, b) => b.indexOf('*') - a.indexOf('*'))[0];
  if (pattern === undefined) return undefined;
  const star = pattern.indexOf('*');
  return conditional(map[pattern])?.replaceAll('*', subpath.slice(star, subpath.length - (pattern.length - star - 1)));
}

/**
 * A target under `import`'s conditions: a path; undefined where no condition applies (the next
 * one is tried); null where the first that applies says `null` (the path is refused, as Node refuses it).
 */
function resolveTarget(target: unknown): string | null | undefined {
  if (target === null) return null;
  if (typeof target === 'string') return target.startsWith('./') ? target : undefined;
  if (Array.isArray(target)) return target.map(resolveTarget).find((found) => typeof found === 'string');
  if (typeof target !== 'object') return undefined;
  for (const [condition, value] of Object.entries(target)) {
    if (!kConditions.has(condition)) continue;
    const found = resolveTarget(value);
    if (found !== undefined) return found;
  }
  return undefined;
}

function conditional(target: unknown): string | undefined {
  return resolveTarget(target) ?? undefined;
}

/**
 * Workers do not inherit tsx's loader from the parent's `--import tsx` on Node 20
 * (https://github.com/privatenumber/tsx/issues/354), but registering it from inside the worker
 * works. When tsx is not installed we go on and let Node try (type stripping on newer versions).
 * Imported from here, an ES module, because tsx's CommonJS variant of this API fails on Node 20.
 */
function registerTypeScript(): Promise<void> {
  typeScriptHook ??= (async () => {
    // A variable, so that the bundler leaves it to run time: found from where the package is installed.
    const specifier = 'tsx/esm/api';
    try {
      const { register } = await import(specifier) as { register: () => unknown };
      register();
    } catch { /* not installed */ }
  })();
  return typeScriptHook;
}
