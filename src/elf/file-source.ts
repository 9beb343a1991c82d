/**
 * Bounded positional reads from one open file. Every byte the ELF reader sees
 * comes through `readAt`, which checks the range against the file size as a
 * bigint before converting anything to a number, so a lying 64-bit offset can
 * never be rounded into a plausible one. The source counts the bytes it read.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { ElfFormatError, ElfIoError, errnoOf, type ElfErrorCode } from '../errors.js';
import { describeFileType } from '../file-type.js';

/** Largest single read the reader ever asks for (a program header table is at most 64 KiB). */
export const MAX_READ = 1 << 20;

export class FileSource {
  /** Bytes read from the file so far. */
  bytesRead = 0;
  /** The file's first bytes, when readHead was asked for them: later reads inside them need no system call. */
  private head: Buffer | null = null;

  private constructor(
    readonly path: string,
    private fd: number | null,
    readonly size: bigint,
    /** st_dev and st_ino of the open file, for identity checks. */
    readonly dev: bigint,
    readonly ino: bigint,
    readonly mode: number,
  ) {}

  /**
   * Opens `path` for reading. O_NONBLOCK keeps a FIFO from blocking the open;
   * anything that is not a regular file is then refused before a byte is read.
   */
  static open(path: string): FileSource {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (err) {
      const errno = errnoOf(err);
      // open(2) on a Unix socket fails with ENXIO: say what the path is, as for a FIFO.
      if (errno === 'ENXIO') {
        const st = statQuietly(path);
        if (st && !st.isFile()) throw new ElfFormatError('ELF_NOT_REGULAR', path, `not a regular file (${describeFileType(st)})`);
      }
      throw new ElfIoError(path, '', errno, err);
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      if (!st.isFile()) {
        throw new ElfFormatError('ELF_NOT_REGULAR', path, `not a regular file (${describeFileType(st)})`);
      }
      return new FileSource(path, fd, st.size, st.dev, st.ino, Number(st.mode));
    } catch (err) {
      closeSync(fd);
      if (err instanceof ElfFormatError) throw err;
      const errno = errnoOf(err);
      throw new ElfIoError(path, 'cannot stat', errno, err);
    }
  }

  /** Whether [offset, offset+length) lies inside the file. Never overflows: all bigint. */
  contains(offset: bigint, length: bigint): boolean {
    return offset >= 0n && length >= 0n && length <= this.size && offset <= this.size - length;
  }

  /**
   * Reads the first `length` bytes (fewer if the file is shorter) in one
   * system call, for the reads that follow to be served from. A reader that
   * knows the first kilobyte holds several records it needs (ELF header,
   * program headers, PT_INTERP) asks for it once instead of record by record.
   */
  readHead(length: number): void {
    const n = this.size < BigInt(length) ? Number(this.size) : length;
    this.head = this.readAt(0n, n, 'file header');
  }

  /**
   * Reads exactly `length` bytes at `offset`, or throws a typed error naming
   * `what` was being read. A range outside the file is ELF_BAD_SEGMENT (or
   * `code` if given); a short read (the file shrank) is an I/O error.
   */
  readAt(offset: bigint, length: number, what: string, code: ElfErrorCode = 'ELF_BAD_SEGMENT'): Buffer {
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_READ) {
      throw new ElfFormatError('ELF_LIMIT', this.path, `${what} is too large to read (${length} bytes)`, offset);
    }
    if (!this.contains(offset, BigInt(length))) {
      throw new ElfFormatError(
        code,
        this.path,
        `${what} lies outside the file (${length} bytes at 0x${offset.toString(16)}, file size ${this.size})`,
        offset,
      );
    }
    if (this.fd === null) throw new ElfIoError(this.path, 'read after close', undefined);
    // The range is inside the file (checked above), so a read inside the head is exact.
    if (this.head !== null && offset + BigInt(length) <= BigInt(this.head.length)) {
      const at = Number(offset);
      return this.head.subarray(at, at + length);
    }
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    try {
      while (done < length) {
        const n = readSync(this.fd, buf, done, length - done, Number(offset) + done);
        if (n === 0) break;
        done += n;
      }
    } catch (err) {
      const errno = errnoOf(err);
      throw new ElfIoError(this.path, `cannot read ${what}`, errno, err);
    }
    this.bytesRead += done;
    if (done !== length) throw new ElfIoError(this.path, `short read of ${what} (file changed while reading?)`, undefined);
    return buf;
  }

  close(): void {
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      try {
        closeSync(fd);
      } catch {
        // Closing a read-only descriptor cannot lose data; nothing to report.
      }
    }
  }
}

function statQuietly(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

