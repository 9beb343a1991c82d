/**
 * The merged file system of an image, kept twice in step: as an in-memory
 * tree (what each path is, which layer wrote it, its attributes) and as the
 * staging directory on disk. Every write is decided on the tree first: a
 * path is written only when every parent on it is a real directory of the
 * tree, so a symlink of the image is never followed while writing (the tar
 * extractors' classic hole: a symlink `a -> /etc` then a file `a/passwd`).
 * The disk then holds directories, regular files, symlinks (target verbatim)
 * and hard links (real link(2)); device nodes and FIFOs live in the tree
 * only. Files keep their permission bits plus u+rw (never setuid, setgid or
 * sticky) and their mtime; directories are u+rwx; the exact modes, owners
 * and mtimes are the attributes.
 */
import { chmodSync, closeSync, constants as fsc, fchmodSync, futimesSync, linkSync, mkdirSync, openSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { imageError, quoted } from './fail.js';
import type { FileAttributes, SpecialFile, SpecialType } from './types.js';

interface Inode {
  attrs: FileAttributes;
  special?: { type: SpecialType; devmajor: number; devminor: number };
}

interface Node {
  kind: 'dir' | 'file' | 'symlink' | 'special';
  /** The layer that last wrote this path (a directory: that last declared it). */
  layer: number;
  inode: Inode;
  children?: Map<string, Node>;
}

/** Attributes of a directory no layer declared (a parent made implicitly), as tar and umoci make one. */
const IMPLICIT_DIR: FileAttributes = { uid: 0, gid: 0, mode: 0o755, mtime: 0 };

function pathOf(parts: readonly string[]): string {
  return `/${parts.join('/')}`;
}

export class StagingTree {
  private readonly root: Node = { kind: 'dir', layer: -1, inode: { attrs: { ...IMPLICIT_DIR } }, children: new Map() };

  /** image: named in messages; dir: the staging directory (exists, empty). */
  constructor(private readonly image: string, readonly dir: string) {}

  private host(parts: readonly string[]): string {
    return parts.length === 0 ? this.dir : `${this.dir}/${parts.join('/')}`;
  }

  private refuse(parts: readonly string[], what: string): Error {
    return imageError(this.image, `layer entry ${quoted(pathOf(parts))} ${what}`);
  }

  /** The directory that will hold `parts`' last component; missing parents become directories, as tar makes them. */
  private parentOf(parts: readonly string[], layer: number): Node {
    let node = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      const name = parts[i]!;
      let child = node.children!.get(name);
      if (child === undefined) {
        child = { kind: 'dir', layer, inode: { attrs: { ...IMPLICIT_DIR } }, children: new Map() };
        mkdirSync(this.host(parts.slice(0, i + 1)), 0o700);
        node.children!.set(name, child);
      } else if (child.kind === 'symlink') {
        throw this.refuse(parts, `would be written through the symlink ${quoted(pathOf(parts.slice(0, i + 1)))}`);
      } else if (child.kind !== 'dir') {
        throw this.refuse(parts, `has a parent that is not a directory (${quoted(pathOf(parts.slice(0, i + 1)))})`);
      }
      node = child;
    }
    return node;
  }

  /** The node at `parts`, following nothing; undefined when absent or behind a non-directory. */
  private lookup(parts: readonly string[]): Node | undefined {
    let node: Node | undefined = this.root;
    for (const name of parts) {
      if (node.kind !== 'dir') return undefined;
      node = node.children!.get(name);
      if (node === undefined) return undefined;
    }
    return node;
  }

  private removeFromDisk(parts: readonly string[], node: Node): void {
    if (node.kind === 'special') return;
    // rm never follows a symlink: it unlinks it.
    rmSync(this.host(parts), { recursive: node.kind === 'dir', force: true });
  }

  /** Makes room for a non-directory at `parts`: whatever is there goes (a directory with its subtree, as overlayfs hides it). */
  private vacate(parent: Node, parts: readonly string[]): void {
    const name = parts[parts.length - 1]!;
    const existing = parent.children!.get(name);
    if (existing === undefined) return;
    this.removeFromDisk(parts, existing);
    parent.children!.delete(name);
  }

  private checkNotRoot(parts: readonly string[], what: string): void {
    if (parts.length === 0) throw imageError(this.image, `layer entry for the root directory "/" is ${what}`);
  }

  directory(parts: readonly string[], attrs: FileAttributes, layer: number): void {
    if (parts.length === 0) {
      this.root.inode.attrs = attrs;
      this.root.layer = layer;
      return;
    }
    const parent = this.parentOf(parts, layer);
    const name = parts[parts.length - 1]!;
    const existing = parent.children!.get(name);
    if (existing?.kind === 'dir') {
      // A directory over a directory merges (overlayfs); the later header's attributes win.
      existing.inode.attrs = attrs;
      existing.layer = layer;
      return;
    }
    this.vacate(parent, parts);
    mkdirSync(this.host(parts), 0o700);
    parent.children!.set(name, { kind: 'dir', layer, inode: { attrs }, children: new Map() });
  }

  /** A regular file: returns the descriptor to write its content into, then `finishFile`. */
  file(parts: readonly string[], attrs: FileAttributes, layer: number): number {
    this.checkNotRoot(parts, 'a regular file');
    const parent = this.parentOf(parts, layer);
    this.vacate(parent, parts);
    const fd = openSync(this.host(parts), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    parent.children!.set(parts[parts.length - 1]!, { kind: 'file', layer, inode: { attrs } });
    return fd;
  }

  finishFile(fd: number, attrs: FileAttributes): void {
    try {
      fchmodSync(fd, (attrs.mode & 0o777) | 0o600);
      futimesSync(fd, attrs.mtime, attrs.mtime);
    } finally {
      closeSync(fd);
    }
  }

  symlink(parts: readonly string[], target: string, attrs: FileAttributes, layer: number): void {
    this.checkNotRoot(parts, 'a symlink');
    const parent = this.parentOf(parts, layer);
    this.vacate(parent, parts);
    symlinkSync(target, this.host(parts));
    parent.children!.set(parts[parts.length - 1]!, { kind: 'symlink', layer, inode: { attrs } });
  }

  special(parts: readonly string[], special: NonNullable<Inode['special']>, attrs: FileAttributes, layer: number): void {
    this.checkNotRoot(parts, `a ${special.type} device`);
    const parent = this.parentOf(parts, layer);
    this.vacate(parent, parts);
    parent.children!.set(parts[parts.length - 1]!, { kind: 'special', layer, inode: { attrs, special } });
  }

  /** A hard link to an entry already in the merged tree (an earlier entry of this layer or a lower layer's). */
  hardLink(parts: readonly string[], targetParts: readonly string[], layer: number): void {
    this.checkNotRoot(parts, 'a hard link');
    const target = this.lookup(targetParts);
    if (target === undefined) throw this.refuse(parts, `is a hard link to ${quoted(pathOf(targetParts))}, which is not an earlier entry of the image`);
    if (target.kind === 'dir') throw this.refuse(parts, `is a hard link to the directory ${quoted(pathOf(targetParts))}`);
    // Replacing the link's path must not remove its own target (itself, or a directory holding it).
    if (parts.every((p, i) => targetParts[i] === p)) throw this.refuse(parts, `is a hard link to ${quoted(pathOf(targetParts))}, which it would replace`);
    const parent = this.parentOf(parts, layer);
    this.vacate(parent, parts);
    if (target.kind !== 'special') linkSync(this.host(targetParts), this.host(parts));
    parent.children!.set(parts[parts.length - 1]!, { kind: target.kind, layer, inode: target.inode });
  }

  /**
   * Removes what lower layers hold under `node` (the same layer's entries
   * stay: image-spec layer.md, whiteouts apply to lower layers only);
   * returns whether nothing of `node` is left, so the caller drops it.
   */
  private hideLower(parts: string[], node: Node, layer: number): boolean {
    if (node.kind !== 'dir') return node.layer < layer;
    for (const [name, child] of node.children!) {
      const childParts = [...parts, name];
      if (this.hideLower(childParts, child, layer)) {
        this.removeFromDisk(childParts, child);
        node.children!.delete(name);
      }
    }
    return node.layer < layer && node.children!.size === 0;
  }

  /** `.wh.NAME` in directory `dirParts`: NAME of the lower layers is deleted. */
  whiteout(dirParts: readonly string[], name: string, layer: number): void {
    const dir = this.parentOf([...dirParts, name], layer);
    const node = dir.children!.get(name);
    if (node === undefined) return;
    const parts = [...dirParts, name];
    if (this.hideLower(parts, node, layer)) {
      this.removeFromDisk(parts, node);
      dir.children!.delete(name);
    }
  }

  /** `.wh..wh..opq` in `dirParts`: the lower layers' content of that directory is hidden. */
  opaque(dirParts: readonly string[], layer: number): void {
    const parent = this.parentOf([...dirParts, '.wh..wh..opq'], layer);
    for (const [name, child] of parent.children!) {
      const parts = [...dirParts, name];
      if (this.hideLower(parts, child, layer)) {
        this.removeFromDisk(parts, child);
        parent.children!.delete(name);
      }
    }
  }

  /** The attributes of every path, and the device nodes and FIFOs, of the merged tree. */
  finish(): { attributes: Map<string, FileAttributes>; specials: SpecialFile[] } {
    const attributes = new Map<string, FileAttributes>();
    const specials: SpecialFile[] = [];
    const walk = (node: Node, parts: string[]): void => {
      const path = pathOf(parts);
      attributes.set(path, node.inode.attrs);
      const s = node.inode.special;
      if (s) specials.push({ path, type: s.type, attributes: node.inode.attrs, ...(s.type !== 'fifo' ? { devmajor: s.devmajor, devminor: s.devminor } : {}) });
      if (node.kind === 'dir') {
        for (const [name, child] of node.children!) walk(child, [...parts, name]);
      }
    };
    walk(this.root, []);
    // Directories stay u+rwx on disk: their real modes are attributes.
    chmodSync(this.dir, 0o700);
    return { attributes, specials };
  }

  /** Writes `chunk` fully at the descriptor's position. */
  static write(fd: number, chunk: Buffer): void {
    for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
  }
}
