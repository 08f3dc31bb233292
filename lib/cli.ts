/**
 * The `parallelize` command: maps a module's function over the rows of a .npy file.
 * Exit codes: 0 done, 1 the task failed (the message names the row), 2 bad usage or unreadable input.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { now } from './clock.js';
import { isFile } from './files.js';
import { fromWorkingDirectory } from '../workers/import-task.js';
import { ParallelizeError, parallelize, readNpy, task, writeNpy, type Matrix, type Progress } from './index.js';

const kUsage = `Usage: parallelize run <module> --in <data.npy> --out <result.npy> [options]

Maps a function exported by <module> over the rows of <data.npy>, on all cores, and writes one
row of results per input row to <result.npy> (float64). The function is called as
fn(row, index, context), where row is a Float64Array.

Options:
  --export <name>      the export to call (default: default)
  --in <file>          input .npy file (1-D: one value per row; 2-D or more: one row each)
  --out <file>         output .npy file
  --cores <n>          threads to use (default: availableCores())
  --context <file>     a .npy file passed to fn as its third argument, as { rows, cols, data }
  --chunk-size <n>     rows per chunk (default: auto)
  --quiet              no progress output (warnings and errors still print)
  -h, --help           show this help

Exit codes: 0 done, 1 the function failed (the message names the row) or the result could not
be written, 2 bad usage, unreadable input, or a module that cannot be loaded.`;

class UsageError extends Error {}

/** Runs the command; resolves with its exit code. Streams are parameters, for tests. */
export async function main(argv: readonly string[], stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WriteStream = process.stderr): Promise<number> {
  let options: ReturnType<typeof parse>;
  try {
    options = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) throw error;
    stderr.write(`parallelize: ${(error as Error).message}\n\n${kUsage}\n`);
    return 2;
  }
  if (options === 'help') {
    stdout.write(`${kUsage}\n`);
    return 0;
  }
  let data: Matrix;
  let context: Matrix | undefined;
  let module: string | URL;
  try {
    // Before any work: hours of it must not end in an output path that cannot be written.
    checkWritable(options.output);
    module = locate(options.module);
    data = readInput('--in', options.input);
    context = options.context === undefined ? undefined : readInput('--context', options.context);
  } catch (error) {
    stderr.write(`parallelize: ${(error as Error).message}\n`);
    return 2;
  }
  const progress = options.quiet ? undefined : progressReporter(stderr, data.rows);
  try {
    const result = await parallelize(data, task(module, options.exportName), {
      ...(options.cores !== undefined && { cores: options.cores }),
      ...(options.chunkSize !== undefined && { chunkSize: options.chunkSize }),
      ...(context !== undefined && { context: { rows: context.rows, cols: context.cols, data: context.data } }),
      ...(progress && { onProgress: progress }),
    });
    try {
      writeNpy(options.output, result);
    } catch (error) {
      // Checked writable before we began, and not now (a full disk): keep the result anyway.
      const fallback = join(tmpdir(), `parallelize-${process.pid}-${Date.now()}.npy`);
      const why = `could not write ${options.output} (${(error as Error).message})`;
      try {
        writeNpy(fallback, result);
      } catch (fallbackError) {
        stderr.write(`parallelize: ${why}, nor ${fallback} (${(fallbackError as Error).message}); the result is lost\n`);
        return 1;
      }
      stderr.write(`parallelize: ${why}; the result is in ${fallback}\n`);
      return 1;
    }
    if (progress) stderr.write(`wrote ${options.output}: ${result.rows} × ${result.cols}\n`);
    return 0;
  } catch (error) {
    if (stderr.isTTY) stderr.write('\n');
    if (error instanceof ParallelizeError) {
      stderr.write(`parallelize: ${error.message}\n`);
      if (error.cause instanceof Error && error.cause.stack) stderr.write(`${error.cause.stack}\n`);
      return error.code === 'ERR_INVALID_ARG' || error.code === 'ERR_TASK_LOAD' ? 2 : 1;
    }
    stderr.write(`parallelize: ${(error as Error).message}\n`);
    return (error as { code?: string }).code === 'ERR_INVALID_ARG' ? 2 : 1;
  }
}

function parse(argv: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      export: { type: 'string' }, in: { type: 'string' }, out: { type: 'string' }, cores: { type: 'string' },
      context: { type: 'string' }, 'chunk-size': { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help' as const;
  const [command, module, ...extra] = positionals;
  if (command !== 'run') throw new UsageError(command === undefined ? 'missing command: run' : `unknown command: ${command}`);
  if (module === undefined) throw new UsageError('missing <module>');
  if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
  if (values.in === undefined) throw new UsageError('missing --in <data.npy>');
  if (values.out === undefined) throw new UsageError('missing --out <result.npy>');
  return {
    module, exportName: values.export ?? 'default', input: values.in, output: values.out, context: values.context,
    cores: count('--cores', values.cores), chunkSize: count('--chunk-size', values['chunk-size']), quiet: values.quiet === true,
  };
}

/** Throws a usage error unless `path` can be written: a file, or a new one in a writable directory. */
function checkWritable(path: string): void {
  // resolve() drops a trailing separator, and writing to `dir/` fails only once the work is done.
  if (path.endsWith('/') || path.endsWith(sep)) throw new UsageError(`--out ${path} names a directory; name the .npy file to write`);
  const target = resolve(path);
  if (existsSync(target)) {
    if (statSync(target).isDirectory()) throw new UsageError(`--out ${path} is a directory; name the .npy file to write`);
    if (!canWrite(target)) throw new UsageError(`--out ${path} cannot be written (permission denied)`);
    return;
  }
  const directory = dirname(target);
  if (!existsSync(directory)) throw new UsageError(`--out ${path}: the directory ${directory} does not exist`);
  if (!statSync(directory).isDirectory()) throw new UsageError(`--out ${path}: ${directory} is not a directory`);
  if (!canWrite(directory)) throw new UsageError(`--out ${path}: the directory ${directory} cannot be written (permission denied)`);
}

function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The module to load: a file here when one exists (`stats.js` means the file, not a package of
 * that name), an error for a path (`./stats.js`) to none; else a package: where the workers will
 * look for it (beside the library) when it is there, as `import` resolves it; else from the
 * working directory, which a library installed elsewhere (globally) cannot see, as the workers
 * look for it there (fromWorkingDirectory).
 */
function locate(module: string): string | URL {
  if (isFile(module)) return pathToFileURL(resolve(module));
  if (/^\.{0,2}[\\/]/.test(module)) throw new UsageError(`cannot find the module ${module}: no such file`);
  try {
    import.meta.resolve(module);
    return module;
  } catch {
    const found = fromWorkingDirectory(module);
    if (found !== undefined) return new URL(found);
    // Before Node 20.6 (no import.meta.resolve), the threads' import() may still find it.
    if (typeof import.meta.resolve !== 'function') return module;
    // The threads would not find it either, after reading the data and starting: say so now.
    throw new UsageError(`cannot find the module ${module}: it is no file here, and neither import() from here nor from where this command is installed finds a package of that name`);
  }
}

/** The .npy file given with `flag`; its error says which flag. */
function readInput(flag: string, path: string): Matrix {
  try {
    return readNpy(path);
  } catch (error) {
    throw new Error(`${flag}: ${(error as Error).message}`);
  }
}

function count(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) throw new UsageError(`${flag} must be a positive integer, got '${value}'`);
  return Number(value);
}

/** A progress bar with rate and ETA on a terminal; a plain line every few seconds otherwise. */
function progressReporter(stderr: NodeJS.WriteStream, total: number): (progress: Progress) => void {
  const started = now();
  let lastLine = 0;
  return ({ done }) => {
    const seconds = (now() - started) / 1000;
    const rate = done / Math.max(seconds, 1e-3);
    const eta = done > 0 ? (total - done) / rate : Infinity;
    const percent = total === 0 ? 100 : (100 * done) / total;
    const text = `${done}/${total} rows (${percent.toFixed(0)}%), ${rate.toFixed(1)} rows/s, ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)} s` : '?'}`;
    if (stderr.isTTY) {
      const width = 30;
      const filled = Math.round((width * percent) / 100);
      // Cleared to the end: a shorter line must not leave the end of the last one behind.
      stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K${done === total ? '\n' : ''}`);
    } else if (done === total || seconds - lastLine >= 2) {
      lastLine = seconds;
      stderr.write(`${text}\n`);
    }
  };
}
