/**
 * Package data for a manifest (docs/packages.md): which package of the
 * source root's own database owns each entry, the licence files of those
 * packages, and package metadata limited to the files kept, so that a
 * scanner reading the new root sees exactly the packages whose files it
 * holds. The database is read as files (dpkg.ts, apk.ts), never by running
 * a package manager.
 */
import type { EntryCollector } from '../manifest/collect.js';
import type { ManifestDistro, ManifestEntry, ManifestPackage } from '../manifest/types.js';
import type { RootFs } from '../resolve/rootfs.js';
import { ApkDatabase } from './apk.js';
import { DpkgDatabase } from './dpkg.js';
import { lastComponent } from './listing.js';
import { OS_RELEASE_PATHS, readDistro } from './os-release.js';
import type { ListedPath, PackageDatabase } from './types.js';

export { DpkgDatabase } from './dpkg.js';
export { ApkDatabase } from './apk.js';
export type { PackageDatabase, InstalledPackage, ListedPath, MetadataFile } from './types.js';

export interface PackageDataOptions {
  /** Write the package metadata files (status.d/, apk's installed) and the distribution's files; default true. */
  metadata?: boolean;
  /** Keep each package's /usr/share/doc/NAME/copyright; default true. */
  copyright?: boolean;
}

/** What the manifest gets besides the entries added to the collector. */
export interface PackageData {
  packages: ManifestPackage[];
  distro: ManifestDistro | null;
}

/** Rounds of "the copyright files bring in packages whose copyright files ...": a doc directory links at most once in Debian. */
const MAX_ROUNDS = 4;

/** The root's package database: dpkg's, else apk's, else null. */
export function readPackageDatabase(fs: RootFs): PackageDatabase | null {
  return DpkgDatabase.read(fs) ?? ApkDatabase.read(fs);
}

/** What scanners read to name the distribution, besides os-release (trivy's os analyzers, syft's release readers). */
function releaseFiles(db: PackageDatabase): string[] {
  return [...OS_RELEASE_PATHS, db.manager === 'dpkg' ? '/etc/debian_version' : '/etc/alpine-release'];
}

/**
 * Reads the root's package database and gives each file and symlink entry
 * of `collector` its owning package; adds the packages' copyright files and
 * the metadata files; returns the manifest's `packages` and `distro`.
 */
export function addPackageData(collector: EntryCollector, fs: RootFs, options: PackageDataOptions, warnings: string[]): PackageData {
  const distro = readDistro(fs);
  const db = readPackageDatabase(fs);
  if (db === null) {
    warnings.push(`${fs.root || '/'}: no package database (var/lib/dpkg/status, var/lib/dpkg/status.d/, lib/apk/db/installed): no package data`);
    return { packages: [], distro };
  }
  if (options.metadata !== false) {
    for (const path of releaseFiles(db)) {
      const walk = fs.walk(path);
      if (walk.ok && walk.kind === 'file') collector.withWhy({ by: 'package-metadata', package: null }, () => collector.addOpened(path, '/'));
    }
  }
  const owners = new OwnerIndex(fs, db);
  const contributors = new Map<string, ListedPath[]>();
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // What the next rounds look for: each package's copyright file and the doc directory (or link) on the way.
    const ahead = round === 0 && options.copyright !== false ? ['copyright', ...[...db.packages.values()].map((p) => p.info.name)] : [];
    const fresh = owners.assign(collector.entries.values(), contributors, ahead);
    if (fresh.length === 0 || options.copyright === false || db.manager !== 'dpkg') break;
    // Scanners take a Debian package's licence from its copyright file; apk keeps licences in its database.
    for (const id of fresh) {
      const name = db.packages.get(id)?.info.name as string;
      const path = `/usr/share/doc/${name}/copyright`;
      const walk = fs.walk(path);
      if (walk.ok && walk.kind === 'file') collector.withWhy({ by: 'copyright', package: id }, () => collector.addOpened(path, '/'));
    }
  }
  if (options.metadata !== false) {
    const kept = new Map<string, Set<string>>();
    for (const [id, listed] of contributors) kept.set(id, new Set(listed.map((l) => l.listed)));
    for (const file of db.metadata(kept)) {
      if (Buffer.byteLength(file.content) > 1024 * 1024) {
        warnings.push(`${file.dir}/${file.name}: package metadata larger than 1 MiB; left out`);
        continue;
      }
      collector.withWhy({ by: 'package-metadata', package: file.package }, () => {
        if (addDirectories(collector, fs, file.dir)) collector.addGenerated(file.dir, file.name, file.content, '0644');
        else warnings.push(`${fs.hostPath(file.dir)}: not a directory (or through a dangling symlink); package metadata ${file.name} left out`);
      });
    }
  }
  warnings.push(...db.warnings);
  const packages = [...contributors.keys()].sort().map((id) => db.packages.get(id)?.info as ManifestPackage);
  return { packages, distro };
}

/**
 * Every directory of `dir` as an entry: the root's where it has them, new
 * ones (0755) where it does not. False when some component is not a
 * directory or lies behind a symlink that leads nowhere.
 */
function addDirectories(collector: EntryCollector, fs: RootFs, dir: string): boolean {
  let at = '';
  for (const part of dir.split('/').slice(1)) {
    at = `${at}/${part}`;
    const walk = fs.walk(at);
    if (walk.ok && walk.kind === 'dir') collector.addOpened(at, '/');
    else if (!walk.ok && walk.errno === 'ENOENT' && walk.links.length === 0) collector.addDirectoryWithMode(at, '0755');
    else return false;
  }
  return true;
}

/**
 * Which package owns an entry: a listed path owns the canonical path its
 * directory resolves to in the root, plus its last component, so that
 * dpkg's "/lib/x86_64-linux-gnu/libc.so.6" owns the merged-/usr root's
 * "/usr/lib/x86_64-linux-gnu/libc.so.6".
 *
 * Cheap by construction: the lists are scanned once, for the last
 * components of the entries and of the files later rounds add (copyright
 * files and the doc directories on the way to them); and a listed path is
 * canonicalised only when its directory's last component and its own match
 * some entry's, since a directory keeps its last component when it is
 * canonicalised unless it is itself a symlink to another name. Those
 * (rare: a package listing files below a renamed directory link) are
 * looked for among the listed paths of entries still without an owner.
 */
class OwnerIndex {
  private readonly dirs = new Map<string, string | null>();
  private readonly looked = new Set<string>();
  /** Listed paths by last component, for every name the lists were scanned for. */
  private readonly scanned = new Map<string, ListedPath[]>();

  constructor(
    private readonly fs: RootFs,
    private readonly db: PackageDatabase,
  ) {}

  /** The canonical in-root path of directory `dir` (absolute, no "." or ".." components), or null. */
  private canonicalDir(dir: string): string | null {
    if (dir === '' || dir === '/') return '/';
    let real = this.dirs.get(dir);
    if (real !== undefined) return real;
    // Its parent's canonical path plus its name, unless that is not a plain directory: then a full walk.
    const cut = dir.lastIndexOf('/');
    const parent = this.canonicalDir(dir.slice(0, cut));
    real = null;
    if (parent !== null) {
      const guess = `${parent === '/' ? '' : parent}/${dir.slice(cut + 1)}`;
      const id = this.fs.identity(guess);
      if (id !== null && (id.mode & 0o170000) === 0o040000) real = guess;
      else if (id === null) {
        const walk = this.fs.walk(dir);
        real = walk.ok && walk.kind === 'dir' ? walk.realPath : null;
      }
    }
    this.dirs.set(dir, real);
    return real;
  }

  /** The listed paths named `names`, scanning the lists only for names not scanned for yet (with `prefetch`). */
  private listedNamed(names: Iterable<string>, prefetch: Iterable<string>): ListedPath[] {
    const missing = new Set<string>();
    for (const n of names) if (!this.scanned.has(n)) missing.add(n);
    if (missing.size > 0) {
      for (const n of prefetch) if (!this.scanned.has(n)) missing.add(n);
      for (const n of missing) this.scanned.set(n, []);
      for (const l of this.db.listedNamed(missing)) this.scanned.get(lastComponent(l.path))?.push(l);
    }
    const out: ListedPath[] = [];
    for (const n of names) out.push(...(this.scanned.get(n) ?? []));
    return out;
  }

  /**
   * Gives the entries not looked at yet their package (entry.package) and
   * records, per package, the listed paths kept. Returns the packages that
   * contribute for the first time. `prefetch`: names later rounds will ask for.
   */
  assign(entries: Iterable<ManifestEntry>, contributors: Map<string, ListedPath[]>, prefetch: Iterable<string> = []): string[] {
    const pending = new Map<string, ManifestEntry>();
    for (const e of entries) {
      if ((e.kind !== 'file' && e.kind !== 'symlink') || this.looked.has(e.path)) continue;
      this.looked.add(e.path);
      pending.set(e.path, e);
    }
    if (pending.size === 0) return [];
    const tail = (path: string): string => path.slice(path.lastIndexOf('/', path.lastIndexOf('/') - 1) + 1);
    const tails = new Set([...pending.keys()].map(tail));
    const candidates = new Map<string, ListedPath[]>();
    const consider = (l: ListedPath): void => {
      const cut = l.path.lastIndexOf('/');
      const dir = this.canonicalDir(cut <= 0 ? '/' : l.path.slice(0, cut));
      if (dir === null) return;
      const path = dir === '/' ? `/${lastComponent(l.path)}` : `${dir}/${lastComponent(l.path)}`;
      const entry = pending.get(path);
      // A package listing a directory /lib does not own the merged-/usr symlink /lib.
      if (entry === undefined || (entry.kind === 'symlink' && l.directory())) return;
      const list = candidates.get(path);
      if (list) list.push(l);
      else candidates.set(path, [l]);
    };
    const others: ListedPath[] = [];
    for (const l of this.listedNamed(new Set([...pending.keys()].map(lastComponent)), prefetch)) {
      if (tails.has(tail(l.path))) consider(l);
      else others.push(l);
    }
    if (others.length > 0) {
      const unowned = new Set([...pending.keys()].filter((p) => !candidates.has(p)).map(lastComponent));
      for (const l of others) if (unowned.has(lastComponent(l.path))) consider(l);
    }
    const fresh: string[] = [];
    const give = (entry: ManifestEntry, l: ListedPath): void => {
      entry.package = l.id;
      const kept = contributors.get(l.id);
      if (kept) kept.push(l);
      else {
        contributors.set(l.id, [l]);
        fresh.push(l.id);
      }
    };
    // A path one package lists first, so that a path several list (a Multi-Arch: same
    // package's shared files) goes to a package already there; else to the first by id.
    const shared: [ManifestEntry, ListedPath[]][] = [];
    for (const [path, list] of [...candidates].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const entry = pending.get(path) as ManifestEntry;
      const ids = new Set(list.map((l) => l.id));
      if (ids.size === 1) give(entry, list[0] as ListedPath);
      else shared.push([entry, list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))]);
    }
    for (const [entry, list] of shared) give(entry, list.find((l) => contributors.has(l.id)) ?? (list[0] as ListedPath));
    return fresh;
  }
}
