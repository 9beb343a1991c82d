/**
 * Turns in-root paths into manifest entries, the way the host has them:
 * every directory on the way (with its mode), every symlink followed (target
 * verbatim), and the file reached (mode, size, sha256). Files are hashed
 * once, however many paths lead to them.
 */
import { closeSync, constants as fsc, fstatSync, openSync, readdirSync } from 'node:fs';
import { ElfdepsError, errnoOf, errnoWords } from '../errors.js';
import type { PathWalk, RootFs } from '../resolve/rootfs.js';
import { PATH_LIMITS } from './entry-path.js';
import { hashFd } from './hash.js';
import { formatMode } from './mode.js';
import { generatedContent, type EntryWhy, type FileEntry, type ManifestEntry } from './types.js';

/** Entries a manifest may hold (the schema's maxItems). */
export const MAX_ENTRIES = 1_000_000;

/** Names of directory entries a tree leaves out (a rule's `exclude`). */
export type NameFilter = (name: string) => boolean;

const NONE: NameFilter = () => false;

export class EntryCollector {
  readonly entries = new Map<string, ManifestEntry>();
  readonly warnings: string[] = [];
  /** The reason given to entries added from now on (the first reason an entry gets is kept). */
  why: EntryWhy | undefined;
  /**
   * Asked before a regular file enters (with the path it was reached by and
   * the reason it would get): true leaves it out, and the symlinks leading
   * to it (--exclude; the manifest decides which files).
   */
  leaveOut: ((path: string, walk: PathWalk, why: EntryWhy | undefined) => boolean) | undefined;
  /** ELF files added since the last takeElfFiles(): the manifest resolves each. */
  private elfFiles: string[] = [];
  /** Executable #! files added since the last takeScripts(): the kernel would run their interpreters. */
  private scripts: string[] = [];

  constructor(private readonly fs: RootFs) {}

  private put(entry: ManifestEntry): void {
    if (this.entries.has(entry.path)) return;
    if (this.entries.size >= MAX_ENTRIES) throw new ElfdepsError('MANIFEST_INVALID', `more than ${MAX_ENTRIES} entries; refusing to build a manifest this large`);
    if (this.why !== undefined) entry.why = this.why;
    this.entries.set(entry.path, entry);
  }

  /** Runs `add` with `why` as the reason of what it adds. */
  withWhy<T>(why: EntryWhy, add: () => T): T {
    const before = this.why;
    this.why = why;
    try {
      return add();
    } finally {
      this.why = before;
    }
  }

  /** In-root real paths of the ELF files added since the last takeElfFiles(), not taken. */
  pendingElfFiles(): readonly string[] {
    return this.elfFiles;
  }

  /** In-root real paths of the ELF files added since the last call. */
  takeElfFiles(): string[] {
    const files = this.elfFiles;
    this.elfFiles = [];
    return files;
  }

  /** In-root real paths of the executable #! files added since the last call. */
  takeScripts(): string[] {
    const files = this.scripts;
    this.scripts = [];
    return files;
  }

  /**
   * A file whose content (text, or bytes) is written from memory (`name` in the directory
   * `dir`, which must exist in the root; its path and links are recorded as
   * for any file).
   */
  addGenerated(dir: string, name: string, content: string | Buffer, mode: string): void {
    const walk = this.fs.walk(dir);
    let real = dir;
    if (walk.ok && walk.kind === 'dir') {
      this.record(dir, '/', walk);
      this.directory(walk.realPath);
      real = walk.realPath;
    } else if (!walk.ok && walk.errno === 'ENOENT' && walk.links.length === 0) {
      // A root without /etc (an unpacked image) gets one, as a new directory.
      this.addDirectoryWithMode(dir, '0755');
    } else throw new ElfdepsError('ROOT', `${dir}: not a directory in ${this.fs.root || '/'}; cannot generate ${name} in it`, { path: dir });
    const path = real === '/' ? `/${name}` : `${real}/${name}`;
    this.put({ kind: 'generated', path, mode, ...generatedContent(content) });
  }

  /** A directory with a mode of its own (/tmp, 1777), whether or not the root has one. */
  addDirectoryWithMode(path: string, mode: string): void {
    const walk = this.fs.walk(path);
    if (walk.ok && walk.kind !== 'dir') throw new ElfdepsError('ROOT', `${path}: exists in ${this.fs.root || '/'} and is not a directory`, { path });
    if (walk.ok) {
      this.record(path, '/', walk);
      this.put({ kind: 'directory', path: walk.realPath, mode });
    } else this.put({ kind: 'directory', path, mode });
  }

  private directory(path: string): void {
    if (path === '/' || this.entries.has(path)) return;
    const attributes = this.fs.attributesOf(path);
    const mode = attributes?.mode ?? this.fs.identity(path)?.mode ?? 0o755;
    this.put({ kind: 'directory', path, mode: formatMode(mode), source: this.fs.hostPath(path), ...this.owner(path) });
  }

  private symlink(path: string, target: string): void {
    this.put({ kind: 'symlink', path, target, source: this.fs.hostPath(path), ...this.owner(path) });
  }

  /**
   * The owner and group the root's records give `path` (an image's layer
   * headers), when not root's: a file owned by www-data in the source image
   * stays www-data's. A directory root has no such records: entries are
   * root's, as `copy` and `image` have always written them.
   */
  private owner(path: string): { uid?: number; gid?: number } {
    const a = this.fs.attributesOf(path);
    if (a === undefined) return {};
    return { ...(a.uid !== 0 ? { uid: a.uid } : {}), ...(a.gid !== 0 ? { gid: a.gid } : {}) };
  }

  private file(path: string): void {
    if (this.entries.has(path)) return;
    const source = this.fs.hostPath(path);
    let fd: number;
    try {
      fd = openSync(source, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    } catch (err) {
      throw new ElfdepsError('ROOT', `${source}: cannot read: ${errnoWords(err)}`, { path: source, cause: err });
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new ElfdepsError('ROOT', `${source}: not a regular file`, { path: source });
      const { sha256, size, elf, script } = hashFd(fd);
      // An image's staging copy has the mode elfdeps could write; its layer header has the real one.
      const mode = this.fs.attributesOf(path)?.mode ?? st.mode;
      const entry: FileEntry = { kind: 'file', path, source, mode: formatMode(mode), size, sha256, ...this.owner(path) };
      this.put(entry);
      if (elf) this.elfFiles.push(path);
      // execve() runs only files with an execute bit: a #! file without one is data.
      else if (script && (mode & 0o111) !== 0) this.scripts.push(path);
    } finally {
      closeSync(fd);
    }
  }

  /** Records what the walk of `path` passed through; the caller decides what to do with where it ended. */
  private record(path: string, cwd: string, walk: PathWalk): void {
    for (const dir of walk.dirs) this.directory(dir);
    for (const link of walk.links) this.symlink(link.path, link.target);
  }

  /**
   * Adds what opening `path` needs. Returns the walk; a failed walk adds
   * nothing (the caller reports it as missing).
   */
  addOpened(path: string, cwd: string): PathWalk {
    const walk = this.fs.walk(path, cwd);
    if (!walk.ok) return walk;
    if (walk.kind === 'file' && this.leaveOut?.(path, walk, this.why)) return walk;
    this.record(path, cwd, walk);
    if (walk.kind === 'file') this.file(walk.realPath);
    else if (walk.kind === 'dir') this.directory(walk.realPath);
    return walk;
  }

  /**
   * --add: a file (with its symlinks) or a directory, recursively. Inside a
   * directory, symlinks are kept as symlinks and a symlink to a file brings
   * that file; a symlink to a directory is not descended. Device nodes, FIFOs
   * and sockets are skipped with a warning.
   */
  addTree(path: string, cwd: string, exclude: NameFilter = NONE): void {
    const walk = this.addOpened(path, cwd);
    if (!walk.ok) throw new ElfdepsError('ROOT', `${path}: cannot add: ${errnoWords(walk.errno)}`, { path });
    if (walk.kind === 'other') this.warnings.push(`${path}: skipped (not a regular file, directory or symlink)`);
    if (walk.kind === 'dir') this.descend(walk.realPath, 1, exclude);
  }

  private descend(dir: string, depth: number, exclude: NameFilter): void {
    if (depth > PATH_LIMITS.maxDepth) throw new ElfdepsError('ROOT', `${dir}: directories nested deeper than ${PATH_LIMITS.maxDepth} levels`, { path: dir });
    let names: string[];
    try {
      names = readdirSync(this.fs.hostPath(dir)).sort();
    } catch (err) {
      throw new ElfdepsError('ROOT', `${this.fs.hostPath(dir)}: cannot list: ${errnoWords(err)}`, { path: dir, cause: err });
    }
    for (const name of names) {
      if (exclude(name)) continue;
      const child = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const walk = this.fs.walk(child);
      const first = walk.links[0];
      if (!walk.ok) {
        // A dangling symlink is kept as it is; anything else unreadable is reported.
        if (first && first.path === child) this.symlink(child, first.target);
        else this.warnings.push(`${child}: skipped: ${errnoWords(walk.errno)}`);
        continue;
      }
      if (walk.kind === 'file' && this.leaveOut?.(child, walk, this.why)) continue;
      this.record(child, '/', walk);
      if (walk.kind === 'file') this.file(walk.realPath);
      else if (walk.kind === 'other') this.warnings.push(`${child}: skipped (device node, FIFO or socket)`);
      else if (walk.kind === 'dir') {
        this.directory(walk.realPath);
        if (walk.links.length === 0) this.descend(child, depth + 1, exclude);
      }
    }
  }
}
