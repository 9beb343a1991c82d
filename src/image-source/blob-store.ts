/**
 * Where an image's files are: a layout directory, or the members of an
 * archive read in place. Both give the same three operations on a path
 * relative to the image's top (`index.json`, `blobs/sha256/<hex>`,
 * `<id>/layer.tar`): its size, a bounded read of its start, a stream of it.
 * A file must be a regular file (a FIFO or a device would never end).
 */
import { closeSync, constants as fsc, createReadStream, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { errnoOf, errnoWords } from '../errors.js';
import { imageError, quoted } from './fail.js';
import { TarIndex } from './tar-index.js';

export interface BlobStore {
  /** The file's size, or undefined when the image has no such file. */
  size(name: string): number | undefined;
  /** The first `length` bytes (fewer when the file is shorter). */
  head(name: string, length: number): Buffer;
  /** The whole file as a stream (read in 1 MiB chunks). */
  stream(name: string): Readable;
  close(): void;
}

const CHUNK = 1 << 20;

/** An OCI image layout directory: each name a file under it (names are made from validated digests, or fixed). */
export class DirectoryStore implements BlobStore {
  constructor(private readonly dir: string) {}

  private open(name: string): { fd: number; size: number } | undefined {
    let fd: number;
    try {
      fd = openSync(join(this.dir, name), fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return undefined;
      throw imageError(this.dir, `cannot open ${quoted(name)}: ${errnoWords(err)}`, err);
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      throw imageError(this.dir, `${quoted(name)} is not a regular file`);
    }
    return { fd, size: st.size };
  }

  size(name: string): number | undefined {
    const f = this.open(name);
    if (f) closeSync(f.fd);
    return f?.size;
  }

  head(name: string, length: number): Buffer {
    const f = this.open(name);
    if (!f) throw imageError(this.dir, `${quoted(name)} is missing`);
    try {
      const buf = Buffer.alloc(Math.min(length, f.size));
      let got = 0;
      while (got < buf.length) {
        const n = readSync(f.fd, buf, got, buf.length - got, got);
        if (n === 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    } finally {
      closeSync(f.fd);
    }
  }

  stream(name: string): Readable {
    const f = this.open(name);
    if (!f) throw imageError(this.dir, `${quoted(name)} is missing`);
    return createReadStream('', { fd: f.fd, highWaterMark: CHUNK, autoClose: true });
  }

  close(): void {}
}

/** An archive (oci-archive, docker-archive): members read in place through one descriptor. */
export class ArchiveStore implements BlobStore {
  readonly index: TarIndex;
  private fd: number;

  constructor(private readonly path: string) {
    try {
      this.fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (err) {
      throw imageError(path, `cannot open: ${errnoWords(err)}`, err);
    }
    try {
      if (!fstatSync(this.fd).isFile()) throw imageError(path, 'not a directory nor a regular file');
      this.index = new TarIndex(path, this.fd);
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  size(name: string): number | undefined {
    return this.index.get(name)?.size;
  }

  head(name: string, length: number): Buffer {
    const m = this.index.get(name);
    if (!m) throw imageError(this.path, `${quoted(name)} is missing`);
    const buf = Buffer.alloc(Math.min(length, m.size));
    let got = 0;
    while (got < buf.length) {
      const n = readSync(this.fd, buf, got, buf.length - got, m.offset + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  }

  stream(name: string): Readable {
    const m = this.index.get(name);
    if (!m) throw imageError(this.path, `${quoted(name)} is missing`);
    if (m.size === 0) return Readable.from([]);
    // A descriptor of its own: destroying a read stream closes its descriptor whatever autoClose
    // says (an interrupted unpack destroys it), and the index's stays open for the other members.
    // The same file as the one indexed, or the offsets mean nothing.
    let fd: number;
    try {
      fd = openSync(this.path, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (err) {
      throw imageError(this.path, `cannot open: ${errnoWords(err)}`, err);
    }
    const now = fstatSync(fd);
    const then = fstatSync(this.fd);
    if (now.dev !== then.dev || now.ino !== then.ino) {
      closeSync(fd);
      throw imageError(this.path, 'was replaced while it was read');
    }
    // start/end bound the read to the member.
    return createReadStream('', { fd, start: m.offset, end: m.offset + m.size - 1, highWaterMark: CHUNK, autoClose: true });
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
