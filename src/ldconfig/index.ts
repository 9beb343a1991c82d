/**
 * The new root's own /etc/ld.so.cache, as the root's `ldconfig -X` would
 * write it for exactly the tree a manifest describes (docs/ldconfig.md):
 * which ldconfig (the architecture of the root's glibc loader, its system
 * directories and banner), then the scan (scan.ts) and the file (write.ts).
 */
import { readFileSync } from 'node:fs';
import { readElf } from '../elf/reader.js';
import { ElfdepsError } from '../errors.js';
import type { ManifestEntry } from '../manifest/types.js';
import { parseLdCache } from '../resolve/ldcache.js';
import { loaderProfile } from '../resolve/profile.js';
import type { RootFs } from '../resolve/rootfs.js';
import { ldconfigAbiFor, type LdconfigAbi } from './abi.js';
import { scanTree, type ScanResult } from './scan.js';
import { ManifestTree } from './tree.js';
import { sortRecords, writeLdCache } from './write.js';

export { ManifestTree } from './tree.js';
export { scanTree } from './scan.js';
export { writeLdCache, sortRecords, finalizeStrings } from './write.js';
export { ldconfigAbiFor } from './abi.js';

/** Which ldconfig writes the cache: the one that comes with the root's glibc loader. */
export interface LdconfigSetup {
  abi: LdconfigAbi;
  /** The system directories it always scans after ld.so.conf's, in order. */
  systemDirs: string[];
  /** Its banner, extension tag 0 of the cache ("ldconfig (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36"). */
  generator: string;
  /** The interpreter (in-root path) it was derived from. */
  interpreter: string;
}

/** The largest interpreter read for its banner (ld.so is ~250 KiB). */
const MAX_LDSO_BYTES = 4 << 20;
const RELEASE = /release version \d+\.\d+(\.\d+)?/;

/** "ld.so (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36." → the ldconfig banner of the same build. */
function bannerOf(hostPath: string): string | null {
  let buf: Buffer;
  try {
    buf = readFileSync(hostPath);
  } catch {
    return null;
  }
  if (buf.length > MAX_LDSO_BYTES) return null;
  for (let at = buf.indexOf('ld.so ('); at >= 0; at = buf.indexOf('ld.so (', at + 1)) {
    const end = buf.indexOf(0, at);
    const text = buf.toString('latin1', at, end < 0 ? Math.min(buf.length, at + 512) : Math.min(end, at + 512));
    const m = RELEASE.exec(text);
    if (m && !text.slice(0, m.index).includes('\n')) return `ldconfig ${text.slice('ld.so '.length, m.index + m[0].length)}`;
  }
  return null;
}

/**
 * The ldconfig of a root whose glibc programs use `interpreter` (in-root);
 * null when the root has no such loader file or ldconfig has no port for
 * its machine.
 */
export function ldconfigSetupFor(fs: RootFs, interpreter: string): LdconfigSetup | null {
  const w = fs.walk(interpreter);
  if (!w.ok || w.kind !== 'file') return null;
  let elf;
  try {
    elf = readElf(w.hostPath);
  } catch (err) {
    if (err instanceof ElfdepsError) return null;
    throw err;
  }
  const { machine, elfClass, littleEndian } = elf.header;
  const abi = ldconfigAbiFor(machine, elfClass, littleEndian);
  if (abi === null) return null;
  const profile = loaderProfile({ fs, machine, elfClass, littleEndian, interpreter });
  if (profile.flavour !== 'glibc') return null;
  // Debian's ldconfig scans every SYSTEM_DIRS directory of its loader as it is
  // (/lib/<triplet>, /usr/lib/<triplet>, /lib, /usr/lib); upstream's adds
  // slibdir and libdir through the architecture's add_system_dir.
  const multiarch = profile.systemDirs.some((d) => /-linux-gnu[a-z0-9_]*\/?$/.test(d));
  const systemDirs = multiarch ? profile.systemDirs : profile.systemDirs.slice(0, 2).flatMap((d) => abi.systemDirs(d.replace(/\/+$/, '') || '/'));
  let generator = bannerOf(w.hostPath);
  if (generator === null) {
    try {
      const old = fs.readFile('/etc/ld.so.cache', 64 << 20);
      if (old) generator = parseLdCache(old, '/etc/ld.so.cache', { littleEndian }).generator;
    } catch {
      // no usable cache to take the banner from
    }
  }
  const [major, minor] = profile.glibcVersion;
  return { abi, systemDirs, generator: generator ?? `ldconfig release version ${major}.${minor}`, interpreter };
}

export interface RootLdCache {
  bytes: Buffer;
  scan: ScanResult;
}

/** The cache `setup`'s ldconfig writes for the tree of `entries` (sources read under `root`). */
export function buildRootLdCache(root: string, entries: readonly ManifestEntry[], setup: LdconfigSetup): RootLdCache {
  const tree = new ManifestTree(root, entries);
  const scan = scanTree(tree, setup.abi, setup.systemDirs);
  const records = sortRecords(scan.records, setup.abi.signedChar);
  const bytes = writeLdCache(records, { littleEndian: setup.abi.littleEndian, signedChar: setup.abi.signedChar, generator: setup.generator, hwcapsNames: scan.hwcapsNames });
  return { bytes, scan };
}
