/**
 * The SBOM stored inside an image (docs/sbom.md): a file under
 * /var/lib/db/sbom/, where apko and melange keep theirs, added to the root
 * the manifest describes, and named in the image manifest's annotations so
 * that a consumer finds it without searching the layers.
 */
import { ElfdepsError } from '../errors.js';
import { ancestorsOf, comparePaths } from '../manifest/entry-path.js';
import { generatedContent, type GeneratedEntry, type Manifest } from '../manifest/types.js';

/** The directory the SBOM goes into. */
export const SBOM_DIR = '/var/lib/db/sbom';

/**
 * The SBOM's file name in the image: `elfdeps-cyclonedx.json`,
 * `elfdeps-spdx.json`. Not `*.cdx.json` or `*.spdx.json`: scanners read files
 * so named inside images as further SBOMs (trivy's sbom analyzer), and would
 * list every package a second time beside the dpkg or apk metadata they
 * already read. The annotations say where it is and what it is.
 */
export function imageSbomName(format: string): string {
  return `elfdeps-${format}.json`;
}

/** Annotation keys of the image manifest: where the SBOM is, and in which format. */
export const SBOM_ANNOTATIONS = { path: 'dev.elfdeps.sbom.path', format: 'dev.elfdeps.sbom.format' } as const;

export interface ImageSbom {
  /** File name inside SBOM_DIR ("elfdeps.spdx.json"). */
  name: string;
  /** The document. */
  text: string;
  /** "CycloneDX 1.6", "SPDX 2.3" (the annotation's value). */
  format: string;
}

/**
 * `manifest` with the SBOM as one more (generated) entry. Refused when the
 * root already has something at its path or a file or symlink on the way:
 * the SBOM never replaces a file of the root, nor goes through a link.
 */
export function withSbomEntry(manifest: Manifest, sbom: ImageSbom): { manifest: Manifest; path: string } {
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(sbom.name)) throw new ElfdepsError('INTERNAL', `SBOM file name ${JSON.stringify(sbom.name)}`);
  const path = `${SBOM_DIR}/${sbom.name}`;
  const byPath = new Map(manifest.entries.map((e) => [e.path, e]));
  const clash = [path, ...ancestorsOf(path)].map((p) => byPath.get(p)).find((e) => e !== undefined && (e.path === path || e.kind !== 'directory'));
  if (clash) throw new ElfdepsError('TARGET_CONFLICT', `cannot store the SBOM at ${path} in the image: the root has a ${clash.kind} at ${clash.path}`, { path });
  const entry: GeneratedEntry = { kind: 'generated', path, mode: '0644', ...generatedContent(sbom.text) };
  return { manifest: { ...manifest, entries: [...manifest.entries, entry].sort((a, b) => comparePaths(a.path, b.path)) }, path };
}
