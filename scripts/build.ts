/**
 * Bundles the library into the few files that ship: one file per entry point loads far faster
 * than a tree of modules (import went from ~20 ms to ~4 ms), which is most of what a short
 * one-shot call costs. Types come from `tsc` (see the `build` script).
 *
 *   dist/lib/index.js         the ESM entry (with dist/lib/location.js)
 *   dist/lib/index.cjs        the CommonJS entry
 *   dist/workers/bootstrap.js what each worker thread runs (ESM)
 *   dist/workers/coordinator.js the thread that runs a parallelizeSync call
 *   dist/lib/bin.js           the `parallelize` command (it imports index.js)
 *   dist/cjs/lib, dist/cjs/workers: the types again, for CommonJS: TypeScript reads a .d.ts as ESM or
 *                             CommonJS by its nearest package.json, so they sit under a "commonjs" one
 *
 * Source maps (not shipped) let c8 report coverage of lib/ and workers/. The bundles must not
 * contain a dynamic import() or `import.meta`: tsx, which runs the specs, rewrites any file that
 * does and drops its source map (so location.ts stays a module of its own).
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { build, type BuildOptions } from 'esbuild';

// Whitespace and syntax are minified, names are not: a user's stack trace should still read.
const common: BuildOptions = {
  bundle: true, platform: 'node', target: 'node20', sourcemap: true, legalComments: 'none', logLevel: 'warning',
  minifyWhitespace: true, minifySyntax: true,
};

await Promise.all([
  // location.ts stays a module of its own: it holds the bundle's only `import.meta` (see the file).
  build({ ...common, entryPoints: ['lib/index.ts'], format: 'esm', outfile: 'dist/lib/index.js', external: ['./location.js'] }),
  build({ ...common, entryPoints: ['lib/location.ts'], format: 'esm', outfile: 'dist/lib/location.js' }),
  build({ ...common, entryPoints: ['workers/bootstrap.ts'], format: 'esm', outfile: 'dist/workers/bootstrap.js' }),
  // The coordinator of parallelizeSync runs the library itself, from the ESM entry.
  build({ ...common, entryPoints: ['workers/coordinator.ts'], format: 'esm', outfile: 'dist/workers/coordinator.js', external: ['../lib/index.js'] }),
  build({
    ...common, entryPoints: ['lib/bin.ts'], format: 'esm', outfile: 'dist/lib/bin.js', external: ['./index.js'],
    banner: { js: '#!/usr/bin/env node' },
  }),
  build({
    ...common,
    entryPoints: ['lib/index.ts'],
    format: 'cjs',
    outfile: 'dist/lib/index.cjs',
    // CommonJS has no import.meta; the bootstrap is found relative to this file all the same.
    define: { 'import.meta.url': 'importMetaUrl' },
    banner: { js: 'const importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  }),
]);

for (const dir of ['lib', 'workers']) {
  mkdirSync(`dist/cjs/${dir}`, { recursive: true });
  for (const file of readdirSync(`dist/${dir}`).filter((name) => name.endsWith('.d.ts'))) copyFileSync(`dist/${dir}/${file}`, `dist/cjs/${dir}/${file}`);
}
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
