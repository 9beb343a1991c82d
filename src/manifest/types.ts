/**
 * The manifest: everything a new root filesystem needs so that some programs
 * run in it, as data. createManifest() writes it, materialise() reads it,
 * other tools may consume it (the JSON Schema ships as manifest.schema.json).
 * docs/manifest.md documents every field.
 */
import { createHash } from 'node:crypto';

/** The format version written in `elfdepsManifest`; bumped on incompatible changes (2: generated entries, `why`, `rules`). */
export const MANIFEST_VERSION = 2;
/** Versions still read: a version 1 manifest is version 2 without generated entries, reasons or rules. */
export const READABLE_MANIFEST_VERSIONS = [1, 2] as const;

/**
 * Why an entry is in the manifest (the first reason found). Directories and
 * symlinks on the way to something carry that thing's reason.
 */
export type EntryWhy =
  /** An input program (or a script's interpreter) itself. */
  | { by: 'program'; program: string }
  /** The loader opens it for `program`: `neededBy` named it (DT_NEEDED, PT_INTERP; null for the cache and preloads); `rule` when `program` is a module a rule brought in. */
  | { by: 'loader'; program: string; neededBy: string | null; rule?: string }
  /** A runtime-file rule (src/rules/rules.json): which one, and what triggered it. */
  | { by: 'rule'; rule: string; trigger: string }
  /** --add PATH (`path` in the root), or --add SRC=DEST: `path` the host path placed at the in-root path `dest`. */
  | { by: 'add'; path: string; dest?: string }
  /** The new root's ld.so.cache, written as its ldconfig would (docs/ldconfig.md), and the configuration that ldconfig reads. */
  | { by: 'ldconfig' }
  /**
   * Package metadata elfdeps writes or keeps so that scanners see the packages
   * (docs/packages.md): a `status.d/` paragraph or md5sums list for `package`
   * (a ManifestPackage id), or, with `package` null, what describes all of them
   * (apk's `installed`, the distribution's os-release and debian_version).
   */
  | { by: 'package-metadata'; package: string | null }
  /** The `usr/share/doc/<name>/copyright` of `package` (a ManifestPackage id), kept because some of its files are. */
  | { by: 'copyright'; package: string };

/**
 * Owner and group of an entry (version 2, optional; absent: 0, root). Written
 * into an image's layer headers; `elfdeps copy` applies them only when run as
 * root (an unprivileged copier cannot give a file away). They come from the
 * source image's attributes when the root is an image (issue 17).
 */
export interface EntryOwner {
  uid?: number;
  gid?: number;
}

/** A directory on the way to a file. */
export interface DirectoryEntry extends EntryOwner {
  kind: 'directory';
  /** Canonical in-root path ("/usr/lib"). */
  path: string;
  /** Permission bits as four octal digits ("0755"). */
  mode: string;
  /** Host path it was read from (informational). */
  source?: string;
  why?: EntryWhy;
  /** The `id` of the ManifestPackage that owns this path in the source root (version 2, with package data); absent: none does. */
  package?: string;
}

/** A regular file, copied byte for byte. */
export interface FileEntry extends EntryOwner {
  kind: 'file';
  path: string;
  /** Host path to copy from: canonical, inside the manifest's `root`. */
  source: string;
  mode: string;
  /** Size in bytes. */
  size: number;
  /** Lower-case hex SHA-256 of the contents. */
  sha256: string;
  /**
   * Modification time to write, in whole seconds since the epoch (version 2,
   * optional): set when something checks it, a Python source whose kept
   * `__pycache__` pyc records it. Absent: copy writes the current time, image
   * SOURCE_DATE_EPOCH.
   */
  mtime?: number;
  why?: EntryWhy;
  /** The `id` of the ManifestPackage that owns this path in the source root (version 2, with package data); absent: none does. */
  package?: string;
}

/** The largest `mtime` an entry may carry: a ustar header (as tar-stream writes it) holds a signed 32-bit time. */
export const MAX_ENTRY_MTIME = 2 ** 31 - 1;

/**
 * A file whose content elfdeps writes itself instead of copying a host file
 * (a minimal user database: never the host's private files; the new root's
 * /etc/ld.so.cache). Inline UTF-8 text or base64, with its size and sha256
 * checked like a copied file's.
 */
export interface GeneratedEntry extends EntryOwner {
  kind: 'generated';
  path: string;
  mode: string;
  /** The bytes: UTF-8 text, or base64 when `encoding` says so (a binary file such as the loader's cache). */
  content: string;
  /** How `content` holds the bytes (default utf-8). */
  encoding?: 'utf-8' | 'base64';
  size: number;
  sha256: string;
  why?: EntryWhy;
  /** The `id` of the ManifestPackage that owns this path in the source root (version 2, with package data); absent: none does. */
  package?: string;
}

/** A symbolic link, recreated with its target verbatim (absolute targets resolve inside the new root). */
export interface SymlinkEntry extends EntryOwner {
  kind: 'symlink';
  path: string;
  target: string;
  source?: string;
  why?: EntryWhy;
  /** The `id` of the ManifestPackage that owns this path in the source root (version 2, with package data); absent: none does. */
  package?: string;
}

export type ManifestEntry = DirectoryEntry | FileEntry | SymlinkEntry | GeneratedEntry;
export type EntryKind = ManifestEntry['kind'];

/**
 * A package of the source root's package database (dpkg or apk) that owns at
 * least one entry (docs/packages.md). Read from the database, never by
 * running a package manager.
 */
export interface ManifestPackage {
  /** `<manager>:<name>:<architecture>` ("dpkg:libc6:amd64", "apk:musl:x86_64"): unique, what entries' `package` names. */
  id: string;
  manager: 'dpkg' | 'apk';
  name: string;
  version: string;
  /** dpkg's `Architecture` ("amd64", "all"), apk's `A:` ("x86_64", "noarch"). */
  architecture: string;
  /** The source package's name (dpkg `Source:` without its version, else the package itself; apk `o:`), null when the database does not say. */
  source: string | null;
  /** The source package's version (dpkg `Source: name (version)`, else the package's own version), null when the database does not say. */
  sourceVersion: string | null;
}

/** The distribution the source root says it is, from its os-release (`/etc/os-release`, else `/usr/lib/os-release`). */
export interface ManifestDistro {
  /** `ID` ("debian", "alpine"). */
  id: string;
  /** `VERSION_ID` ("12", "3.19.1"), null when absent (Debian testing). */
  versionId: string | null;
  /** `VERSION_CODENAME` ("bookworm"). */
  versionCodename: string | null;
  /** `PRETTY_NAME`. */
  prettyName: string | null;
}

/** One program the manifest was made for. */
export interface ManifestProgram {
  /** The argument as given. */
  input: string;
  /** In-root path it was opened by. */
  path: string;
  type: 'elf' | 'script';
  /** PT_INTERP for ELF programs, the #! interpreter for scripts, null for static programs. */
  interpreter: string | null;
}

/** A library (or interpreter) that could not be found: the new root will not run the program. */
export interface MissingItem {
  /** In-root path of the program that needs it. */
  program: string;
  /** The name asked for (DT_NEEDED string, interpreter path). */
  name: string;
  /** In-root path of the object that asked. */
  neededBy: string;
  /** "not found", or what the loader would say. */
  reason: string;
}

/**
 * A library left out with --exclude (docs/exclude.md): the target provides
 * it. Not missing: the copier and the image writer ignore it.
 */
export interface ExcludedItem {
  /** The name it was asked for (DT_NEEDED); for a file a rule or --add brought, its in-root path. */
  name: string;
  /** The --exclude pattern (or built-in one) that matched. */
  pattern: string;
  /** The in-root path the loader opens it by in this root, or null when the root does not have it. */
  path: string | null;
  /** In-root paths of the objects that need it by DT_NEEDED, sorted (empty for a file a rule or --add brought). */
  neededBy: string[];
  /** In-root paths of the objects left out with it (only excluded libraries bring them in), sorted. */
  dropped: string[];
  /** For a file a rule or --add brought: that reason. */
  why?: EntryWhy;
}

/**
 * One object's loader edges in the new root: the libraries it names by
 * DT_NEEDED that the loader maps for it, and, for a program, its PT_INTERP.
 */
export interface NeedsItem {
  /** In-root path (real, as its entry's) of the object. */
  path: string;
  /** In-root paths (real) of the objects it needs, sorted. */
  needs: string[];
}

/** What one rule added (the manifest's summary; the CLI prints it). */
export interface RuleSummary {
  rule: string;
  /** The first trigger that applied it. */
  trigger: string;
  /** Entries whose reason is this rule (modules' libraries included). */
  entries: number;
  /** Bytes of the files among them. */
  bytes: number;
}

export interface Manifest {
  elfdepsManifest: (typeof READABLE_MANIFEST_VERSIONS)[number];
  /** Host directory the sources were read from, used as "/" ("/" for the host itself). */
  root: string;
  programs: ManifestProgram[];
  /** In-root paths added with --add. */
  added: string[];
  /** Sorted by path, component-wise: every directory before its contents. */
  entries: ManifestEntry[];
  missing: MissingItem[];
  /** Non-fatal notes from building the manifest (skipped device nodes, ...). */
  warnings: string[];
  /** Rules applied, in the order they first applied (version 2). */
  rules?: RuleSummary[];
  /** Libraries left out with --exclude, sorted by name and path (version 2; present when patterns were given). */
  excluded?: ExcludedItem[];
  /** Packages owning at least one entry, sorted by `id` (version 2; present when package data was read, possibly empty). */
  packages?: ManifestPackage[];
  /** The source root's distribution (version 2; present with `packages`; null when the root has no usable os-release). */
  distro?: ManifestDistro | null;
  /** The loader's edges between the objects kept (DT_NEEDED, PT_INTERP), sorted by path (version 2, optional; what SBOMs give as the dependency graph). */
  needs?: NeedsItem[];
}


/** An entry's owner and group as written (absent: 0). */
export function entryOwner(entry: EntryOwner): { uid: number; gid: number } {
  return { uid: entry.uid ?? 0, gid: entry.gid ?? 0 };
}

/** The bytes a generated entry holds. */
export function generatedBytes(entry: Pick<GeneratedEntry, 'content' | 'encoding'>): Buffer {
  return Buffer.from(entry.content, entry.encoding === 'base64' ? 'base64' : 'utf8');
}

/**
 * The content fields of a generated entry holding `content`: text stays
 * readable in the manifest, bytes (a binary file) are held as base64; size
 * and sha256 are the bytes' own, as validateManifest checks them.
 */
export function generatedContent(content: string | Buffer): Pick<GeneratedEntry, 'content' | 'encoding' | 'size' | 'sha256'> {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const text = typeof content === 'string' ? { content } : { content: content.toString('base64'), encoding: 'base64' as const };
  return { ...text, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}
