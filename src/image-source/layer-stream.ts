/**
 * One layer blob as a stream of its uncompressed tar, checked on the way:
 * the blob's bytes as stored are hashed (and counted against the
 * descriptor's size) before decompression, the uncompressed bytes are hashed
 * for the config's diff_id and counted against the unpack's byte budget (a
 * gzip bomb stops at the limit, not at the end of the disk). Compression is
 * read from the blob's first bytes, not trusted from the media type (Docker
 * writes uncompressed layers under a "tar.gzip" type in some archives).
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { BlobStore } from './blob-store.js';
import { imageError } from './fail.js';
import { ZstdDecoder } from './zstd.js';
import type { LayerRef } from './open.js';

/** Bytes left to the whole unpack (all layers), shared by their streams. */
export interface ByteBudget { left: number; limit: bigint }

/** Hashes and counts what goes through; `check` runs on every chunk, before it passes on. */
export class Meter extends Transform {
  readonly hash: Hash = createHash('sha256');
  count = 0;

  constructor(private readonly check: (count: number) => Error | undefined) {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.count += chunk.length;
    const err = this.check(this.count);
    if (err) return done(err);
    this.hash.update(chunk);
    done(null, chunk);
  }

  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

export type Compression = 'gzip' | 'zstd' | 'none';

export function sniffCompression(head: Buffer): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

export interface LayerStream {
  /** The stages in order, for stream.pipeline: blob, its meter, the decompressor when any, the tar meter. */
  stages: NodeJS.ReadWriteStream[];
  /** After the stream ended: verifies the blob's digest and size and the diff_id; throws on a mismatch. */
  verify(): void;
}

export function layerStream(image: string, store: BlobStore, ref: LayerRef, what: string, diffId: string, budget: ByteBudget): LayerStream {
  const compression = sniffCompression(store.head(ref.name, 4));
  const blob = new Meter((n) => (ref.size !== undefined && n > ref.size ? imageError(image, `${what} is longer than its descriptor's ${ref.size} bytes`) : undefined));
  const tar = new Meter((n) => {
    if (n <= budget.left) return undefined;
    return imageError(image, `${what}: the layers uncompress to more than ${budget.limit} bytes (the limit; a gzip bomb?)`);
  });
  const source = store.stream(ref.name);
  const stages: NodeJS.ReadWriteStream[] = [source as unknown as NodeJS.ReadWriteStream, blob];
  if (compression === 'gzip') stages.push(createGunzip({ chunkSize: 1 << 20 }));
  else if (compression === 'zstd') stages.push(new ZstdDecoder((why) => imageError(image, `${what}: ${why}`)));
  stages.push(tar);
  return {
    stages,
    verify(): void {
      budget.left -= tar.count;
      if (ref.size !== undefined && blob.count !== ref.size) throw imageError(image, `${what} is ${blob.count} bytes, its descriptor says ${ref.size}`);
      if (ref.digest !== undefined) {
        const actual = blob.digest();
        if (actual !== ref.digest) throw imageError(image, `${what} does not match its digest (sha256 ${actual.slice(7)})`);
      }
      const actualDiff = tar.digest();
      if (actualDiff !== diffId) throw imageError(image, `${what}: its uncompressed content does not match the config's diff_id ${diffId} (sha256 ${actualDiff.slice(7)})`);
    },
  };
}

/**
 * Reads a layer's blob once, as stored, and checks it against what names
 * it before a byte of it is unpacked: the descriptor's digest and size, or,
 * for an uncompressed layer of a docker-archive (whose manifest.json gives
 * no digest), the config's diff_id. Then a bit flipped in a blob is told as
 * a digest mismatch, not as whatever the decompressor or the tar reader
 * makes of it. (A compressed layer without a digest is checked against its
 * diff_id after unpacking, by LayerStream.verify.)
 */
export async function verifyStoredBlob(image: string, store: BlobStore, ref: LayerRef, what: string, diffId: string): Promise<void> {
  const compressed = sniffCompression(store.head(ref.name, 4)) !== 'none';
  const want = ref.digest ?? (compressed ? undefined : diffId);
  if (want === undefined) return;
  const hash = createHash('sha256');
  let count = 0;
  for await (const chunk of store.stream(ref.name)) {
    count += (chunk as Buffer).length;
    if (ref.size !== undefined && count > ref.size) throw imageError(image, `${what} is longer than its descriptor's ${ref.size} bytes`);
    hash.update(chunk as Buffer);
  }
  if (ref.size !== undefined && count !== ref.size) throw imageError(image, `${what} is ${count} bytes, its descriptor says ${ref.size}`);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== want) throw imageError(image, `${what} does not match its ${ref.digest !== undefined ? 'digest' : 'diff_id'} (sha256 ${actual.slice(7)})`);
}
