import { accessSync, closeSync, constants, fchmodSync, fchownSync, lstatSync, openSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Whether `path` names a file (not a directory, nor nothing): a module path, as `node` reads one. */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Writes the file at `path` with `write(fd)`. A new file, or one of ours that we may write and that
 * has no other name, is replaced only once the new one is written whole (beside it, then renamed
 * over it, with its permissions and group): a failed write (a full disk) leaves what was there. Any
 * other is written in place, and a plain file that could not be written whole is removed.
 */
export function writeWhole(path: string, write: (fd: number) => void): void {
  const file = replaceable(path);
  const partial = file === undefined ? undefined : openPartial(file.path);
  if (partial === undefined) return writeInPlace(path, write);
  try {
    writeAndClose(partial.fd, write, file);
    renameSync(partial.path, file!.path);
  } catch (error) {
    rmSync(partial.path, { force: true });
    throw error;
  }
}

interface Replaceable {
  /** The file itself, through any link. */
  readonly path: string;
  /** Its permissions and group, for the file that replaces it, when it exists. */
  readonly mode?: number;
  readonly gid?: number;
}

/**
 * The file that writing `path` may replace by a rename, changing nothing but its contents: none
 * yet, or a regular file of ours, with no other name (a hard link), that we may write. Anything
 * else is written in place: a read-only file must stay refused, a hard link shared, another user's
 * file (in a sticky directory such as /tmp, where a rename over it fails) theirs.
 */
function replaceable(path: string): Replaceable | undefined {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    // None yet (the open says why, where the directory is missing); or a link to none, written through.
    return isLink(path) ? undefined : { path };
  }
  if (!stats.isFile() || stats.nlink !== 1 || stats.uid !== (process.getuid?.() ?? stats.uid)) return undefined;
  try {
    accessSync(path, constants.W_OK);
  } catch {
    return undefined;
  }
  return { path: realpathSync(path), mode: stats.mode & 0o7777, gid: stats.gid };
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A new file beside `path`, to write it in full first; none where the directory takes no new file. */
function openPartial(path: string): { fd: number; path: string } | undefined {
  const partial = join(dirname(path), `.${basename(path)}.${process.pid}-${Math.random().toString(36).slice(2, 10)}.partial`);
  try {
    return { fd: openSync(partial, 'wx'), path: partial };
  } catch {
    return undefined;
  }
}

/** Writes `path` in place; a plain file half written is removed, as it would fail to load later with a vaguer error than this one. */
function writeInPlace(path: string, write: (fd: number) => void): void {
  const fd = openSync(path, 'w');
  try {
    writeAndClose(fd, write);
  } catch (error) {
    try {
      if (lstatSync(path).isFile()) rmSync(path);
    } catch { /* gone already, or not removable: the error says what failed */ }
    throw error;
  }
}

/** Runs `write(fd)` (first giving `fd` the permissions and group of the file it replaces), and closes `fd`. */
function writeAndClose(fd: number, write: (fd: number) => void, replaces?: Replaceable): void {
  try {
    if (replaces?.mode !== undefined) fchmodSync(fd, replaces.mode);
    if (replaces?.gid !== undefined) {
      try {
        fchownSync(fd, -1, replaces.gid);
      } catch { /* a group we are not in: the file gets ours */ }
    }
    write(fd);
  } finally {
    closeSync(fd);
  }
}
