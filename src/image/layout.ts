/**
 * The documents that make a set of blobs an image, in both shapes at once
 * (as `docker save` writes them since docker 25): an OCI image layout
 * (`oci-layout`, `index.json`, `blobs/sha256/...`) and a docker-archive
 * (`manifest.json` naming the config and layer blobs by path), so that
 * podman, docker, skopeo and umoci all take the same tar.
 */
import type { BlobDescriptor } from './blob.js';
import { digestHex } from './blob.js';
import type { Compression } from './blob.js';
import type { Platform } from './platform.js';
import { formatReference, type ImageReference } from './reference.js';

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** Annotation keys of the image manifest naming the image an image was made from (image-spec annotations.md). */
export const BASE_ANNOTATIONS = { digest: 'org.opencontainers.image.base.digest', name: 'org.opencontainers.image.base.name' } as const;

/** The names of the layout's own files. */
export const LAYOUT_FILES = { ociLayout: 'oci-layout', index: 'index.json', dockerManifest: 'manifest.json', blobs: 'blobs/sha256' } as const;

/** Path of a blob inside the layout ("blobs/sha256/<hex>"). */
export function blobPath(d: BlobDescriptor): string {
  return `${LAYOUT_FILES.blobs}/${digestHex(d.digest)}`;
}

export function ociLayoutDocument(): Record<string, unknown> {
  return { imageLayoutVersion: '1.0.0' };
}

/** The image manifest; `annotations` (image-spec annotations.md) say, for one, where the image's SBOM is. */
export function imageManifestDocument(config: BlobDescriptor, layers: BlobDescriptor[], compression: Compression, annotations?: Record<string, string>): Record<string, unknown> {
  const layerType = compression === 'gzip' ? MEDIA_TYPES.layerGzip : MEDIA_TYPES.layer;
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: layerType, digest: l.digest, size: l.size })),
    annotations,
  };
}

/** A manifest's descriptor with its platform, as an image index lists it. */
function platformDescriptor(mediaType: string, blob: BlobDescriptor, platform: Platform | null): Record<string, unknown> {
  return {
    mediaType,
    digest: blob.digest,
    size: blob.size,
    platform: platform === null ? undefined : { architecture: platform.architecture, os: platform.os, variant: platform.variant },
  };
}

/**
 * index.json: one descriptor of `target` per tag. As docker and containerd
 * write it, `org.opencontainers.image.ref.name` holds the tag (what `skopeo
 * oci:DIR:TAG` and `umoci --image DIR:TAG` look up) and
 * `io.containerd.image.name` the whole reference. `target` is the image
 * manifest (with its platform), or, for several platforms, the image index
 * listing them (platformsIndexDocument), as `skopeo copy --all` and buildx
 * write a multi-platform image into a layout.
 */
export function indexDocument(target: BlobDescriptor, refs: ImageReference[], platform: Platform | null, mediaType: string = MEDIA_TYPES.manifest): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: refs.map((r) => ({
      ...platformDescriptor(mediaType, target, platform),
      annotations: { 'io.containerd.image.name': formatReference(r), 'org.opencontainers.image.ref.name': r.tag },
    })),
  };
}

/** The image index of a multi-platform image: one image manifest per platform, with its `platform`, in the order given. */
export function platformsIndexDocument(images: Array<{ manifest: BlobDescriptor; platform: Platform }>): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: images.map((i) => platformDescriptor(MEDIA_TYPES.manifest, i.manifest, i.platform)) };
}

/** manifest.json of a docker-archive (moby image/tarexport): per image, config and layers by path, and its tags. */
export function dockerManifestDocument(images: Array<{ config: BlobDescriptor; layers: BlobDescriptor[]; refs: ImageReference[] }>): unknown[] {
  return images.map((i) => ({ Config: blobPath(i.config), RepoTags: i.refs.map(formatReference), Layers: i.layers.map(blobPath) }));
}
