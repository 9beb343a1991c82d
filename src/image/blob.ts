/**
 * Content-addressed blobs (OCI `blobs/sha256/<hex>`), written as they are
 * made: bytes go to a temporary file in the blobs directory while their
 * sha256 is computed, and the file is renamed to its digest at the end. A
 * layer goes through a gzip stage first when compressed; its diff_id is the
 * sha256 of the uncompressed tar, taken on the way in.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, constants as fsc, existsSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createGzip, type Gzip } from 'node:zlib';
import { ElfdepsError, errnoOf } from '../errors.js';
import { temporarySibling } from '../output-file.js';

export interface BlobDescriptor {
  /** "sha256:<hex>" */
  digest: string;
  size: number;
}

/** The hex part of a "sha256:<hex>" digest. */
export function digestHex(digest: string): string {
  return digest.slice('sha256:'.length);
}

function writeFailed(path: string, err: unknown): ElfdepsError {
  return new ElfdepsError('COPY_FAILED', `${path}: cannot write the image (${errnoOf(err) ?? String(err)})`, { path, cause: err });
}

/** One blob being written into `blobsDir` (…/blobs/sha256). */
export class BlobFile {
  private readonly tmp: string;
  private readonly fd: number;
  private readonly hash: Hash = createHash('sha256');
  private size = 0;
  private closed = false;

  constructor(private readonly blobsDir: string) {
    this.tmp = temporarySibling(join(blobsDir, 'blob'));
    try {
      this.fd = openSync(this.tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o644);
    } catch (err) {
      throw writeFailed(this.tmp, err);
    }
  }

  write(chunk: Buffer): void {
    this.hash.update(chunk);
    try {
      for (let off = 0; off < chunk.length; ) off += writeSync(this.fd, chunk, off, chunk.length - off, this.size + off);
    } catch (err) {
      throw writeFailed(this.tmp, err);
    }
    this.size += chunk.length;
  }

  /** Closes the file and gives it its digest as name (an identical blob already there is kept). */
  finish(): BlobDescriptor {
    this.closed = true;
    closeSync(this.fd);
    const hex = this.hash.digest('hex');
    const final = join(this.blobsDir, hex);
    try {
      if (existsSync(final)) unlinkSync(this.tmp);
      else renameSync(this.tmp, final);
    } catch (err) {
      throw writeFailed(final, err);
    }
    return { digest: `sha256:${hex}`, size: this.size };
  }

  /** Removes the temporary (after a failure). */
  discard(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
    try {
      unlinkSync(this.tmp);
    } catch {
      // never created, or already gone
    }
  }
}

/** A whole blob from bytes in memory (configs and manifests: a few hundred bytes). */
export function writeBlob(blobsDir: string, bytes: Buffer): BlobDescriptor {
  const blob = new BlobFile(blobsDir);
  try {
    blob.write(bytes);
    return blob.finish();
  } catch (err) {
    blob.discard();
    throw err;
  }
}

export type Compression = 'gzip' | 'none';

/** gzip's header: bytes 4..7 are MTIME, byte 9 the OS. */
const GZIP_MTIME = 4;
const GZIP_OS = 9;
const GZIP_OS_UNIX = 3;

/**
 * zlib writes MTIME 0 and its build's OS code (3 on Linux, another on some
 * other systems' zlib): both are set here, so the header never depends on
 * the machine. The deflate data still depends on the zlib version; the
 * diff_id, over the uncompressed tar, does not.
 */
function fixGzipHeader(chunk: Buffer, offset: number): void {
  for (let i = GZIP_MTIME; i < GZIP_MTIME + 4; i++) if (i >= offset && i < offset + chunk.length) chunk[i - offset] = 0;
  if (GZIP_OS >= offset && GZIP_OS < offset + chunk.length) chunk[GZIP_OS - offset] = GZIP_OS_UNIX;
}

export interface LayerBlob {
  blob: BlobDescriptor;
  /** sha256 of the uncompressed layer tar. */
  diffId: string;
  /** Bytes of the uncompressed layer tar. */
  uncompressedSize: number;
}

/**
 * The sink of one layer tar: hashes the tar for its diff_id and writes it,
 * gzip-compressed or not, into a blob. gzip level 6, as gzip(1)'s default.
 */
export class LayerBlobWriter {
  private readonly diff: Hash = createHash('sha256');
  private uncompressed = 0;
  private readonly blob: BlobFile;
  private readonly gzip: Gzip | null;
  private readonly gzipDone: Promise<void> | null;
  private compressedOffset = 0;
  private failure: unknown = null;

  constructor(blobsDir: string, compression: Compression) {
    this.blob = new BlobFile(blobsDir);
    if (compression === 'gzip') {
      const gzip = createGzip({ level: 6 });
      this.gzip = gzip;
      gzip.on('data', (chunk: Buffer) => {
        if (this.compressedOffset < 10) fixGzipHeader(chunk, this.compressedOffset);
        this.compressedOffset += chunk.length;
        try {
          this.blob.write(chunk);
        } catch (err) {
          // Thrown here it would be uncaught: fail the stream instead, which the writer awaits.
          this.failure ??= err;
          gzip.destroy(err as Error);
        }
      });
      this.gzipDone = new Promise((resolve, reject) => {
        gzip.once('end', resolve);
        gzip.once('error', reject);
      });
      this.gzipDone.catch(() => undefined);
    } else {
      this.gzip = null;
      this.gzipDone = null;
    }
  }

  /** Takes the next bytes of the tar (a ByteSink). */
  readonly write = async (chunk: Buffer): Promise<void> => {
    if (this.failure !== null) throw this.failure;
    this.diff.update(chunk);
    this.uncompressed += chunk.length;
    if (this.gzip === null) {
      this.blob.write(chunk);
      return;
    }
    if (!this.gzip.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const gzip = this.gzip as Gzip;
        const done = () => {
          gzip.off('error', failed);
          resolve();
        };
        const failed = (err: Error) => {
          gzip.off('drain', done);
          reject(this.failure ?? err);
        };
        gzip.once('drain', done);
        gzip.once('error', failed);
      });
    }
  };

  async finish(): Promise<LayerBlob> {
    if (this.gzip !== null) {
      this.gzip.end();
      await this.gzipDone?.catch((err: unknown) => {
        throw this.failure ?? err;
      });
    }
    return { blob: this.blob.finish(), diffId: `sha256:${this.diff.digest('hex')}`, uncompressedSize: this.uncompressed };
  }

  discard(): void {
    this.gzip?.destroy();
    this.blob.discard();
  }
}
