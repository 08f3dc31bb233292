/**
 * Where the worker bootstrap is: beside this file after the build (dist/lib → dist/workers).
 * It is its own module, kept out of the bundle, so that the bundle has no `import.meta`: tsx
 * rewrites files that do, and drops their source maps (and with them our coverage report).
 */
export const kBootstrapUrl = new URL('../workers/bootstrap.js', import.meta.url).href;

/** The thread that runs a `parallelizeSync` call while the caller is blocked. */
export const kCoordinatorUrl = new URL('../workers/coordinator.js', import.meta.url).href;
