import { statSync } from 'node:fs';

/** Whether `path` names a file (not a directory, nor nothing): a module path, as `node` reads one. */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
