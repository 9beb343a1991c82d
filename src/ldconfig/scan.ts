/**
 * The libraries `ldconfig -r ROOT -X` puts in ROOT's cache (glibc 2.36
 * elf/ldconfig.c main, add_dir_1, add_single_dir,
 * add_glibc_hwcaps_subdirectories, search_dir, path_hwcap,
 * is_hwcap_platform), read from a tree instead of a mounted directory:
 *
 * 1. The directories: each of /etc/ld.so.conf (with its includes: read by
 *    src/resolve/ldconf.ts exactly as ldconfig parses it), then the system
 *    directories, each one added only if it exists and is not already listed
 *    (same directory, by identity), each followed by the directories in its
 *    glibc-hwcaps/ subdirectory.
 * 2. Each directory in turn: every entry whose name looks like a library
 *    (lib*.so*, ld-*.so*, ld.so.*, ld64.so.*), a regular file or a symlink
 *    that resolves; a legacy hwcap subdirectory (tls, x86_64, haswell, ...)
 *    is appended to the list. One library per SONAME per directory: a file
 *    wins over a symlink, otherwise the "newer" name by _dl_cache_libcmp. A
 *    symlink counts as a link only when it is named as the SONAME (or is the
 *    libfoo.so link of the linker); any other symlink is taken as a file.
 * 3. Each kept library is a cache record: key the SONAME (or the link's own
 *    name), path the directory as listed + '/' + the SONAME (in glibc-hwcaps
 *    subdirectories: the file's own name). `-X`: no symlinks are made, so a
 *    record may name a SONAME path that does not exist, exactly as ldconfig's.
 */
import { posix } from 'node:path';
import { readLdSoConf } from '../resolve/ldconf.js';
import { dlCacheLibcmp } from '../resolve/ldcache.js';
import type { LdconfigAbi } from './abi.js';
import { classifyLibrary } from './classify.js';
import type { ManifestTree } from './tree.js';
import type { CacheRecord } from './write.js';

/** ldconfig.c TLS_SUBPATH and the hwcap bit it stands for. */
const TLS_SUBPATH = 'tls';
const TLS_HWCAP_BIT = 63;

interface DirEntry {
  /** The path as ldconfig holds it: as written in the configuration, then + '/' + subdirectory. */
  path: string;
  id: string;
  /** glibc-hwcaps subdirectory name, or null. */
  hwcaps: string | null;
}

export interface ScanResult {
  /** Records in the order ldconfig adds them (sort with sortRecords). */
  records: CacheRecord[];
  /** Every glibc-hwcaps subdirectory name met (ldconfig interns each in the string table). */
  hwcapsNames: string[];
  /** Directories scanned, in order (for the docs and --explain-style reports). */
  dirs: string[];
  /** Configuration files read. */
  confFiles: string[];
  warnings: string[];
}

/** elf/dl-is_dso.h `_dl_is_dso`. */
export function looksLikeLibrary(name: string): boolean {
  return ((name.startsWith('lib') || name.startsWith('ld-')) && name.includes('.so')) || name.startsWith('ld.so.') || name.startsWith('ld64.so.');
}

/** Names of prelink's temporary files, which are never libraries. */
function isPrelinkTemp(name: string): boolean {
  if (name.endsWith('.#prelink#')) return true;
  return name.length >= '.#prelink#.XXXXXX'.length && name.slice(name.length - '.#prelink#.XXXXXX'.length).startsWith('.#prelink#.');
}

/** Paths and names are byte strings to ldconfig: hold them one char per byte, as the ELF reader holds SONAMEs. */
const bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

/** `systemDirs`: the directories ldconfig always adds after ld.so.conf's, already expanded (see ldconfigSetupFor). */
export function scanTree(tree: ManifestTree, abi: LdconfigAbi, systemDirs: string[]): ScanResult {
  const dirs: DirEntry[] = [];
  const hwcapsNames: string[] = [];
  const warnings: string[] = [];

  const idOf = (path: string): string | null => {
    const w = tree.walk(path);
    return w.ok && w.kind === 'dir' ? w.realPath : null;
  };
  /** add_single_dir: false (and nothing added) when the directory is already listed. */
  const addSingle = (entry: DirEntry): boolean => {
    if (dirs.some((d) => d.id === entry.id)) return false;
    dirs.push(entry);
    return true;
  };
  /** add_glibc_hwcaps_subdirectories: every subdirectory (or symlink to one) not hidden and without ':'. */
  const addHwcaps = (entry: DirEntry): void => {
    const real = idOf(`${entry.id}/glibc-hwcaps`);
    if (real === null) return;
    for (const d of tree.list(real)) {
      if (d.name.startsWith('.') || d.kind === 'file' || d.name.includes(':')) continue;
      const id = idOf(`${real}/${d.name}`);
      if (id === null) continue;
      hwcapsNames.push(bytes(d.name));
      addSingle({ path: `${entry.path}/glibc-hwcaps/${d.name}`, id, hwcaps: bytes(d.name) });
    }
  };
  /** add_dir_1: trailing whitespace and slashes trimmed, dropped when it does not exist. */
  const addDir = (line: string): void => {
    const path = line.replace(/[ \t\n\v\f\r]+$/, '').replace(/\/+$/, '');
    if (path === '') return;
    const id = idOf(path);
    if (id === null) return;
    const entry = { path, id, hwcaps: null };
    if (addSingle(entry)) addHwcaps(entry);
  };

  const conf = readLdSoConf(tree, '/etc/ld.so.conf');
  warnings.push(...conf.warnings);
  for (const dir of conf.dirs) addDir(dir);
  for (const dir of systemDirs) addDir(dir);

  const isHwcapPlatform = (name: string): boolean => abi.hwcapBit(name, true) !== null || abi.platformBit(name) !== null || name === TLS_SUBPATH;
  /** path_hwcap: the bits of the trailing path components that name hwcaps, platforms or tls. */
  const pathHwcap = (path: string): bigint => {
    let hwcap = 0n;
    const parts = path.split('/');
    while (parts.length > 1) {
      const name = parts[parts.length - 1] as string;
      const bit = abi.hwcapBit(name, false) ?? abi.platformBit(name) ?? (name === TLS_SUBPATH ? TLS_HWCAP_BIT : null);
      if (bit === null) break;
      hwcap += 1n << BigInt(bit);
      parts.pop();
    }
    return hwcap;
  };

  const records: CacheRecord[] = [];
  // The list grows while it is walked: legacy hwcap subdirectories are appended.
  for (let i = 0; i < dirs.length; i++) {
    const entry = dirs[i] as DirEntry;
    const hwcap = entry.hwcaps === null ? pathHwcap(entry.path) : 0n;
    interface Dlib {
      name: string;
      soname: string;
      flags: number;
      isLink: boolean;
      isaLevel: number;
    }
    const dlibs: Dlib[] = [];
    for (const d of tree.list(entry.id)) {
      const name = d.name;
      if (!looksLikeLibrary(name) && (d.kind === 'file' || (entry.hwcaps === null && !isHwcapPlatform(name)))) continue;
      if (isPrelinkTemp(name)) continue;
      const inRoot = `${entry.id}/${name}`;
      let isLink = d.kind === 'link';
      let isDir = d.kind === 'dir';
      let target = inRoot;
      if (isLink) {
        const w = tree.walk(inRoot);
        if (!w.ok || w.kind === 'missing') continue; // a stale symlink (ldconfig would remove it without -X)
        isDir = w.kind === 'dir';
        target = w.realPath;
      }
      if (entry.hwcaps === null && isDir && isHwcapPlatform(name)) {
        addSingle({ path: `${entry.path}/${name}`, id: target, hwcaps: null });
        continue;
      }
      if (!isLink && d.kind !== 'file') continue;
      const targetEntry = tree.entry(target);
      // Only files ldconfig could read: a directory or a generated file named like a library is none.
      if (targetEntry?.kind !== 'file') continue;
      const facts = classifyLibrary(targetEntry.source, bytes(name), abi);
      if (facts === null) continue;
      let soname = facts.soname;
      if (isLink) {
        // "libfoo.so -> SONAME -> real file": a link named neither as the SONAME nor as the linker's
        // libfoo.so (a prefix of the SONAME ending in .so) is treated as a normal file.
        const base = bytes(name);
        if (base !== soname && !(base.endsWith('.so') && soname.startsWith(base))) isLink = false;
      }
      if (isLink) soname = bytes(name);
      const flags = facts.flags;
      const same = dlibs.find((x) => x.soname === soname);
      if (same) {
        if ((!isLink && same.isLink) || (isLink === same.isLink && dlCacheLibcmp(same.name, bytes(name), abi.signedChar) < 0)) {
          if (same.flags !== flags) {
            if (same.flags === 0x1 && (flags === 0x2 || flags === 0x3)) same.flags = flags;
            else if ((same.flags === 0x2 || same.flags === 0x3) && flags === 0x1) same.flags = flags;
            else warnings.push(`libraries ${same.name} and ${name} in directory ${entry.path} have same soname but different type`);
          }
          same.name = bytes(name);
          same.isLink = isLink;
          same.isaLevel = facts.isaLevel;
        }
        continue;
      }
      // Added at the head of ldconfig's list: records come out in reverse order of discovery.
      dlibs.unshift({ name: bytes(name), soname, flags, isLink, isaLevel: facts.isaLevel });
    }
    const dirPath = bytes(entry.path);
    for (const lib of dlibs) {
      const file = entry.hwcaps === null ? lib.soname : lib.name;
      records.push({ soname: lib.soname, path: `${dirPath}/${file}`, flags: lib.flags, isaLevel: lib.isaLevel, hwcap, hwcapsSubdir: entry.hwcaps });
    }
  }
  return { records, hwcapsNames, dirs: dirs.map((d) => d.path), confFiles: conf.files, warnings };
}

/** The in-root paths of the configuration files ldconfig reads in `root` (for the manifest to carry them). */
export function confFilesOf(fs: Parameters<typeof readLdSoConf>[0]): string[] {
  return readLdSoConf(fs, '/etc/ld.so.conf').files.map((f) => posix.normalize(f));
}
