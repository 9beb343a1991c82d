/**
 * `--sbom FILE` and `--sbom-format cyclonedx|spdx` (manifest, copy, image):
 * the SBOM of what the manifest keeps (docs/sbom.md), written whole.
 */
import { resolve as resolvePath } from 'node:path';
import { ElfdepsError } from '../errors.js';
import type { Manifest } from '../manifest/types.js';
import { checkOutputPath, writeFileWhole } from '../output-file.js';
import { sbomFormatFor, sbomText, type SbomFormat } from '../sbom/index.js';
import { packageVersion, type CliIo } from './io.js';

export const SBOM_OPTIONS = {
  sbom: { type: 'string' },
  'sbom-format': { type: 'string' },
} as const;

export const SBOM_OPTIONS_HELP = `  --sbom FILE            also write an SBOM of what is kept (docs/sbom.md): packages
                         with package URLs, every file with its sha256, its package
                         and why it is there, which object needs which library
  --sbom-format cyclonedx|spdx
                         CycloneDX 1.6 or SPDX 2.3 JSON (default from FILE's name:
                         *.cdx.json, *.spdx.json)
`;

export interface SbomRequest {
  path: string;
  format: SbomFormat;
  /** SOURCE_DATE_EPOCH, or null (no clock time is written then). */
  epoch: number | null;
}

/** SOURCE_DATE_EPOCH from the environment (reproducible-builds.org): decimal seconds, or null when unset. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv): number | null {
  const text = env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === '') return null;
  if (!/^\d{1,10}$/.test(text)) throw new ElfdepsError('USAGE', `SOURCE_DATE_EPOCH=${JSON.stringify(text)}: must be a whole number of seconds`);
  return Number(text);
}

/** What --sbom asks for, checked before any work (format, output path); null without --sbom. */
export function sbomRequest(values: { sbom?: string; 'sbom-format'?: string }, io: CliIo): SbomRequest | null {
  if (values.sbom === undefined) {
    if (values['sbom-format'] !== undefined) throw new ElfdepsError('USAGE', '--sbom-format needs --sbom FILE');
    return null;
  }
  const format = sbomFormatFor(values.sbom, values['sbom-format']);
  const path = resolvePath(io.cwd, values.sbom);
  checkOutputPath(path, 'the SBOM', { streams: true });
  return { path, format, epoch: sourceDateEpoch(io.env) };
}

/** The SBOM text of `manifest` for `request`. */
export function sbomFor(manifest: Manifest, request: SbomRequest, subject?: { name: string; kind: 'container' | 'application' }): string {
  return sbomText(manifest, {
    format: request.format,
    epoch: request.epoch,
    toolVersion: packageVersion(),
    ...(subject ? { subject: subject.name, subjectKind: subject.kind } : {}),
  });
}

/** Writes the SBOM of `manifest` to the requested file. */
export function writeSbom(manifest: Manifest, request: SbomRequest): void {
  writeFileWhole(request.path, sbomFor(manifest, request), 'the SBOM');
}
