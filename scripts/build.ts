/**
 * Bundles the library into the few files that ship: one file per entry point loads far faster
 * than a tree of modules (import went from ~20 ms to ~4 ms), which is most of what a short
 * one-shot call costs. Types come from `tsc` (see the `build` script).
 *
 *   dist/lib/index.cjs          the library: one CommonJS bundle, for `require` and `import` alike
 *   dist/lib/index.js           the ESM entry: named re-exports of index.cjs
 *   dist/workers/bootstrap.cjs  what each worker thread runs
 *   dist/workers/import-task.js how a worker imports task modules (ESM, loaded when first needed)
 *   dist/workers/coordinator.cjs the thread that runs a parallelizeSync call
 *   dist/lib/bin.js             the `parallelize` command (it imports index.js)
 *   dist/types/                 the declarations reachable from the public entry, under a "commonjs"
 *                               package.json because they describe index.cjs; dist/lib/index.d.ts
 *                               re-exports them for ESM consumers
 *
 * One implementation rather than an ESM and a CommonJS copy: a process that loads the library
 * both ways (an app in ESM, a dependency in CommonJS) shares one ParallelizeError class and one
 * set of pools, and the package is half the size. Node can always import CommonJS; only
 * recent Node versions can require ESM.
 *
 * Source maps (not shipped) let c8 report coverage of lib/ and workers/. The bundles must not
 * contain a dynamic import() or `import.meta`: tsx, which runs the specs, rewrites any file that
 * does and drops its source map (location.ts holds the only `import.meta`, replaced below).
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { build, type BuildOptions, type Plugin } from 'esbuild';

// Whitespace and syntax are minified, names are not: a user's stack trace should still read. Lines
// are broken after ~160 characters: Node prints the whole source line of an uncaught error, and
// one line of the bundle was ~43 KB (~1% of size against that).
const common: BuildOptions = {
  bundle: true, platform: 'node', target: 'node20', sourcemap: true, legalComments: 'none', logLevel: 'warning',
  minifyWhitespace: true, minifySyntax: true, lineLimit: 160,
};

/** Leaves `../lib/index.js` (the public entry) out of a bundle, and loads the library bundle in its place. */
const libraryFromBundle: Plugin = {
  name: 'library-from-bundle',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/lib\/index\.js$/ }, () => ({ path: '../lib/index.cjs', external: true }));
  },
};

await Promise.all([
  build({
    ...common,
    entryPoints: ['lib/index.ts'],
    format: 'cjs',
    outfile: 'dist/lib/index.cjs',
    // CommonJS has no import.meta; the worker scripts are found relative to this file all the same.
    define: { 'import.meta.url': 'importMetaUrl' },
    banner: { js: 'const importMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
  }),
  // The threads' scripts are CommonJS, like the library: see entryScript() in lib/location.ts.
  build({ ...common, entryPoints: ['workers/bootstrap.ts'], format: 'cjs', outfile: 'dist/workers/bootstrap.cjs' }),
  build({ ...common, entryPoints: ['workers/import-task.ts'], format: 'esm', outfile: 'dist/workers/import-task.js' }),
  // The coordinator of parallelizeSync runs the library itself, from the public entry.
  build({ ...common, entryPoints: ['workers/coordinator.ts'], format: 'cjs', outfile: 'dist/workers/coordinator.cjs', plugins: [libraryFromBundle] }),
  build({
    ...common, entryPoints: ['lib/bin.ts'], format: 'esm', outfile: 'dist/lib/bin.js', external: ['./index.js'],
    banner: { js: '#!/usr/bin/env node' },
  }),
]);

// The ESM entry names every export, so that `import { x }` is checked when the module links. It
// loads the bundle with require(): `import` of a CommonJS file first scans it for export names
// with Node's lexer, which made import ~15 ms slower and delayed the process's exit by ~50 ms.
const names = Object.keys(createRequire(import.meta.url)('../dist/lib/index.cjs') as object).sort();
writeFileSync('dist/lib/index.js', [
  "import { createRequire } from 'node:module';",
  "const lib = createRequire(import.meta.url)('./index.cjs');",
  `export const { ${names.join(', ')} } = lib;`,
  '',
].join('\n'));

// Declarations: keep those the public entry reaches, under dist/types (CommonJS, like index.cjs).
const reached = new Set<string>();
const visit = (file: string): void => {
  if (reached.has(file) || !existsSync(file)) return;
  reached.add(file);
  for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from |import\()['"](\.{1,2}\/[^'"]+)\.js['"]/g)) visit(resolve(dirname(file), `${spec}.d.ts`));
};
visit(resolve('dist/types/lib/index.d.ts'));
for (const dir of ['lib', 'workers']) {
  for (const name of readdirSync(`dist/types/${dir}`)) if (!reached.has(resolve(`dist/types/${dir}/${name}`))) rmSync(`dist/types/${dir}/${name}`);
  if (readdirSync(`dist/types/${dir}`).length === 0) rmSync(`dist/types/${dir}`, { recursive: true });
}
writeFileSync('dist/types/package.json', '{ "type": "commonjs" }\n');
writeFileSync('dist/lib/index.d.ts', `export * from '${relative('dist/lib', 'dist/types/lib/index.js')}';\n`);
console.log(`dist: ${names.length} exports; declarations: ${[...reached].map((file) => relative('dist/types', file)).join(', ')}`);
