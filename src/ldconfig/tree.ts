/**
 * The new root as a manifest describes it, seen as a file system: what
 * `ldconfig -r NEWROOT` would see once the manifest is written, without
 * writing it. A RootFs whose lstat answers from the manifest's entries
 * (directories, symlinks with their targets, files read from their
 * sources), so that path walks, ld.so.conf parsing and globbing behave
 * exactly as they do in a real root. Nothing outside the entries exists.
 */
import { posix } from 'node:path';
import { ancestorsOf } from '../manifest/entry-path.js';
import { generatedBytes, type ManifestEntry } from '../manifest/types.js';
import { RootFs, type RootNode } from '../resolve/rootfs.js';
import { ElfdepsError } from '../errors.js';

export type DirentKind = 'file' | 'dir' | 'link';

export class ManifestTree extends RootFs {
  private readonly byPath = new Map<string, ManifestEntry>();
  private readonly children = new Map<string, Map<string, DirentKind>>();
  private readonly inodes = new Map<string, bigint>();

  /** `root`: the manifest's source root (a directory that exists), only used as the base of host paths. */
  constructor(root: string, entries: readonly ManifestEntry[]) {
    super(root);
    const addChild = (path: string, kind: DirentKind): void => {
      if (path === '/') return;
      const dir = posix.dirname(path);
      let names = this.children.get(dir);
      if (!names) this.children.set(dir, (names = new Map()));
      names.set(posix.basename(path), kind);
    };
    for (const e of entries) {
      this.byPath.set(e.path, e);
      addChild(e.path, e.kind === 'directory' ? 'dir' : e.kind === 'symlink' ? 'link' : 'file');
      for (const dir of ancestorsOf(e.path)) if (!this.byPath.has(dir)) addChild(dir, 'dir');
    }
  }

  /** An inode number per canonical path: the tree has no hard links, so identity is the path. */
  private inode(path: string): bigint {
    let ino = this.inodes.get(path);
    if (ino === undefined) this.inodes.set(path, (ino = BigInt(this.inodes.size + 1)));
    return ino;
  }

  protected override lookup(inRoot: string): RootNode {
    const e = this.byPath.get(inRoot);
    if (e === undefined) {
      if (inRoot === '/' || this.children.has(inRoot)) return { kind: 'dir', dev: 0n, ino: this.inode(inRoot), size: 0n, mode: 0o40755 };
      const parent = this.byPath.get(posix.dirname(inRoot));
      return { kind: 'missing', errno: parent && parent.kind !== 'directory' && parent.kind !== 'symlink' ? 'ENOTDIR' : 'ENOENT' };
    }
    switch (e.kind) {
      case 'symlink':
        return { kind: 'link', target: e.target };
      case 'directory':
        return { kind: 'dir', dev: 0n, ino: this.inode(inRoot), size: 0n, mode: 0o40000 | parseInt(e.mode, 8) };
      default:
        return { kind: 'file', dev: 0n, ino: this.inode(inRoot), size: BigInt(e.size), mode: 0o100000 | parseInt(e.mode, 8) };
    }
  }

  /** A file entry's source; for anything else the path under the source root (directories are listed from the entries, never from there). */
  override hostPath(realPath: string): string {
    const e = this.byPath.get(realPath);
    if (e?.kind === 'file') return e.source;
    return super.hostPath(realPath);
  }

  /** The entry at a canonical in-root path. */
  entry(realPath: string): ManifestEntry | undefined {
    return this.byPath.get(realPath);
  }

  override readFile(path: string, maxBytes: number): Buffer | null {
    const w = this.walk(path);
    const e = w.ok ? this.byPath.get(w.realPath) : undefined;
    if (e?.kind === 'generated') {
      if (e.size > maxBytes) throw new ElfdepsError('ROOT', `${path}: larger than ${maxBytes} bytes`, { path });
      return generatedBytes(e);
    }
    return super.readFile(path, maxBytes);
  }

  /** readdir(): the names in a canonical directory with their d_type, sorted bytewise (readdir's order is the file system's; see docs/ldconfig.md). */
  list(realDir: string): Array<{ name: string; kind: DirentKind }> {
    const names = this.children.get(realDir);
    if (!names) return [];
    return [...names]
      .map(([name, kind]) => ({ name, kind }))
      .sort((a, b) => Buffer.compare(Buffer.from(a.name, 'latin1'), Buffer.from(b.name, 'latin1')));
  }
}
