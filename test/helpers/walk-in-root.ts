/**
 * A path resolved inside a root the way the kernel resolves it for a process
 * chrooted there, written for the tests from node:fs alone (lstat, readlink)
 * so that the expectations of the manifest and copier tests do not come from
 * RootFs.walk, the walker the manifest itself uses: one component at a time,
 * a symlink's target read and walked in its place (an absolute one from the
 * root), `..` applied to the directory reached and clamped at the root.
 */
import { lstatSync, readlinkSync } from 'node:fs';

export interface InRootPath {
  /** In-root path with no symlink and no `..` left. */
  realPath: string;
  /** Host path of realPath. */
  hostPath: string;
  /** Every symlink met, in the order met: its in-root path and its target verbatim. */
  links: Array<{ path: string; target: string }>;
}

/** Resolves `path` (absolute, in-root) inside host directory `root`; null when a component is missing. */
export function walkInRoot(root: string, path: string): InRootPath | null {
  const prefix = root === '/' ? '' : root.replace(/\/+$/, '');
  const done: string[] = [];
  const todo = path.split('/');
  const links: InRootPath['links'] = [];
  let hops = 0;
  while (todo.length > 0) {
    const name = todo.shift() as string;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      done.pop();
      continue;
    }
    const inRoot = `/${[...done, name].join('/')}`;
    const st = lstatSync(prefix + inRoot, { throwIfNoEntry: false });
    if (st === undefined) return null;
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw new Error(`${path}: too many symlinks in ${root}`);
      const target = readlinkSync(prefix + inRoot, 'utf8');
      links.push({ path: inRoot, target });
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/'));
      continue;
    }
    done.push(name);
  }
  const realPath = `/${done.join('/')}`;
  return { realPath, hostPath: prefix + realPath, links };
}
