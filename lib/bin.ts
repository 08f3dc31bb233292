import { main } from './cli.js';

// A reader that goes away (`| head -1`) must not end a run before its result is written: what is
// printed after that is dropped, as Node would do for a synchronous write, and the run goes on.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

process.exitCode = await main(process.argv.slice(2));
