/**
 * SBOMs of what a manifest keeps (docs/sbom.md): CycloneDX 1.6 JSON or
 * SPDX 2.3 JSON, byte for byte the same for the same manifest and options.
 */
import { ElfdepsError } from '../errors.js';
import type { Manifest } from '../manifest/types.js';
import { cycloneDxDocument } from './cyclonedx.js';
import { sbomModel, type ModelOptions } from './model.js';
import { spdxDocument } from './spdx.js';

export type SbomFormat = 'cyclonedx' | 'spdx';
export const SBOM_FORMATS: readonly SbomFormat[] = ['cyclonedx', 'spdx'];
/** What each format writes, in words. */
export const SBOM_FORMAT_NAMES: Record<SbomFormat, string> = { cyclonedx: 'CycloneDX 1.6', spdx: 'SPDX 2.3' };

/** File name endings that say the format (the conventions scanners look for). */
const SUFFIXES: Array<[string, SbomFormat]> = [
  ['.cdx.json', 'cyclonedx'],
  ['.spdx.json', 'spdx'],
];

/** The format asked for, or the one the file name says; USAGE when neither says. */
export function sbomFormatFor(file: string, given: string | undefined): SbomFormat {
  if (given !== undefined) {
    if (!(SBOM_FORMATS as readonly string[]).includes(given)) throw new ElfdepsError('USAGE', `--sbom-format ${given}: expected one of ${SBOM_FORMATS.join(', ')}`);
    return given as SbomFormat;
  }
  const found = SUFFIXES.find(([suffix]) => file.endsWith(suffix));
  if (!found) throw new ElfdepsError('USAGE', `--sbom ${file}: name it *.cdx.json or *.spdx.json, or give --sbom-format ${SBOM_FORMATS.join('|')}`);
  return found[1];
}

export interface SbomOptions extends Omit<ModelOptions, 'sha1'> {
  format: SbomFormat;
}

/** The SBOM of `manifest` (validated) as JSON text, newline-terminated. SPDX reads every file again for its SHA-1. */
export function sbomText(manifest: Manifest, options: SbomOptions): string {
  const model = sbomModel(manifest, { ...options, sha1: options.format === 'spdx' });
  const doc = options.format === 'spdx' ? spdxDocument(model) : cycloneDxDocument(model);
  return JSON.stringify(doc, null, 2) + '\n';
}
