/**
 * Reading and checking manifests. A manifest is hostile input like any ELF
 * file: it is size-capped, checked against the schema, then checked in code
 * for what a schema cannot say: canonical paths, duplicates that disagree,
 * entries that would be written through a symlink or under a file.
 * Nothing here touches the target root.
 */
import { closeSync, fstatSync, openSync, readSync, constants as fsc } from 'node:fs';
import { createHash } from 'node:crypto';
import { ElfdepsError, errnoOf, errnoWords } from '../errors.js';
import { ancestorsOf, comparePaths, pathComponents, pathProblem } from './entry-path.js';
import { checkManifestSchema } from './schema.js';
import { generatedBytes, type Manifest, type ManifestEntry } from './types.js';

/** Largest manifest file read: a root of 100k files is about 30 MiB of JSON. */
export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  const fields = ['kind', 'path', 'mode', 'source', 'size', 'sha256', 'target', 'content', 'package', 'mtime', 'uid', 'gid'] as const;
  return fields.every((f) => (a as unknown as Record<string, unknown>)[f] === (b as unknown as Record<string, unknown>)[f]);
}

function describeEntry(e: ManifestEntry): string {
  const owner = e.uid === undefined && e.gid === undefined ? '' : ` owner ${e.uid ?? 0}:${e.gid ?? 0}`;
  return describeKind(e) + owner;
}

function describeKind(e: ManifestEntry): string {
  if (e.kind === 'symlink') return `symlink -> ${e.target}`;
  if (e.kind === 'file') return `file ${e.mode} ${e.size} bytes sha256 ${e.sha256.slice(0, 12)}... from ${e.source}${e.mtime === undefined ? '' : ` mtime ${e.mtime}`}`;
  if (e.kind === 'generated') return `generated file ${e.mode} ${e.size} bytes sha256 ${e.sha256.slice(0, 12)}...`;
  return `directory ${e.mode}`;
}

/**
 * Checks `data` (parsed JSON or an object built in code) and returns it as a
 * Manifest whose entries are deduplicated and sorted (directories before
 * their contents). Throws MANIFEST_INVALID or MANIFEST_UNSAFE.
 */
export function validateManifest(data: unknown, label = 'manifest'): Manifest {
  checkManifestSchema(data, label);
  const manifest = data as Manifest;
  const rootProblem = pathProblem(manifest.root);
  if (rootProblem) throw new ElfdepsError('MANIFEST_UNSAFE', `${label}: root ${JSON.stringify(manifest.root)} ${rootProblem}`);

  if (
    manifest.elfdepsManifest === 1 &&
    (manifest.rules !== undefined ||
      manifest.excluded !== undefined ||
      manifest.packages !== undefined ||
      manifest.distro !== undefined ||
      manifest.needs !== undefined ||
      manifest.entries.some((e) => e.kind === 'generated' || e.why !== undefined || e.package !== undefined || (e.kind === 'file' && e.mtime !== undefined) || e.uid !== undefined || e.gid !== undefined))
  ) {
    throw new ElfdepsError('MANIFEST_INVALID', `${label}: a version 1 manifest has no generated entries, reasons, rules, excluded libraries, package data, loader edges, mtimes or owners (those are version 2)`);
  }
  const packageIds = checkPackages(manifest, label);
  const byPath = new Map<string, ManifestEntry>();
  const byNormalForm = new Map<string, string>();
  for (const entry of manifest.entries) {
    const where = `${label}: entry ${JSON.stringify(entry.path)}`;
    pathComponents(entry.path, `${label}: entry`);
    if (entry.path === '/' && entry.kind !== 'directory') {
      throw new ElfdepsError('MANIFEST_UNSAFE', `${where}: the root itself can only be a directory`);
    }
    if (entry.kind === 'file') {
      const problem = pathProblem(entry.source);
      if (problem) throw new ElfdepsError('MANIFEST_UNSAFE', `${where}: source ${JSON.stringify(entry.source)} ${problem}`);
      // --add SRC=DEST reads SRC on the host, wherever --root is: only from what its reason names.
      const placedFrom = entry.why?.by === 'add' && entry.why.dest !== undefined ? entry.why.path : null;
      const under = (dir: string) => entry.source === dir || entry.source.startsWith(dir + '/');
      if (manifest.root !== '/' && !under(manifest.root) && !(placedFrom !== null && pathProblem(placedFrom) === null && under(placedFrom))) {
        throw new ElfdepsError('MANIFEST_UNSAFE', `${where}: source ${entry.source} is outside the manifest root ${manifest.root}`);
      }
    }
    if (entry.kind === 'generated') {
      // The content is inline: its size and digest must be its own, as a copied file's must be its source's.
      const bytes = generatedBytes(entry);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (bytes.length !== entry.size || sha256 !== entry.sha256) {
        throw new ElfdepsError('MANIFEST_INVALID', `${where}: generated content is ${bytes.length} bytes with sha256 ${sha256}; the entry says ${entry.size} bytes, ${entry.sha256}`);
      }
    }
    if (entry.kind === 'symlink' && entry.target.includes('\0')) {
      throw new ElfdepsError('MANIFEST_UNSAFE', `${where}: symlink target contains a NUL byte`);
    }
    if (entry.package !== undefined && !packageIds.has(entry.package)) {
      throw new ElfdepsError('MANIFEST_INVALID', `${where}: package ${JSON.stringify(entry.package)} is not in the manifest's packages`);
    }
    const named = entry.why?.by === 'package-metadata' || entry.why?.by === 'copyright' ? entry.why.package : null;
    if (named !== null && !packageIds.has(named)) {
      throw new ElfdepsError('MANIFEST_INVALID', `${where}: its reason names package ${JSON.stringify(named)}, which is not in the manifest's packages`);
    }
    const earlier = byPath.get(entry.path);
    if (earlier) {
      if (!sameEntry(earlier, entry)) {
        throw new ElfdepsError('MANIFEST_INVALID', `${where}: duplicate entries disagree (${describeEntry(earlier)} vs ${describeEntry(entry)})`);
      }
      continue;
    }
    // Two spellings of one name are one file on some filesystems (CVE-2021-37712).
    const normal = entry.path.normalize('NFC');
    const twin = byNormalForm.get(normal);
    if (twin !== undefined) {
      throw new ElfdepsError('MANIFEST_UNSAFE', `${where}: same name as ${JSON.stringify(twin)} after Unicode normalisation`);
    }
    byNormalForm.set(normal, entry.path);
    byPath.set(entry.path, entry);
  }

  // Set-based, so the order of entries cannot smuggle a write through a link (CVE-2021-32803).
  for (const entry of byPath.values()) {
    for (const ancestor of ancestorsOf(entry.path)) {
      const above = byPath.get(ancestor);
      if (above?.kind === 'symlink') {
        throw new ElfdepsError(
          'MANIFEST_UNSAFE',
          `${label}: entry ${JSON.stringify(entry.path)} would be written through symlink ${ancestor} (-> ${above.target}); entries must use canonical paths`,
        );
      }
      if (above?.kind === 'file' || above?.kind === 'generated') {
        throw new ElfdepsError('MANIFEST_INVALID', `${label}: entry ${JSON.stringify(entry.path)} is inside ${ancestor}, which is a file entry`);
      }
    }
  }
  // The loader's edges name file entries (an SBOM links their components).
  for (const item of manifest.needs ?? []) {
    for (const path of [item.path, ...item.needs]) {
      pathComponents(path, `${label}: needs`);
      const e = byPath.get(path);
      if (e?.kind !== 'file' && e?.kind !== 'generated') throw new ElfdepsError('MANIFEST_INVALID', `${label}: needs: ${JSON.stringify(path)} is not a file entry`);
    }
  }
  const entries = [...byPath.values()].sort((a, b) => comparePaths(a.path, b.path));
  return { ...manifest, entries };
}

/**
 * The package list's own consistency: sorted by id, each id once, each id
 * made of its manager, name and architecture. Returns the ids.
 */
function checkPackages(manifest: Manifest, label: string): Set<string> {
  const ids = new Set<string>();
  let previous: string | null = null;
  for (const p of manifest.packages ?? []) {
    const where = `${label}: package ${JSON.stringify(p.id)}`;
    if (p.id !== `${p.manager}:${p.name}:${p.architecture}`) {
      throw new ElfdepsError('MANIFEST_INVALID', `${where}: id is not "${p.manager}:${p.name}:${p.architecture}" (manager:name:architecture)`);
    }
    if (previous !== null && !(previous < p.id)) {
      throw new ElfdepsError('MANIFEST_INVALID', `${where}: packages must be sorted by id, each once (after ${JSON.stringify(previous)})`);
    }
    previous = p.id;
    ids.add(p.id);
  }
  if (manifest.packages === undefined && manifest.distro !== undefined) {
    throw new ElfdepsError('MANIFEST_INVALID', `${label}: distro is given without packages`);
  }
  return ids;
}

/** Parses manifest text; throws MANIFEST_INVALID on malformed JSON or content. */
export function parseManifest(text: string, label = 'manifest'): Manifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ElfdepsError('MANIFEST_INVALID', `${label}: not JSON (${err instanceof Error ? err.message : String(err)})`, { path: label, cause: err });
  }
  return validateManifest(data, label);
}

/** Reads, size-caps and validates a manifest file. */
export function readManifestFile(path: string): Manifest {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    throw new ElfdepsError('MANIFEST_INVALID', `${path}: cannot open manifest: ${errnoWords(err)}`, { path, cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ElfdepsError('MANIFEST_INVALID', `${path}: manifest is not a regular file`, { path });
    if (st.size > MAX_MANIFEST_BYTES) throw new ElfdepsError('MANIFEST_INVALID', `${path}: manifest larger than ${MAX_MANIFEST_BYTES} bytes`, { path });
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return parseManifest(buf.subarray(0, got).toString('utf8'), path);
  } finally {
    closeSync(fd);
  }
}

/** Validates and serialises a manifest (two-space JSON, newline-terminated). */
export function serializeManifest(manifest: Manifest): string {
  const checked = validateManifest(manifest);
  return JSON.stringify(checked, null, 2) + '\n';
}
