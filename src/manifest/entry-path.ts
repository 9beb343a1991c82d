/**
 * What a path in a manifest may look like. Entry paths are canonical in-root
 * paths: "/" followed by components that are never empty, ".", ".." or
 * contain NUL. Nothing is "fixed up": a path that needs normalising is refused
 * (node-tar learnt that stripping one root leaves "////etc" absolute,
 * CVE-2021-32804), so "//etc" and "/a/../etc" are errors, not "/etc".
 */
import { ElfdepsError } from '../errors.js';
import type { DirectoryEntry, ManifestEntry } from './types.js';

export const PATH_LIMITS = {
  /** PATH_MAX minus the NUL. */
  maxPathBytes: 4095,
  /** NAME_MAX. */
  maxNameBytes: 255,
  /** Components per path; real roots stay far below (CVE-2024-28863: unbounded depth). */
  maxDepth: 128,
} as const;

/** Names the copier uses for its temporary files; no entry may be called this. */
export const TEMP_PREFIX = '.elfdeps-tmp-';

/**
 * Why `path` is not a canonical absolute path, or null when it is one.
 * `reservedNames` also refuses the copier's temporary file names.
 */
export function pathProblem(path: string, reservedNames = false): string | null {
  if (!path.startsWith('/')) return 'is not absolute';
  if (path.includes('\0')) return 'contains a NUL byte';
  if (Buffer.byteLength(path) > PATH_LIMITS.maxPathBytes) return `is longer than ${PATH_LIMITS.maxPathBytes} bytes`;
  if (path === '/') return null;
  const parts = path.slice(1).split('/');
  if (parts.length > PATH_LIMITS.maxDepth) return `has more than ${PATH_LIMITS.maxDepth} components`;
  for (const part of parts) {
    if (part === '') return 'has an empty component (// or a trailing /)';
    if (part === '.' || part === '..') return `has a "${part}" component`;
    if (Buffer.byteLength(part) > PATH_LIMITS.maxNameBytes) return `has a component longer than ${PATH_LIMITS.maxNameBytes} bytes`;
    if (reservedNames && part.startsWith(TEMP_PREFIX)) return `uses the reserved name prefix ${TEMP_PREFIX}`;
  }
  return null;
}

/** The components of a canonical path ("/" has none); throws MANIFEST_UNSAFE otherwise. */
export function pathComponents(path: string, label: string): string[] {
  const problem = pathProblem(path, true);
  if (problem) throw new ElfdepsError('MANIFEST_UNSAFE', `${label}: ${JSON.stringify(path)} ${problem}; entry paths must be canonical paths inside the new root`, { path });
  return path === '/' ? [] : path.slice(1).split('/');
}

/** Proper ancestors of a canonical path, outermost first ("/a/b/c" -> "/a", "/a/b"). */
export function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/', 1); i > 0; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

/** Parent of a canonical path ("/" for top-level entries). */
export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** Orders paths component by component, so a directory sorts right before its contents. */
export function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = pa[i] as string;
    const y = pb[i] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/**
 * The entries to create for a manifest, sorted so that every directory comes
 * before its contents, without the root itself ("/" is the target, never an
 * entry to write), plus a 0755 directory for every parent that some entry
 * needs and the manifest does not list (`implicit`). The copier and the
 * image's layers create exactly these.
 */
export function withParentDirectories(entries: readonly ManifestEntry[]): Array<{ entry: ManifestEntry; implicit: boolean }> {
  const byPath = new Map<string, { entry: ManifestEntry; implicit: boolean }>();
  for (const entry of entries) if (entry.path !== '/') byPath.set(entry.path, { entry, implicit: false });
  for (const path of [...byPath.keys()]) {
    for (const dir of ancestorsOf(path)) {
      if (!byPath.has(dir)) byPath.set(dir, { entry: { kind: 'directory', path: dir, mode: '0755' } satisfies DirectoryEntry, implicit: true });
    }
  }
  return [...byPath.values()].sort((a, b) => comparePaths(a.entry.path, b.entry.path));
}
