/**
 * The manifest: everything a new root filesystem needs so that some programs
 * run in it, as data. createManifest() writes it, materialise() reads it,
 * other tools may consume it (the JSON Schema ships as manifest.schema.json).
 * docs/manifest.md documents every field.
 */

/** The format version written in `elfdepsManifest`; bumped on incompatible changes. */
export const MANIFEST_VERSION = 1;

/** A directory on the way to a file. */
export interface DirectoryEntry {
  kind: 'directory';
  /** Canonical in-root path ("/usr/lib"). */
  path: string;
  /** Permission bits as four octal digits ("0755"). */
  mode: string;
  /** Host path it was read from (informational). */
  source?: string;
}

/** A regular file, copied byte for byte. */
export interface FileEntry {
  kind: 'file';
  path: string;
  /** Host path to copy from: canonical, inside the manifest's `root`. */
  source: string;
  mode: string;
  /** Size in bytes. */
  size: number;
  /** Lower-case hex SHA-256 of the contents. */
  sha256: string;
}

/** A symbolic link, recreated with its target verbatim (absolute targets resolve inside the new root). */
export interface SymlinkEntry {
  kind: 'symlink';
  path: string;
  target: string;
  source?: string;
}

export type ManifestEntry = DirectoryEntry | FileEntry | SymlinkEntry;
export type EntryKind = ManifestEntry['kind'];

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

export interface Manifest {
  elfdepsManifest: typeof MANIFEST_VERSION;
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
}
