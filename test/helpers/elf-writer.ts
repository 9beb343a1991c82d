/**
 * A small ELF *writer* for tests: builds ELF files of either class, either
 * byte order and any e_machine, with the program headers and dynamic entries
 * the loader looks at (PT_PHDR, PT_INTERP, PT_LOAD, PT_DYNAMIC; DT_NEEDED,
 * DT_SONAME, DT_RPATH, DT_RUNPATH, DT_FLAGS, DT_FLAGS_1, DT_STRTAB, DT_STRSZ).
 * The files contain no code: they are for readers and resolvers, not for
 * running.
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
}

export interface ElfLayout extends ElfAddresses {
  buffer: Buffer;
  /** Offset of each string in .dynstr. */
  strings: ReadonlyMap<string, number>;
  programHeaders: RawPhdr[];
  /** The dynamic array as written (tag, value). */
  dynamic: Array<[bigint, bigint]>;
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
    const dynamicOffset = hasDynamic ? align(strtabOffset + strtab.length, 8) : -1;
    const dynamicSize = dynEntries.length * dynEntSize;
    const end = hasDynamic ? dynamicOffset + dynamicSize : afterInterp;
    const dataBase = vaddrBase + splitDelta;
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
    strtab.bytes().copy(buf, addrs.strtabOffset);
    dynEntries.forEach(([tag, value], i) => {
      const val = typeof value === 'string' ? BigInt(strtab.add(value)) : typeof value === 'function' ? value(addrs) : value;
      dynamic.push([tag, val]);
      patchDyn(buf, shape, i, 'tag', tag);
      patchDyn(buf, shape, i, 'val', val);
    });
  }

  return { ...addrs, buffer: buf, strings: strtab.strings, programHeaders: phdrs, dynamic };
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
