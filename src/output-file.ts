/**
 * Output files that elfdeps writes whole (`manifest -o FILE`, `--sbom FILE`, `image -o
 * FILE`): they are written under a temporary name beside FILE and renamed
 * over it, so a reader never sees half of one. Only a regular file (or
 * nothing) at FILE may be replaced: renaming over a device, FIFO or symlink
 * would destroy it (as root, `-o /dev/null` would replace the host's
 * /dev/null).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { ElfdepsError, errnoOf, errnoWords } from './errors.js';
import { describeFileType } from './file-type.js';
import { TEMP_PREFIX } from './manifest/entry-path.js';
import { writerAlive } from './materialise/temp-files.js';

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
 * What an interrupted writer leaves in an output directory when it is killed
 * before it can clean up (SIGKILL, a power cut): an image's staging directory
 * `.elfdeps-tmp-<pid>-XXXXXX` (mkdtemp) and a whole-file output's temporary
 * `NAME.elfdeps-tmp-<pid>-<12 hex>` (temporarySibling). Only names of exactly
 * those shapes, owned by this user, whose writer process is gone.
 */
const STAGING_DIR = /^\.elfdeps-tmp-(\d+)-[A-Za-z0-9]{6}$/;
const SIBLING_FILE = /\.elfdeps-tmp-(\d+)-[0-9a-f]{12}$/;

/**
 * Removes the leftovers of killed elfdeps writers in `dir` (see above);
 * returns how many were removed. Never follows a symlink; a leftover that
 * cannot be removed is left for the next run.
 */
export function removeStaleOutputTemps(dir: string): number {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  const uid = process.getuid?.();
  let removed = 0;
  for (const name of names) {
    if (!name.includes(TEMP_PREFIX.slice(0, -1))) continue;
    const staging = STAGING_DIR.exec(name);
    const sibling = staging ? null : SIBLING_FILE.exec(name);
    const pid = Number((staging ?? sibling)?.[1] ?? NaN);
    if (!Number.isSafeInteger(pid) || pid <= 0 || writerAlive(pid)) continue;
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (uid !== undefined && st.uid !== uid) continue;
      if (staging && st.isDirectory()) rmSync(path, { recursive: true, force: true }); // rm -r never follows symlinks inside
      else if (sibling && st.isFile()) unlinkSync(path);
      else continue;
      removed++;
    } catch {
      // gone already, or not ours to remove: left alone
    }
  }
  return removed;
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
  removeStaleOutputTemps(dirname(path)); // a killed earlier run's temporary
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
