import { compileCached, type Mapper } from '../lib/compile.js';
import { serializeError } from '../lib/errors.js';
import type { ImportTask } from '../lib/location.js';
import type { FnSpec, SerializedFailure } from '../lib/protocol.js';

/** The call's function, or the failure to report for every chunk of the call; task modules come from `importTask`. */
export async function loadFunction(spec: FnSpec, importTask: ImportTask): Promise<{ fn: Mapper; inline: boolean } | SerializedFailure> {
  // The main thread compiled inline sources already, so this cannot throw a SyntaxError here.
  if (spec.kind === 'inline') return { fn: compileCached(spec.source), inline: true };
  let namespace: Record<string, unknown>;
  try {
    namespace = await importTask(spec.url);
  } catch (error) {
    const hint = /Unknown file extension "\.[cm]?tsx?"/.test(String(error))
      ? ' (TypeScript task modules need tsx installed next to the caller, or a Node.js that strips types)'
      : (error as { code?: unknown })?.code === 'ERR_MODULE_NOT_FOUND' && !/^[a-z][a-z0-9+.-]*:/i.test(spec.url)
        ? ` (a package name is looked for from where @parallelize/core is installed, then from the working directory, ${process.cwd()})` : '';
    return { code: 'ERR_TASK_LOAD', message: `Could not import task module ${spec.url}: ${(error as Error)?.message ?? String(error)}${hint}`, cause: serializeError(error) };
  }
  const fn = exportOf(namespace, spec.exportName);
  if (typeof fn !== 'function') {
    const found = Object.keys(namespace).map((name) => `\`${name}\``).join(', ') || 'nothing';
    const what = spec.exportName in namespace ? `its export \`${spec.exportName}\` is ${typeof fn}, not a function` : `it has no export \`${spec.exportName}\` (it exports ${found})`;
    return { code: 'ERR_TASK_LOAD', message: `Task module ${spec.url} cannot be used: ${what}` };
  }
  return { fn: fn as Mapper, inline: false };
}

/**
 * The export `name` of a module. A CommonJS module compiled from ES syntax (tsc, Babel) keeps its
 * default export at `exports.default` and says so with `__esModule`; Node's `import()` makes the
 * whole `exports` object the default, so `default` is unwrapped once more, as bundlers do.
 */
function exportOf(namespace: Record<string, unknown>, name: string): unknown {
  const value = namespace[name];
  if (name !== 'default' || typeof value !== 'object' || value === null) return value;
  const compiled = value as Record<string, unknown>;
  return compiled.__esModule === true && typeof compiled.default === 'function' ? compiled.default : value;
}
