/**
 * Tar archives written entry by entry, through tar-stream (a well-kept
 * writer that takes explicit headers: no header is built by hand here), with
 * every field that could vary fixed: one mtime (but a file's own when the
 * manifest records it: an input like its content), the entry's uid/gid
 * (numbers only, 0 unless the manifest says: an input too), empty user and
 * group names (a runtime maps numbers; names would only repeat what the
 * image's own /etc/passwd says), no atime/ctime (ustar has none; the PAX
 * records written carry only the path, link target and large ids). Names
 * over 100 bytes or not ASCII, and link targets over 100 bytes, go into PAX
 * records rather than the ustar prefix field, which some readers ignore.
 *
 * The archive's bytes go to `sink` as they are made; a file's contents are
 * given as an iterable of chunks, so no entry is ever held whole in memory.
 * tar-stream is loaded on first use (createRequire): `elfdeps /bin/ls` never
 * pays for it.
 */
import { createRequire } from 'node:module';
import type * as TarStream from 'tar-stream';

type Pack = TarStream.Pack;
type Header = Parameters<Pack['entry']>[0];
type EntrySink = ReturnType<Pack['entry']>;

let tarStream: typeof TarStream | undefined;
function loadTarStream(): typeof TarStream {
  tarStream ??= createRequire(import.meta.url)('tar-stream') as typeof TarStream;
  return tarStream;
}

// tar-stream replaces a mode of 0 by its default (0644/0755): the file-type
// bits keep the value non-zero, and the header keeps only the low 12 bits.
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

const USTAR_NAME_BYTES = 100;
/** tar-stream writes uid and gid as 6 octal digits (and 777777 for anything larger): a larger id goes into a PAX record (POSIX pax `uid=`, `gid=`). */
const USTAR_MAX_ID = 0o777777;

/** An entry's owner and group, as numbers. */
export interface TarOwner {
  uid: number;
  gid: number;
}

const ROOT_OWNER: TarOwner = { uid: 0, gid: 0 };

function needsPax(name: string, linkname: string | undefined): boolean {
  // eslint-disable-next-line no-control-regex
  const ascii = (s: string) => /^[\x01-\x7f]*$/.test(s);
  return Buffer.byteLength(name) > USTAR_NAME_BYTES || !ascii(name) || (linkname !== undefined && Buffer.byteLength(linkname) > USTAR_NAME_BYTES);
}

/** Receives the archive's bytes in order; may return a promise to apply back-pressure. */
export type ByteSink = (chunk: Buffer) => void | Promise<void>;

/** Resolves when `sink` may take more, rejects when it failed. */
function drained(sink: EntrySink): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      sink.off('drain', done);
      sink.off('error', failed);
      sink.off('close', done);
      resolve();
    };
    const failed = (err: Error) => {
      sink.off('drain', done);
      sink.off('close', done);
      reject(err);
    };
    sink.on('drain', done);
    sink.on('error', failed);
    sink.on('close', done);
  });
}

export class TarWriter {
  private readonly pack: Pack;
  private readonly pumped: Promise<void>;
  private failure: unknown = null;

  /** `mtimeSeconds`: the one modification time of every entry (SOURCE_DATE_EPOCH). */
  constructor(
    sink: ByteSink,
    private readonly mtimeSeconds: number,
  ) {
    const pack = loadTarStream().pack();
    this.pack = pack;
    this.pumped = (async () => {
      for await (const chunk of pack) await sink(chunk as Buffer);
    })();
    // A failing sink stops the producer too: it may be waiting for the pack to drain.
    this.pumped.catch((err: unknown) => {
      this.failure ??= err;
      pack.destroy(err instanceof Error ? err : new Error(String(err)));
    });
  }

  private header(name: string, type: 'file' | 'directory' | 'symlink', mode: number, owner: TarOwner, size = 0, linkname?: string, mtimeSeconds = this.mtimeSeconds): Header {
    const { uid, gid } = owner;
    const header: Header = { name, type, mode, size, mtime: new Date(mtimeSeconds * 1000), uid, gid, uname: '', gname: '' };
    if (linkname !== undefined) header.linkname = linkname;
    const ids: Record<string, string> = {};
    if (uid > USTAR_MAX_ID) ids.uid = String(uid);
    if (gid > USTAR_MAX_ID) ids.gid = String(gid);
    if (needsPax(name, linkname) || Object.keys(ids).length > 0) header.pax = ids;
    return header;
  }

  private async add(header: Header, body?: Iterable<Buffer> | Buffer): Promise<void> {
    if (this.failure !== null) throw this.failure;
    let finished!: Promise<void>;
    let sink!: EntrySink;
    finished = new Promise<void>((resolve, reject) => {
      const callback = (err?: Error | null) => (err ? reject(this.failure ?? err) : resolve());
      sink = Buffer.isBuffer(body) ? this.pack.entry(header, body, callback) : this.pack.entry(header, callback);
    });
    // Its failures reach us through the callback; an 'error' event nobody listens to would be thrown as uncaught.
    sink.on('error', () => undefined);
    if (body !== undefined && !Buffer.isBuffer(body)) {
      try {
        for (const chunk of body) if (!sink.write(chunk)) await drained(sink);
      } catch (err) {
        // The source failed part-way: the archive is unusable, and must say so rather than hold a short entry.
        sink.destroy(err instanceof Error ? err : new Error(String(err)));
        finished.catch(() => undefined);
        throw err;
      }
      sink.end(undefined);
    }
    await finished;
  }

  /** A directory entry ("usr/lib/"); `name` without the trailing slash. */
  directory(name: string, mode: number, owner: TarOwner = ROOT_OWNER): Promise<void> {
    return this.add(this.header(`${name}/`, 'directory', S_IFDIR | mode, owner));
  }

  /** A symlink with its target verbatim. */
  symlink(name: string, target: string, owner: TarOwner = ROOT_OWNER): Promise<void> {
    return this.add(this.header(name, 'symlink', S_IFLNK | 0o777, owner, 0, target));
  }

  /** A regular file of exactly `size` bytes, given as chunks (or one buffer); `mtimeSeconds` its own mtime (a Python source its pyc checks), else the archive's. */
  file(name: string, mode: number, size: number, body: Iterable<Buffer> | Buffer, mtimeSeconds?: number, owner: TarOwner = ROOT_OWNER): Promise<void> {
    return this.add(this.header(name, 'file', S_IFREG | mode, owner, size, undefined, mtimeSeconds), body);
  }

  /** Writes the end-of-archive blocks and waits until the sink has every byte. */
  async finish(): Promise<void> {
    this.pack.finalize();
    await this.pumped;
    if (this.failure !== null) throw this.failure;
  }

  /** Stops the archive (after a failure elsewhere); its bytes so far are to be thrown away. */
  async abort(err: unknown): Promise<void> {
    this.failure ??= err;
    this.pack.destroy(err instanceof Error ? err : new Error(String(err)));
    await this.pumped.catch(() => undefined);
  }
}
