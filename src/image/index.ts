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
import type { BaseImage } from '../image-source/types.js';
import { writeBlob, type BlobDescriptor, type Compression } from './blob.js';
import { canonicalBytes } from './canonical-json.js';
import { configDocument, runConfig, type KeptFromBase, type RunConfig, type RunOptions } from './config.js';
import { planLayers, writeLayer, type LayerPlan, type WrittenLayer } from './layers.js';
import { BASE_ANNOTATIONS, blobPath, dockerManifestDocument, imageManifestDocument, indexDocument, LAYOUT_FILES, MEDIA_TYPES, ociLayoutDocument, platformsIndexDocument } from './layout.js';
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
export type { BaseImage, SourceConfig, SourcePlatform } from '../image-source/types.js';

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
  /**
   * The image this one is made from (`--from`): its config is carried (Env,
   * WorkingDir, User, ExposedPorts, Volumes, Labels, StopSignal, and
   * Entrypoint/Cmd while they still start), each overridable by the options
   * above; the history says what was kept of it, and the image manifest's
   * annotations name it (docs/image.md).
   */
  base?: BaseImage;
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

/** What was written of one image (one platform). */
export interface ImagePlatformReport {
  platform: string;
  manifestDigest: string;
  configDigest: string;
  layers: ImageLayerReport[];
  /** In-image path of the SBOM, when one was stored. */
  sbomPath?: string;
  /** Lines the CLI prints (an entrypoint that is no file, a base image's Entrypoint or User not kept as it was...). */
  warnings: string[];
}

export interface ImageReport extends ImagePlatformReport {
  /** The output path, or "-" for a stream. */
  output: string;
  format: 'tar' | 'oci-dir';
  references: string[];
  /** Bytes written (the tar, or the layout's files). */
  bytes: number;
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

/** Everything about one image decided before a byte is written. */
interface PreparedImage {
  checked: Manifest;
  sources: Map<string, SourceIdentity>;
  platform: Platform;
  run: RunConfig;
  plans: LayerPlan[];
  annotations: Record<string, string> | undefined;
  kept: KeptFromBase | undefined;
  sbomPath: string | undefined;
  warnings: string[];
}

/** The options of one image (one platform) of an output. */
export type ImagePartOptions = Omit<ImageOptions, 'output' | 'tags' | 'compression' | 'sourceDateEpoch' | 'onProgress' | 'signal'>;

/** How a base image is named in history and annotations: its name, else its manifest's digest. */
function baseLabel(base: BaseImage): string {
  return base.name ?? base.manifestDigest;
}

/** Validates one image's manifest and options; every refusal that needs no source contents happens here. */
function prepareImage(manifest: unknown, options: ImagePartOptions): PreparedImage {
  const validated = validateManifest(manifest);
  // The SBOM joins the root after validation: it may be larger than an inline entry of a manifest file may be.
  const withSbom = options.sbom ? withSbomEntry(validated, options.sbom) : null;
  const checked = withSbom?.manifest ?? validated;
  const sources = new Map<string, SourceIdentity>();
  for (const e of checked.entries) if (e.kind === 'file') sources.set(e.path, checkSource(e));
  const view = new RootView(checked);
  const platform = imagePlatform(checked, view, options.platform);
  const { run, warnings } = runConfig(options, checked.programs[0]?.path, view, options.base);
  const start = run.entrypoint?.[0];
  if (start !== undefined && start.startsWith('/') && !view.isFile(start)) warnings.push(`entrypoint ${start} is not a file in the image`);
  const plans = planLayers(checked, view, options.layers === true);
  const annotations: Record<string, string> = {};
  if (withSbom && options.sbom) Object.assign(annotations, { [SBOM_ANNOTATIONS.path]: withSbom.path, [SBOM_ANNOTATIONS.format]: options.sbom.format });
  let kept: KeptFromBase | undefined;
  if (options.base !== undefined) {
    annotations[BASE_ANNOTATIONS.digest] = options.base.manifestDigest;
    if (options.base.name !== undefined) annotations[BASE_ANNOTATIONS.name] = options.base.name;
    // What came from the base: every entry but those elfdeps writes itself (the loader's cache, the SBOM, a user database).
    const fromBase = new Set(plans.flatMap((p) => p.entries.filter((e) => e.kind !== 'generated').map((e) => e.path)));
    kept = { from: baseLabel(options.base), kept: fromBase.size, history: options.base.config.history ?? [] };
  }
  return {
    checked,
    sources,
    platform,
    run,
    plans,
    annotations: Object.keys(annotations).length > 0 ? annotations : undefined,
    kept,
    sbomPath: withSbom?.path,
    warnings,
  };
}

/** What is shared by every image of one output. */
interface WriteContext {
  staging: Staging;
  compression: Compression;
  epoch: number;
  progress: { done: number; total: number; onProgress: ImageOptions['onProgress'] };
  signal: AbortSignal | undefined;
}

interface WrittenImage {
  layers: WrittenLayer[];
  config: BlobDescriptor;
  manifest: BlobDescriptor;
}

/** Writes one image's layers, config and image manifest into the staging blobs (a blob another image already wrote is kept once). */
async function writeImage(prep: PreparedImage, options: ImagePartOptions, ctx: WriteContext): Promise<WrittenImage> {
  const layers: WrittenLayer[] = [];
  for (const plan of prep.plans) {
    layers.push(
      await writeLayer(plan, ctx.staging.blobsDir, {
        compression: ctx.compression,
        mtimeSeconds: ctx.epoch,
        keepSetuid: options.keepSetuid === true,
        sources: prep.sources,
        onEntry: (path) => ctx.progress.onProgress?.({ done: ++ctx.progress.done, total: ctx.progress.total, path }),
        signal: ctx.signal,
      }),
    );
  }
  const layerBlobs = layers.map((l) => l.blob);
  const config = writeBlob(ctx.staging.blobsDir, canonicalBytes(configDocument(prep.platform, prep.run, layers, ctx.epoch, prep.kept)));
  const manifest = writeBlob(ctx.staging.blobsDir, canonicalBytes(imageManifestDocument(config, layerBlobs, ctx.compression, prep.annotations)));
  return { layers, config, manifest };
}

/** The blob paths of `images`, each once, in the order first written. */
function blobsOf(images: WrittenImage[]): string[] {
  return [...new Set(images.flatMap((i) => [...i.layers.map((l) => l.blob), i.config, i.manifest]).map(blobPath))];
}

/** One image's part of a report. */
function imageReport(prep: PreparedImage, image: WrittenImage, compression: Compression): ImagePlatformReport {
  return {
    platform: formatPlatform(prep.platform),
    manifestDigest: image.manifest.digest,
    configDigest: image.config.digest,
    layers: image.layers.map((l) => ({
      comment: l.comment,
      mediaType: compression === 'gzip' ? MEDIA_TYPES.layerGzip : MEDIA_TYPES.layer,
      digest: l.blob.digest,
      size: l.blob.size,
      diffId: l.diffId,
      uncompressedSize: l.uncompressedSize,
      entries: l.entries,
      fileBytes: l.fileBytes,
    })),
    ...(prep.sbomPath !== undefined ? { sbomPath: prep.sbomPath } : {}),
    warnings: prep.warnings,
  };
}

/** The shared options of an output, checked, and its staging. */
function startOutput(options: Pick<ImageOptions, 'output' | 'tags' | 'compression' | 'sourceDateEpoch' | 'signal'>, firstProgram: string | undefined) {
  const epoch = checkEpoch(options.sourceDateEpoch ?? 0);
  const compression = options.compression ?? 'gzip';
  const refs: ImageReference[] = options.tags && options.tags.length > 0 ? options.tags.map(parseReference) : [defaultReference(firstProgram)];
  checkOutput(options.output);
  throwIfInterrupted(options.signal);
  return { epoch, compression, refs };
}

const TOP_FILES = [LAYOUT_FILES.ociLayout, LAYOUT_FILES.index, LAYOUT_FILES.dockerManifest];

/** Builds the image of `manifest` (a Manifest or parsed JSON, validated here) into `options.output`. */
export async function buildImage(manifest: unknown, options: ImageOptions): Promise<ImageReport> {
  const prep = prepareImage(manifest, options);
  const { epoch, compression, refs } = startOutput(options, prep.checked.programs[0]?.path);
  const total = prep.plans.reduce((n, p) => n + p.entries.length, 0);
  const staging = new Staging(options.output);
  try {
    const ctx: WriteContext = { staging, compression, epoch, progress: { done: 0, total, onProgress: options.onProgress }, signal: options.signal };
    const image = await writeImage(prep, options, ctx);
    staging.writeFile(LAYOUT_FILES.ociLayout, canonicalBytes(ociLayoutDocument()));
    staging.writeFile(LAYOUT_FILES.index, canonicalBytes(indexDocument(image.manifest, refs, prep.platform)));
    staging.writeFile(LAYOUT_FILES.dockerManifest, canonicalBytes(dockerManifestDocument([{ config: image.config, layers: image.layers.map((l) => l.blob), refs }])));
    throwIfInterrupted(options.signal);
    const bytes = await publish(staging, options.output, TOP_FILES, blobsOf([image]), epoch, options.signal);
    return {
      output: options.output.kind === 'stream' ? '-' : options.output.path,
      format: options.output.kind === 'oci-dir' ? 'oci-dir' : 'tar',
      references: refs.map(formatReference),
      ...imageReport(prep, image, compression),
      bytes,
    };
  } finally {
    staging.remove();
  }
}

/** The options of a multi-platform output: what is shared by its images. */
export type ImageIndexOptions = Pick<ImageOptions, 'output' | 'tags' | 'compression' | 'sourceDateEpoch' | 'onProgress' | 'signal'>;

export interface ImageIndexReport {
  /** The output path, or "-" for a stream. */
  output: string;
  format: 'tar' | 'oci-dir';
  /** NAME:TAG of the multi-platform image (the OCI index). */
  references: string[];
  /** Digest of the image index listing the platforms. */
  indexDigest: string;
  /** One per platform, in the order given. */
  images: Array<ImagePlatformReport & { references: string[] }>;
  bytes: number;
}

/** A docker-archive tag of one platform's image: "NAME:TAG-ARCH[-VARIANT]" ("bash:5.2-arm64-v8"). */
export function platformReference(ref: ImageReference, platform: Platform): ImageReference {
  const tag = [ref.tag, platform.architecture, ...(platform.variant ? [platform.variant] : [])].join('-');
  if (tag.length > 128) throw new ElfdepsError('USAGE', `--tag ${formatReference(ref)}: the tag of its ${formatPlatform(platform)} image, ${JSON.stringify(tag)}, would be longer than 128 characters`);
  return { name: ref.name, tag };
}

/**
 * Builds one output holding an image per part, each its own platform: the
 * OCI side is a multi-platform image (index.json names, per tag, an image
 * index listing one image manifest per platform, as `skopeo copy --all`
 * writes one); a docker-archive holds one image per tag, so manifest.json
 * lists each platform's image under NAME:TAG-ARCH[-VARIANT], and the first
 * part's also under NAME:TAG (docs/image.md). Blobs two platforms share
 * (a layer of architecture-independent files) are stored once.
 */
export async function buildImageIndex(parts: Array<{ manifest: unknown; options: ImagePartOptions }>, options: ImageIndexOptions): Promise<ImageIndexReport> {
  if (parts.length === 0) throw new ElfdepsError('USAGE', 'an image index needs at least one image');
  const preps = parts.map((p) => prepareImage(p.manifest, p.options));
  const seen = new Set<string>();
  for (const prep of preps) {
    const name = formatPlatform(prep.platform);
    if (seen.has(name)) throw new ElfdepsError('PLATFORM', `two images of the index are ${name}: an index holds one image per platform`);
    seen.add(name);
  }
  const { epoch, compression, refs } = startOutput(options, preps[0]?.checked.programs[0]?.path);
  const perPlatform = preps.map((prep, i) => [...(i === 0 ? refs : []), ...refs.map((r) => platformReference(r, prep.platform))]);
  const total = preps.reduce((n, prep) => n + prep.plans.reduce((m, p) => m + p.entries.length, 0), 0);
  const staging = new Staging(options.output);
  try {
    const ctx: WriteContext = { staging, compression, epoch, progress: { done: 0, total, onProgress: options.onProgress }, signal: options.signal };
    const images: WrittenImage[] = [];
    for (const [i, prep] of preps.entries()) images.push(await writeImage(prep, (parts[i] as { options: ImagePartOptions }).options, ctx));
    const index = writeBlob(staging.blobsDir, canonicalBytes(platformsIndexDocument(images.map((image, i) => ({ manifest: image.manifest, platform: (preps[i] as PreparedImage).platform })))));
    staging.writeFile(LAYOUT_FILES.ociLayout, canonicalBytes(ociLayoutDocument()));
    staging.writeFile(LAYOUT_FILES.index, canonicalBytes(indexDocument(index, refs, null, MEDIA_TYPES.index)));
    staging.writeFile(
      LAYOUT_FILES.dockerManifest,
      canonicalBytes(dockerManifestDocument(images.map((image, i) => ({ config: image.config, layers: image.layers.map((l) => l.blob), refs: perPlatform[i] as ImageReference[] })))),
    );
    throwIfInterrupted(options.signal);
    const bytes = await publish(staging, options.output, TOP_FILES, [...blobsOf(images), blobPath(index)], epoch, options.signal);
    return {
      output: options.output.kind === 'stream' ? '-' : options.output.path,
      format: options.output.kind === 'oci-dir' ? 'oci-dir' : 'tar',
      references: refs.map(formatReference),
      indexDigest: index.digest,
      images: images.map((image, i) => ({ ...imageReport(preps[i] as PreparedImage, image, compression), references: (perPlatform[i] as ImageReference[]).map(formatReference) })),
      bytes,
    };
  } finally {
    staging.remove();
  }
}
