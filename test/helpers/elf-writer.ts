/**
 * A small ELF *writer* for tests: builds ELF files of either class, either
 * byte order and any e_machine, with the program headers and dynamic entries
 * the loader looks at (PT_PHDR, PT_INTERP, PT_LOAD, PT_DYNAMIC; DT_NEEDED,
 * DT_SONAME, DT_RPATH, DT_RUNPATH, DT_FLAGS, DT_FLAGS_1, DT_STRTAB, DT_STRSZ)
 * and, when `tables` asks for them, the tables the loader reads after
 * mapping: DT_SYMTAB, DT_HASH, DT_GNU_HASH, DT_VERSYM, DT_VERNEED, DT_VERDEF,
 * DT_RELA/DT_REL, DT_JMPREL and DT_RELR (see TablesSpec). The files contain
 * no code: they are for readers and resolvers, not for running.
 *
 * High level:  buildElf(spec) -> Buffer, writeElf(path, spec).
 * Low level:   layoutElf(spec) -> the buffer plus every offset and address it
 *              used, and patchHeader / patchPhdr / patchDyn to corrupt one
 *              field of a built file (or of a real binary) in place.
 *
 * The numbers below are written out from the gABI on purpose instead of being
 * imported from src/elf/constants.ts: the writer is an oracle for the reader,
 * so a wrong constant there must not be repeated here.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const MACHINES = {
  i386: 3,
  mips: 8,
  ppc: 20,
  ppc64: 21,
  s390: 22,
  arm: 40,
  x86_64: 62,
  aarch64: 183,
  riscv: 243,
  loongarch: 258,
} as const;
export type MachineName = keyof typeof MACHINES;

/** Class, byte order and machine of the usual Linux ABIs, to spread into an ElfSpec. */
export interface Platform {
  elfClass: 32 | 64;
  littleEndian: boolean;
  machine: number;
}
export const PLATFORMS = {
  x86_64: { elfClass: 64, littleEndian: true, machine: MACHINES.x86_64 },
  i386: { elfClass: 32, littleEndian: true, machine: MACHINES.i386 },
  aarch64: { elfClass: 64, littleEndian: true, machine: MACHINES.aarch64 },
  armhf: { elfClass: 32, littleEndian: true, machine: MACHINES.arm },
  riscv64: { elfClass: 64, littleEndian: true, machine: MACHINES.riscv },
  ppc64: { elfClass: 64, littleEndian: false, machine: MACHINES.ppc64 },
  ppc64le: { elfClass: 64, littleEndian: true, machine: MACHINES.ppc64 },
  ppc: { elfClass: 32, littleEndian: false, machine: MACHINES.ppc },
  s390x: { elfClass: 64, littleEndian: false, machine: MACHINES.s390 },
  mips: { elfClass: 32, littleEndian: false, machine: MACHINES.mips },
  mipsel: { elfClass: 32, littleEndian: true, machine: MACHINES.mips },
} as const satisfies Record<string, Platform>;
export type PlatformName = keyof typeof PLATFORMS;

/** The PT_INTERP each platform's glibc uses (what a fake root filesystem needs). */
export const INTERPRETERS: Record<PlatformName, string> = {
  x86_64: '/lib64/ld-linux-x86-64.so.2',
  i386: '/lib/ld-linux.so.2',
  aarch64: '/lib/ld-linux-aarch64.so.1',
  armhf: '/lib/ld-linux-armhf.so.3',
  riscv64: '/lib/ld-linux-riscv64-lp64d.so.1',
  ppc64: '/lib64/ld64.so.1',
  ppc64le: '/lib64/ld64.so.2',
  ppc: '/lib/ld.so.1',
  s390x: '/lib/ld64.so.1',
  mips: '/lib/ld.so.1',
  mipsel: '/lib/ld.so.1',
};

// gABI values used by the writer.
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const ET_CORE = 4;
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_NOTE = 4;
export const PT_PHDR = 6;
export const DT_NULL = 0n;
export const DT_NEEDED = 1n;
export const DT_STRTAB = 5n;
export const DT_STRSZ = 10n;
export const DT_SONAME = 14n;
export const DT_RPATH = 15n;
export const DT_DEBUG = 21n;
export const DT_RUNPATH = 29n;
export const DT_FLAGS = 30n;
export const DT_FLAGS_1 = 0x6ffffffbn;
export const DT_PLTRELSZ = 2n;
export const DT_HASH = 4n;
export const DT_SYMTAB = 6n;
export const DT_RELA = 7n;
export const DT_RELASZ = 8n;
export const DT_RELAENT = 9n;
export const DT_SYMENT = 11n;
export const DT_REL = 17n;
export const DT_RELSZ = 18n;
export const DT_RELENT = 19n;
export const DT_PLTREL = 20n;
export const DT_JMPREL = 23n;
export const DT_RELRSZ = 35n;
export const DT_RELR = 36n;
export const DT_RELRENT = 37n;
export const DT_GNU_HASH = 0x6ffffef5n;
export const DT_VERSYM = 0x6ffffff0n;
export const DT_VERDEF = 0x6ffffffcn;
export const DT_VERDEFNUM = 0x6ffffffdn;
export const DT_VERNEED = 0x6ffffffen;
export const DT_VERNEEDNUM = 0x6fffffffn;
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;
export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;
export const STV_PROTECTED = 3;
export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;
export const VER_NDX_LOCAL = 0;
export const VER_NDX_GLOBAL = 1;
/** Bit 15 of a DT_VERSYM entry / vna_other: the version is hidden. */
export const VERSYM_HIDDEN = 0x8000;
export const VER_FLG_BASE = 0x1;
export const VER_FLG_WEAK = 0x2;
export const DF_ORIGIN = 0x1n;
export const DF_BIND_NOW = 0x8n;
export const DF_1_NOW = 0x1n;
export const DF_1_NODEFLIB = 0x800n;
export const DF_1_PIE = 0x08000000n;

const PF_X = 1;
const PF_W = 2;
const PF_R = 4;
const PAGE = 0x1000n;

/** One program header as written (32-bit classes truncate the values to 32 bits). */
export interface RawPhdr {
  type: number;
  flags?: number;
  offset: bigint;
  vaddr: bigint;
  /** Defaults to vaddr. */
  paddr?: bigint;
  filesz: bigint;
  /** Defaults to filesz. */
  memsz?: bigint;
  /** Defaults to 1. */
  align?: bigint;
}

/**
 * A dynamic entry's value: a number, a string (interned into .dynstr; the
 * value written is its offset there), or a function of the final layout (for
 * addresses such as DT_STRTAB).
 */
export type DynValue = bigint | string | ((a: ElfAddresses) => bigint);
export type DynEntrySpec = readonly [bigint, DynValue];

export interface HeaderFields {
  type: number;
  machine: number;
  version: number;
  entry: bigint;
  phoff: bigint;
  shoff: bigint;
  flags: number;
  ehsize: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

export interface ElfSpec {
  elfClass: 32 | 64;
  littleEndian: boolean;
  machine: number | MachineName;
  type: 'EXEC' | 'DYN' | 'REL' | 'CORE' | number;
  osAbi?: number;
  abiVersion?: number;
  /** Adds PT_INTERP with this path (NUL-terminated). */
  interpreter?: string;
  needed?: readonly string[];
  soname?: string;
  rpath?: string;
  runpath?: string;
  /** DT_FLAGS. */
  flags?: bigint;
  /** DT_FLAGS_1. */
  flags1?: bigint;
  /** Sets DF_1_PIE in DT_FLAGS_1. */
  pie?: boolean;
  /** No PT_DYNAMIC, no .dynstr, no .dynamic (a static executable). */
  noDynamic?: boolean;
  /** Entries appended after the generated ones, before DT_STRTAB/DT_STRSZ/DT_NULL. */
  extraDynamic?: readonly DynEntrySpec[];
  /** Replaces the whole dynamic array: nothing is added, not even DT_NULL. */
  dynamicEntries?: readonly DynEntrySpec[];
  /** Strings to put in .dynstr even if no entry names them. */
  extraStrings?: readonly string[];
  /** Adds PT_PHDR (first, as the gABI requires). */
  phdrSegment?: boolean;
  /** Virtual address of file offset 0. Default 0x400000 for EXEC, 0 otherwise. */
  vaddrBase?: bigint;
  /**
   * Maps .dynstr and .dynamic through a second PT_LOAD whose vaddr - offset
   * differs from the first one's by 0x10000, as real binaries do for their
   * data segment, so that DT_STRTAB has to be translated through the right one.
   */
  splitLoad?: boolean;
  /** Replaces the generated program headers (the function form sees the final layout). */
  programHeaders?: readonly RawPhdr[] | ((a: ElfAddresses, generated: RawPhdr[]) => RawPhdr[]);
  /** Overrides of file header fields, written after everything else is laid out. */
  header?: Partial<HeaderFields>;
  /** Zero bytes appended at the end of the file (inside no segment). */
  trailingBytes?: number;
  /** Symbol, hash, version and relocation tables (needs a dynamic segment). */
  tables?: TablesSpec;
}

/** One dynamic symbol (Elf_Sym). The null symbol at index 0 is always added by the writer. */
export interface SymbolSpec {
  name: string;
  /** STB_*; default STB_GLOBAL. */
  bind?: number;
  /** STT_*; default STT_FUNC. */
  type?: number;
  /** STV_*; default STV_DEFAULT. Written into the low bits of st_other. */
  visibility?: number;
  /** st_shndx; default 1 (defined). SHN_UNDEF (0) makes the symbol undefined. */
  shndx?: number;
  /** st_value; default 0 for undefined symbols, else 0x1000 + 16 * position. */
  value?: bigint;
  /** st_size; default 0. */
  size?: bigint;
  /** The DT_VERSYM entry (bit 15 hides it); default VER_NDX_GLOBAL (1). */
  version?: number;
}

/** One version needed from a file (Elf_Vernaux). */
export interface VersionNeedAuxSpec {
  name: string;
  /** vna_flags (VER_FLG_WEAK); default 0. */
  flags?: number;
  /** vna_other: the version index symbols use for it. */
  other: number;
  /** vna_hash; default the ELF hash of name. */
  hash?: number;
}

/** One needed file (Elf_Verneed). */
export interface VersionNeedSpec {
  /** vn_file (interned into .dynstr). */
  file: string;
  /** vn_version; default 1. */
  version?: number;
  /** vn_cnt; default versions.length. */
  count?: number;
  versions: readonly VersionNeedAuxSpec[];
}

/** One version this object defines (Elf_Verdef); the VER_FLG_BASE entry is added by the writer. */
export interface VersionDefSpec {
  name: string;
  /** vd_flags; default 0. */
  flags?: number;
  /** vd_ndx; default 2, 3, ... in order (1 is the base entry). */
  index?: number;
  /** Names of the parent versions (further Verdaux entries). */
  parents?: readonly string[];
  /** vd_hash; default the ELF hash of name. */
  hash?: number;
}

/** One relocation (Elf_Rel / Elf_Rela). */
export interface RelocationSpec {
  /** The machine's relocation type (low 8 bits only in ELF32). */
  type: number;
  /** The symbol: a name from `symbols` (its final index) or an index; default 0 (no symbol). */
  symbol?: string | number;
  /** r_offset; default an address inside the table segment. */
  offset?: bigint;
  /** r_addend (RELA only); default 0. */
  addend?: bigint;
}

/**
 * The tables the loader reads after mapping, all written in the PT_LOAD that
 * holds .dynstr (between .dynstr and .dynamic), with their dynamic entries
 * added after the generated ones and before `extraDynamic` (which therefore
 * overrides them: the last entry of a tag wins).
 */
export interface TablesSpec {
  /**
   * Dynamic symbols, after the null symbol. With a GNU hash table the writer
   * reorders them as the linker does: undefined symbols first (below
   * symoffset), then the defined ones sorted by bucket; the final index of
   * each is in the layout's `symbolIndex`.
   */
  symbols?: readonly SymbolSpec[];
  /** Hash tables to write: default 'both' when there are symbols. */
  hash?: 'gnu' | 'sysv' | 'both' | 'none';
  /** DT_GNU_HASH bucket count; default max(1, defined / 2). */
  gnuBuckets?: number;
  /** DT_GNU_HASH Bloom filter words (a power of two); default 2. */
  gnuBloomWords?: number;
  /** DT_GNU_HASH Bloom shift; default 6. */
  gnuBloomShift?: number;
  /** DT_HASH bucket count; default max(1, symbols / 2). */
  sysvBuckets?: number;
  /** DT_HASH entry size; default 8 on 64-bit s390 and Alpha, 4 elsewhere (glibc Elf_Symndx). */
  sysvEntrySize?: 4 | 8;
  /** Writes DT_VERSYM; default true when there are symbols and versions are needed or defined. */
  versym?: boolean;
  verneed?: readonly VersionNeedSpec[];
  /** Versions defined; a VER_FLG_BASE entry named `verdefBase` comes first (index 1). */
  verdef?: readonly VersionDefSpec[];
  /** The base Verdef's name; default the soname, else 'a.out'. */
  verdefBase?: string;
  /** Format of DT_REL(A) and DT_JMPREL; default 'rela'. */
  relocationFormat?: 'rel' | 'rela';
  /** DT_RELA / DT_REL relocations. */
  relocations?: readonly RelocationSpec[];
  /** DT_JMPREL relocations (DT_PLTREL names relocationFormat). */
  pltRelocations?: readonly RelocationSpec[];
  /** Place the PLT relocations right after the data ones and count them in DT_RELASZ too, as some linkers do. */
  pltInsideData?: boolean;
  /** DT_RELR words (addresses and bitmaps, as written). */
  relr?: readonly bigint[];
  /** Generated table entries (tags) to leave out, e.g. DT_RELASZ. */
  omitDynamic?: readonly bigint[];
}

/** Where each table went (file offset, virtual address, size in bytes); null when not written. */
export interface TableRegion {
  offset: number;
  addr: bigint;
  size: number;
}

export interface TablesLayout {
  symtab: TableRegion | null;
  /** Bytes per symbol (24 or 16). */
  syment: number;
  /** Number of symbols including the null one. */
  symbolCount: number;
  gnuHash: TableRegion | null;
  /** DT_GNU_HASH symoffset. */
  symoffset: number;
  hash: TableRegion | null;
  versym: TableRegion | null;
  verneed: TableRegion | null;
  verdef: TableRegion | null;
  rel: TableRegion | null;
  jmprel: TableRegion | null;
  relr: TableRegion | null;
  /** The whole table area. */
  all: TableRegion;
}

/** Where everything went: file offsets, sizes and virtual addresses. */
export interface ElfAddresses {
  elfClass: 32 | 64;
  littleEndian: boolean;
  ehsize: number;
  phoff: number;
  phentsize: number;
  phnum: number;
  /** -1 when there is no interpreter. */
  interpOffset: number;
  interpSize: number;
  interpAddr: bigint;
  /** -1 when there is no dynamic segment. */
  strtabOffset: number;
  strtabSize: number;
  strtabAddr: bigint;
  dynamicOffset: number;
  dynamicSize: number;
  dynamicAddr: bigint;
  dynEntSize: number;
  vaddrBase: bigint;
  fileSize: number;
  /** The tables of `spec.tables`, or null. */
  tables: TablesLayout | null;
}

export interface ElfLayout extends ElfAddresses {
  buffer: Buffer;
  /** Offset of each string in .dynstr. */
  strings: ReadonlyMap<string, number>;
  programHeaders: RawPhdr[];
  /** The dynamic array as written (tag, value). */
  dynamic: Array<[bigint, bigint]>;
  /** Final index of each named symbol in DT_SYMTAB (see TablesSpec.symbols). */
  symbolIndex: ReadonlyMap<string, number>;
}

/** Field positions, enough to patch a header, a program header or a dynamic entry. */
export interface ElfShape {
  elfClass: 32 | 64;
  littleEndian: boolean;
  phoff: number;
  /** Defaults to the class's record size. */
  phentsize?: number;
  dynamicOffset?: number;
}

type FieldPos = { offset: number; size: 1 | 2 | 4 | 8 };
export type HeaderFieldName = keyof HeaderFields;
export type PhdrFieldName = 'type' | 'flags' | 'offset' | 'vaddr' | 'paddr' | 'filesz' | 'memsz' | 'align';

export const HEADER_FIELDS: Record<32 | 64, Record<HeaderFieldName, FieldPos>> = {
  64: {
    type: { offset: 16, size: 2 },
    machine: { offset: 18, size: 2 },
    version: { offset: 20, size: 4 },
    entry: { offset: 24, size: 8 },
    phoff: { offset: 32, size: 8 },
    shoff: { offset: 40, size: 8 },
    flags: { offset: 48, size: 4 },
    ehsize: { offset: 52, size: 2 },
    phentsize: { offset: 54, size: 2 },
    phnum: { offset: 56, size: 2 },
    shentsize: { offset: 58, size: 2 },
    shnum: { offset: 60, size: 2 },
    shstrndx: { offset: 62, size: 2 },
  },
  32: {
    type: { offset: 16, size: 2 },
    machine: { offset: 18, size: 2 },
    version: { offset: 20, size: 4 },
    entry: { offset: 24, size: 4 },
    phoff: { offset: 28, size: 4 },
    shoff: { offset: 32, size: 4 },
    flags: { offset: 36, size: 4 },
    ehsize: { offset: 40, size: 2 },
    phentsize: { offset: 42, size: 2 },
    phnum: { offset: 44, size: 2 },
    shentsize: { offset: 46, size: 2 },
    shnum: { offset: 48, size: 2 },
    shstrndx: { offset: 50, size: 2 },
  },
};

export const PHDR_FIELDS: Record<32 | 64, Record<PhdrFieldName, FieldPos>> = {
  64: {
    type: { offset: 0, size: 4 },
    flags: { offset: 4, size: 4 },
    offset: { offset: 8, size: 8 },
    vaddr: { offset: 16, size: 8 },
    paddr: { offset: 24, size: 8 },
    filesz: { offset: 32, size: 8 },
    memsz: { offset: 40, size: 8 },
    align: { offset: 48, size: 8 },
  },
  // ELF32 moves p_flags after p_memsz.
  32: {
    type: { offset: 0, size: 4 },
    offset: { offset: 4, size: 4 },
    vaddr: { offset: 8, size: 4 },
    paddr: { offset: 12, size: 4 },
    filesz: { offset: 16, size: 4 },
    memsz: { offset: 20, size: 4 },
    flags: { offset: 24, size: 4 },
    align: { offset: 28, size: 4 },
  },
};

const EHSIZE = { 32: 52, 64: 64 } as const;
const PHENTSIZE = { 32: 32, 64: 56 } as const;
const SHENTSIZE = { 32: 40, 64: 64 } as const;
const DYNENTSIZE = { 32: 8, 64: 16 } as const;

/**
 * Writes `value` as an unsigned integer of `size` bytes. Values wider than the
 * field are truncated to its low bits (so 2^64-1 in a 32-bit field is
 * 0xffffffff), which is what corrupting a field with an "extreme value" means.
 */
export function writeUint(buf: Buffer, offset: number, size: 1 | 2 | 4 | 8, value: bigint | number, littleEndian: boolean): void {
  const v = BigInt.asUintN(size * 8, BigInt(value));
  if (size === 8) {
    if (littleEndian) buf.writeBigUInt64LE(v, offset);
    else buf.writeBigUInt64BE(v, offset);
  } else if (size === 4) {
    if (littleEndian) buf.writeUInt32LE(Number(v), offset);
    else buf.writeUInt32BE(Number(v), offset);
  } else if (size === 2) {
    if (littleEndian) buf.writeUInt16LE(Number(v), offset);
    else buf.writeUInt16BE(Number(v), offset);
  } else {
    buf.writeUInt8(Number(v), offset);
  }
}

/** Overwrites one file header field. */
export function patchHeader(buf: Buffer, shape: ElfShape, field: HeaderFieldName, value: bigint | number): void {
  const f = HEADER_FIELDS[shape.elfClass][field];
  writeUint(buf, f.offset, f.size, value, shape.littleEndian);
}

/** Overwrites one field of program header `index`. */
export function patchPhdr(buf: Buffer, shape: ElfShape, index: number, field: PhdrFieldName, value: bigint | number): void {
  const f = PHDR_FIELDS[shape.elfClass][field];
  const stride = shape.phentsize ?? PHENTSIZE[shape.elfClass];
  writeUint(buf, shape.phoff + index * stride + f.offset, f.size, value, shape.littleEndian);
}

/** Overwrites the tag or the value of dynamic entry `index`. */
export function patchDyn(buf: Buffer, shape: ElfShape, index: number, field: 'tag' | 'val', value: bigint | number): void {
  if (shape.dynamicOffset === undefined || shape.dynamicOffset < 0) throw new Error('patchDyn: the shape has no dynamic segment');
  const size = DYNENTSIZE[shape.elfClass];
  const word = (size / 2) as 4 | 8;
  writeUint(buf, shape.dynamicOffset + index * size + (field === 'tag' ? 0 : word), word, value, shape.littleEndian);
}

function typeNumber(type: ElfSpec['type']): number {
  switch (type) {
    case 'EXEC':
      return ET_EXEC;
    case 'DYN':
      return ET_DYN;
    case 'REL':
      return ET_REL;
    case 'CORE':
      return ET_CORE;
    default:
      return type;
  }
}

const align = (n: number, to: number): number => Math.ceil(n / to) * to;

/** .dynstr: a leading NUL, then each distinct string once, in order of first use. */
class StrtabBuilder {
  private readonly offsets = new Map<string, number>();
  private readonly parts: Buffer[] = [Buffer.alloc(1)];
  private size = 1;

  add(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    const bytes = Buffer.from(s + '\0', 'utf8');
    const at = this.size;
    this.offsets.set(s, at);
    this.parts.push(bytes);
    this.size += bytes.length;
    return at;
  }

  get length(): number {
    return this.size;
  }

  get strings(): ReadonlyMap<string, number> {
    return this.offsets;
  }

  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** The ELF (SysV) hash of a name, from the gABI's elf_hash. */
export function sysvHashOf(name: string): number {
  let h = 0;
  for (const c of Buffer.from(name, 'utf8')) {
    h = ((h << 4) + c) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h = (h ^ (g >>> 24)) >>> 0;
    h = (h & ~g) >>> 0;
  }
  return h;
}

/** The GNU hash of a name (Drepper's dl_new_hash: h * 33 + c from 5381). */
export function gnuHashOf(name: string): number {
  let h = 5381;
  for (const c of Buffer.from(name, 'utf8')) h = (h * 33 + c) % 0x100000000;
  return h;
}

/** Byte offsets (relative to the table area) and sizes of each table, plus how to write them. */
interface TablePlan {
  size: number;
  regions: Record<'symtab' | 'gnuHash' | 'hash' | 'versym' | 'verneed' | 'verdef' | 'rel' | 'jmprel' | 'relr', [number, number] | null>;
  syment: number;
  symbolCount: number;
  symoffset: number;
  symbolIndex: Map<string, number>;
  write(buf: Buffer, offset: number, addr: bigint): void;
}

/** Interns every string the tables name and fixes their layout (the bytes are written once .dynstr offsets are final). */
function planTables(spec: ElfSpec, strtab: StrtabBuilder): TablePlan | null {
  const t = spec.tables;
  if (!t) return null;
  const is64 = spec.elfClass === 64;
  const le = spec.littleEndian;
  const machine = typeof spec.machine === 'number' ? spec.machine : MACHINES[spec.machine];
  const symsIn = t.symbols ?? [];
  const hashKind = t.symbols === undefined ? 'none' : (t.hash ?? 'both');
  const gnu = hashKind === 'gnu' || hashKind === 'both';
  const sysv = hashKind === 'sysv' || hashKind === 'both';

  // Symbol order: with a GNU hash, undefined first, then defined sorted by bucket.
  const positioned = symsIn.map((sym, position) => ({ sym, position }));
  const undef = positioned.filter((p) => (p.sym.shndx ?? 1) === 0);
  const defined = positioned.filter((p) => (p.sym.shndx ?? 1) !== 0);
  const gnuBuckets = t.gnuBuckets ?? Math.max(1, Math.floor(defined.length / 2));
  let ordered = positioned;
  let symoffset = 1 + symsIn.length;
  if (gnu) {
    const keyed = defined.map((p) => ({ ...p, bucket: gnuHashOf(p.sym.name) % gnuBuckets }));
    keyed.sort((a, b) => a.bucket - b.bucket || a.position - b.position);
    ordered = [...undef, ...keyed];
    symoffset = 1 + undef.length;
  }
  const symbolCount = 1 + ordered.length;
  const symbolIndex = new Map<string, number>();
  ordered.forEach((p, i) => {
    if (!symbolIndex.has(p.sym.name)) symbolIndex.set(p.sym.name, i + 1);
  });
  for (const p of ordered) if (p.sym.name !== '') strtab.add(p.sym.name);

  const verneed = t.verneed ?? [];
  for (const n of verneed) {
    strtab.add(n.file);
    for (const v of n.versions) strtab.add(v.name);
  }
  const verdefBase = t.verdefBase ?? spec.soname ?? 'a.out';
  const verdefs: Array<{ name: string; flags: number; index: number; parents: readonly string[]; hash: number }> = [];
  if (t.verdef) {
    verdefs.push({ name: verdefBase, flags: 0x1 /* VER_FLG_BASE */, index: 1, parents: [], hash: sysvHashOf(verdefBase) });
    t.verdef.forEach((d, i) => verdefs.push({ name: d.name, flags: d.flags ?? 0, index: d.index ?? i + 2, parents: d.parents ?? [], hash: d.hash ?? sysvHashOf(d.name) }));
  }
  for (const d of verdefs) {
    strtab.add(d.name);
    for (const n of d.parents) strtab.add(n);
  }
  const writeVersym = t.versym ?? (symsIn.length > 0 && (verneed.length > 0 || verdefs.length > 0));

  const syment = is64 ? 24 : 16;
  const sysvEntry = t.sysvEntrySize ?? (is64 && (machine === 22 || machine === 0x9026) ? 8 : 4);
  const sysvBuckets = t.sysvBuckets ?? Math.max(1, Math.floor(symbolCount / 2));
  const bloomWords = t.gnuBloomWords ?? 2;
  const bloomShift = t.gnuBloomShift ?? 6;
  const wordSize = is64 ? 8 : 4;
  const relFormat = t.relocationFormat ?? 'rela';
  const relEnt = relFormat === 'rela' ? (is64 ? 24 : 12) : is64 ? 16 : 8;
  const data = t.relocations ?? [];
  const plt = t.pltRelocations ?? [];

  const regions: TablePlan['regions'] = { symtab: null, gnuHash: null, hash: null, versym: null, verneed: null, verdef: null, rel: null, jmprel: null, relr: null };
  let size = 0;
  const place = (key: keyof TablePlan['regions'], bytes: number): void => {
    size = align(size, 8);
    regions[key] = [size, bytes];
    size += bytes;
  };
  if (t.symbols !== undefined) place('symtab', symbolCount * syment);
  if (gnu) place('gnuHash', 16 + bloomWords * wordSize + gnuBuckets * 4 + (symbolCount - symoffset) * 4);
  if (sysv) place('hash', (2 + sysvBuckets + symbolCount) * sysvEntry);
  if (writeVersym) place('versym', symbolCount * 2);
  if (verneed.length > 0) place('verneed', verneed.reduce((n, v) => n + 16 + 16 * v.versions.length, 0));
  if (verdefs.length > 0) place('verdef', verdefs.reduce((n, d) => n + 20 + 8 * (1 + d.parents.length), 0));
  if (t.pltInsideData) {
    if (data.length + plt.length > 0) place('rel', (data.length + plt.length) * relEnt);
    const r = regions.rel;
    if (r && plt.length > 0) regions.jmprel = [r[0] + data.length * relEnt, plt.length * relEnt];
  } else {
    if (data.length > 0) place('rel', data.length * relEnt);
    if (plt.length > 0) place('jmprel', plt.length * relEnt);
  }
  if (t.relr && t.relr.length > 0) place('relr', t.relr.length * wordSize);
  size = align(size, 8);

  const write = (buf: Buffer, base: number, addr: bigint): void => {
    const u8 = (at: number, v: number): void => writeUint(buf, base + at, 1, v, le);
    const u16 = (at: number, v: number): void => writeUint(buf, base + at, 2, v, le);
    const u32 = (at: number, v: number | bigint): void => writeUint(buf, base + at, 4, v, le);
    const u64 = (at: number, v: number | bigint): void => writeUint(buf, base + at, 8, v, le);
    const word = (at: number, v: number | bigint): void => writeUint(buf, base + at, wordSize as 4 | 8, v, le);
    const name = (s: string): number => (s === '' ? 0 : strtab.add(s));

    // Symbols.
    const r = regions.symtab;
    if (r) {
      ordered.forEach(({ sym, position }, k) => {
        const at = r[0] + (k + 1) * syment;
        const shndx = sym.shndx ?? 1;
        const value = sym.value ?? (shndx === 0 ? 0n : 0x1000n + 16n * BigInt(position));
        const info = ((sym.bind ?? 1) << 4) | ((sym.type ?? 2) & 0xf);
        const other = (sym.visibility ?? 0) & 3;
        if (is64) {
          u32(at, name(sym.name));
          u8(at + 4, info);
          u8(at + 5, other);
          u16(at + 6, shndx);
          u64(at + 8, value);
          u64(at + 16, sym.size ?? 0n);
        } else {
          u32(at, name(sym.name));
          u32(at + 4, value);
          u32(at + 8, sym.size ?? 0n);
          u8(at + 12, info);
          u8(at + 13, other);
          u16(at + 14, shndx);
        }
      });
    }

    // DT_GNU_HASH: header, Bloom filter, buckets, chain (from symoffset).
    const g = regions.gnuHash;
    if (g) {
      const bits = wordSize * 8;
      u32(g[0], gnuBuckets);
      u32(g[0] + 4, symoffset);
      u32(g[0] + 8, bloomWords);
      u32(g[0] + 12, bloomShift);
      const bloom = new Array<bigint>(bloomWords).fill(0n);
      const bucketsAt = g[0] + 16 + bloomWords * wordSize;
      const chainAt = bucketsAt + gnuBuckets * 4;
      const heads = new Array<number>(gnuBuckets).fill(0);
      for (let i = symoffset; i < symbolCount; i++) {
        const h = gnuHashOf((ordered[i - 1] as (typeof ordered)[number]).sym.name);
        const w = Math.floor(h / bits) % bloomWords;
        bloom[w] = (bloom[w] as bigint) | (1n << BigInt(h % bits)) | (1n << BigInt(Math.floor(h / 2 ** bloomShift) % bits));
        const b = h % gnuBuckets;
        if (heads[b] === 0) heads[b] = i;
        const last = i + 1 === symbolCount || gnuHashOf((ordered[i] as (typeof ordered)[number]).sym.name) % gnuBuckets !== b;
        u32(chainAt + (i - symoffset) * 4, (h & ~1) >>> 0 | (last ? 1 : 0));
      }
      bloom.forEach((v, i) => word(g[0] + 16 + i * wordSize, v));
      heads.forEach((v, i) => u32(bucketsAt + i * 4, v));
    }

    // DT_HASH: nbucket, nchain, buckets, chains (every symbol, null included as 0).
    const h = regions.hash;
    if (h) {
      const entry = (i: number, v: number): void => writeUint(buf, base + h[0] + i * sysvEntry, sysvEntry, v, le);
      entry(0, sysvBuckets);
      entry(1, symbolCount);
      const buckets = new Array<number>(sysvBuckets).fill(0);
      const chain = new Array<number>(symbolCount).fill(0);
      for (let i = 1; i < symbolCount; i++) {
        const b = sysvHashOf((ordered[i - 1] as (typeof ordered)[number]).sym.name) % sysvBuckets;
        chain[i] = buckets[b] as number;
        buckets[b] = i;
      }
      buckets.forEach((v, i) => entry(2 + i, v));
      chain.forEach((v, i) => entry(2 + sysvBuckets + i, v));
    }

    const vs = regions.versym;
    if (vs) ordered.forEach(({ sym }, k) => u16(vs[0] + (k + 1) * 2, sym.version ?? 1));

    // Verneed records, each followed by its Vernaux records.
    const vn = regions.verneed;
    if (vn) {
      let at = vn[0];
      verneed.forEach((n, i) => {
        const recSize = 16 + 16 * n.versions.length;
        u16(at, n.version ?? 1);
        u16(at + 2, n.count ?? n.versions.length);
        u32(at + 4, strtab.add(n.file));
        u32(at + 8, n.versions.length > 0 ? 16 : 0);
        u32(at + 12, i + 1 < verneed.length ? recSize : 0);
        n.versions.forEach((v, j) => {
          const a = at + 16 + 16 * j;
          u32(a, v.hash ?? sysvHashOf(v.name));
          u16(a + 4, v.flags ?? 0);
          u16(a + 6, v.other);
          u32(a + 8, strtab.add(v.name));
          u32(a + 12, j + 1 < n.versions.length ? 16 : 0);
        });
        at += recSize;
      });
    }

    // Verdef records, each followed by its Verdaux records (name, then parents).
    const vd = regions.verdef;
    if (vd) {
      let at = vd[0];
      verdefs.forEach((d, i) => {
        const names = [d.name, ...d.parents];
        const recSize = 20 + 8 * names.length;
        u16(at, 1);
        u16(at + 2, d.flags);
        u16(at + 4, d.index);
        u16(at + 6, names.length);
        u32(at + 8, d.hash);
        u32(at + 12, 20);
        u32(at + 16, i + 1 < verdefs.length ? recSize : 0);
        names.forEach((n, j) => {
          u32(at + 20 + 8 * j, strtab.add(n));
          u32(at + 20 + 8 * j + 4, j + 1 < names.length ? 8 : 0);
        });
        at += recSize;
      });
    }

    // Relocations.
    const symbolOf = (rel: RelocationSpec): number => {
      if (rel.symbol === undefined) return 0;
      if (typeof rel.symbol === 'number') return rel.symbol;
      const i = symbolIndex.get(rel.symbol);
      if (i === undefined) throw new Error(`layoutElf: relocation names unknown symbol ${rel.symbol}`);
      return i;
    };
    const writeRel = (at: number, rel: RelocationSpec, i: number): void => {
      const offset = rel.offset ?? addr + BigInt(8 * i);
      const sym = symbolOf(rel);
      if (is64) {
        u64(at, offset);
        u64(at + 8, (BigInt(sym) << 32n) | BigInt(rel.type >>> 0));
        if (relFormat === 'rela') u64(at + 16, rel.addend ?? 0n);
      } else {
        u32(at, offset);
        u32(at + 4, ((sym << 8) | (rel.type & 0xff)) >>> 0);
        if (relFormat === 'rela') u32(at + 8, rel.addend ?? 0n);
      }
    };
    const rr = regions.rel;
    if (rr) data.forEach((rel, i) => writeRel(rr[0] + i * relEnt, rel, i));
    const jr = regions.jmprel;
    if (jr) plt.forEach((rel, i) => writeRel(jr[0] + i * relEnt, rel, data.length + i));
    const rl = regions.relr;
    if (rl && t.relr) t.relr.forEach((v, i) => word(rl[0] + i * wordSize, v));
  };

  return { size, regions, syment, symbolCount, symoffset, symbolIndex, write };
}

/** The dynamic entries naming the planned tables (values read from the final layout). */
function tableEntries(spec: ElfSpec): DynEntrySpec[] {
  const t = spec.tables;
  if (!t) return [];
  const out: DynEntrySpec[] = [];
  const reg = (k: keyof Omit<TablesLayout, 'syment' | 'symbolCount' | 'symoffset' | 'all'>): ((a: ElfAddresses) => bigint) => (a) => a.tables?.[k]?.addr ?? 0n;
  const len = (k: keyof Omit<TablesLayout, 'syment' | 'symbolCount' | 'symoffset' | 'all'>): ((a: ElfAddresses) => bigint) => (a) => BigInt(a.tables?.[k]?.size ?? 0);
  const is64 = spec.elfClass === 64;
  const hashKind = t.symbols === undefined ? 'none' : (t.hash ?? 'both');
  if (t.symbols !== undefined) {
    out.push([DT_SYMTAB, reg('symtab')]);
    out.push([DT_SYMENT, is64 ? 24n : 16n]);
  }
  if (hashKind === 'sysv' || hashKind === 'both') out.push([DT_HASH, reg('hash')]);
  if (hashKind === 'gnu' || hashKind === 'both') out.push([DT_GNU_HASH, reg('gnuHash')]);
  const nverdef = t.verdef ? t.verdef.length + 1 : 0;
  const versym = t.versym ?? ((t.symbols?.length ?? 0) > 0 && ((t.verneed?.length ?? 0) > 0 || nverdef > 0));
  if (versym) out.push([DT_VERSYM, reg('versym')]);
  if ((t.verneed?.length ?? 0) > 0) {
    out.push([DT_VERNEED, reg('verneed')]);
    out.push([DT_VERNEEDNUM, BigInt(t.verneed?.length ?? 0)]);
  }
  if (nverdef > 0) {
    out.push([DT_VERDEF, reg('verdef')]);
    out.push([DT_VERDEFNUM, BigInt(nverdef)]);
  }
  const rela = (t.relocationFormat ?? 'rela') === 'rela';
  const ent = rela ? (is64 ? 24n : 12n) : is64 ? 16n : 8n;
  const nData = t.relocations?.length ?? 0;
  const nPlt = t.pltRelocations?.length ?? 0;
  if (nData > 0 || (t.pltInsideData && nPlt > 0)) {
    out.push([rela ? DT_RELA : DT_REL, reg('rel')]);
    out.push([rela ? DT_RELASZ : DT_RELSZ, len('rel')]);
    out.push([rela ? DT_RELAENT : DT_RELENT, ent]);
  }
  if (nPlt > 0) {
    out.push([DT_JMPREL, reg('jmprel')]);
    out.push([DT_PLTRELSZ, len('jmprel')]);
    out.push([DT_PLTREL, rela ? DT_RELA : DT_REL]);
  }
  if ((t.relr?.length ?? 0) > 0) {
    out.push([DT_RELR, reg('relr')]);
    out.push([DT_RELRSZ, len('relr')]);
    out.push([DT_RELRENT, is64 ? 8n : 4n]);
  }
  const omit = new Set(t.omitDynamic ?? []);
  return out.filter(([tag]) => !omit.has(tag));
}

/** The dynamic array the spec asks for, with values still symbolic. */
function dynamicSpec(spec: ElfSpec): DynEntrySpec[] {
  if (spec.dynamicEntries) return [...spec.dynamicEntries];
  const entries: DynEntrySpec[] = [];
  for (const n of spec.needed ?? []) entries.push([DT_NEEDED, n]);
  if (spec.soname !== undefined) entries.push([DT_SONAME, spec.soname]);
  if (spec.rpath !== undefined) entries.push([DT_RPATH, spec.rpath]);
  if (spec.runpath !== undefined) entries.push([DT_RUNPATH, spec.runpath]);
  if (spec.flags !== undefined) entries.push([DT_FLAGS, spec.flags]);
  const flags1 = spec.pie ? (spec.flags1 ?? 0n) | DF_1_PIE : spec.flags1;
  if (flags1 !== undefined) entries.push([DT_FLAGS_1, flags1]);
  entries.push(...tableEntries(spec));
  entries.push(...(spec.extraDynamic ?? []));
  entries.push([DT_STRTAB, (a) => a.strtabAddr]);
  entries.push([DT_STRSZ, (a) => BigInt(a.strtabSize)]);
  entries.push([DT_NULL, 0n]);
  return entries;
}

function generatedProgramHeaders(spec: ElfSpec, a: ElfAddresses, hasInterp: boolean, hasDynamic: boolean): RawPhdr[] {
  const phdrs: RawPhdr[] = [];
  const tableBytes = BigInt(a.phnum * a.phentsize);
  if (spec.phdrSegment) {
    phdrs.push({ type: PT_PHDR, flags: PF_R, offset: BigInt(a.phoff), vaddr: a.vaddrBase + BigInt(a.phoff), filesz: tableBytes, align: 8n });
  }
  if (hasInterp) {
    phdrs.push({ type: PT_INTERP, flags: PF_R, offset: BigInt(a.interpOffset), vaddr: a.interpAddr, filesz: BigInt(a.interpSize), align: 1n });
  }
  if (spec.splitLoad && hasDynamic) {
    const firstEnd = BigInt(a.strtabOffset);
    phdrs.push({ type: PT_LOAD, flags: PF_R | PF_X, offset: 0n, vaddr: a.vaddrBase, filesz: firstEnd, align: PAGE });
    const rest = BigInt(a.dynamicOffset + a.dynamicSize) - firstEnd;
    phdrs.push({ type: PT_LOAD, flags: PF_R | PF_W, offset: firstEnd, vaddr: a.strtabAddr, filesz: rest, align: PAGE });
  } else {
    const loadEnd = hasDynamic ? a.dynamicOffset + a.dynamicSize : Math.max(a.phoff + a.phnum * a.phentsize, a.interpOffset + a.interpSize);
    phdrs.push({ type: PT_LOAD, flags: PF_R | PF_W | PF_X, offset: 0n, vaddr: a.vaddrBase, filesz: BigInt(loadEnd), align: PAGE });
  }
  if (hasDynamic) {
    phdrs.push({ type: PT_DYNAMIC, flags: PF_R | PF_W, offset: BigInt(a.dynamicOffset), vaddr: a.dynamicAddr, filesz: BigInt(a.dynamicSize), align: BigInt(a.dynEntSize / 2) });
  }
  return phdrs;
}

/** Lays the file out and returns it with every offset and address used. */
export function layoutElf(spec: ElfSpec): ElfLayout {
  const { elfClass, littleEndian } = spec;
  const type = typeNumber(spec.type);
  const machine = typeof spec.machine === 'number' ? spec.machine : MACHINES[spec.machine];
  const hasInterp = spec.interpreter !== undefined;
  const hasDynamic = !spec.noDynamic;
  const dynEntries = hasDynamic ? dynamicSpec(spec) : [];

  const strtab = new StrtabBuilder();
  for (const [, v] of dynEntries) if (typeof v === 'string') strtab.add(v);
  for (const s of spec.extraStrings ?? []) strtab.add(s);
  if (spec.tables && !hasDynamic) throw new Error('layoutElf: tables need a dynamic segment');
  const plan = hasDynamic ? planTables(spec, strtab) : null;

  const ehsize = EHSIZE[elfClass];
  const phentsize = PHENTSIZE[elfClass];
  const dynEntSize = DYNENTSIZE[elfClass];
  const vaddrBase = spec.vaddrBase ?? (type === ET_EXEC ? 0x400000n : 0n);
  const interpBytes = hasInterp ? Buffer.from(`${spec.interpreter}\0`, 'utf8') : Buffer.alloc(0);
  // The second PT_LOAD's vaddr - offset differs from the first's by this much.
  const splitDelta = spec.splitLoad && hasDynamic ? 0x10000n : 0n;

  const addressesFor = (phnum: number): ElfAddresses => {
    const phoff = ehsize;
    const interpOffset = hasInterp ? phoff + phnum * phentsize : -1;
    const afterInterp = phoff + phnum * phentsize + interpBytes.length;
    const strtabOffset = hasDynamic ? align(afterInterp, 8) : -1;
    const tablesOffset = hasDynamic ? align(strtabOffset + strtab.length, 8) : -1;
    const dynamicOffset = hasDynamic ? align(tablesOffset + (plan?.size ?? 0), 8) : -1;
    const dynamicSize = dynEntries.length * dynEntSize;
    const end = hasDynamic ? dynamicOffset + dynamicSize : afterInterp;
    const dataBase = vaddrBase + splitDelta;
    const region = (r: [number, number] | null): TableRegion | null => (r === null ? null : { offset: tablesOffset + r[0], addr: dataBase + BigInt(tablesOffset + r[0]), size: r[1] });
    const tables: TablesLayout | null = plan
      ? {
          symtab: region(plan.regions.symtab),
          syment: plan.syment,
          symbolCount: plan.symbolCount,
          gnuHash: region(plan.regions.gnuHash),
          symoffset: plan.symoffset,
          hash: region(plan.regions.hash),
          versym: region(plan.regions.versym),
          verneed: region(plan.regions.verneed),
          verdef: region(plan.regions.verdef),
          rel: region(plan.regions.rel),
          jmprel: region(plan.regions.jmprel),
          relr: region(plan.regions.relr),
          all: region([0, plan.size]) as TableRegion,
        }
      : null;
    return {
      elfClass,
      littleEndian,
      ehsize,
      phoff,
      phentsize,
      phnum,
      interpOffset,
      interpSize: interpBytes.length,
      interpAddr: hasInterp ? vaddrBase + BigInt(interpOffset) : 0n,
      strtabOffset,
      strtabSize: hasDynamic ? strtab.length : 0,
      strtabAddr: hasDynamic ? dataBase + BigInt(strtabOffset) : 0n,
      dynamicOffset,
      dynamicSize: hasDynamic ? dynamicSize : 0,
      dynamicAddr: hasDynamic ? dataBase + BigInt(dynamicOffset) : 0n,
      dynEntSize,
      vaddrBase,
      fileSize: end + (spec.trailingBytes ?? 0),
      tables,
    };
  };

  // The number of program headers moves everything after the table, and an
  // override may change that number: iterate until the count is stable.
  const choose = (a: ElfAddresses): RawPhdr[] => {
    const generated = generatedProgramHeaders(spec, a, hasInterp, hasDynamic);
    const o = spec.programHeaders;
    if (o === undefined) return generated;
    return typeof o === 'function' ? o(a, generated) : [...o];
  };
  let phnum = (spec.phdrSegment ? 1 : 0) + (hasInterp ? 1 : 0) + (spec.splitLoad && hasDynamic ? 2 : 1) + (hasDynamic ? 1 : 0);
  let addrs = addressesFor(phnum);
  let phdrs = choose(addrs);
  for (let i = 0; phdrs.length !== phnum; i++) {
    if (i > 4) throw new Error('layoutElf: programHeaders override does not settle on a count');
    phnum = phdrs.length;
    addrs = addressesFor(phnum);
    phdrs = choose(addrs);
  }

  const buf = Buffer.alloc(addrs.fileSize);
  const shape: ElfShape = { elfClass, littleEndian, phoff: addrs.phoff, dynamicOffset: addrs.dynamicOffset };

  // e_ident
  buf.write('\x7fELF', 0, 'latin1');
  buf[4] = elfClass === 64 ? 2 : 1;
  buf[5] = littleEndian ? 1 : 2;
  buf[6] = 1; // EI_VERSION
  buf[7] = spec.osAbi ?? 0;
  buf[8] = spec.abiVersion ?? 0;
  const header: HeaderFields = {
    type,
    machine,
    version: 1,
    entry: type === ET_REL ? 0n : vaddrBase + BigInt(ehsize),
    phoff: phdrs.length > 0 ? BigInt(addrs.phoff) : 0n,
    shoff: 0n,
    flags: 0,
    ehsize,
    phentsize,
    phnum: phdrs.length,
    shentsize: SHENTSIZE[elfClass],
    shnum: 0,
    shstrndx: 0,
    ...spec.header,
  };
  for (const field of Object.keys(HEADER_FIELDS[elfClass]) as HeaderFieldName[]) patchHeader(buf, shape, field, header[field]);

  phdrs.forEach((p, i) => {
    patchPhdr(buf, shape, i, 'type', p.type);
    patchPhdr(buf, shape, i, 'flags', p.flags ?? PF_R);
    patchPhdr(buf, shape, i, 'offset', p.offset);
    patchPhdr(buf, shape, i, 'vaddr', p.vaddr);
    patchPhdr(buf, shape, i, 'paddr', p.paddr ?? p.vaddr);
    patchPhdr(buf, shape, i, 'filesz', p.filesz);
    patchPhdr(buf, shape, i, 'memsz', p.memsz ?? p.filesz);
    patchPhdr(buf, shape, i, 'align', p.align ?? 1n);
  });

  if (hasInterp) interpBytes.copy(buf, addrs.interpOffset);

  const dynamic: Array<[bigint, bigint]> = [];
  if (hasDynamic) {
    if (plan && addrs.tables) plan.write(buf, addrs.tables.all.offset, addrs.tables.all.addr);
    strtab.bytes().copy(buf, addrs.strtabOffset);
    dynEntries.forEach(([tag, value], i) => {
      const val = typeof value === 'string' ? BigInt(strtab.add(value)) : typeof value === 'function' ? value(addrs) : value;
      dynamic.push([tag, val]);
      patchDyn(buf, shape, i, 'tag', tag);
      patchDyn(buf, shape, i, 'val', val);
    });
  }

  return { ...addrs, buffer: buf, strings: strtab.strings, programHeaders: phdrs, dynamic, symbolIndex: plan?.symbolIndex ?? new Map() };
}

/** The bytes of the ELF file `spec` describes. */
export function buildElf(spec: ElfSpec): Buffer {
  return layoutElf(spec).buffer;
}

/**
 * Writes the ELF file `spec` describes to `path` with mode 0755 (creating the
 * parent directories, as fake root filesystems need) and returns its layout.
 */
export function writeElf(path: string, spec: ElfSpec): ElfLayout {
  const layout = layoutElf(spec);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, layout.buffer, { mode: 0o755 });
  // writeFileSync's mode is filtered by the umask and ignored for an existing file.
  chmodSync(path, 0o755);
  return layout;
}
