import { createPool, parallelizeSync } from '@parallelize/core';
const pool = createPool({ cores: 2 });
class Items extends Array {}
const cases = {
  subclass: () => { const d = Items.from({ length: 4000 }, (_, i) => i); Object.defineProperty(d, 3000, { get() { throw new Error('boom'); } }); return d; },
  proxy: () => new Proxy(Array.from({ length: 4000 }, (_, i) => i), { get(t, k, r) { if (k === '3000') throw new Error('boom'); return Reflect.get(t, k, r); } }),
  flaky: () => { const d = Array.from({ length: 4000 }, (_, i) => i); let n = 0; Object.defineProperty(d, 3000, { enumerable: true, get() { if (n++ > 0) throw new Error('closed'); return 3000; } }); return d; },
};
for (const [name, make] of Object.entries(cases)) {
  try { await pool.parallelize(make(), (x) => x, { callingThread: false, chunkSize: 100 }); console.log(name, 'resolved'); }
  catch (e) { console.log(name, e.code, e.index, e.message); }
}
const d = Array.from({ length: 40 }, (_, i) => i); Object.defineProperty(d, 30, { enumerable: true, get() { throw new Error('unreadable'); } });
try { parallelizeSync(d, (x) => x, { cores: 2 }); } catch (e) { console.log('sync', e.code, e.index, e.message); }
await pool.close();
