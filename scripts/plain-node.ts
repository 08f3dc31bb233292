/**
 * Runs one of our TypeScript scripts on plain `node` rather than under tsx: bundles it with
 * esbuild (the library stays external, loaded from dist/ as a user would load it) and runs the
 * bundle in a child process.
 *
 * Why: tsx's module hooks detach an ArrayBuffer on the main thread, after which every typed-array
 * access on that thread is slower (a serial loop over the subjects took ~30% longer), so a serial
 * baseline timed under tsx would flatter the threads.
 *
 *   tsx scripts/plain-node.ts scripts/demo.ts --subjects 200
 */
import { spawnSync } from 'node:child_process';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where bundles go: one level below the package root, so that `../scripts/x` and `@parallelize/core` resolve from them as from scripts/. */
const kBundles = fileURLToPath(new URL('../.bundles/', import.meta.url));

/** Bundles `entry` (a path) for plain node and returns the bundle's path. */
export async function bundleForNode(entry: string): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = `${kBundles}${basename(entry).replace(/\.ts$/, '')}.mjs`;
  await build({
    entryPoints: [resolve(entry)], bundle: true, platform: 'node', format: 'esm', target: 'node20',
    outfile, external: ['@parallelize/core', 'esbuild'], logLevel: 'warning',
  });
  return outfile;
}

// Run as a command (not when bundled into another script, whose argv[1] is then that bundle).
if (process.argv[1] !== undefined && basename(process.argv[1]) === 'plain-node.ts' && import.meta.url.endsWith('/plain-node.ts')) {
  const [entry, ...rest] = process.argv.slice(2);
  if (entry === undefined) throw new Error('usage: tsx scripts/plain-node.ts <script.ts> [arguments...]');
  const run = spawnSync(process.execPath, [await bundleForNode(entry), ...rest], { stdio: 'inherit' });
  process.exitCode = run.status ?? 1;
}
