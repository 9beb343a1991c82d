/**
 * What a package database (dpkg's, apk's) gives the manifest: the packages,
 * the paths each lists as it lists them, and the metadata files describing
 * a subset of them. docs/packages.md.
 */
import type { ManifestPackage } from '../manifest/types.js';

/** One package as its database records it. */
export interface InstalledPackage {
  /** The manifest's view (id, name, version, architecture, source). */
  info: ManifestPackage;
  /**
   * The file name the metadata goes by: dpkg's info name (`libc6`, or
   * `libc6:amd64` for a Multi-Arch: same package, as dpkg names its
   * info files); apk's package name.
   */
  fileName: string;
}

/** A path as a package lists it, before it is canonicalised in the root. */
export interface ListedPath {
  /** The package's id. */
  id: string;
  /** Where it is in the root, not yet canonical ("/lib/x86_64-linux-gnu/libc.so.6"): as listed, or where a dpkg diversion moved it. */
  path: string;
  /** As the package lists it (what its md5sums names). */
  listed: string;
  /** Whether the list shows it as a directory (dpkg lists a directory with its contents); asked only of paths that match a symlink entry, since a search costs a pass over the list. */
  directory: () => boolean;
}

/** A metadata file to generate: `content` at `dir`/`name`, for `package` (an id; null: for them all). */
export interface MetadataFile {
  dir: string;
  name: string;
  content: string;
  package: string | null;
}

export interface PackageDatabase {
  readonly manager: 'dpkg' | 'apk';
  /** Where it was read from (for notes), e.g. "/var/lib/dpkg/status". */
  readonly where: string;
  /** Every usable package, by id. */
  readonly packages: ReadonlyMap<string, InstalledPackage>;
  /** Non-fatal notes: packages or lines skipped. */
  readonly warnings: string[];
  /**
   * Every listed path whose last component is in `names`, for every package
   * (reading the lists on first use). The caller canonicalises directories.
   */
  listedNamed(names: ReadonlySet<string>): ListedPath[];
  /**
   * The metadata files describing `kept` (package id → the paths kept, as
   * that package lists them): only those packages, only those files.
   */
  metadata(kept: ReadonlyMap<string, ReadonlySet<string>>): MetadataFile[];
}

/**
 * A package name, version or architecture fit to go into a file name and a
 * manifest: no "/", whitespace, control characters, and not "." or "..".
 * dpkg and apk allow far less; this is the line past which elfdeps refuses.
 */
export function packageWordProblem(word: string): string | null {
  if (word.length === 0) return 'is empty';
  if (word.length > 256) return 'is longer than 256 characters';
  // eslint-disable-next-line no-control-regex
  if (/[/\s\x00-\x1f\x7f]/.test(word)) return 'contains "/", white space or a control character';
  if (word === '.' || word === '..') return `is "${word}"`;
  return null;
}
