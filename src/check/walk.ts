/**
 * The files under some in-root paths, for `elfdeps check`: a depth-first walk
 * of the real directories inside a root that never follows a symlink (a
 * symlink is reported as one, with its target verbatim), so that nothing
 * outside the root is ever visited and no directory is visited twice through
 * a link to it. Names are sorted, for output in the same order every run.
 *
 * An entry that vanishes between its directory's listing and its turn (a
 * live tree) is passed over: there is nothing left to check.
 *
 * Directories on the kernel's pseudo file systems (proc, sysfs, ...) hold no
 * files of the root's own: the walk does not enter them (without it, checking
 * the host's / would read every process's /proc entries).
 */
import { lstatSync, readdirSync, statfsSync, type Dirent } from 'node:fs';
import { errnoOf, errnoWords } from '../errors.js';

/** One thing the walk met. */
export type WalkEntry =
  | { type: 'file'; path: string; hostPath: string }
  | { type: 'symlink'; path: string; hostPath: string }
  /** A directory (or the start path) that could not be listed or examined. */
  | { type: 'error'; path: string; message: string };

/**
 * statfs f_type of file systems that are the kernel's views, never a root's
 * files (linux/magic.h): proc, sysfs, devpts, cgroup, cgroup2, debugfs,
 * tracefs, securityfs, pstore, bpf, configfs, fusectl, efivarfs, mqueue, binfmt_misc.
 */
const PSEUDO_FS = new Set<number>([
  0x9fa0, 0x62656572, 0x1cd1, 0x27e0eb, 0x63677270, 0x64626720, 0x74726163, 0x73636673, 0x6165676c, 0xcafe4a11, 0x62656570, 0x65735543, 0xde5e81e4,
  0x19800202, 0x42494e4d,
]);

function isPseudoFs(hostPath: string): boolean {
  try {
    return PSEUDO_FS.has(Number(statfsSync(hostPath).type));
  } catch {
    return false;
  }
}

/**
 * Walks the in-root directory `dir` (canonical: no symlink in it) of the root
 * whose host prefix is `prefix` ('' for the host's /), calling `visit` for
 * every regular file and symlink below it, and for every directory it cannot
 * read. Other kinds (FIFOs, sockets, devices) are passed over: nothing is
 * ever opened here.
 */
export function walkTree(prefix: string, dir: string, visit: (entry: WalkEntry) => void, after: string | null = null): void {
  const host = (inRoot: string): string => (prefix === '' ? inRoot : inRoot === '/' ? prefix : prefix + inRoot);
  let startDev: bigint;
  try {
    startDev = lstatSync(host(dir), { bigint: true }).dev;
  } catch (err) {
    visit({ type: 'error', path: dir, message: errnoWords(err) });
    return;
  }
  // The components of `after` below `dir`, passed over one level at a time; null once the walk is past it.
  let skip: string[] | null = after === null ? null : after.slice(dir === '/' ? 1 : dir.length + 1).split('/');
  const descend = (at: string, dev: bigint, depth: number): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(host(at), { withFileTypes: true });
    } catch (err) {
      // Gone since its parent was listed (a live tree changes under the walk): nothing left to check.
      if (errnoOf(err) !== 'ENOENT') visit({ type: 'error', path: at, message: `cannot list the directory: ${errnoWords(err)}` });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const path = at === '/' ? `/${e.name}` : `${at}/${e.name}`;
      let inside = false;
      if (skip !== null) {
        const mark = skip[depth] as string;
        if (e.name < mark) continue;
        if (e.name === mark) {
          // `after` itself is done; a directory on the way to it is entered, to go on inside it.
          if (depth === skip.length - 1) {
            skip = null;
            continue;
          }
          inside = true;
        } else skip = null;
      }
      let type: 'file' | 'symlink' | 'dir' | 'other';
      if (e.isFile()) type = 'file';
      else if (e.isSymbolicLink()) type = 'symlink';
      else if (e.isDirectory()) type = 'dir';
      else if (e.isFIFO() || e.isSocket() || e.isCharacterDevice() || e.isBlockDevice()) type = 'other';
      else {
        // DT_UNKNOWN (some file systems): ask lstat.
        try {
          const st = lstatSync(host(path));
          type = st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other';
        } catch (err) {
          if (errnoOf(err) !== 'ENOENT') visit({ type: 'error', path, message: errnoWords(err) });
          continue;
        }
      }
      if (inside && type !== 'dir') {
        // On the way to `after` but no longer a directory (the tree changed): go on after it.
        skip = null;
        continue;
      }
      if (type === 'file' || type === 'symlink') visit({ type, path, hostPath: host(path) });
      else if (type === 'dir') {
        let sub: bigint;
        try {
          sub = lstatSync(host(path), { bigint: true }).dev;
        } catch (err) {
          if (errnoOf(err) !== 'ENOENT') visit({ type: 'error', path, message: errnoWords(err) });
          continue;
        }
        // A mount point: look at what is mounted only when it is not a kernel view.
        if (sub !== dev && isPseudoFs(host(path))) continue;
        descend(path, sub, depth + 1);
        // Whatever of `after` was not found inside is past now.
        if (inside) skip = null;
      }
    }
  };
  descend(dir, startDev, 0);
}
