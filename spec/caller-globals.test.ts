import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { callerGlobalIn } from '../lib/caller-globals.ts';
import { runModule } from './helpers.ts';

describe('callerGlobalIn', () => {
  test('finds a global set after the library loaded in every name but the parameters\' own', () => {
    const scope = globalThis as Record<string, unknown>;
    const added = ['K2', 'name2', 'é2', 'σ2'];
    for (const name of added) scope[name] = 1;
    try {
      const cases: [string, string | undefined][] = [
        ['(x) => x * K2', 'K2'],
        ['(name2) => name2.length', undefined],
        ['name2 => name2.length', undefined],
        ['é2 => é2 * 2', undefined],
        ['(x) => x * é2', 'é2'],
        ['(row, i, { name2 }) => row[0] * name2', undefined],
        ['(x, c = K2) => x * c', 'K2'],
        ['(x, i, c = Math.max(1, K2)) => x * c', 'K2'],
        ['(x, [a, b] = [1, K2]) => a', 'K2'],
        ['({ K2: a }, i) => a * K2', 'K2'],
        ['function (x) { let K2 = 0; { return x + K2; } }', 'K2'], // body declarations are not trusted
        ['(x) => "K2"', 'K2'], // nor strings: at worst, threads
        ['m(x) { return x * K2; }', 'K2'],
        ['(x) => x * 2', undefined],
        // Names past Latin-1, astral ones too, and whitespace past it between names.
        ['(σ2) => σ2 * 2', undefined],
        ['(x) => x * σ2', 'σ2'],
        ['(𝑥, i) => 𝑥 * K2', 'K2'],
        ['(𝑥, i) => 𝑥 * i', undefined],
        ['(x)\u3000=>\u3000x\u2003*\uFEFFK2', 'K2'],
        // A source that is a two-byte string (its file held a character past U+00FF) reads the same.
        ['(x) => x * K2 // –'.slice(0, 13), 'K2'],
        ['(K2) => K2 * 2 // –'.slice(0, 14), undefined],
      ];
      for (const [source, expected] of cases) assert.equal(callerGlobalIn(source), expected, source);
    } finally {
      for (const name of added) delete scope[name];
    }
  });

  test('counts a global the caller set before loading the library, but none of Node\'s own', () => {
    // A snapshot of the globals at load time took such a global for one that workers have too:
    // the call worked while small (on the calling thread) and failed on threads.
    const run = runModule(`
      globalThis.K = 2;
      const { parallelize } = await import('@parallelize/core');
      const { callerGlobalIn } = await import('./lib/caller-globals.ts');
      const small = await parallelize([1, 2, 3], (x) => x * K).then((m) => m.data.join(), (error) => error.code);
      const native = ['setTimeout', 'structuredClone', 'fetch', 'process', 'Buffer', 'Math', 'global'].map((name) => callerGlobalIn(\`(x) => \${name}\`));
      console.log(small, JSON.stringify(native));
    `, { flags: ['--import', 'tsx'], timeout: 30_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, `ERR_TASK_FAILED ${JSON.stringify(Array(7).fill(null))}\n`);
  });
});
