/**
 * The image's JSON documents, trusted only once verified: a descriptor's
 * digest and size are checked (sha256 only: the algorithm every builder
 * writes), the blob is read bounded (a document is kilobytes; 4 MiB is far
 * beyond any real one), hashed, compared, and only then parsed.
 */
import { createHash } from 'node:crypto';
import { imageError, quoted } from './fail.js';
import type { BlobStore } from './blob-store.js';

/** The largest JSON document (index, manifest, config) read. */
export const MAX_DOCUMENT = 4 << 20;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export const MEDIA = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
} as const;

/** Layer media types of OCI image-spec (incl. the deprecated non-distributable ones) and Docker's v2 schema. */
export const LAYER_MEDIA_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

const SHA256 = /^sha256:[0-9a-f]{64}$/;

/** The file of a blob in the layout: `blobs/sha256/<hex>`. */
export function blobName(digest: string): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}

/** A digest string as the spec writes it, sha256 only. */
export function checkDigest(image: string, digest: unknown, where: string): string {
  if (typeof digest !== 'string') throw imageError(image, `${where}: no digest`);
  if (SHA256.test(digest)) return digest;
  const algorithm = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):/.exec(digest)?.[1];
  if (algorithm !== undefined && algorithm !== 'sha256') throw imageError(image, `${where}: digest algorithm ${quoted(algorithm)} is not supported (sha256 only)`);
  throw imageError(image, `${where}: invalid digest ${quoted(digest)}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export { isObject };

/** A descriptor's shape: mediaType, digest, size, and the optional platform and annotations. */
export function checkDescriptor(image: string, v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw imageError(image, `${where}: not a descriptor`);
  if (typeof v.mediaType !== 'string') throw imageError(image, `${where}: no mediaType`);
  const digest = checkDigest(image, v.digest, where);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw imageError(image, `${where}: invalid size`);
  const d: Descriptor = { mediaType: v.mediaType, digest, size: v.size };
  if (v.platform !== undefined) {
    const p = v.platform;
    if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string' || (p.variant !== undefined && typeof p.variant !== 'string')) {
      throw imageError(image, `${where}: invalid platform`);
    }
    d.platform = { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' && p.variant !== '' ? { variant: p.variant } : {}) };
  }
  if (isObject(v.annotations)) {
    const a: Record<string, string> = {};
    for (const [k, val] of Object.entries(v.annotations)) if (typeof val === 'string') a[k] = val;
    d.annotations = a;
  }
  return d;
}

/** Parses JSON bytes already bounded and trusted (or the root index.json). */
export function parseJson(image: string, bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw imageError(image, `${what} is not valid JSON`, err);
  }
}

/** A file of the image that is not content-addressed (index.json, manifest.json), read bounded. */
export function readTopDocument(image: string, store: BlobStore, name: string): unknown {
  const size = store.size(name);
  if (size === undefined) throw imageError(image, `${name} is missing`);
  if (size > MAX_DOCUMENT) throw imageError(image, `${name} is ${size} bytes (more than ${MAX_DOCUMENT})`);
  return parseJson(image, store.head(name, size), name);
}

/** A JSON blob named by a descriptor: size and sha256 checked before it is parsed. */
export function readVerifiedBlob(image: string, store: BlobStore, digest: string, declaredSize: number | undefined, what: string, name = blobName(digest)): unknown {
  const size = store.size(name);
  if (size === undefined) throw imageError(image, `${what} ${digest} is missing (${name})`);
  if (declaredSize !== undefined && size !== declaredSize) throw imageError(image, `${what} ${digest} is ${size} bytes, its descriptor says ${declaredSize}`);
  if (size > MAX_DOCUMENT) throw imageError(image, `${what} ${digest} is ${size} bytes (more than ${MAX_DOCUMENT})`);
  const bytes = store.head(name, size);
  const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  if (actual !== digest) throw imageError(image, `${what} ${digest} does not match its content (sha256 ${actual.slice(7)})`);
  return parseJson(image, bytes, `${what} ${digest}`);
}
