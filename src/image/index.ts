/**
 * buildImage(): a manifest as a container image, byte for byte the same for
 * the same inputs.
 *
 * As `elfdeps copy`, it trusts nothing in the manifest: it is validated, and
 * every source is checked (regular file, no symlink on the way, size) before
 * a byte is written, then read through the copier's checks and verified
 * against its sha256 while it goes into the layer. Layers are streamed into
 * blob files (never held in memory), the config and manifests are written
 * once the layer digests are known, and the whole layout is published only
 * when complete (output.ts).
 */
import { ElfdepsError } from '../errors.js';
import { throwIfInterrupted } from '../interrupt.js';
import { validateManifest } from '../manifest/validate.js';
import type { Manifest } from '../manifest/types.js';
import { checkSource, type SourceIdentity } from '../materialise/source.js';
import { writeBlob, type Compression } from './blob.js';
import { canonicalBytes } from './canonical-json.js';
import { configDocument, runConfig, type RunOptions } from './config.js';
import { planLayers, writeLayer } from './layers.js';
import { blobPath, dockerManifestDocument, imageManifestDocument, indexDocument, LAYOUT_FILES, MEDIA_TYPES, ociLayoutDocument } from './layout.js';
import { checkOutput, publish, Staging, type ImageOutput } from './output.js';
import { commonPlatform, formatPlatform, parsePlatform, type Platform } from './platform.js';
import { defaultReference, formatReference, parseReference, type ImageReference } from './reference.js';
import { RootView } from './root-view.js';
import { SBOM_ANNOTATIONS, withSbomEntry, type ImageSbom } from './sbom-file.js';

export type { ImageOutput } from './output.js';
export type { Platform } from './platform.js';
export type { Compression } from './blob.js';
export type { RunOptions } from './config.js';
export type { ImageSbom } from './sbom-file.js';

export interface ImageOptions extends RunOptions {
  output: ImageOutput;
  /** NAME[:TAG] references (default: the first program's file name, tag latest). */
  tags?: string[];
  /** Layer compression (default gzip). */
  compression?: Compression;
  /** Programs in a layer of their own, above the libraries. */
  layers?: boolean;
  /** Keep setuid/setgid bits (dropped by default, as `elfdeps copy` does). */
  keepSetuid?: boolean;
  /** Every mtime and `created` (seconds since the epoch; default 0). */
  sourceDateEpoch?: number;
  /** OS/ARCH[/VARIANT]: needed when the manifest has no ELF program; must agree with its programs otherwise. */
  platform?: Platform | string;
  /** Called after each entry is in its layer. */
  onProgress?: (progress: ImageProgress) => void;
  /**
   * Stops the build between entries when aborted: the staging directory and
   * any temporary output file are removed, and the promise rejects with the
   * signal's reason (the CLI aborts it on SIGINT, SIGTERM, SIGHUP).
   */
  signal?: AbortSignal;
  /** An SBOM to store in the image (under /var/lib/db/sbom/, named in the image manifest's annotations). */
  sbom?: ImageSbom;
}

export interface ImageProgress {
  done: number;
  total: number;
  path: string;
}

export interface ImageLayerReport {
  comment: string;
  mediaType: string;
  digest: string;
  /** Bytes of the blob as stored (compressed or not). */
  size: number;
  diffId: string;
  uncompressedSize: number;
  entries: number;
  /** Bytes of file content in the layer. */
  fileBytes: number;
}

export interface ImageReport {
  /** The output path, or "-" for a stream. */
  output: string;
  format: 'tar' | 'oci-dir';
  references: string[];
  platform: string;
  manifestDigest: string;
  configDigest: string;
  layers: ImageLayerReport[];
  /** Bytes written (the tar, or the layout's files). */
  bytes: number;
  /** In-image path of the SBOM, when one was stored. */
  sbomPath?: string;
  warnings: string[];
}

/** The largest epoch a ustar mtime field holds as tar-stream writes it (a signed 32-bit value). */
const MAX_EPOCH = 2 ** 31 - 1;

function checkEpoch(epoch: number): number {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
    throw new ElfdepsError('USAGE', `SOURCE_DATE_EPOCH ${epoch}: must be a whole number of seconds from 0 to ${MAX_EPOCH}`);
  }
  return epoch;
}

/** The platform of the manifest's ELF programs, or the one given; refuses a disagreement. */
function imagePlatform(manifest: Manifest, view: RootView, given: Platform | string | undefined): Platform {
  const programs: Array<{ label: string; hostPath: string }> = [];
  for (const p of manifest.programs) {
    if (p.type !== 'elf') continue;
    const walk = view.walk(p.path);
    if (walk.file !== undefined && walk.file.kind === 'file') programs.push({ label: p.path, hostPath: walk.file.source });
  }
  const detected = commonPlatform(programs);
  const wanted = typeof given === 'string' ? parsePlatform(given) : given;
  if (wanted !== undefined && detected !== null && formatPlatform(wanted) !== formatPlatform(detected)) {
    throw new ElfdepsError('PLATFORM', `--platform ${formatPlatform(wanted)}, but the programs are ${formatPlatform(detected)}`);
  }
  const platform = wanted ?? detected;
  if (platform === null) throw new ElfdepsError('PLATFORM', 'the manifest has no ELF program to take the platform from; give --platform OS/ARCH[/VARIANT]');
  return platform;
}

/** Builds the image of `manifest` (a Manifest or parsed JSON, validated here) into `options.output`. */
export async function buildImage(manifest: unknown, options: ImageOptions): Promise<ImageReport> {
  const validated = validateManifest(manifest);
  // The SBOM joins the root after validation: it may be larger than an inline entry of a manifest file may be.
  const withSbom = options.sbom ? withSbomEntry(validated, options.sbom) : null;
  const checked = withSbom?.manifest ?? validated;
  const epoch = checkEpoch(options.sourceDateEpoch ?? 0);
  const compression = options.compression ?? 'gzip';
  const refs: ImageReference[] = options.tags && options.tags.length > 0 ? options.tags.map(parseReference) : [defaultReference(checked.programs[0]?.path)];
  checkOutput(options.output);
  throwIfInterrupted(options.signal);

  // Every refusal that needs no source contents comes before anything is written, as in `elfdeps copy`.
  const sources = new Map<string, SourceIdentity>();
  for (const e of checked.entries) if (e.kind === 'file') sources.set(e.path, checkSource(e));
  const view = new RootView(checked);
  const platform = imagePlatform(checked, view, options.platform);
  const run = runConfig(options, checked.programs[0]?.path, view);
  const warnings: string[] = [];
  const start = run.entrypoint?.[0];
  if (start !== undefined && start.startsWith('/') && !view.isFile(start)) warnings.push(`entrypoint ${start} is not a file in the image`);
  const plans = planLayers(checked, view, options.layers === true);

  const annotations = withSbom && options.sbom ? { [SBOM_ANNOTATIONS.path]: withSbom.path, [SBOM_ANNOTATIONS.format]: options.sbom.format } : undefined;

  const total = plans.reduce((n, p) => n + p.entries.length, 0);
  let done = 0;
  const staging = new Staging(options.output);
  try {
    const layers = [];
    for (const plan of plans) {
      layers.push(
        await writeLayer(plan, staging.blobsDir, {
          compression,
          mtimeSeconds: epoch,
          keepSetuid: options.keepSetuid === true,
          sources,
          onEntry: (path) => options.onProgress?.({ done: ++done, total, path }),
          signal: options.signal,
        }),
      );
    }
    const layerBlobs = layers.map((l) => l.blob);
    const config = writeBlob(staging.blobsDir, canonicalBytes(configDocument(platform, run, layers, epoch)));
    const imageManifest = writeBlob(staging.blobsDir, canonicalBytes(imageManifestDocument(config, layerBlobs, compression, annotations)));
    staging.writeFile(LAYOUT_FILES.ociLayout, canonicalBytes(ociLayoutDocument()));
    staging.writeFile(LAYOUT_FILES.index, canonicalBytes(indexDocument(imageManifest, refs, platform)));
    staging.writeFile(LAYOUT_FILES.dockerManifest, canonicalBytes(dockerManifestDocument(config, layerBlobs, refs)));
    const blobs = [...new Set([...layerBlobs, config, imageManifest].map(blobPath))];
    throwIfInterrupted(options.signal);
    const bytes = await publish(staging, options.output, [LAYOUT_FILES.ociLayout, LAYOUT_FILES.index, LAYOUT_FILES.dockerManifest], blobs, epoch, options.signal);
    return {
      output: options.output.kind === 'stream' ? '-' : options.output.path,
      format: options.output.kind === 'oci-dir' ? 'oci-dir' : 'tar',
      references: refs.map(formatReference),
      platform: formatPlatform(platform),
      manifestDigest: imageManifest.digest,
      configDigest: config.digest,
      layers: layers.map((l) => ({
        comment: l.comment,
        mediaType: compression === 'gzip' ? MEDIA_TYPES.layerGzip : MEDIA_TYPES.layer,
        digest: l.blob.digest,
        size: l.blob.size,
        diffId: l.diffId,
        uncompressedSize: l.uncompressedSize,
        entries: l.entries,
        fileBytes: l.fileBytes,
      })),
      bytes,
      ...(withSbom ? { sbomPath: withSbom.path } : {}),
      warnings,
    };
  } finally {
    staging.remove();
  }
}
