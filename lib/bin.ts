import { main } from './cli.js';

// This process is the command's own: a warning (PARALLELIZE_OVERSUBSCRIBED, say) prints as one
// line of the command's, not with Node's process id and its --trace-warnings hint. Warnings print
// under --quiet too, which silences progress only. Node's own switches still hold: replacing its
// printer, we must honour --no-warnings and --disable-warning=<code or type> ourselves.
const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
const disabled = new Set(flags.flatMap((flag, i) =>
  flag.startsWith('--disable-warning=') ? [flag.slice('--disable-warning='.length)] : flag === '--disable-warning' ? [flags[i + 1]] : []));
if (!flags.includes('--no-warnings')) {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    if (!disabled.has(warning.name) && (warning.code === undefined || !disabled.has(warning.code))) process.stderr.write(`parallelize: warning: ${warning.message}\n`);
  });
}

process.exitCode = await main(process.argv.slice(2));
