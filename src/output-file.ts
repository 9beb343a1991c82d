/**
 * Output files that elfdeps writes whole (`manifest -o FILE`, `--sbom FILE`, `image -o
 * FILE`): they are written under a temporary name beside FILE and renamed
 * over it, so a reader never sees half of one. Only a regular file (or
 * nothing) at FILE may be replaced: renaming over a device, FIFO or symlink
 * would destroy it (as root, `-o /dev/null` would replace the host's
 * /dev/null).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readlinkSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { ElfdepsError, errnoOf, errnoWords } from './errors.js';
import { describeFileType } from './file-type.js';
import { TEMP_PREFIX } from './manifest/entry-path.js';

/** What a non-regular file at `path` is, for an error message (a symlink with its target). */
function describeNonRegular(st: Stats, path: string): string {
  if (!st.isSymbolicLink()) return describeFileType(st);
  try {
    return `a symlink (-> ${readlinkSync(path, 'utf8')})`;
  } catch {
    return 'a symlink';
  }
}

/** A character device or FIFO (`-o /dev/null`, `-o /dev/stdout`, a named pipe): written to directly by those who allow it, never replaced. */
export function isStreamTarget(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isCharacterDevice() || st.isFIFO();
  } catch {
    return false;
  }
}

/**
 * `path` must be absent (in an existing directory) or a regular file, or,
 * with `streams`, a device or FIFO the caller writes to directly. `what`
 * names the output in messages ("the manifest"). Checked before the work and
 * again just before the rename.
 */
export function checkOutputPath(path: string, what: string, options: { streams?: boolean } = {}): void {
  if (options.streams === true && isStreamTarget(path)) return;
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') {
      if (!existsSync(dirname(path))) throw new ElfdepsError('COPY_FAILED', `${path}: cannot write ${what}: directory ${dirname(path)}: ${errnoWords('ENOENT')}`, { path });
      return;
    }
    throw new ElfdepsError('COPY_FAILED', `${path}: cannot write ${what}: ${errnoWords(err)}`, { path, cause: err });
  }
  if (!st.isFile()) {
    throw new ElfdepsError('TARGET_CONFLICT', `${path}: is ${describeNonRegular(st, path)}; refusing to replace it with ${what} (-o takes a regular file, or a new name)`, { path });
  }
}

/** A temporary name beside `path` (same directory, so the rename is atomic): `FILE.elfdeps-tmp-<pid>-<random>`. */
export function temporarySibling(path: string): string {
  return `${path}${TEMP_PREFIX.slice(0, -1)}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/**
 * Writes `text` to `path` whole: under a temporary name first, renamed over
 * `path` when complete, so a reader never sees half of it; a device or FIFO
 * (`-o /dev/stdout`) is written to directly. `what` names the output in
 * messages ("the manifest", "the SBOM").
 */
export function writeFileWhole(path: string, text: string, what: string): void {
  if (isStreamTarget(path)) {
    try {
      writeFileSync(path, text, { flag: 'w' });
    } catch (err) {
      throw new ElfdepsError('COPY_FAILED', `${path}: cannot write ${what}: ${errnoWords(err)}`, { path, cause: err });
    }
    return;
  }
  checkOutputPath(path, what);
  const tmp = temporarySibling(path);
  try {
    writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    const why = errnoOf(err) === 'ENOENT' ? `directory ${dirname(path)}: ${errnoWords(err)}` : errnoWords(err);
    throw new ElfdepsError('COPY_FAILED', `${path}: cannot write ${what}: ${why}`, { path, cause: err });
  }
}
