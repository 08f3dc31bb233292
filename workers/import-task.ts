/**
 * How a worker imports a task module. The only ES module a thread runs, loaded when a call first
 * needs a task module: the rest is CommonJS, which spares each thread the start of Node's ES
 * module loader (see entryScript() in lib/location.ts).
 */

let typeScriptHook: Promise<void> | undefined;

/** The module at `url` (a file URL), with TypeScript support registered first for `.ts` files. */
export async function importTask(url: string): Promise<Record<string, unknown>> {
  if (/\.[cm]?tsx?$/.test(url)) await registerTypeScript();
  return await import(url) as Record<string, unknown>;
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
