// The one-shot process benchmark: import the library, map 16 trivial items, exit. It prints how
// long the import and the call took inside the process (ms), which start-up noise does not blur.
//
// It prints through fs.writeSync, reached without an import: the process's own cost should be
// the library's. On our 2-core VM, printing through process.stdout added ~8 ms to the process (its
// first use loads Node's streams), and an `import` of node:fs ~3 ms (Node builds an ES module for
// it); `node -e 0` pays neither. This file holds only ASCII: a character past U+00FF anywhere in
// it makes the function's source a two-byte string, which some code reads more slowly.
// (process.getBuiltinModule: Node 20.16 and later.)
const started = process.hrtime.bigint();
const { parallelize } = await import('@parallelize/core');
const imported = process.hrtime.bigint();
const result = await parallelize(Array.from({ length: 16 }, (_, i) => i), (x) => x * 2);
const called = process.hrtime.bigint();
if (result.get(15, 0) !== 30) process.exit(1);
const { writeSync } = process.getBuiltinModule?.('node:fs') ?? await import('node:fs');
writeSync(1, `${Number(imported - started) / 1e6} ${Number(called - imported) / 1e6}\n`);
