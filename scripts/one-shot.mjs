// The one-shot process benchmark: import the library, map 16 trivial items, exit.
import { parallelize } from '@parallelize/core';

const result = await parallelize(Array.from({ length: 16 }, (_, i) => i), (x) => x * 2);
if (result.get(15, 0) !== 30) process.exit(1);
