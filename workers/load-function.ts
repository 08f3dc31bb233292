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
