/**
 * Path resolution inside a chosen root, the way the kernel resolves a path
 * for a process chrooted there: components are looked up one at a time,
 * symlinks are followed as they are met (absolute targets start again at the
 * root), and `..` is applied to the directory actually reached, after
 * symlinks, clamped at the root. No answer ever names a file outside the root.
 *
 * Every symlink met on the way is recorded, because a new root must recreate
 * them (e.g. /lib64 -> usr/lib64, libz.so.1 -> libz.so.1.2.13).
 *
 * lstat/readlink results are cached per in-root path: the resolver asks about
 * the same directories thousands of times. A RootFs is therefore a snapshot;
 * make a new one when the tree may have changed.
 */
import { lstatSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { ElfdepsError, errnoOf, errnoWords } from '../errors.js';
import type { AttributeTable, FileAttributes } from '../image-source/types.js';

/** Linux follows at most 40 symlinks in one path resolution. */
export const MAX_SYMLINKS = 40;
/** PATH_MAX. */
export const MAX_PATH = 4096;

export type WalkErrno = 'ENOENT' | 'ENOTDIR' | 'ELOOP' | 'ENAMETOOLONG' | 'EACCES';

export interface SymlinkStep {
  /** In-root path of the link itself (its directory already canonical). */
  path: string;
  /** The link's target, verbatim. */
  target: string;
}

export interface PathWalk {
  ok: boolean;
  /** Why the walk failed, when it did. */
  errno?: WalkErrno;
  /** In-root canonical path of what was reached (of the failing component's parent when !ok). */
  realPath: string;
  /** Host path of `realPath`. */
  hostPath: string;
  kind: 'file' | 'dir' | 'other' | 'missing';
  /** Symlinks followed, in order. */
  links: SymlinkStep[];
  /**
   * In-root directories looked up on the way (not "/"), in walk order, without
   * repeats: a new root needs each of them, including ones a later ".." leaves
   * ("/opt/app/bin/../lib/libx.so" needs /opt/app/bin).
   */
  dirs: string[];
}

/** What one in-root path is, as lstat sees it (a subclass may answer from elsewhere: src/ldconfig/tree.ts). */
export type RootNode =
  | { kind: 'file' | 'dir' | 'other'; dev: bigint; ino: bigint; size: bigint; mode: number }
  | { kind: 'link'; target: string }
  | { kind: 'missing'; errno: WalkErrno };

export class RootFs {
  /** realpath of the root directory on the host. */
  readonly root: string;
  private readonly nodes = new Map<string, RootNode>();
  /** In-root path → host path placed there (--add SRC=DEST), as a bind mount: every path under it is read from the host path. */
  private readonly mounts = new Map<string, string>();
  /** Directories the root lacks on the way to a mount point: seen as empty 0755 directories. */
  private readonly impliedDirs = new Set<string>();

  /**
   * `attributes`: what the root's own records say about its files' owners,
   * modes and mtimes, when the host directory cannot hold them (an image's
   * staging directory, src/image-source/): the host's lstat still says what
   * kind each path is and where its bytes are.
   */
  constructor(root: string, private readonly attributes?: AttributeTable) {
    let real: string;
    try {
      real = realpathSync(root);
    } catch (err) {
      throw new ElfdepsError('ROOT', `${root}: cannot use as root: ${errnoWords(err)}`, { path: root, cause: err });
    }
    if (!statSync(real).isDirectory()) throw new ElfdepsError('ROOT', `${root}: root is not a directory`, { path: root });
    this.root = real === '/' ? '' : real;
  }

  /**
   * Owner, group, permission bits and mtime that the root's records give an
   * in-root canonical path (an image's layer headers); undefined for a
   * directory root, whose files are described by the host's lstat alone.
   */
  attributesOf(realPath: string): FileAttributes | undefined {
    return this.attributes?.get(realPath);
  }

  /** The attribute table this root was made with (a second RootFs over the same root shares it). */
  get attributeTable(): AttributeTable | undefined {
    return this.attributes;
  }

  /** Whether this RootFs is the host's own root. */
  get isHostRoot(): boolean {
    return this.root === '';
  }

  /** Host path of an in-root canonical path (under a mount point: the path placed there). */
  hostPath(realPath: string): string {
    if (this.mounts.size > 0) {
      for (let at = realPath; at !== '/' && at !== ''; at = at.slice(0, at.lastIndexOf('/'))) {
        const host = this.mounts.get(at);
        if (host !== undefined) return host + realPath.slice(at.length);
      }
    }
    return this.root + (realPath === '/' ? (this.root === '' ? '/' : '') : realPath);
  }

  /**
   * Places the host path `host` (canonical) at the in-root canonical path
   * `at`, as a bind mount would (src/manifest/add-place.ts decides where,
   * and refuses what would be unsafe); `implied`: directories the root lacks
   * above it. Everything read afterwards sees it.
   */
  mount(at: string, host: string, implied: readonly string[]): void {
    this.mounts.set(at, host);
    for (const d of implied) this.impliedDirs.add(d);
    this.nodes.clear();
  }

  /** The mounts and implied directories of `other` (the resolver's RootFs gets the manifest's). */
  mountsOf(other: RootFs): void {
    for (const [at, host] of other.mounts) this.mount(at, host, [...other.impliedDirs]);
  }

  /** What is at an in-root canonical path, without following a final symlink (for placing --add). */
  kindAt(inRoot: string): 'file' | 'dir' | 'other' | 'link' | 'missing' {
    return this.lookup(inRoot).kind;
  }

  protected lookup(inRoot: string): RootNode {
    let node = this.nodes.get(inRoot);
    if (node) return node;
    if (this.impliedDirs.has(inRoot)) {
      node = { kind: 'dir', dev: 0n, ino: 0n, size: 0n, mode: 0o40755 };
      this.nodes.set(inRoot, node);
      return node;
    }
    const host = this.hostPath(inRoot);
    try {
      const st = lstatSync(host, { bigint: true });
      if (st.isSymbolicLink()) node = { kind: 'link', target: readlinkSync(host, 'utf8') };
      else node = { kind: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other', dev: st.dev, ino: st.ino, size: st.size, mode: Number(st.mode) };
    } catch (err) {
      const e = errnoOf(err);
      node = { kind: 'missing', errno: e === 'ENOTDIR' || e === 'EACCES' || e === 'ENAMETOOLONG' || e === 'ELOOP' ? e : 'ENOENT' };
    }
    this.nodes.set(inRoot, node);
    return node;
  }

  /**
   * Resolves `path` (absolute, or relative to the in-root `cwd`) following every
   * symlink, including a final one. Never throws for a missing path: the result
   * says why it failed, as open() would.
   */
  walk(path: string, cwd = '/'): PathWalk {
    const links: SymlinkStep[] = [];
    const dirs: string[] = [];
    const fail = (errno: WalkErrno, at: string[]): PathWalk => {
      const realPath = '/' + at.join('/');
      return { ok: false, errno, realPath, hostPath: this.hostPath(realPath), kind: 'missing', links, dirs };
    };
    if (path.length >= MAX_PATH) return fail('ENAMETOOLONG', []);
    // `pending` holds the components still to walk, reversed so pop() is the next one.
    const pending = (path.startsWith('/') ? path : `${cwd}/${path}`).split('/').reverse();
    const current: string[] = [];
    // current joined, with a leading '/' per component ('' at the root): kept
    // alongside so that each step costs one concatenation, not a join.
    let currentPath = '';
    let followed = 0;
    while (pending.length > 0) {
      const comp = pending.pop() as string;
      if (comp === '' || comp === '.') continue;
      if (comp === '..') {
        const last = current.pop();
        if (last !== undefined) currentPath = currentPath.slice(0, currentPath.length - last.length - 1);
        continue;
      }
      if (comp.length > 255) return fail('ENAMETOOLONG', current);
      const candidate = `${currentPath}/${comp}`;
      const node = this.lookup(candidate);
      if (node.kind === 'missing') return fail(node.errno, current);
      if (node.kind === 'link') {
        if (++followed > MAX_SYMLINKS) return fail('ELOOP', current);
        links.push({ path: candidate, target: node.target });
        if (node.target.startsWith('/')) {
          current.length = 0;
          currentPath = '';
        }
        const parts = node.target.split('/');
        for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i] as string);
        continue;
      }
      // A non-directory in the middle of a path (ignoring trailing empty or '.' parts).
      let more = false;
      for (let i = pending.length - 1; i >= 0 && !more; i--) more = pending[i] !== '' && pending[i] !== '.';
      if (node.kind !== 'dir' && more) return fail('ENOTDIR', current);
      current.push(comp);
      currentPath = candidate;
      if (more && !dirs.includes(candidate)) dirs.push(candidate);
    }
    const realPath = currentPath === '' ? '/' : currentPath;
    const node = current.length === 0 ? ({ kind: 'dir' } as const) : this.lookup(realPath);
    const kind = node.kind === 'file' || node.kind === 'dir' || node.kind === 'other' ? node.kind : 'missing';
    return { ok: true, realPath, hostPath: this.hostPath(realPath), kind, links, dirs };
  }

  /** st_dev/st_ino/size of an in-root canonical path, or null if it is not a file/dir. */
  identity(realPath: string): { dev: bigint; ino: bigint; size: bigint; mode: number } | null {
    const node = this.lookup(realPath);
    return node.kind === 'file' || node.kind === 'dir' || node.kind === 'other' ? node : null;
  }

  /**
   * Reads a whole (small) file by in-root path. Returns null when it does not
   * exist; throws when it is not a regular file or is larger than maxBytes.
   */
  readFile(path: string, maxBytes: number): Buffer | null {
    const w = this.walk(path);
    if (!w.ok) {
      if (w.errno === 'ENOENT' || w.errno === 'ENOTDIR') return null;
      throw new ElfdepsError('ROOT', `${path}: cannot resolve inside ${this.root || '/'} (${w.errno})`, { path });
    }
    const id = this.identity(w.realPath);
    if (w.kind !== 'file' || !id) throw new ElfdepsError('ROOT', `${path}: not a regular file`, { path });
    if (id.size > BigInt(maxBytes)) throw new ElfdepsError('ROOT', `${path}: larger than ${maxBytes} bytes`, { path });
    try {
      return readFileSync(w.hostPath);
    } catch (err) {
      throw new ElfdepsError('ROOT', `${path}: cannot read: ${errnoWords(err)}`, { path, cause: err });
    }
  }

  /** Follows symlinks to decide whether `path` names a directory inside the root. */
  isDirectory(path: string): boolean {
    const w = this.walk(path);
    return w.ok && w.kind === 'dir';
  }
}
