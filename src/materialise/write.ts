/**
 * Phase two of materialising: carry out a plan. Each write re-checks, with
 * lstat, that every directory above it is a real directory inside NEWROOT (no
 * cache of "already checked" directories: node-tar CVE-2021-32803), creates
 * files and symlinks under a temporary name with O_EXCL (which never follows
 * a symlink) and renames them into place. Node has no openat(), so this
 * cannot defeat another user racing us inside NEWROOT; docs/manifest.md says so.
 *
 * Each source is checked again just before it is read: still a regular file,
 * still the inode the plan checked (a symlink or FIFO swapped in after the
 * plan would otherwise be followed, or block the copy), then read through a
 * descriptor opened with O_NOFOLLOW and checked with fstat.
 */
import {
  closeSync,
  constants as fsc,
  copyFileSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  statfsSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { ElfdepsError, errnoOf, errnoWords } from '../errors.js';
import { ancestorsOf, parentOf } from '../manifest/entry-path.js';
import { hashFd } from '../manifest/hash.js';
import { parseMode, SETID_BITS } from '../manifest/mode.js';
import { entryOwner, generatedBytes, type EntryOwner, type FileEntry, type GeneratedEntry, type SymlinkEntry } from '../manifest/types.js';
import { inside } from './plan.js';
import { expectSameSource, openSource, recheckSource, sourceChunks, type SourceIdentity } from './source.js';
import { tempName } from './temp-files.js';
import type { PlannedAction } from './types.js';

function fail(code: 'COPY_FAILED' | 'SOURCE_CHANGED', path: string, what: string, err?: unknown): ElfdepsError {
  const errno = err === undefined ? undefined : errnoOf(err);
  return new ElfdepsError(code, `${path}: ${what}${errno ? `: ${errnoWords(errno)}` : ''}`, { path, cause: err });
}

/** Host path of an in-root path, after making sure every directory above it is a real directory inside NEWROOT. */
export function checkedHostPath(root: string, path: string): string {
  for (const dir of ancestorsOf(path)) {
    const host = root + dir;
    let isDir = false;
    let isLink = false;
    try {
      const st = lstatSync(host);
      isDir = st.isDirectory();
      isLink = st.isSymbolicLink();
    } catch (err) {
      throw fail('COPY_FAILED', host, 'directory vanished during the copy', err);
    }
    if (!isDir) {
      throw new ElfdepsError('ROOT', `${host}: became ${isLink ? 'a symlink' : 'a non-directory'} during the copy; refusing to write through it`, { path: host });
    }
  }
  const host = root + path;
  if (!inside(root, host)) throw new ElfdepsError('ROOT', `${host}: outside ${root}`, { path: host }); // defence in depth: cannot happen for canonical paths
  return host;
}

/**
 * The owner to give an entry, or null to leave the copier's: only root can
 * give a file away (chown(2) needs CAP_CHOWN), and an entry that names no
 * owner keeps today's behaviour (the copier's user, root when run as root).
 */
function ownerToApply(entry: EntryOwner): { uid: number; gid: number } | null {
  if (entry.uid === undefined && entry.gid === undefined) return null;
  return process.geteuid?.() === 0 ? entryOwner(entry) : null;
}

/** Gives the open file or directory its entry's owner; before its chmod, since chown(2) clears setuid and setgid. */
function applyOwner(fd: number, entry: EntryOwner): void {
  const owner = ownerToApply(entry);
  if (owner !== null) fchownSync(fd, owner.uid, owner.gid);
}

function removeQuietly(host: string): void {
  try {
    unlinkSync(host);
  } catch {
    // already gone
  }
}

/** Creates a directory (0700 until the final chmod pass), replacing a file or symlink in the way when the plan says so. */
export function makeDirectory(root: string, action: PlannedAction): void {
  const host = checkedHostPath(root, action.path);
  try {
    if (action.op === 'replace') {
      const st = lstatSync(host);
      if (st.isDirectory()) return; // only the mode differs: fixed in the chmod pass
      unlinkSync(host); // unlink never follows a symlink
    }
    mkdirSync(host, 0o700);
  } catch (err) {
    throw fail('COPY_FAILED', host, 'cannot create directory', err);
  }
}

/** Sets a directory's final mode, without following a symlink. */
export function setDirectoryMode(root: string, action: PlannedAction): void {
  const host = checkedHostPath(root, action.path);
  let fd: number | undefined;
  try {
    fd = openSync(host, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    applyOwner(fd, action.entry);
    fchmodSync(fd, parseMode(action.mode ?? '0755'));
  } catch (err) {
    throw fail('COPY_FAILED', host, 'cannot set directory mode', err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const PROC_SUPER_MAGIC = 0x9fa0;
let procFdUsable: boolean | undefined;

/**
 * A path that reopens exactly the file open as `fd` (/proc/self/fd/N), or
 * null without procfs. copyFileSync takes paths only; through this one it
 * copies the inode already checked, whatever happens to the source's name.
 */
function pathOfFd(fd: number): string | null {
  if (procFdUsable === undefined) {
    try {
      procFdUsable = statfsSync('/proc/self/fd').type === PROC_SUPER_MAGIC;
    } catch {
      procFdUsable = false;
    }
  }
  return procFdUsable ? `/proc/self/fd/${fd}` : null;
}

/** Checks what sits under the temporary name against the manifest; returns nothing or throws SOURCE_CHANGED. */
function verify(fd: number, entry: FileEntry, tmp: string): void {
  const st = fstatSync(fd);
  if (!st.isFile()) throw fail('SOURCE_CHANGED', entry.source, `source of ${entry.path} is no longer a regular file`);
  const got = hashFd(fd);
  if (got.size !== entry.size || got.sha256 !== entry.sha256) {
    throw fail(
      'SOURCE_CHANGED',
      entry.source,
      `source of ${entry.path} changed since the manifest was made (sha256 ${got.sha256}, ${got.size} bytes; manifest says ${entry.sha256}, ${entry.size} bytes); written copy ${tmp} removed`,
    );
  }
}

/** Reads the source and writes the temporary in one pass: used when the copy must never carry the source's setuid bit, even briefly. */
function streamCopy(entry: FileEntry, expected: SourceIdentity, tmp: string): number {
  const dst = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    let size = 0;
    for (const chunk of sourceChunks(entry, expected)) {
      for (let off = 0; off < chunk.length; ) off += writeSync(dst, chunk, off, chunk.length - off, size + off);
      size += chunk.length;
    }
    return dst;
  } catch (err) {
    closeSync(dst);
    throw err;
  }
}

/**
 * The entry's mtime, when it has one (a Python source its pyc checks), as
 * atime and mtime. A hard link (--link) is the host's own inode: its mtime
 * is already the one the manifest read, and is never changed.
 */
function keepMtime(fd: number, entry: FileEntry): void {
  if (entry.mtime !== undefined) futimesSync(fd, entry.mtime, entry.mtime);
}

/**
 * Writes one file under a temporary name next to its final name, checks it
 * against the manifest's size and sha256, sets its mode and renames it over
 * the final name. Returns the bytes written.
 */
export function writeFile(root: string, action: PlannedAction, expected: SourceIdentity): number {
  const entry = action.entry as FileEntry;
  const host = checkedHostPath(root, action.path);
  const tmp = `${root}${parentOf(action.path) === '/' ? '' : parentOf(action.path)}/${tempName(host.slice(host.lastIndexOf('/') + 1))}`;
  const mode = parseMode(action.mode ?? entry.mode);
  let fd: number | undefined;
  let src: number | undefined;
  try {
    recheckSource(entry, expected);
    if (action.method === 'link') {
      try {
        linkSync(entry.source, tmp); // link() does not follow a symlink that replaced the source
      } catch (err) {
        if (errnoOf(err) === 'EXDEV') throw fail('COPY_FAILED', host, `--link needs the new root on the same filesystem as ${entry.source}`, err);
        throw fail('SOURCE_CHANGED', entry.source, `cannot hard-link source of ${entry.path}`, err);
      }
      fd = openSync(tmp, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
      // The link is the source's inode itself: it must be the one the plan checked.
      expectSameSource(fstatSync(fd, { bigint: true }), entry, expected);
      // The inode is the host's: its mode must already be right, never chmod it.
      if ((fstatSync(fd).mode & 0o7777) !== mode) throw fail('SOURCE_CHANGED', entry.source, `source of ${entry.path} changed mode since the manifest was made`);
      verify(fd, entry, tmp);
    } else if ((parseMode(entry.mode) & SETID_BITS & ~mode) !== 0) {
      fd = streamCopy(entry, expected, tmp);
      applyOwner(fd, entry);
      fchmodSync(fd, mode);
      keepMtime(fd, entry);
    } else {
      src = openSource(entry, expected);
      try {
        // O_EXCL on the destination (never follows a symlink); FICLONE shares extents where the filesystem can.
        // Without procfs the source is named by its path again: the lstat and fstat checks above leave a tiny window.
        copyFileSync(pathOfFd(src) ?? entry.source, tmp, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
      } catch (err) {
        const errno = errnoOf(err);
        if (errno === 'ENOENT' || errno === 'ELOOP' || errno === 'EISDIR') {
          throw fail('SOURCE_CHANGED', entry.source, `cannot read source of ${entry.path}`, err);
        }
        throw fail('COPY_FAILED', host, `cannot copy from ${entry.source}`, err);
      }
      closeSync(src);
      src = undefined;
      fd = openSync(tmp, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
      verify(fd, entry, tmp);
      applyOwner(fd, entry);
      fchmodSync(fd, mode);
      keepMtime(fd, entry);
    }
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, host);
    return entry.size;
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    if (src !== undefined) closeSync(src);
    removeQuietly(tmp);
    if (err instanceof ElfdepsError) throw err;
    throw fail('COPY_FAILED', host, 'cannot write file', err);
  }
}

/**
 * Writes a generated entry's inline content the way writeFile writes a copy:
 * a new temporary (O_EXCL, never through a symlink), its mode, then a rename
 * over the final name. Returns the bytes written.
 */
export function writeGenerated(root: string, action: PlannedAction): number {
  const entry = action.entry as GeneratedEntry;
  const host = checkedHostPath(root, action.path);
  const tmp = `${root}${parentOf(action.path) === '/' ? '' : parentOf(action.path)}/${tempName(host.slice(host.lastIndexOf('/') + 1))}`;
  const bytes = generatedBytes(entry);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    applyOwner(fd, entry);
    fchmodSync(fd, parseMode(action.mode ?? entry.mode));
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, host);
    return bytes.length;
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    removeQuietly(tmp);
    throw fail('COPY_FAILED', host, 'cannot write generated file', err);
  }
}

/** Creates a symlink with its target verbatim, under a temporary name first, then renamed into place. */
export function writeSymlink(root: string, action: PlannedAction): void {
  const entry = action.entry as SymlinkEntry;
  const host = checkedHostPath(root, action.path);
  const parent = parentOf(action.path);
  const tmp = `${root}${parent === '/' ? '' : parent}/${tempName(host.slice(host.lastIndexOf('/') + 1))}`;
  try {
    symlinkSync(entry.target, tmp);
    const owner = ownerToApply(entry);
    if (owner !== null) lchownSync(tmp, owner.uid, owner.gid); // the link itself, never its target
    renameSync(tmp, host);
  } catch (err) {
    removeQuietly(tmp);
    throw fail('COPY_FAILED', host, 'cannot create symlink', err);
  }
}

/** Removes a leftover temporary of an interrupted run (never a directory). */
export function removeStaleTemp(host: string): void {
  try {
    if (lstatSync(host).isDirectory()) return;
    unlinkSync(host);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw fail('COPY_FAILED', host, 'cannot remove leftover temporary file', err);
  }
}
