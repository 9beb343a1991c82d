/**
 * A file as the loader sees it after mapping: bytes addressed by virtual
 * address through the PT_LOAD segments, and the dynamic string table bounded
 * by DT_STRSZ. The tables the loader reads after mapping (versions, symbols,
 * relocations: versions.ts, symbols.ts, relocations.ts) are read through it,
 * each only when first asked for, so resolving a program costs no more than
 * before; the file is opened on first use and checked to be the same file
 * (st_dev, st_ino) the reader parsed.
 *
 * Every address, size and count is a bigint until it has been checked against
 * the segment that holds it; nothing is read outside a PT_LOAD's file bytes.
 */
import { ElfFormatError, ElfIoError, type ElfErrorCode } from '../errors.js';
import * as C from './constants.js';
import { FileSource, MAX_READ } from './file-source.js';
import { mapAddress, readElfDetails, readElfHeader, type ElfFile, type ProgramHeader } from './reader.js';

/** Largest single table read into memory (libLLVM's .dynstr is ~10 MiB; the largest real tables are well below this). */
export const MAX_TABLE_BYTES = 256 << 20;

/** Bytes per cached block, and blocks kept per image: a program's version, symbol and string tables usually share the first few blocks. */
const BLOCK_SIZE = 16 << 10;
const BLOCKS_PER_IMAGE = 4;

/**
 * The images whose blocks are kept: the most recently read few. A run reads
 * one program's tables after another (libraries' tables are kept as decoded
 * tables), so a handful is enough, and memory stays bounded however many
 * images a run makes.
 */
const recentImages = {
  limit: 16,
  order: new Set<ElfImage>(),
  touch(image: ElfImage): void {
    this.order.delete(image);
    this.order.add(image);
    if (this.order.size > this.limit) {
      const oldest = this.order.values().next().value as ElfImage;
      this.order.delete(oldest);
      oldest.dropBlocks();
    }
  },
};

/** Little helpers to decode fixed-width fields in the file's byte order. */
export interface FieldReader {
  u8(buf: Buffer, at: number): number;
  u16(buf: Buffer, at: number): number;
  u32(buf: Buffer, at: number): number;
  u64(buf: Buffer, at: number): bigint;
  /** An address-sized word (4 or 8 bytes). */
  word(buf: Buffer, at: number): bigint;
  wordSize: 4 | 8;
  /** `count` consecutive 16-bit fields from `at` (a table: DT_VERSYM). */
  u16s(buf: Buffer, at: number, count: number): Uint16Array;
  /** `count` consecutive 32-bit fields from `at` (a table: hash buckets and chains). */
  u32s(buf: Buffer, at: number, count: number): Uint32Array;
}

/** Whether this machine stores numbers little-endian: a table in the same byte order is copied as it is. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A table of 16- or 32-bit fields as a typed array: one copy of its bytes
 * when the file's byte order is the machine's (every table of a run on the
 * usual hosts), else field by field. The callers read thousands of entries
 * (libc's hash chain, DT_VERSYM), mostly before V8 optimises the loop.
 */
function fieldTable<T extends Uint16Array | Uint32Array>(make: (n: number) => T, size: 2 | 4, littleEndian: boolean, buf: Buffer, at: number, count: number): T {
  const out = make(count);
  if (littleEndian === HOST_LITTLE_ENDIAN) new Uint8Array(out.buffer, out.byteOffset, count * size).set(buf.subarray(at, at + count * size));
  else if (size === 2) for (let i = 0; i < count; i++) out[i] = littleEndian ? buf.readUInt16LE(at + i * 2) : buf.readUInt16BE(at + i * 2);
  else for (let i = 0; i < count; i++) out[i] = littleEndian ? buf.readUInt32LE(at + i * 4) : buf.readUInt32BE(at + i * 4);
  return out;
}

export function fieldReader(elfClass: 32 | 64, littleEndian: boolean): FieldReader {
  const tables = {
    u16s: (b: Buffer, at: number, count: number): Uint16Array => fieldTable((n) => new Uint16Array(n), 2, littleEndian, b, at, count),
    u32s: (b: Buffer, at: number, count: number): Uint32Array => fieldTable((n) => new Uint32Array(n), 4, littleEndian, b, at, count),
  };
  return littleEndian
    ? {
        u8: (b, at) => b.readUInt8(at),
        u16: (b, at) => b.readUInt16LE(at),
        u32: (b, at) => b.readUInt32LE(at),
        u64: (b, at) => b.readBigUInt64LE(at),
        word: elfClass === 64 ? (b, at) => b.readBigUInt64LE(at) : (b, at) => BigInt(b.readUInt32LE(at)),
        wordSize: elfClass === 64 ? 8 : 4,
        ...tables,
      }
    : {
        u8: (b, at) => b.readUInt8(at),
        u16: (b, at) => b.readUInt16BE(at),
        u32: (b, at) => b.readUInt32BE(at),
        u64: (b, at) => b.readBigUInt64BE(at),
        word: elfClass === 64 ? (b, at) => b.readBigUInt64BE(at) : (b, at) => BigInt(b.readUInt32BE(at)),
        wordSize: elfClass === 64 ? 8 : 4,
        ...tables,
      };
}

export class ElfImage {
  readonly fields: FieldReader;
  private src: FileSource | null = null;
  private strtabBytes: Buffer | null = null;
  private strtabLimit: bigint | null | undefined;
  private readonly memo = new Map<string, unknown>();
  private readonly windowStrings = new Map<bigint, string>();
  private readonly blocks = new Map<number, Buffer>();
  /** The block most recently used (last in `blocks`), or -1. */
  private lastBlock = -1;
  private depth = 0;
  /** Bytes read through this image (the reader's own reads not included). */
  bytesRead = 0;

  constructor(
    readonly file: ElfFile,
    /** Host path to open the file by (the reader's file.path may be an in-root name). */
    readonly hostPath: string = file.path,
  ) {
    this.fields = fieldReader(file.header.elfClass, file.header.littleEndian);
  }

  /** Reads an ELF file and returns its image (for tools and tests; the resolver builds images from files it already read). */
  static open(path: string): ElfImage {
    const src = FileSource.open(path);
    try {
      const file = readElfDetails(src, readElfHeader(src));
      const image = new ElfImage(file, path);
      image.src = src;
      return image;
    } catch (err) {
      src.close();
      throw err;
    }
  }

  /** The file name used in messages. */
  get path(): string {
    return this.file.path;
  }

  /** The value computed by `make` the first time `key` is asked for (each table is read once per image). */
  cached<T>(key: string, make: () => T): T {
    if (this.memo.has(key)) {
      const v = this.memo.get(key);
      if (v instanceof Error) throw v;
      return v as T;
    }
    this.depth++;
    try {
      const v = make();
      this.memo.set(key, v);
      return v;
    } catch (err) {
      // A table that failed to read fails the same way every time, without re-reading.
      if (err instanceof Error) this.memo.set(key, err);
      throw err;
    } finally {
      // Hundreds of images live through one run: none keeps a descriptor open between reads.
      if (--this.depth === 0) this.close();
    }
  }

  /** Runs `make` with the file open as cached() does, keeping nothing: for tables read once and reduced by the caller. */
  uncached<T>(make: () => T): T {
    this.depth++;
    try {
      return make();
    } finally {
      if (--this.depth === 0) this.close();
    }
  }

  private source(): FileSource {
    if (this.src === null) {
      const src = FileSource.open(this.hostPath);
      if (src.dev !== this.file.dev || src.ino !== this.file.ino) {
        src.close();
        throw new ElfIoError(this.path, 'the file changed since its headers were read', undefined);
      }
      this.src = src;
    }
    return this.src;
  }

  /** The PT_LOAD segment whose file bytes hold [addr, addr+length), or null. */
  private segmentFor(addr: bigint, length: bigint): ProgramHeader | null {
    for (const p of this.file.programHeaders) {
      if (p.type !== C.PT_LOAD) continue;
      if (addr >= p.vaddr && addr - p.vaddr <= p.filesz && length <= p.filesz - (addr - p.vaddr)) return p;
    }
    return null;
  }

  /** Whether [addr, addr+length) lies in one segment's file bytes and inside the file (a truncated file claims more than it has). */
  isMapped(addr: bigint, length: bigint): boolean {
    if (length < 0n) return false;
    const seg = this.segmentFor(addr, length);
    if (seg === null) return false;
    const offset = addr - seg.vaddr + seg.offset;
    return offset >= 0n && offset + length <= this.file.size;
  }

  /**
   * Reads `length` bytes at virtual address `addr`. They must lie inside one
   * PT_LOAD segment's file bytes (the tables the loader reads are never in
   * the zero-filled tail) and inside the file.
   */
  read(addr: bigint, length: bigint, what: string, code: ElfErrorCode): Buffer {
    if (length < 0n || length > BigInt(MAX_TABLE_BYTES)) {
      throw new ElfFormatError('ELF_LIMIT', this.path, `${what} is too large to read (${length} bytes)`);
    }
    const seg = this.segmentFor(addr, length);
    if (!seg) {
      throw new ElfFormatError(code, this.path, `${what} (${length} bytes at address 0x${addr.toString(16)}) is not inside any PT_LOAD segment's file bytes`);
    }
    const offset = addr - seg.vaddr + seg.offset;
    if (offset < 0n || offset > this.file.size - length) {
      throw new ElfFormatError(code, this.path, `${what} (${length} bytes at file offset 0x${offset.toString(16)}) lies outside the file`);
    }
    const n = Number(length);
    const at = Number(offset);
    // Small records (version chains, strings, one symbol) come from blocks:
    // one pread for the dozens of records a table spreads over a few KiB.
    const first = Math.floor(at / BLOCK_SIZE);
    if (n <= BLOCK_SIZE && Math.floor((at + n - 1) / BLOCK_SIZE) === first) {
      const block = this.block(first, what, code);
      return block.subarray(at - first * BLOCK_SIZE, at - first * BLOCK_SIZE + n);
    }
    return this.readFile(offset, n, what, code);
  }

  /** Reads `length` bytes at file offset `offset` (segments the loader does not map, such as PT_NOTE's own view), inside the file. */
  readAtOffset(offset: bigint, length: bigint, what: string, code: ElfErrorCode): Buffer {
    if (length < 0n || length > BigInt(MAX_TABLE_BYTES)) throw new ElfFormatError('ELF_LIMIT', this.path, `${what} is too large to read (${length} bytes)`);
    if (offset < 0n || offset > this.file.size - length) {
      throw new ElfFormatError(code, this.path, `${what} (${length} bytes at file offset 0x${offset.toString(16)}) lies outside the file`);
    }
    return this.readFile(offset, Number(length), what, code);
  }

  private readFile(offset: bigint, n: number, what: string, code: ElfErrorCode): Buffer {
    const src = this.source();
    const before = src.bytesRead;
    let buf: Buffer;
    if (n <= MAX_READ) buf = src.readAt(offset, n, what, code);
    else {
      const parts: Buffer[] = [];
      for (let done = 0; done < n; done += MAX_READ) parts.push(src.readAt(offset + BigInt(done), Math.min(MAX_READ, n - done), what, code));
      buf = Buffer.concat(parts, n);
    }
    this.bytesRead += src.bytesRead - before;
    return buf;
  }

  /** Block `index` of the file (the last one may be short), through the run's small block cache. */
  private block(index: number, what: string, code: ElfErrorCode): Buffer {
    const key = index;
    let b = this.blocks.get(key);
    if (b !== undefined) {
      // Most recently used last: Map keeps insertion order. Records of one
      // table come from one block in a row: it is already last.
      if (key !== this.lastBlock) {
        this.blocks.delete(key);
        this.blocks.set(key, b);
        this.lastBlock = key;
      }
      return b;
    }
    const start = index * BLOCK_SIZE;
    const size = Math.min(BLOCK_SIZE, Number(this.file.size) - start);
    b = this.readFile(BigInt(start), size, what, code);
    this.blocks.set(key, b);
    this.lastBlock = key;
    if (this.blocks.size > BLOCKS_PER_IMAGE) this.blocks.delete(this.blocks.keys().next().value as number);
    recentImages.touch(this);
    return b;
  }

  /** Forgets the cached blocks (recentImages calls it when the image has not been read from for a while). */
  dropBlocks(): void {
    this.blocks.clear();
    this.lastBlock = -1;
  }

  /**
   * Bytes of the dynamic string table that the loader may use: from DT_STRTAB
   * up to DT_STRSZ, cut at the end of the segment's file bytes. Null when the
   * object has no DT_STRTAB.
   */
  private stringTableSize(): bigint | null {
    if (this.strtabLimit === undefined) {
      const t = this.file.dynamic?.tables;
      if (!t || t.strtab === null) this.strtabLimit = null;
      else {
        // As the reader bounds it (reader.ts): the segment's file bytes from DT_STRTAB on, then DT_STRSZ.
        const mapped = mapAddress(this.file.programHeaders, t.strtab);
        if (mapped === null) throw new ElfFormatError('ELF_BAD_STRTAB', this.path, `DT_STRTAB address 0x${t.strtab.toString(16)} is not in any PT_LOAD segment's file bytes`);
        let size = mapped.available;
        if (t.strsz !== null && t.strsz < size) size = t.strsz;
        this.strtabLimit = size;
      }
    }
    return this.strtabLimit;
  }

  /** The whole string table in memory (for symbol lookups, which read many names). */
  loadStringTable(): void {
    if (this.strtabBytes !== null) return;
    const size = this.stringTableSize();
    const t = this.file.dynamic?.tables;
    if (size === null || !t || t.strtab === null) throw new ElfFormatError('ELF_BAD_STRTAB', this.path, 'the object has symbols but no DT_STRTAB');
    this.strtabBytes = this.read(t.strtab, size, 'dynamic string table', 'ELF_BAD_STRTAB');
  }

  /**
   * The NUL-terminated string at `offset` in the dynamic string table,
   * checked against DT_STRSZ (a string must end inside the table).
   */
  string(offset: number | bigint, what: string): string {
    const table = this.strtabBytes;
    if (table !== null && typeof offset === 'number' && offset >= 0 && offset < table.length) {
      // The common case (symbol names, once the table is loaded): no bigint.
      // strtabBytes is exactly the DT_STRSZ-bounded table, so the checks below hold.
      const end = table.indexOf(0, offset);
      if (end >= 0) return table.toString('latin1', offset, end);
    }
    const off = BigInt(offset);
    const size = this.stringTableSize();
    if (size === null) throw new ElfFormatError('ELF_BAD_STRTAB', this.path, `${what} names a string but there is no DT_STRTAB`);
    if (off >= size) throw new ElfFormatError('ELF_BAD_STRING', this.path, `${what} string offset ${off} is beyond the string table (${size} bytes)`);
    if (this.strtabBytes !== null) {
      const start = Number(off);
      const end = this.strtabBytes.indexOf(0, start);
      if (end < 0) throw new ElfFormatError('ELF_BAD_STRING', this.path, `${what} string at offset ${off} is not NUL-terminated inside DT_STRSZ`);
      return this.strtabBytes.toString('latin1', start, end);
    }
    // A few names only (versions): read a window at a time instead of the whole table, each offset once.
    const known = this.windowStrings.get(off);
    if (known !== undefined) return known;
    const found = this.readWindowed(off, size, what);
    this.windowStrings.set(off, found);
    return found;
  }

  private readWindowed(off: bigint, size: bigint, what: string): string {
    const base = (this.file.dynamic?.tables.strtab ?? 0n) + off;
    const parts: Buffer[] = [];
    let window = 256n;
    let pos = 0n;
    for (;;) {
      const left = size - off - pos;
      if (left <= 0n) throw new ElfFormatError('ELF_BAD_STRING', this.path, `${what} string at offset ${off} is not NUL-terminated inside DT_STRSZ`);
      const n = left < window ? left : window;
      const chunk = this.read(base + pos, n, `${what} string`, 'ELF_BAD_STRING');
      const nul = chunk.indexOf(0);
      if (nul >= 0) {
        parts.push(chunk.subarray(0, nul));
        return Buffer.concat(parts).toString('latin1');
      }
      parts.push(chunk);
      pos += n;
      if (pos > 65536n) throw new ElfFormatError('ELF_LIMIT', this.path, `${what} string at offset ${off} is longer than 65536 bytes`);
      window *= 4n;
    }
  }

  close(): void {
    this.src?.close();
    this.src = null;
  }
}
