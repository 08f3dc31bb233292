import { compileCached, type Mapper } from '../lib/compile.js';
import { serializeError } from '../lib/errors.js';
import type { FnSpec, SerializedFailure } from '../lib/protocol.js';

let typeScriptHook: Promise<void> | undefined;

/** The call's function, or the failure to report for every chunk of the call. */
export async function loadFunction(spec: FnSpec): Promise<{ fn: Mapper; inline: boolean } | SerializedFailure> {
  // The main thread compiled inline sources already, so this cannot throw a SyntaxError here.
  if (spec.kind === 'inline') return { fn: compileCached(spec.source), inline: true };
  let namespace: Record<string, unknown>;
  try {
    if (/\.[cm]?tsx?$/.test(spec.url)) await registerTypeScript();
    namespace = await import(spec.url) as Record<string, unknown>;
  } catch (error) {
    const hint = /Unknown file extension "\.[cm]?tsx?"/.test(String(error))
      ? ' (TypeScript task modules need tsx installed next to the caller, or a Node.js that strips types)' : '';
    return { code: 'ERR_TASK_LOAD', message: `Could not import task module ${spec.url}: ${(error as Error)?.message ?? String(error)}${hint}`, cause: serializeError(error) };
  }
  const fn = namespace[spec.exportName];
  if (typeof fn !== 'function') {
    const found = Object.keys(namespace).map((name) => `\`${name}\``).join(', ') || 'nothing';
    const what = spec.exportName in namespace ? `its export \`${spec.exportName}\` is ${typeof fn}, not a function` : `it has no export \`${spec.exportName}\` (it exports ${found})`;
    return { code: 'ERR_TASK_LOAD', message: `Task module ${spec.url} cannot be used: ${what}` };
  }
  return { fn: fn as Mapper, inline: false };
}

/**
 * Workers do not inherit tsx's loader from the parent's `--import tsx` on Node 20
 * (https://github.com/privatenumber/tsx/issues/354), but registering it from inside the worker
 * works. When tsx is not installed we go on and let Node try (type stripping on newer versions).
 */
function registerTypeScript(): Promise<void> {
  typeScriptHook ??= (async () => {
    const specifier = 'tsx/esm/api';
    try {
      const { register } = await import(specifier) as { register: () => unknown };
      register();
    } catch { /* not installed */ }
  })();
  return typeScriptHook;
}
