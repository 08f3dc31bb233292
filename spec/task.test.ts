import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Matrix, ParallelizeError, parallelize, task } from '@parallelize/core';
import { mean } from './fixtures/mean.ts';
import scale from './fixtures/scale.js';
import { assertSameMatrix, randomFloats, rejection, runModule, serialMap } from './helpers.ts';
import { toFnSpec } from '../lib/task.ts';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

describe('task()', () => {
  test('runs the default export of a JavaScript module', async () => {
    const data = randomFloats(300, 1);
    assertSameMatrix(await parallelize(data, task(fixture('scale.js')), { cores: 2 }), await serialMap(data, scale));
  });

  test('runs a named export of a TypeScript module (which imports another .ts file)', async () => {
    const data = Matrix.alloc(40, 3);
    data.data.set(randomFloats(120, 2));
    const result = await parallelize(data, task(fixture('stats.ts'), 'stats'), { cores: 2, context: { offset: 1 } });
    assertSameMatrix(result, await serialMap(data, (row: Float64Array) => [mean(row) + 1, row.length]));
  });

  test('accepts a URL, a file: URL string, an absolute path and a cwd-relative path', () => {
    const url = fixture('scale.js');
    const href = url.href;
    assert.equal(task(url).module, href);
    assert.equal(task(href).module, href);
    assert.equal(task(url.pathname).module, href);
    assert.equal(task('./spec/fixtures/scale.js').module, pathToFileURL(`${process.cwd()}/spec/fixtures/scale.js`).href);
    assert.equal(task('spec/fixtures/scale.js').module, pathToFileURL(`${process.cwd()}/spec/fixtures/scale.js`).href, 'a file here, without ./');
    assert.equal(task('some-package').module, 'some-package');
    assert.equal(task('some-package/sub.js').module, 'some-package/sub.js', 'no such file here: a package');
    assert.equal(task('spec').module, 'spec', 'a directory here is no module file: a package');
    assert.equal(task(url).exportName, 'default');
  });

  test('the default export of a CommonJS module compiled from ES syntax (`__esModule`) is its `exports.default`', async () => {
    const data = [1, 2, 3];
    for (const ref of [task(fixture('compiled-default.cjs')), task(fixture('compiled-default.cjs'), 'default')]) {
      assert.deepEqual(Array.from((await parallelize(data, ref, { cores: 2 })).data), [3, 6, 9]);
    }
    assert.deepEqual(Array.from((await parallelize(data, task(fixture('compiled-default.cjs'), 'named'), { cores: 2 })).data), [2, 3, 4]);
  });

  test('a package name the library cannot see from where it is installed is found from the working directory', () => {
    // An app with its own node_modules, calling the library from elsewhere (linked, or global).
    const app = mkdtempSync(join(tmpdir(), 'parallelize-app-'));
    try {
      mkdirSync(join(app, 'node_modules', 'app-task'), { recursive: true });
      writeFileSync(join(app, 'node_modules', 'app-task', 'package.json'), '{ "name": "app-task", "type": "module", "main": "index.js" }');
      writeFileSync(join(app, 'node_modules', 'app-task', 'index.js'), 'export default (x) => x * 10;');
      // Found as the app's own import() finds them: an ES-only package, and a dual one's ES build.
      const packages = {
        'esm-only': { exports: { '.': { import: './index.js' }, './more': { import: './more.js' }, './tools/*': { require: null, import: './lib/*.js' }, './tools/hidden': null } },
        '@lab/dual': { exports: { '.': { import: './index.mjs', require: './index.cjs' } } },
      };
      for (const [name, manifest] of Object.entries(packages)) {
        mkdirSync(join(app, 'node_modules', name), { recursive: true });
        writeFileSync(join(app, 'node_modules', name, 'package.json'), JSON.stringify({ name, type: 'module', ...manifest }));
      }
      writeFileSync(join(app, 'node_modules', 'esm-only', 'index.js'), 'export default (x) => x + 100;');
      writeFileSync(join(app, 'node_modules', 'esm-only', 'more.js'), 'export const more = (x) => x + 200;');
      mkdirSync(join(app, 'node_modules', 'esm-only', 'lib'));
      writeFileSync(join(app, 'node_modules', 'esm-only', 'lib', 'add.js'), 'export default (x) => x + 400;');
      writeFileSync(join(app, 'node_modules', 'esm-only', 'lib', 'hidden.js'), 'export default (x) => x;');
      writeFileSync(join(app, 'node_modules', '@lab/dual', 'index.mjs'), 'export default (x) => x + 300;');
      writeFileSync(join(app, 'node_modules', '@lab/dual', 'index.cjs'), 'module.exports = { which: "require" };');
      const library = pathToFileURL(join(process.cwd(), 'dist', 'lib', 'index.js')).href;
      const run = runModule(`
        const { parallelize, task } = await import(${JSON.stringify(library)});
        const found = await parallelize([1, 2], task('app-task'), { cores: 1 });
        const missing = await parallelize([1, 2], task('no-such-package'), { cores: 1 }).catch((error) => error.message);
        const others = await Promise.all([task('esm-only'), task('esm-only/more', 'more'), task('@lab/dual'), task('esm-only/tools/add'), task('esm-only/tools/hidden')].map((ref) =>
          parallelize([1], ref, { cores: 1 }).then((m) => m.data[0], (error) => error.message)));
        console.log(found.data.join());
        console.log(missing);
        console.log(others.join());
      `, { cwd: app, timeout: 30_000 });
      assert.equal(run.status, 0, run.stderr);
      const [found, missing, others] = run.stdout.split('\n');
      assert.equal(found, '10,20');
      // A subpath pattern is filled in; a subpath its package maps to null is not found.
      assert.match(others!, /^101,201,301,401,Could not import task module esm-only\/tools\/hidden: /);
      assert.match(missing!, /^Could not import task module no-such-package: .*no-such-package.* \(a package name is looked for from where @parallelize\/core is installed, then from the working directory, .*parallelize-app-/);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  test('a missing export rejects with ERR_TASK_LOAD, listing what the module exports', async () => {
    const error = await rejection(parallelize([1, 2], task(fixture('scale.js'), 'nope')));
    assert.ok(error instanceof ParallelizeError);
    assert.equal(error.code, 'ERR_TASK_LOAD');
    assert.match(error.message, /scale\.js cannot be used: it has no export `nope` \(it exports `default`, `notAFunction`\)/);
  });

  test('an export that is not a function rejects with ERR_TASK_LOAD', async () => {
    const error = await rejection(parallelize([1, 2], task(fixture('scale.js'), 'notAFunction')));
    assert.equal(error.code, 'ERR_TASK_LOAD');
    assert.match(error.message, /its export `notAFunction` is number, not a function/);
  });

  test('a module that throws while loading rejects with ERR_TASK_LOAD and the cause', async () => {
    const error = await rejection(parallelize([1, 2], task(fixture('throws-on-import.js'))));
    assert.equal(error.code, 'ERR_TASK_LOAD');
    assert.match(error.message, /^Could not import task module file:.*throws-on-import\.js: this module fails while loading$/);
    assert.equal(error.cause.message, 'this module fails while loading');
  });
});

describe('toFnSpec (what workers need to find fn)', () => {
  test('checks an inline function once, and makes a new spec for another function of the same source', () => {
    const double = (x: number) => x * 2;
    const first = toFnSpec(double);
    assert.deepEqual(first, { kind: 'inline', source: double.toString() });
    assert.equal(toFnSpec(double), first, 'the same function: its spec from before, not compiled again');
    const twin = (x: number) => x * 2;
    assert.notEqual(toFnSpec(twin), first);
    assert.deepEqual(toFnSpec(twin), first);
  });

  test('rejects the same bad function every time it is passed', () => {
    function* rows() { yield 1; }
    for (let attempt = 0; attempt < 2; attempt++) assert.throws(() => toFnSpec(rows), /a plain or async function/);
  });
});
