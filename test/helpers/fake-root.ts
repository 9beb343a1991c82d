/**
 * Builds fake root filesystems of any architecture for resolver tests: real
 * directories, ELF files from the test ELF writer, symlinks (absolute and
 * relative, kept verbatim), text files (ld.so.conf and its includes, musl's
 * ld-musl-ARCH.path) and an ld.so.cache from the test cache writer.
 *
 * The builder writes only through real directories of the new root: a path
 * whose parent components include a symlink is refused, because an absolute
 * symlink inside the root (`lib64 -> /usr/lib64`) would otherwise make the
 * host's own /usr/lib64 the place the file lands.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeElf, type ElfSpec, type Platform } from './elf-writer.js';
import { buildLdCache, type CacheEntrySpec, type CacheWriteOptions } from './ldcache-writer.js';

export interface RootSpec {
  /** Directories to create (parents are created as needed). */
  dirs?: string[];
  /** ELF files by in-root path. */
  elves?: Record<string, ElfSpec>;
  /** Other files by in-root path (ld.so.conf, includes, decoys). */
  files?: Record<string, string | Buffer>;
  /** Symlinks by in-root path; the target is written verbatim (an absolute one names a path inside the root). */
  symlinks?: Record<string, string>;
  /** /etc/ld.so.cache written by the test cache writer, in the target's byte order. */
  ldCache?: { entries: CacheEntrySpec[] } & Partial<CacheWriteOptions> & { littleEndian: boolean };
  /** musl's system path file <prefix>/etc/ld-musl-ARCH.path (prefix '' for /lib/ld-musl-*). */
  muslPath?: { arch: string; dirs: string[]; prefix?: string };
}

export interface FakeRoot {
  /** realpath of the root directory on the host. */
  root: string;
  /** Host path of an in-root path (no symlink resolution). */
  host(inRoot: string): string;
}

/** A fresh, empty directory under the OS temp dir. */
export function makeTempRoot(prefix: string): string {
  return realpathSync(mkdtempSync(join(tmpdir(), `elfdeps-${prefix}-`)));
}

export function removeTempRoot(dir: string | undefined): void {
  if (dir && dir.startsWith(tmpdir())) rmSync(dir, { recursive: true, force: true });
}

/**
 * Host path for writing `inRoot` below `root`, refusing `..`, and any
 * existing symlink among the parent components (see the module comment).
 */
function writablePath(root: string, inRoot: string): string {
  if (!inRoot.startsWith('/')) throw new Error(`fake root: ${inRoot}: in-root paths are absolute`);
  const parts = inRoot.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new Error(`fake root: ${inRoot}: '..' is not allowed in a path to write`);
  let at = root;
  for (const part of parts.slice(0, -1)) {
    at = join(at, part);
    if (existsSync(at) || isDanglingLink(at)) {
      if (lstatSync(at).isSymbolicLink()) throw new Error(`fake root: ${inRoot}: ${at} is a symlink; write through the real directory`);
    } else {
      mkdirSync(at);
    }
  }
  return join(root, ...parts);
}

function isDanglingLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** Creates everything `spec` describes below `dir` (which must exist). Symlinks are made last. */
export function buildRoot(dir: string, spec: RootSpec): FakeRoot {
  const root = realpathSync(dir);
  for (const d of spec.dirs ?? []) mkdirSync(writablePath(root, `${d.replace(/\/+$/, '')}/.`), { recursive: true });
  for (const [p, elf] of Object.entries(spec.elves ?? {})) writeElf(writablePath(root, p), elf);
  for (const [p, content] of Object.entries(spec.files ?? {})) writeFileSync(writablePath(root, p), content);
  if (spec.ldCache) {
    const { entries, ...opts } = spec.ldCache;
    writeFileSync(writablePath(root, '/etc/ld.so.cache'), buildLdCache(entries, { format: 'new', ...opts }));
  }
  if (spec.muslPath) {
    const { arch, dirs, prefix = '' } = spec.muslPath;
    writeFileSync(writablePath(root, `${prefix}/etc/ld-musl-${arch}.path`), dirs.join('\n') + '\n');
  }
  for (const [p, target] of Object.entries(spec.symlinks ?? {})) symlinkSync(target, writablePath(root, p));
  return { root, host: (inRoot: string) => join(root, inRoot) };
}

/** Options shared by the library and program shapes below. */
export interface ObjectOptions {
  soname?: string;
  needed?: string[];
  rpath?: string;
  runpath?: string;
  flags1?: bigint;
  /** Strings to carry in .dynstr (e.g. an ld.so's SYSTEM_DIRS and version banner). */
  extraStrings?: string[];
}

/** A shared library of `platform`. */
export function sharedLibrary(platform: Platform, o: ObjectOptions = {}): ElfSpec {
  return { ...platform, type: 'DYN', ...o };
}

/** A PIE program of `platform` whose PT_INTERP is `interpreter`. */
export function program(platform: Platform, interpreter: string, o: ObjectOptions = {}): ElfSpec {
  return { ...platform, type: 'DYN', pie: true, interpreter, phdrSegment: true, ...o };
}
