/**
 * Where the worker bootstrap is: beside the bundle after the build (dist/lib → dist/workers).
 * The library's only `import.meta`, kept in one place because the CommonJS bundle replaces it
 * (see scripts/build.ts): tsx rewrites files that use it, and drops their source maps.
 */
export const kBootstrapUrl = new URL('../workers/bootstrap.js', import.meta.url).href;

/** The thread that runs a `parallelizeSync` call while the caller is blocked. */
export const kCoordinatorUrl = new URL('../workers/coordinator.js', import.meta.url).href;

/**
 * A one-line script that imports the module at `url`, to start a worker with (`eval: true`).
 * Workers inherit the parent's execArgv, and a file entry point fails under `--input-type` (as in
 * `node --input-type=module -e ...`), while an evaluated one is unaffected.
 */
export function entryScript(url: string): string {
  return `import(${JSON.stringify(url)})`;
}
