// The one-shot process benchmark: import the library, map 16 trivial items, exit. It prints how
// long the import and the call took inside the process (ms), which start-up noise does not blur.
const started = process.hrtime.bigint();
const { parallelize } = await import('@parallelize/core');
const imported = process.hrtime.bigint();
const result = await parallelize(Array.from({ length: 16 }, (_, i) => i), (x) => x * 2);
const called = process.hrtime.bigint();
if (result.get(15, 0) !== 30) process.exit(1);
process.stdout.write(`${Number(imported - started) / 1e6} ${Number(called - imported) / 1e6}\n`);
