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
 * other is written in place (also one whose group we cannot give, or that cannot be renamed over,
 * as a single-file bind mount), and a plain file that could not be written whole is removed.
 */
export function writeWhole(path: string, write: (fd: number) => void): void {
  const file = replaceable(path);
  const partial = file === undefined ? undefined : openPartial(file.path);
  if (partial === undefined) return writeInPlace(path, write);
  try {
    // Its group first: Linux clears a set-user-ID bit when the group changes.
    if (file!.gid !== undefined) fchownSync(partial.fd, -1, file!.gid);
  } catch {
    // A group we are not in: the file would change hands, so it is written in place instead.
    closeSync(partial.fd);
    rmSync(partial.path, { force: true });
    return writeInPlace(path, write);
  }
  try {
    writeAndClose(partial.fd, write, file!.mode);
    renameSync(partial.path, file!.path);
  } catch (error) {
    rmSync(partial.path, { force: true });
    // A file that cannot be renamed over (a single-file bind mount, EBUSY) is written in place.
    if ((error as NodeJS.ErrnoException).syscall === 'rename' && ['EBUSY', 'EXDEV'].includes((error as NodeJS.ErrnoException).code!)) return writeInPlace(path, write);
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

/**
 * A new file beside `path`, to write it in full first; none where one cannot be made there (a
 * directory we may not write, a name too long). A full disk or quota, or no file descriptor left,
 * throws: writing in place then would lose the file that is there.
 */
function openPartial(path: string): { fd: number; path: string } | undefined {
  const partial = join(dirname(path), `.${basename(path)}.${process.pid}-${Math.random().toString(36).slice(2, 10)}.partial`);
  try {
    return { fd: openSync(partial, 'wx'), path: partial };
  } catch (error) {
    if (['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE'].includes((error as NodeJS.ErrnoException).code!)) throw error;
    return undefined;
  }
}

/**
 * Writes `path` in place. A plain file half written is removed, as it would fail to load later with
 * a vaguer error than this one; so is a file this write made through a link to none.
 */
function writeInPlace(path: string, write: (fd: number) => void): void {
  const existed = isFile(path);
  const fd = openSync(path, 'w');
  try {
    writeAndClose(fd, write);
  } catch (error) {
    try {
      if (lstatSync(path).isFile()) rmSync(path);
      else if (!existed && isFile(path)) rmSync(realpathSync(path));
    } catch { /* gone already, or not removable: the error says what failed */ }
    throw error;
  }
}

/**
 * Runs `write(fd)`, then gives `fd` the permissions `mode` of the file it replaces (after: Linux
 * clears a set-user-ID bit on a write by an unprivileged process), and closes `fd`.
 */
function writeAndClose(fd: number, write: (fd: number) => void, mode?: number): void {
  try {
    write(fd);
    if (mode !== undefined) fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}
