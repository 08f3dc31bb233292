import { fileURLToPath } from 'node:url';

/**
 * Where the worker bootstrap is: beside the bundle after the build (dist/lib → dist/workers).
 * The library's only `import.meta`, kept in one place because the CommonJS bundle replaces it
 * (see scripts/build.ts): tsx rewrites files that use it, and drops their source maps.
 */
export const kBootstrapUrl = new URL('../workers/bootstrap.cjs', import.meta.url).href;

/** The thread that runs a `parallelizeSync` call while the caller is blocked. */
export const kCoordinatorUrl = new URL('../workers/coordinator.cjs', import.meta.url).href;

/** The ES module a worker imports task modules with (workers/import-task.ts). */
const kImportTaskUrl = new URL('../workers/import-task.js', import.meta.url).href;

/** What a thread's `start` is handed to import a task module (a file URL) with. */
export type ImportTask = (url: string) => Promise<Record<string, unknown>>;

/**
 * A one-line script that loads the CommonJS module at `url` and calls its `start` with an
 * `ImportTask`, to start a worker with (`eval: true`). Workers inherit the parent's execArgv, and
 * a file entry point fails under `--input-type` (as in `node --input-type=module -e ...`), while
 * an evaluated one is unaffected; there the script is a module, has no `require`, and imports the
 * file instead.
 *
 * Why CommonJS: a thread that only requires never starts Node's ES module loader, which cost each
 * new thread ~9 ms here; it starts when a call first needs a task module. Why `start` is handed
 * the import: a dynamic `import()` in the CommonJS bundle makes tsx, which runs our specs,
 * recompile it and drop its source map.
 */
export function entryScript(url: string): string {
  const importTask = `(task) => import(${JSON.stringify(kImportTaskUrl)}).then((loader) => loader.importTask(task))`;
  return `typeof require === 'function' ? require(${JSON.stringify(fileURLToPath(url))}).start(${importTask}) : import(${JSON.stringify(url)}).then((loaded) => loaded.default.start(${importTask}));`;
}
