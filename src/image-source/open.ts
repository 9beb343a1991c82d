/**
 * Opening a source image: which format it is, and which image manifests
 * (one per platform) it holds. An OCI index is walked through nested indexes
 * and Docker manifest lists (depth-bounded; an index met again on its own
 * path is a loop); a docker-archive's manifest.json lists its images
 * directly. Docker 25+ archives carry both index.json and manifest.json: the
 * OCI index is read, since it is content-addressed and manifest.json is not.
 */
import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { ElfdepsError, errnoWords } from '../errors.js';
import { ArchiveStore, DirectoryStore, type BlobStore } from './blob-store.js';
import { checkConfig } from './config.js';
import { blobName, checkDescriptor, isObject, LAYER_MEDIA_TYPES, MEDIA, readTopDocument, readVerifiedBlob, type Descriptor } from './documents.js';
import { imageError, quoted } from './fail.js';
import type { SourceConfig, SourceFormat, SourceImage, SourcePlatform } from './types.js';

/** Indexes inside indexes: real ones nest once (a Docker 25 archive: index → index → manifests). */
const MAX_INDEX_DEPTH = 8;
/** Manifests of every platform together: a real index has tens. */
const MAX_MANIFESTS = 4096;
/** Layers of one image: Docker's own limit is 127 (overlayfs lowerdir); 1000 is far beyond any real image. */
const MAX_LAYERS = 1000;

/** One layer as the manifest names it. */
export interface LayerRef {
  /** The file in the image (blobs/sha256/<hex>, or a docker-archive member). */
  name: string;
  /** Its digest and size when a descriptor gives them (a docker-archive's layer.tar has none: diff_id alone checks it). */
  digest?: string;
  size?: number;
  mediaType?: string;
}

/** One image of the source: a platform, and what it takes to unpack it. */
export interface ImageEntry {
  platform: SourcePlatform;
  name?: string;
  manifestDigest: string;
  config: SourceConfig;
  layers: LayerRef[];
}

interface Candidate {
  platform: SourcePlatform | undefined;
  /** The image manifest's digest, when a descriptor gives it before loading. */
  digest?: string;
  name?: string;
  load(): ImageEntry;
  loaded?: ImageEntry;
}

export class OpenedImage implements SourceImage {
  readonly platforms: SourcePlatform[] = [];
  private readonly byPlatform = new Map<SourcePlatform, Candidate>();

  constructor(readonly path: string, readonly format: SourceFormat, readonly store: BlobStore, candidates: Candidate[]) {
    const seen = new Set<string>();
    for (const c of candidates) {
      // A layout often names one manifest twice (a multi-platform ref and a per-platform ref): one image.
      if (c.digest !== undefined && seen.has(c.digest)) continue;
      if (c.digest !== undefined) seen.add(c.digest);
      const platform = c.platform ?? (c.loaded = c.load()).platform;
      // Attestations and other non-images in an index say unknown/unknown.
      if (platform.os === 'unknown' && platform.architecture === 'unknown') continue;
      this.platforms.push(platform);
      this.byPlatform.set(platform, c);
    }
    if (this.platforms.length === 0) throw imageError(path, 'holds no image');
  }

  /** The image of a platform of `platforms`, its manifest and config read and verified. */
  entry(platform: SourcePlatform): ImageEntry {
    // By identity (what choosePlatform returns), else by value.
    const c = this.byPlatform.get(platform) ?? this.byPlatform.get(this.platforms.find((p) => samePlatform(p, platform))!);
    if (c === undefined) throw new ElfdepsError('IMAGE_PLATFORM', `${this.path}: has no ${formatPlatform(platform)} image`, { path: this.path });
    c.loaded ??= c.load();
    return c.loaded;
  }

  close(): void {
    this.store.close();
  }
}

function samePlatform(a: SourcePlatform, b: SourcePlatform): boolean {
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
}

function platformOf(config: SourceConfig): SourcePlatform {
  return { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
}

/** An image manifest (OCI or Docker v2 schema 2) and its config, verified. */
function loadManifest(image: string, store: BlobStore, desc: Descriptor, name: string | undefined): ImageEntry {
  const m = readVerifiedBlob(image, store, desc.digest, desc.size, 'manifest');
  if (!isObject(m) || m.schemaVersion !== 2) throw imageError(image, `manifest ${desc.digest} is not an image manifest (schemaVersion 2)`);
  if (m.mediaType !== undefined && m.mediaType !== desc.mediaType) throw imageError(image, `manifest ${desc.digest} says media type ${quoted(String(m.mediaType))}, its descriptor ${quoted(desc.mediaType)}`);
  const configDesc = checkDescriptor(image, m.config, `manifest ${desc.digest}: config`);
  if (configDesc.mediaType !== MEDIA.ociConfig && configDesc.mediaType !== MEDIA.dockerConfig) {
    throw imageError(image, `manifest ${desc.digest}: config media type ${quoted(configDesc.mediaType)} is not an image config`);
  }
  if (!Array.isArray(m.layers)) throw imageError(image, `manifest ${desc.digest} has no layers list`);
  if (m.layers.length > MAX_LAYERS) throw imageError(image, `manifest ${desc.digest} has ${m.layers.length} layers (more than ${MAX_LAYERS})`);
  const layers = m.layers.map((l, i): LayerRef => {
    const d = checkDescriptor(image, l, `manifest ${desc.digest}: layers[${i}]`);
    if (!LAYER_MEDIA_TYPES.has(d.mediaType)) throw imageError(image, `manifest ${desc.digest}: layers[${i}] has unknown media type ${quoted(d.mediaType)}`);
    return { name: blobName(d.digest), digest: d.digest, size: d.size, mediaType: d.mediaType };
  });
  const config = checkConfig(image, readVerifiedBlob(image, store, configDesc.digest, configDesc.size, 'config'));
  const platform = platformOf(config);
  if (desc.platform && !samePlatform(desc.platform, platform) && !(desc.platform.architecture === 'arm64' && samePlatform({ ...desc.platform, variant: undefined }, { ...platform, variant: undefined }))) {
    throw imageError(image, `manifest ${desc.digest}: the index says ${formatPlatform(desc.platform)}, its config ${formatPlatform(platform)}`);
  }
  if (config.rootfs.diff_ids.length !== layers.length) throw imageError(image, `manifest ${desc.digest} has ${layers.length} layers, its config ${config.rootfs.diff_ids.length} diff_ids`);
  return { platform, ...(name !== undefined ? { name } : {}), manifestDigest: desc.digest, config, layers };
}

export function formatPlatform(p: SourcePlatform): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== '').join('/');
}

/** The name a top-level index entry gives its image. */
function refName(desc: Descriptor): string | undefined {
  return desc.annotations?.['io.containerd.image.name'] ?? desc.annotations?.['org.opencontainers.image.ref.name'];
}

/** The image manifests reachable from an index, depth-first in the index's order. */
function walkIndex(image: string, store: BlobStore, index: unknown, where: string, path: string[], out: Candidate[], name: string | undefined): void {
  if (!isObject(index) || !Array.isArray(index.manifests)) throw imageError(image, `${where} is not an image index (no manifests list)`);
  if (index.schemaVersion !== 2) throw imageError(image, `${where} is not an image index (schemaVersion 2)`);
  for (const [i, raw] of index.manifests.entries()) {
    const desc = checkDescriptor(image, raw, `${where}: manifests[${i}]`);
    const entryName = name ?? refName(desc);
    if (desc.mediaType === MEDIA.ociIndex || desc.mediaType === MEDIA.dockerList) {
      if (path.includes(desc.digest)) throw imageError(image, `index ${desc.digest} includes itself (the index loops)`);
      if (path.length >= MAX_INDEX_DEPTH) throw imageError(image, `indexes nest more than ${MAX_INDEX_DEPTH} deep`);
      const nested = readVerifiedBlob(image, store, desc.digest, desc.size, 'index');
      walkIndex(image, store, nested, `index ${desc.digest}`, [...path, desc.digest], out, entryName);
    } else if (desc.mediaType === MEDIA.ociManifest || desc.mediaType === MEDIA.dockerManifest) {
      if (out.length >= MAX_MANIFESTS) throw imageError(image, `more than ${MAX_MANIFESTS} manifests`);
      out.push({ platform: desc.platform, digest: desc.digest, ...(entryName !== undefined ? { name: entryName } : {}), load: () => loadManifest(image, store, desc, entryName) });
    } else {
      throw imageError(image, `${where}: manifests[${i}] has unknown media type ${quoted(desc.mediaType)}`);
    }
  }
}

/** docker save's manifest.json: [{Config, RepoTags, Layers}], paths inside the archive. */
function dockerCandidates(image: string, store: BlobStore, doc: unknown): Candidate[] {
  if (!Array.isArray(doc)) throw imageError(image, 'manifest.json is not a list');
  return doc.map((raw, i): Candidate => {
    const where = `manifest.json[${i}]`;
    if (!isObject(raw) || typeof raw.Config !== 'string' || !Array.isArray(raw.Layers) || !raw.Layers.every((l) => typeof l === 'string')) {
      throw imageError(image, `${where} is not {Config, Layers}`);
    }
    const names = [raw.Config, ...(raw.Layers as string[])];
    for (const n of names) {
      const norm = posix.normalize(n);
      if (n.startsWith('/') || norm === '..' || norm.startsWith('../')) throw imageError(image, `${where} names ${quoted(n)} outside the archive`);
    }
    if (raw.Layers.length > MAX_LAYERS) throw imageError(image, `${where} has ${raw.Layers.length} layers (more than ${MAX_LAYERS})`);
    const tags = Array.isArray(raw.RepoTags) ? raw.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    const name = tags[0];
    const configName = raw.Config;
    const layerNames = raw.Layers as string[];
    return {
      platform: undefined,
      ...(name !== undefined ? { name } : {}),
      load: (): ImageEntry => {
        // The config's name is its digest in both forms (<hex>.json, blobs/sha256/<hex>): checked when it is one.
        const hex = /(?:^|\/)([0-9a-f]{64})(?:\.json)?$/.exec(configName)?.[1];
        const configDigest = hex === undefined ? undefined : `sha256:${hex}`;
        const raw = configDigest === undefined
          ? readTopDocument(image, store, configName)
          : readVerifiedBlob(image, store, configDigest, undefined, 'config', configName);
        const config = checkConfig(image, raw);
        if (config.rootfs.diff_ids.length !== layerNames.length) throw imageError(image, `${where} has ${layerNames.length} layers, its config ${config.rootfs.diff_ids.length} diff_ids`);
        return {
          platform: platformOf(config),
          ...(name !== undefined ? { name } : {}),
          // No manifest exists in this form: the config's digest (Docker's image ID) names the image.
          manifestDigest: configDigest ?? '',
          config,
          layers: layerNames.map((n) => ({ name: n })),
        };
      },
    };
  });
}

export async function openSourceImage(path: string): Promise<SourceImage> {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw imageError(path, `cannot read the image: ${errnoWords(err)}`, err);
  }
  const store: BlobStore = isDir ? new DirectoryStore(path) : new ArchiveStore(path);
  try {
    const hasIndex = store.size('index.json') !== undefined;
    const hasDocker = !isDir && store.size('manifest.json') !== undefined;
    const format: SourceFormat = isDir ? 'oci-layout' : hasDocker ? 'docker-archive' : 'oci-archive';
    let candidates: Candidate[];
    if (hasIndex) {
      const layout = store.size('oci-layout') === undefined ? undefined : readTopDocument(path, store, 'oci-layout');
      if (!isObject(layout) || typeof layout.imageLayoutVersion !== 'string') throw imageError(path, 'oci-layout is missing or has no imageLayoutVersion');
      candidates = [];
      walkIndex(path, store, readTopDocument(path, store, 'index.json'), 'index.json', [], candidates, undefined);
    } else if (hasDocker) {
      candidates = dockerCandidates(path, store, readTopDocument(path, store, 'manifest.json'));
    } else {
      throw imageError(path, isDir ? 'not an OCI image layout (no index.json)' : 'not an image archive (no index.json nor manifest.json)');
    }
    return new OpenedImage(path, format, store, candidates);
  } catch (err) {
    store.close();
    throw err;
  }
}
