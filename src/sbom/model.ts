/**
 * What an SBOM says, taken from a manifest once for both formats: the
 * distribution, the packages (with their package URLs), every file the root
 * keeps (regular or generated) with its digests, its package and why it is
 * there, and the loader's edges between files (the manifest's `needs`).
 */
import { createHash } from 'node:crypto';
import { ElfdepsError } from '../errors.js';
import { generatedBytes, type EntryWhy, type FileEntry, type GeneratedEntry, type Manifest, type ManifestDistro, type ManifestPackage } from '../manifest/types.js';
import { checkSource, sourceChunks } from '../materialise/source.js';
import { packagePurl } from './purl.js';

export interface SbomPackage extends ManifestPackage {
  purl: string;
}

export interface SbomFile {
  /** In-root path. */
  path: string;
  size: number;
  sha256: string;
  /** Only when asked for (SPDX 2.3 requires a SHA-1 of every file): the contents are read again, checked against sha256. */
  sha1?: string;
  /** The owning package's id, or null. */
  package: string | null;
  why?: EntryWhy;
  /** In-root paths of the files it needs (DT_NEEDED, PT_INTERP), sorted. */
  needs: string[];
}

export interface SbomModel {
  /** What the SBOM describes: the image's reference, or the programs' names. */
  subject: string;
  /** 'container' for an image, 'application' for a manifest or a root. */
  subjectKind: 'container' | 'application';
  distro: ManifestDistro | null;
  packages: SbomPackage[];
  /** Sorted by path. */
  files: SbomFile[];
  /** SOURCE_DATE_EPOCH (seconds), or null: then no clock time is written. */
  epoch: number | null;
  toolVersion: string;
}

export interface ModelOptions {
  subject?: string;
  subjectKind?: 'container' | 'application';
  epoch?: number | null;
  toolVersion?: string;
  /** Read every file again for its SHA-1. */
  sha1?: boolean;
}

/** SHA-1 of a file entry's contents, read as the copier reads sources (checked, then verified against sha256 while read). */
function sha1Of(entry: FileEntry | GeneratedEntry): string {
  const hash = createHash('sha1');
  if (entry.kind === 'generated') return hash.update(generatedBytes(entry)).digest('hex');
  for (const chunk of sourceChunks(entry, checkSource(entry))) hash.update(chunk);
  return hash.digest('hex');
}

/** The default subject: the programs' file names ("curl", "curl+git"), or "root" for a manifest without programs. */
function programNames(manifest: Manifest): string {
  const names = [...new Set(manifest.programs.map((p) => p.path.split('/').pop() || p.path))];
  return names.length === 0 ? 'root' : names.slice(0, 4).join('+') + (names.length > 4 ? `+${names.length - 4} more` : '');
}

/** The SBOM's content from a validated manifest. */
export function sbomModel(manifest: Manifest, options: ModelOptions = {}): SbomModel {
  const distro = manifest.distro ?? null;
  const packages = (manifest.packages ?? []).map((p) => ({ ...p, purl: packagePurl(p, distro) }));
  const known = new Set(packages.map((p) => p.id));
  const needs = new Map((manifest.needs ?? []).map((n) => [n.path, n.needs]));
  const files: SbomFile[] = [];
  for (const e of manifest.entries) {
    if (e.kind !== 'file' && e.kind !== 'generated') continue;
    // validateManifest checks that entries name known packages; a manifest built in code is checked here too.
    if (e.package !== undefined && !known.has(e.package)) throw new ElfdepsError('MANIFEST_INVALID', `manifest: entry ${JSON.stringify(e.path)}: package ${JSON.stringify(e.package)} is not in packages`);
    files.push({
      path: e.path,
      size: e.size,
      sha256: e.sha256,
      ...(options.sha1 ? { sha1: sha1Of(e) } : {}),
      package: e.package ?? null,
      ...(e.why ? { why: e.why } : {}),
      needs: needs.get(e.path) ?? [],
    });
  }
  return {
    subject: options.subject ?? programNames(manifest),
    subjectKind: options.subjectKind ?? 'application',
    distro,
    packages,
    files,
    epoch: options.epoch ?? null,
    toolVersion: options.toolVersion ?? 'unknown',
  };
}

/** An entry's reason as flat name/value pairs ("by" first), for CycloneDX properties and SPDX comments. */
export function whyFields(why: EntryWhy | undefined): Array<[string, string]> {
  if (!why) return [];
  const out: Array<[string, string]> = [['by', why.by]];
  for (const [k, v] of Object.entries(why)) if (k !== 'by' && v !== null && v !== undefined) out.push([k, String(v)]);
  return out;
}

/** An entry's reason in words: "rule gconv (trigger: ...)", "loader for /usr/bin/curl, needed by ...". */
export function whyWords(why: EntryWhy | undefined): string | null {
  if (!why) return null;
  const [, ...rest] = whyFields(why);
  return `${why.by}${rest.length ? ` (${rest.map(([k, v]) => `${k}: ${v}`).join('; ')})` : ''}`;
}

/**
 * A name-based UUID (RFC 9562 version 5 layout: version and variant bits set)
 * from the SHA-256 of `text`, so that the same content always has the same
 * serial number or namespace, and different content a different one.
 */
export function contentUuid(text: string): string {
  const b = createHash('sha256').update(text).digest().subarray(0, 16);
  b[6] = ((b[6] as number) & 0x0f) | 0x50;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
