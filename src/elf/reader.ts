/**
 * The ELF reader: what the dynamic loader needs to know about one file, read
 * the way the loader reads it (through program headers, never section
 * headers, which may be stripped), and no more of the file than that:
 * the file header, the program header table, PT_INTERP, the dynamic segment,
 * and the few strings the dynamic entries point at.
 *
 * Any byte string yields either an ElfFile or an ElfdepsError with a code.
 */
import { ElfdepsError, ElfFormatError } from '../errors.js';
import * as C from './constants.js';
import { FileSource } from './file-source.js';
import { codecFor, type RawHeader, type RecordCodec } from './records.js';

/** The loader's limits, used as ours: being stricter than the kernel is pointless, laxer is dangerous. */
export const LIMITS = {
  /** Linux binfmt_elf refuses program header tables over 64 KiB. */
  maxProgramHeaderBytes: 65536,
  /** PT_INTERP must be at most PATH_MAX bytes including the NUL. */
  maxInterpBytes: 4096,
  /** Dynamic entries read before giving up (a real .dynamic has well under 100). */
  maxDynamicEntries: 65536,
  /** Longest string accepted from the string table (an RPATH can be long; 64 KiB is generous). */
  maxStringBytes: 65536,
  /** DT_NEEDED entries accepted from one object. */
  maxNeeded: 4096,
  /**
   * String table bytes read per object, all names together. Without it, 4096
   * DT_NEEDED entries pointing into one 64 KiB string make a 128 KiB file
   * cost 256 MiB of reads and memory. (4096 names at one 128-byte read each fit twice.)
   */
  maxStringTableReadBytes: 1 << 20,
} as const;

export type ElfKind =
  | 'executable' // ET_EXEC with PT_INTERP
  | 'pie-executable' // ET_DYN with PT_INTERP and DF_1_PIE (or without SONAME)
  | 'shared-library' // ET_DYN without DF_1_PIE
  | 'static-executable' // ET_EXEC, no PT_INTERP, no PT_DYNAMIC
  | 'static-pie' // ET_DYN, PT_DYNAMIC, no PT_INTERP, DF_1_PIE
  | 'relocatable'
  | 'core'
  | 'other';

/** The e_ident bytes and file header, decoded but not judged. */
export interface ElfHeader {
  elfClass: 32 | 64;
  littleEndian: boolean;
  /** EI_VERSION. */
  identVersion: number;
  osAbi: number;
  abiVersion: number;
  /** Whether EI_PAD (bytes 9..15) are all zero, as glibc requires. */
  identPadIsZero: boolean;
  type: number;
  machine: number;
  /** e_version. */
  version: number;
  flags: number;
  phoff: bigint;
  phentsize: number;
  phnum: number;
}

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: bigint;
  vaddr: bigint;
  filesz: bigint;
  memsz: bigint;
  /** p_align (notes in a segment aligned to 8 are padded to 8, as GNU tools write them). */
  align: bigint;
}

export interface DynamicInfo {
  /** DT_NEEDED strings, in .dynamic order. */
  needed: string[];
  /** The last DT_SONAME (the loader keeps one slot per tag, the last wins). */
  soname: string | null;
  rpath: string | null;
  runpath: string | null;
  flags: bigint | null;
  flags1: bigint | null;
  /** DT_AUXILIARY and DT_FILTER names (rare: filter objects). */
  auxiliary: string[];
  filter: string[];
  /**
   * The values of the tags that locate the tables the loader uses after
   * mapping (symbols, versions, relocations), the last of each tag as
   * glibc keeps them. Recorded, not read: src/elf/image.ts reads the
   * tables themselves, and only when asked.
   */
  tables: DynamicTables;
}

/** Addresses (virtual, as in the file) and sizes of the dynamic tables; null when the tag is absent. */
export interface DynamicTables {
  strtab: bigint | null;
  strsz: bigint | null;
  symtab: bigint | null;
  syment: bigint | null;
  hash: bigint | null;
  gnuHash: bigint | null;
  versym: bigint | null;
  verneed: bigint | null;
  verneedNum: bigint | null;
  verdef: bigint | null;
  verdefNum: bigint | null;
  rela: bigint | null;
  relaSz: bigint | null;
  relaEnt: bigint | null;
  /** DT_RELACOUNT: the first this many DT_RELA entries are relative (do-rel.h's nrelative). */
  relaCount: bigint | null;
  rel: bigint | null;
  relSz: bigint | null;
  relEnt: bigint | null;
  relCount: bigint | null;
  jmprel: bigint | null;
  pltRelSz: bigint | null;
  /** DT_PLTREL: DT_REL (17) or DT_RELA (7). */
  pltRel: bigint | null;
  relr: bigint | null;
  relrSz: bigint | null;
  relrEnt: bigint | null;
  /** DT_BIND_NOW present, or DF_BIND_NOW in DT_FLAGS, or DF_1_NOW in DT_FLAGS_1 (get-dynamic-info.h). */
  bindNow: boolean;
  /** DT_SYMBOLIC present, or DF_SYMBOLIC in DT_FLAGS. */
  symbolic: boolean;
}

export interface ElfFile {
  path: string;
  header: ElfHeader;
  /** Human-readable machine (x86_64, aarch64, ppc64le, ...). */
  machineName: string;
  typeName: string;
  osAbiName: string;
  kind: ElfKind;
  programHeaders: ProgramHeader[];
  /** The PT_INTERP string, or null. */
  interpreter: string | null;
  /** From PT_DYNAMIC, or null when there is none. */
  dynamic: DynamicInfo | null;
  /** Identity of the file that was read. */
  dev: bigint;
  ino: bigint;
  size: bigint;
  /** Bytes read to produce this answer. */
  bytesRead: number;
}

/** Read in one go at the start of a file (see FileSource.readHead). */
const HEAD_BYTES = 1024;

/** Decodes e_ident and the file header. Judges only what is needed to decode the rest. */
export function readElfHeader(src: FileSource): ElfHeader {
  // The ELF header, the program headers and PT_INTERP usually all lie in the first kilobyte.
  src.readHead(HEAD_BYTES);
  // The magic is judged on the bytes there are, so a short text file and a long one get the same
  // words. The code stays the loader's: it finds a short file too short before reading a magic.
  const start = src.readAt(0n, Number(src.size < 128n ? src.size : 128n), 'ELF identification', 'ELF_TOO_SHORT');
  const magicBytes = Math.min(start.length, 4);
  const code = src.size < BigInt(C.EI_NIDENT) ? 'ELF_TOO_SHORT' : 'ELF_BAD_MAGIC';
  if (!start.subarray(0, magicBytes).equals(C.ELFMAG.subarray(0, magicBytes))) {
    const shebang = /^#![ \t]*([^ \t\n]+)/.exec(start.toString('latin1'));
    throw new ElfFormatError(code, src.path, shebang ? `a script for ${shebang[1]} (#!), not an ELF file` : 'not an ELF file (bad magic)');
  }
  if (code === 'ELF_TOO_SHORT') {
    throw new ElfFormatError(code, src.path, `file too short to be ELF (${src.size} bytes)`);
  }
  const ident = start.subarray(0, C.EI_NIDENT);
  const cls = ident[4];
  const data = ident[5];
  if (cls !== C.ELFCLASS32 && cls !== C.ELFCLASS64) {
    throw new ElfFormatError('ELF_BAD_IDENT', src.path, `invalid ELF class ${cls}`, 4n);
  }
  if (data !== C.ELFDATA2LSB && data !== C.ELFDATA2MSB) {
    throw new ElfFormatError('ELF_BAD_IDENT', src.path, `invalid ELF data encoding ${data}`, 5n);
  }
  const elfClass = cls === C.ELFCLASS64 ? 64 : 32;
  const codec = codecFor(elfClass, data === C.ELFDATA2LSB);
  if (src.size < BigInt(codec.ehsize)) {
    throw new ElfFormatError('ELF_TOO_SHORT', src.path, `file too short for an ELF${elfClass} header (${src.size} bytes)`);
  }
  const raw: RawHeader = codec.header(src.readAt(0n, codec.ehsize, 'ELF header', 'ELF_TOO_SHORT'));
  return {
    elfClass,
    littleEndian: data === C.ELFDATA2LSB,
    identVersion: ident[6] ?? 0,
    osAbi: ident[7] ?? 0,
    abiVersion: ident[8] ?? 0,
    identPadIsZero: ident.subarray(9, 16).every((b) => b === 0),
    type: raw.e_type,
    machine: raw.e_machine,
    version: raw.e_version,
    flags: raw.e_flags,
    phoff: raw.e_phoff,
    phentsize: raw.e_phentsize,
    phnum: raw.e_phnum,
  };
}

/** Reads the program header table (bounded by the kernel's 64 KiB limit). */
export function readProgramHeaders(src: FileSource, header: ElfHeader): ProgramHeader[] {
  if (header.phnum === 0) return [];
  const codec = codecFor(header.elfClass, header.littleEndian);
  if (header.phentsize !== codec.phentsize) {
    throw new ElfFormatError(
      'ELF_BAD_HEADER',
      src.path,
      `e_phentsize is ${header.phentsize}, expected ${codec.phentsize} for ELF${header.elfClass}`,
    );
  }
  const tableBytes = header.phnum * codec.phentsize;
  if (tableBytes > LIMITS.maxProgramHeaderBytes) {
    throw new ElfFormatError('ELF_LIMIT', src.path, `program header table too large (${header.phnum} entries, ${tableBytes} bytes)`);
  }
  const table = src.readAt(header.phoff, tableBytes, 'program header table', 'ELF_BAD_HEADER');
  // Decoded by hand straight into the records kept (every file of a run has
  // a dozen): no intermediate record, and no bigint for p_paddr, which
  // nothing reads. The two classes order the fields differently (p_flags moves).
  const le = header.littleEndian;
  const u32 = (at: number): number => (le ? table.readUInt32LE(at) : table.readUInt32BE(at));
  const out: ProgramHeader[] = [];
  if (header.elfClass === 64) {
    const u64 = (at: number): bigint => (le ? table.readBigUInt64LE(at) : table.readBigUInt64BE(at));
    for (let at = 0; at < tableBytes; at += 56) {
      out.push({ type: u32(at), flags: u32(at + 4), offset: u64(at + 8), vaddr: u64(at + 16), filesz: u64(at + 32), memsz: u64(at + 40), align: u64(at + 48) });
    }
  } else {
    for (let at = 0; at < tableBytes; at += 32) {
      out.push({ type: u32(at), flags: u32(at + 24), offset: BigInt(u32(at + 4)), vaddr: BigInt(u32(at + 8)), filesz: BigInt(u32(at + 16)), memsz: BigInt(u32(at + 20)), align: BigInt(u32(at + 28)) });
    }
  }
  return out;
}

function onlyOne(src: FileSource, phdrs: ProgramHeader[], type: number, name: string): ProgramHeader | null {
  const found = phdrs.filter((p) => p.type === type);
  if (found.length > 1) throw new ElfFormatError('ELF_BAD_HEADER', src.path, `${found.length} ${name} program headers (at most one is allowed)`);
  return found[0] ?? null;
}

function readInterpreter(src: FileSource, ph: ProgramHeader): string {
  // The kernel demands 2..PATH_MAX bytes ending in NUL; the path is the C string before the first NUL.
  if (ph.filesz < 2n || ph.filesz > BigInt(LIMITS.maxInterpBytes)) {
    throw new ElfFormatError('ELF_BAD_INTERP', src.path, `PT_INTERP size ${ph.filesz} is outside 2..${LIMITS.maxInterpBytes}`, ph.offset);
  }
  const bytes = src.readAt(ph.offset, Number(ph.filesz), 'PT_INTERP', 'ELF_BAD_INTERP');
  if (bytes[bytes.length - 1] !== 0) {
    throw new ElfFormatError('ELF_BAD_INTERP', src.path, 'PT_INTERP is not NUL-terminated', ph.offset);
  }
  const end = bytes.indexOf(0);
  if (end === 0) throw new ElfFormatError('ELF_BAD_INTERP', src.path, 'PT_INTERP is empty', ph.offset);
  return bytes.toString('latin1', 0, end);
}

/** Translates a virtual address to a file offset through the PT_LOAD segments. */
export function mapAddress(phdrs: ProgramHeader[], addr: bigint): { offset: bigint; available: bigint } | null {
  for (const p of phdrs) {
    if (p.type !== C.PT_LOAD) continue;
    if (addr >= p.vaddr && addr - p.vaddr < p.filesz) {
      return { offset: addr - p.vaddr + p.offset, available: p.filesz - (addr - p.vaddr) };
    }
  }
  return null;
}

/**
 * The dynamic entries readDynamic looks at: each tag as a number (exact for
 * every tag it keeps, all below 2^31; a tag above 2^53 rounds to a number
 * none of them has), and its value. Entries of other tags are skipped
 * without making a bigint of their value.
 */
interface DynEntries {
  tags: number[];
  vals: bigint[];
}

/** The tags readDynamic dispatches on, as numbers. */
const TAG = {
  NEEDED: Number(C.DT_NEEDED),
  AUXILIARY: Number(C.DT_AUXILIARY),
  FILTER: Number(C.DT_FILTER),
  STRTAB: Number(C.DT_STRTAB),
  STRSZ: Number(C.DT_STRSZ),
};

/** The tags whose last value readDynamic keeps (get-dynamic-info.h keeps one per tag): every tag it reads must be here. */
const KEPT_TAGS = [
  C.DT_SONAME, C.DT_RPATH, C.DT_RUNPATH, C.DT_FLAGS, C.DT_FLAGS_1, C.DT_BIND_NOW, C.DT_SYMBOLIC,
  C.DT_SYMTAB, C.DT_SYMENT, C.DT_HASH, C.DT_GNU_HASH, C.DT_VERSYM, C.DT_VERNEED, C.DT_VERNEEDNUM, C.DT_VERDEF, C.DT_VERDEFNUM,
  C.DT_RELA, C.DT_RELASZ, C.DT_RELAENT, C.DT_RELACOUNT, C.DT_REL, C.DT_RELSZ, C.DT_RELENT, C.DT_RELCOUNT, C.DT_JMPREL, C.DT_PLTRELSZ, C.DT_PLTREL,
  C.DT_RELR, C.DT_RELRSZ, C.DT_RELRENT,
];
const SLOT_OF_TAG = new Map(KEPT_TAGS.map((t, i) => [Number(t), i]));

/** Whether readDynamic keeps entries of this tag (a number, as DynEntries holds them). */
function isReadTag(t: number): boolean {
  return t === TAG.NEEDED || t === TAG.AUXILIARY || t === TAG.FILTER || t === TAG.STRTAB || t === TAG.STRSZ || SLOT_OF_TAG.has(t);
}

function readDynamicEntries(src: FileSource, codec: RecordCodec, ph: ProgramHeader, littleEndian: boolean): DynEntries {
  if (!src.contains(ph.offset, ph.filesz)) {
    throw new ElfFormatError('ELF_BAD_DYNAMIC', src.path, `PT_DYNAMIC (${ph.filesz} bytes) lies outside the file`, ph.offset);
  }
  const capacity = ph.filesz / BigInt(codec.dynsize);
  const limit = capacity < BigInt(LIMITS.maxDynamicEntries) ? Number(capacity) : LIMITS.maxDynamicEntries;
  const entries: DynEntries = { tags: [], vals: [] };
  const wide = codec.dynsize === 16;
  // Read in chunks: a real .dynamic ends within the first few hundred bytes,
  // and a forged p_filesz must not make us read (or allocate) gigabytes.
  const chunkEntries = 64;
  for (let i = 0; i < limit; i += chunkEntries) {
    const n = Math.min(chunkEntries, limit - i);
    const buf = src.readAt(ph.offset + BigInt(i * codec.dynsize), n * codec.dynsize, 'dynamic segment', 'ELF_BAD_DYNAMIC');
    // Decoded by hand, up to DT_NULL (a tag of zero bytes in either byte
    // order; linkers leave spare DT_NULL slots after it): one tag word as a
    // number, and a value as a bigint only for the tags kept. (A record
    // decoder would make an object and two bigints of every entry, for
    // every file of a run.)
    for (let at = 0; at < n * codec.dynsize; at += codec.dynsize) {
      let tag: number;
      if (wide) {
        const lo = littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at + 4);
        const hi = littleEndian ? buf.readUInt32LE(at + 4) : buf.readUInt32BE(at);
        tag = hi * 4294967296 + lo;
      } else tag = littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
      if (tag === 0) return entries;
      if (!isReadTag(tag)) continue;
      entries.tags.push(tag);
      const v = at + codec.dynsize / 2;
      entries.vals.push(wide ? (littleEndian ? buf.readBigUInt64LE(v) : buf.readBigUInt64BE(v)) : BigInt(littleEndian ? buf.readUInt32LE(v) : buf.readUInt32BE(v)));
    }
  }
  if (capacity > BigInt(LIMITS.maxDynamicEntries)) {
    throw new ElfFormatError('ELF_LIMIT', src.path, `no DT_NULL within the first ${LIMITS.maxDynamicEntries} dynamic entries`, ph.offset);
  }
  throw new ElfFormatError('ELF_BAD_DYNAMIC', src.path, 'dynamic segment has no DT_NULL terminator', ph.offset);
}

/** prefetch reads at most this far between the first and the last string it is asked for... */
const PREFETCH_SPAN = 4096;
/** ...plus this much after the last one, for that string itself. */
const PREFETCH_TAIL = 256;

/** Reads NUL-terminated strings from the dynamic string table, a window at a time. */
class StringTable {
  /** Strings already read, by offset: repeated names cost nothing. */
  private readonly cache = new Map<bigint, string>();
  /** What is left of LIMITS.maxStringTableReadBytes. */
  private budget: number = LIMITS.maxStringTableReadBytes;
  /** Bytes read by prefetch, and their offset in the table. */
  private window: Buffer | null = null;
  private windowAt = 0n;

  constructor(
    private src: FileSource,
    private base: bigint,
    /** Bytes of the table that are present in the file. */
    private size: bigint,
  ) {}

  get(index: bigint, tagName: string): string {
    let s = this.cache.get(index);
    if (s === undefined) {
      s = this.fromWindow(index) ?? this.read(index, tagName);
      this.cache.set(index, s);
    }
    return s;
  }

  /**
   * Reads, in one go, the span of the table that holds the strings at
   * `indexes` (DT_NEEDED, DT_SONAME, ... sit close together in .dynstr), when
   * it is short: one read for all the names instead of one per name. A string
   * that does not end inside the span is read on its own by get().
   */
  prefetch(indexes: bigint[]): void {
    let low: bigint | null = null;
    let high = 0n;
    for (const i of indexes) {
      if (i >= this.size) continue; // get() reports it
      if (low === null || i < low) low = i;
      if (i > high) high = i;
    }
    if (low === null || high - low > BigInt(PREFETCH_SPAN)) return;
    const end = high + BigInt(PREFETCH_TAIL) < this.size ? high + BigInt(PREFETCH_TAIL) : this.size;
    this.window = this.src.readAt(this.base + low, Number(end - low), 'dynamic strings', 'ELF_BAD_STRING');
    this.windowAt = low;
  }

  /** The string at `index` if prefetch read all of it, NUL included; charged to the budget like a read. */
  private fromWindow(index: bigint): string | null {
    const w = this.window;
    if (w === null || index < this.windowAt) return null;
    const start = Number(index - this.windowAt);
    if (start >= w.length) return null;
    const nul = w.indexOf(0, start);
    if (nul < 0 || nul + 1 - start > this.budget) return null;
    this.budget -= nul + 1 - start;
    return w.toString('latin1', start, nul);
  }

  private read(index: bigint, tagName: string): string {
    if (index >= this.size) {
      throw new ElfFormatError('ELF_BAD_STRING', this.src.path, `${tagName} string offset ${index} is beyond the string table (${this.size} bytes)`);
    }
    const parts: Buffer[] = [];
    let pos = index;
    let total = 0;
    let window = 128;
    for (;;) {
      const left = this.size - pos;
      if (left <= 0n) {
        throw new ElfFormatError('ELF_BAD_STRING', this.src.path, `${tagName} string at offset ${index} is not NUL-terminated`, this.base + index);
      }
      // Never read past the NUL of the longest string accepted, so that the
      // limit holds exactly whatever the window sizes are.
      const want = Math.min(window, LIMITS.maxStringBytes + 1 - total, this.budget);
      if (want === 0) {
        throw new ElfFormatError('ELF_LIMIT', this.src.path, `the dynamic section names more than ${LIMITS.maxStringTableReadBytes} bytes of strings`, this.base + index);
      }
      const n = left < BigInt(want) ? Number(left) : want;
      const chunk = this.src.readAt(this.base + pos, n, `${tagName} string`, 'ELF_BAD_STRING');
      this.budget -= n;
      const nul = chunk.indexOf(0);
      if (nul >= 0) {
        parts.push(chunk.subarray(0, nul));
        return Buffer.concat(parts).toString('latin1');
      }
      parts.push(chunk);
      total += n;
      if (total > LIMITS.maxStringBytes) {
        throw new ElfFormatError('ELF_LIMIT', this.src.path, `${tagName} string at offset ${index} is longer than ${LIMITS.maxStringBytes} bytes`, this.base + index);
      }
      pos += BigInt(n);
      window = Math.min(window * 4, 16384);
    }
  }
}

function readDynamic(src: FileSource, header: ElfHeader, phdrs: ProgramHeader[], ph: ProgramHeader): DynamicInfo {
  const codec = codecFor(header.elfClass, header.littleEndian);
  const entries = readDynamicEntries(src, codec, ph, header.littleEndian);
  // One slot per tag, the last one wins (glibc get-dynamic-info.h); DT_NEEDED are all kept.
  let strtab: bigint | null = null;
  let strsz: bigint | null = null;
  // A slot for each tag read below (KEPT_TAGS), found by the tag as a
  // number (see DynEntries). Tags nobody reads are not kept.
  const slots: Array<bigint | null> = new Array<bigint | null>(KEPT_TAGS.length).fill(null);
  const needed: bigint[] = [];
  const auxiliary: bigint[] = [];
  const filter: bigint[] = [];
  const { tags, vals } = entries;
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i] as number;
    const val = vals[i] as bigint;
    if (t === TAG.NEEDED) needed.push(val);
    else if (t === TAG.AUXILIARY) auxiliary.push(val);
    else if (t === TAG.FILTER) filter.push(val);
    else if (t === TAG.STRTAB) strtab = val;
    else if (t === TAG.STRSZ) strsz = val;
    else {
      const slot = SLOT_OF_TAG.get(t);
      if (slot !== undefined) slots[slot] = val;
    }
  }
  const tag = (t: bigint): bigint | null => {
    const slot = SLOT_OF_TAG.get(Number(t));
    // A tag read here but missing from KEPT_TAGS would read as absent, silently.
    if (slot === undefined) throw new ElfdepsError('INTERNAL', `dynamic tag 0x${t.toString(16)} is read but not kept (KEPT_TAGS)`);
    return slots[slot] ?? null;
  };
  if (needed.length > LIMITS.maxNeeded) {
    throw new ElfFormatError('ELF_LIMIT', src.path, `${needed.length} DT_NEEDED entries (limit ${LIMITS.maxNeeded})`);
  }
  const stringTags = [C.DT_SONAME, C.DT_RPATH, C.DT_RUNPATH].filter((t) => tag(t) !== null);
  let table: StringTable | null = null;
  if (needed.length + auxiliary.length + filter.length + stringTags.length > 0) {
    if (strtab === null) throw new ElfFormatError('ELF_BAD_STRTAB', src.path, 'dynamic entries name strings but there is no DT_STRTAB', ph.offset);
    const mapped = mapAddress(phdrs, strtab);
    if (!mapped) {
      throw new ElfFormatError('ELF_BAD_STRTAB', src.path, `DT_STRTAB address 0x${strtab.toString(16)} is not in any PT_LOAD segment's file bytes`);
    }
    let size = mapped.available;
    if (strsz !== null && strsz < size) size = strsz;
    // The segment may claim bytes beyond the end of the file.
    if (mapped.offset > src.size) {
      throw new ElfFormatError('ELF_BAD_STRTAB', src.path, `DT_STRTAB maps to file offset 0x${mapped.offset.toString(16)}, beyond the end of the file`);
    }
    if (mapped.offset + size > src.size) size = src.size - mapped.offset;
    table = new StringTable(src, mapped.offset, size);
    table.prefetch([...needed, ...auxiliary, ...filter, ...stringTags.map((t) => tag(t) as bigint)]);
  }
  const str = (v: bigint, name: string): string => (table as StringTable).get(v, name);
  const opt = (t: bigint, name: string): string | null => {
    const v = tag(t);
    return v === null ? null : str(v, name);
  };
  const flags = tag(C.DT_FLAGS);
  const flags1 = tag(C.DT_FLAGS_1);
  const tables: DynamicTables = {
    strtab,
    strsz,
    symtab: tag(C.DT_SYMTAB),
    syment: tag(C.DT_SYMENT),
    hash: tag(C.DT_HASH),
    gnuHash: tag(C.DT_GNU_HASH),
    versym: tag(C.DT_VERSYM),
    verneed: tag(C.DT_VERNEED),
    verneedNum: tag(C.DT_VERNEEDNUM),
    verdef: tag(C.DT_VERDEF),
    verdefNum: tag(C.DT_VERDEFNUM),
    rela: tag(C.DT_RELA),
    relaSz: tag(C.DT_RELASZ),
    relaEnt: tag(C.DT_RELAENT),
    relaCount: tag(C.DT_RELACOUNT),
    rel: tag(C.DT_REL),
    relSz: tag(C.DT_RELSZ),
    relEnt: tag(C.DT_RELENT),
    relCount: tag(C.DT_RELCOUNT),
    jmprel: tag(C.DT_JMPREL),
    pltRelSz: tag(C.DT_PLTRELSZ),
    pltRel: tag(C.DT_PLTREL),
    relr: tag(C.DT_RELR),
    relrSz: tag(C.DT_RELRSZ),
    relrEnt: tag(C.DT_RELRENT),
    bindNow: tag(C.DT_BIND_NOW) !== null || (flags !== null && (flags & C.DF_BIND_NOW) !== 0n) || (flags1 !== null && (flags1 & C.DF_1_NOW) !== 0n),
    symbolic: tag(C.DT_SYMBOLIC) !== null || (flags !== null && (flags & C.DF_SYMBOLIC) !== 0n),
  };
  return {
    needed: needed.map((v) => str(v, 'DT_NEEDED')),
    soname: opt(C.DT_SONAME, 'DT_SONAME'),
    rpath: opt(C.DT_RPATH, 'DT_RPATH'),
    runpath: opt(C.DT_RUNPATH, 'DT_RUNPATH'),
    flags,
    flags1,
    auxiliary: auxiliary.map((v) => str(v, 'DT_AUXILIARY')),
    filter: filter.map((v) => str(v, 'DT_FILTER')),
    tables,
  };
}

function classify(header: ElfHeader, interpreter: string | null, dynamic: DynamicInfo | null): ElfKind {
  const pie = dynamic?.flags1 != null && (dynamic.flags1 & C.DF_1_PIE) !== 0n;
  switch (header.type) {
    case C.ET_REL:
      return 'relocatable';
    case C.ET_CORE:
      return 'core';
    case C.ET_EXEC:
      return interpreter !== null ? 'executable' : 'static-executable';
    case C.ET_DYN:
      if (pie) return interpreter !== null ? 'pie-executable' : 'static-pie';
      // libc.so.6 has a PT_INTERP and is still a library; a PIE linked
      // before DF_1_PIE existed has an interpreter and no SONAME.
      if (interpreter !== null && dynamic?.soname == null) return 'pie-executable';
      return 'shared-library';
    default:
      return 'other';
  }
}

/** Reads everything after the header from an open source. */
export function readElfDetails(src: FileSource, header: ElfHeader): ElfFile {
  const phdrs = readProgramHeaders(src, header);
  // The kernel (binfmt_elf load_elf_binary) uses the first PT_INTERP and never looks at the others.
  const interpPh = phdrs.find((p) => p.type === C.PT_INTERP) ?? null;
  const dynPh = onlyOne(src, phdrs, C.PT_DYNAMIC, 'PT_DYNAMIC');
  const interpreter = interpPh ? readInterpreter(src, interpPh) : null;
  const dynamic = dynPh && dynPh.filesz > 0n ? readDynamic(src, header, phdrs, dynPh) : null;
  return {
    path: src.path,
    header,
    machineName: C.machineName(header.machine, header.elfClass, header.littleEndian),
    typeName: C.typeName(header.type),
    osAbiName: C.osAbiName(header.osAbi),
    kind: classify(header, interpreter, dynamic),
    programHeaders: phdrs,
    interpreter,
    dynamic,
    dev: src.dev,
    ino: src.ino,
    size: src.size,
    bytesRead: src.bytesRead,
  };
}

/** Opens `path`, reads what the loader would, closes it. Throws ElfdepsError only. */
export function readElf(path: string): ElfFile {
  const src = FileSource.open(path);
  try {
    return readElfDetails(src, readElfHeader(src));
  } finally {
    src.close();
  }
}

/** True when the object is linked dynamically (has an interpreter and so goes through ld.so). */
export function isDynamicallyLinked(elf: ElfFile): boolean {
  return elf.interpreter !== null;
}
