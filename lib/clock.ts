/**
 * Milliseconds from an arbitrary origin, for measuring intervals, as `performance.now()` gives but
 * as cheaply (~70 ns): Node makes the global `performance` on first use by loading perf_hooks,
 * ~1.5–2 ms in each thread on our 2-core VM, which a one-shot process or a fresh worker would pay
 * for nothing else.
 */
export function now(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}
