/**
 * Bounded reads of package database files inside a root: the path is
 * resolved by RootFs (symlinks stay inside the root), the file must be a
 * regular file no larger than the limit, and it is opened O_NOFOLLOW and
 * read up to the limit only, whatever it grew to since.
 */
import { closeSync, constants as fsc, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { ElfdepsError, errnoWords } from '../errors.js';
import type { RootFs } from '../resolve/rootfs.js';

/** Outcome of reading one database file: its text, absent, or too large / not a file (with why). */
export type ReadOutcome = { text: string } | { absent: true } | { refused: string };

/** Outcome of reading one database file as bytes. */
export type ReadBytesOutcome = { bytes: Buffer } | { absent: true } | { refused: string };

/** The bytes of a database file (the large file lists are matched as bytes: listing.ts). */
export function readDbBytes(fs: RootFs, path: string, maxBytes: number): ReadBytesOutcome {
  const walk = fs.walk(path);
  if (!walk.ok) return walk.errno === 'ENOENT' || walk.errno === 'ENOTDIR' ? { absent: true } : { refused: `cannot resolve (${walk.errno})` };
  if (walk.kind !== 'file') return { refused: 'not a regular file' };
  return readHostFile(walk.hostPath, maxBytes);
}

/**
 * The bytes of file `name` (one component, no "/") of a database directory
 * whose host path `dirHostPath` RootFs resolved inside the root: one open
 * instead of a walk per file, for the hundreds of lists in dpkg's info/.
 * A name that is a symlink (dpkg never writes one) is read through RootFs,
 * so that it still resolves inside the root.
 */
export function readDbBytesIn(fs: RootFs, dir: string, dirHostPath: string, name: string, maxBytes: number): ReadBytesOutcome {
  if (name.includes('/') || name === '.' || name === '..') return { refused: 'not a file name' };
  const got = readHostFile(`${dirHostPath}/${name}`, maxBytes);
  // O_NOFOLLOW refused a symlink as the last component.
  if ('openErrno' in got && got.openErrno === 'ELOOP') return readDbBytes(fs, `${dir}/${name}`, maxBytes);
  return got;
}

/** readHostFile's outcome: a refusal to open carries the errno too. */
type HostReadOutcome = { bytes: Buffer } | { absent: true } | { refused: string; openErrno?: string };

/** Open (never through a final symlink), check it is a regular file within the limit, read it. */
function readHostFile(hostPath: string, maxBytes: number): HostReadOutcome {
  let fd: number;
  try {
    fd = openSync(hostPath, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { absent: true };
    return { refused: `cannot open: ${errnoWords(err)}`, openErrno: code };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { refused: 'not a regular file' };
    if (st.size > maxBytes) return { refused: `larger than ${maxBytes} bytes (${st.size})` };
    const buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return { bytes: buf.subarray(0, got) };
  } catch (err) {
    return { refused: `cannot read: ${errnoWords(err)}` };
  } finally {
    closeSync(fd);
  }
}

/** The text of a database file (UTF-8). */
export function readDbFile(fs: RootFs, path: string, maxBytes: number): ReadOutcome {
  const got = readDbBytes(fs, path, maxBytes);
  return 'bytes' in got ? { text: got.bytes.toString('utf8') } : got;
}

/** A file the database cannot do without: its text, null when absent; too large or unreadable throws PACKAGE_DB. */
export function readRequiredDbFile(fs: RootFs, path: string, maxBytes: number): string | null {
  const got = readDbFile(fs, path, maxBytes);
  if ('absent' in got) return null;
  if ('refused' in got) throw new ElfdepsError('PACKAGE_DB', `${fs.hostPath(path)}: package database ${got.refused}`, { path: fs.hostPath(path) });
  return got.text;
}

/** Names in an in-root directory, sorted; null when it is not a directory; at most `max` (more throws PACKAGE_DB). */
export function listDbDir(fs: RootFs, path: string, max: number): string[] | null {
  const walk = fs.walk(path);
  if (!walk.ok || walk.kind !== 'dir') return null;
  let names: string[];
  try {
    names = readdirSync(walk.hostPath);
  } catch (err) {
    throw new ElfdepsError('PACKAGE_DB', `${walk.hostPath}: cannot list the package database: ${errnoWords(err)}`, { path: walk.hostPath, cause: err });
  }
  if (names.length > max) throw new ElfdepsError('PACKAGE_DB', `${walk.hostPath}: more than ${max} files in the package database`, { path: walk.hostPath });
  return names.sort();
}
