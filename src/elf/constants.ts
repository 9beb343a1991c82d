/**
 * ELF constants, spelled as in the gABI and glibc's elf.h so that the
 * specification and this code can be grepped interchangeably. Only what the
 * reader and the resolver use is here, plus value -> name tables for printing.
 */

export const ELFMAG = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
export const EI_NIDENT = 16;

export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
export const EV_CURRENT = 1;

export const ELFOSABI_SYSV = 0;
export const ELFOSABI_GNU = 3;
export const ELFOSABI_ARM_AEABI = 64;

export const ET_NONE = 0;
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
export const PT_TLS = 7;

export const DT_NULL = 0n;
export const DT_NEEDED = 1n;
export const DT_STRTAB = 5n;
export const DT_STRSZ = 10n;
export const DT_SONAME = 14n;
export const DT_RPATH = 15n;
export const DT_RUNPATH = 29n;
export const DT_FLAGS = 30n;
export const DT_FLAGS_1 = 0x6ffffffbn;
/** Leading relative relocations of DT_RELA / DT_REL (the loader treats that many as relative without reading their type). */
export const DT_RELACOUNT = 0x6ffffff9n;
export const DT_RELCOUNT = 0x6ffffffan;
export const DT_AUXILIARY = 0x7ffffffdn;
export const DT_FILTER = 0x7fffffffn;

// Tags of the tables the loader uses after mapping (symbols, versions, relocations).
export const DT_PLTRELSZ = 2n;
export const DT_HASH = 4n;
export const DT_SYMTAB = 6n;
export const DT_RELA = 7n;
export const DT_RELASZ = 8n;
export const DT_RELAENT = 9n;
export const DT_SYMENT = 11n;
export const DT_SYMBOLIC = 16n;
export const DT_REL = 17n;
export const DT_RELSZ = 18n;
export const DT_RELENT = 19n;
export const DT_PLTREL = 20n;
export const DT_JMPREL = 23n;
export const DT_BIND_NOW = 24n;
export const DT_RELRSZ = 35n;
export const DT_RELR = 36n;
export const DT_RELRENT = 37n;
export const DT_GNU_HASH = 0x6ffffef5n;
export const DT_VERSYM = 0x6ffffff0n;
export const DT_VERDEF = 0x6ffffffcn;
export const DT_VERDEFNUM = 0x6ffffffdn;
export const DT_VERNEED = 0x6ffffffen;
export const DT_VERNEEDNUM = 0x6fffffffn;

// Symbol versioning (gABI, GNU extension).
export const VER_FLG_BASE = 0x1;
export const VER_FLG_WEAK = 0x2;
export const VER_NDX_LOCAL = 0;
export const VER_NDX_GLOBAL = 1;

// Symbol table fields.
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_COMMON = 5;
export const STT_TLS = 6;
export const STT_GNU_IFUNC = 10;
export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;
export const STV_PROTECTED = 3;
export const SHN_UNDEF = 0;
export const SHN_ABS = 0xfff1;

export const DF_ORIGIN = 0x1n;
export const DF_SYMBOLIC = 0x2n;
export const DF_TEXTREL = 0x4n;
export const DF_BIND_NOW = 0x8n;
export const DF_STATIC_TLS = 0x10n;

export const DF_1_NOW = 0x1n;
export const DF_1_GLOBAL = 0x2n;
export const DF_1_NODELETE = 0x8n;
export const DF_1_INITFIRST = 0x20n;
export const DF_1_NOOPEN = 0x40n;
export const DF_1_ORIGIN = 0x80n;
export const DF_1_NODEFLIB = 0x800n;
export const DF_1_PIE = 0x08000000n;

export const EM_NONE = 0;
export const EM_SPARC = 2;
export const EM_386 = 3;
export const EM_68K = 4;
export const EM_MIPS = 8;
export const EM_PARISC = 15;
export const EM_SPARC32PLUS = 18;
export const EM_PPC = 20;
export const EM_PPC64 = 21;
export const EM_S390 = 22;
export const EM_ARM = 40;
export const EM_SH = 42;
export const EM_SPARCV9 = 43;
export const EM_IA_64 = 50;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_RISCV = 243;
export const EM_LOONGARCH = 258;

const MACHINE_NAMES: ReadonlyMap<number, string> = new Map([
  [EM_NONE, 'none'],
  [EM_SPARC, 'sparc'],
  [EM_386, 'i386'],
  [EM_68K, 'm68k'],
  [EM_MIPS, 'mips'],
  [EM_PARISC, 'parisc'],
  [EM_SPARC32PLUS, 'sparc32plus'],
  [EM_PPC, 'ppc'],
  [EM_PPC64, 'ppc64'],
  [EM_S390, 's390'],
  [EM_ARM, 'arm'],
  [EM_SH, 'sh'],
  [EM_SPARCV9, 'sparc64'],
  [EM_IA_64, 'ia64'],
  [EM_X86_64, 'x86_64'],
  [EM_AARCH64, 'aarch64'],
  [EM_RISCV, 'riscv'],
  [EM_LOONGARCH, 'loongarch'],
]);

/**
 * A readable machine name. Where the class or byte order distinguishes
 * ABIs that share an e_machine (ppc64 vs ppc64le, s390 vs s390x, riscv32 vs
 * riscv64, x32), the name says so. Unknown machines print as `EM_<n>`.
 */
export function machineName(machine: number, elfClass: 32 | 64, littleEndian: boolean): string {
  switch (machine) {
    case EM_PPC64:
      return littleEndian ? 'ppc64le' : 'ppc64';
    case EM_S390:
      return elfClass === 64 ? 's390x' : 's390';
    case EM_RISCV:
      return elfClass === 64 ? 'riscv64' : 'riscv32';
    case EM_X86_64:
      return elfClass === 64 ? 'x86_64' : 'x32';
    case EM_MIPS:
      return (elfClass === 64 ? 'mips64' : 'mips') + (littleEndian ? 'el' : '');
    case EM_LOONGARCH:
      return elfClass === 64 ? 'loongarch64' : 'loongarch32';
    case EM_AARCH64:
      return littleEndian ? 'aarch64' : 'aarch64_be';
    case EM_ARM:
      return littleEndian ? 'arm' : 'armeb';
    default:
      return MACHINE_NAMES.get(machine) ?? `EM_${machine}`;
  }
}

const OSABI_NAMES: ReadonlyMap<number, string> = new Map([
  [0, 'SYSV'],
  [1, 'HPUX'],
  [2, 'NETBSD'],
  [3, 'GNU'],
  [6, 'SOLARIS'],
  [7, 'AIX'],
  [8, 'IRIX'],
  [9, 'FREEBSD'],
  [10, 'TRU64'],
  [11, 'MODESTO'],
  [12, 'OPENBSD'],
  [64, 'ARM_AEABI'],
  [97, 'ARM'],
  [255, 'STANDALONE'],
]);

export function osAbiName(osabi: number): string {
  return OSABI_NAMES.get(osabi) ?? `OSABI_${osabi}`;
}

const TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [ET_NONE, 'NONE'],
  [ET_REL, 'REL'],
  [ET_EXEC, 'EXEC'],
  [ET_DYN, 'DYN'],
  [ET_CORE, 'CORE'],
]);

export function typeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `ET_${type}`;
}

/** Names of the DT_FLAGS bits, in bit order. */
export const DF_NAMES: ReadonlyArray<[bigint, string]> = [
  [DF_ORIGIN, 'ORIGIN'],
  [DF_SYMBOLIC, 'SYMBOLIC'],
  [DF_TEXTREL, 'TEXTREL'],
  [DF_BIND_NOW, 'BIND_NOW'],
  [DF_STATIC_TLS, 'STATIC_TLS'],
];

/** Names of the DT_FLAGS_1 bits, in bit order (as readelf prints them). */
export const DF_1_NAMES: ReadonlyArray<[bigint, string]> = [
  [0x1n, 'NOW'],
  [0x2n, 'GLOBAL'],
  [0x4n, 'GROUP'],
  [0x8n, 'NODELETE'],
  [0x10n, 'LOADFLTR'],
  [0x20n, 'INITFIRST'],
  [0x40n, 'NOOPEN'],
  [0x80n, 'ORIGIN'],
  [0x100n, 'DIRECT'],
  [0x200n, 'TRANS'],
  [0x400n, 'INTERPOSE'],
  [0x800n, 'NODEFLIB'],
  [0x1000n, 'NODUMP'],
  [0x2000n, 'CONFALT'],
  [0x4000n, 'ENDFILTEE'],
  [0x8000n, 'DISPRELDNE'],
  [0x10000n, 'DISPRELPND'],
  [0x20000n, 'NODIRECT'],
  [0x40000n, 'IGNMULDEF'],
  [0x80000n, 'NOKSYMS'],
  [0x100000n, 'NOHDR'],
  [0x200000n, 'EDITED'],
  [0x400000n, 'NORELOC'],
  [0x800000n, 'SYMINTPOSE'],
  [0x1000000n, 'GLOBAUDIT'],
  [0x2000000n, 'SINGLETON'],
  [0x4000000n, 'STUB'],
  [0x8000000n, 'PIE'],
  [0x10000000n, 'KMOD'],
  [0x20000000n, 'WEAKFILTER'],
  [0x40000000n, 'NOCOMMON'],
];

/** Flag names set in `value`; unknown bits print as hex. */
export function flagNames(value: bigint, table: ReadonlyArray<[bigint, string]>): string[] {
  const names: string[] = [];
  let rest = value;
  for (const [bit, name] of table) {
    if ((value & bit) !== 0n) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest !== 0n) names.push(`0x${rest.toString(16)}`);
  return names;
}
