/**
 * What one architecture's ldconfig (glibc 2.36) decides on its own: how it
 * classifies a library (flags), which names of subdirectories mean legacy
 * hwcaps, how a system directory expands, and how its C `char` orders
 * names. ldconfig runs natively, so all of this is the root's architecture,
 * never the host's.
 *
 * Sources: sysdeps/unix/sysv/linux/<arch>/readelflib.c (the flag wrapper
 * around elf/readelflib.c), <arch>/ldconfig.h (SYSDEP_KNOWN_INTERPRETER_NAMES,
 * SYSDEP_KNOWN_LIBRARY_NAMES), gnu/lib-names.h (LD_SO), <arch>/dl-cache.h
 * (add_system_dir), x86/dl-hwcap.h, x86/dl-procinfo.c and
 * aarch64/dl-procinfo.c (the hwcap and platform names ldconfig knows).
 */
import * as C from '../elf/constants.js';
import {
  FLAG_AARCH64_LIB64,
  FLAG_ARM_LIBHF,
  FLAG_ARM_LIBSF,
  FLAG_ELF,
  FLAG_ELF_LIBC6,
  FLAG_IA64_LIB64,
  FLAG_MIPS64_LIBN32,
  FLAG_MIPS64_LIBN32_NAN2008,
  FLAG_MIPS64_LIBN64,
  FLAG_MIPS64_LIBN64_NAN2008,
  FLAG_MIPS_LIB32_NAN2008,
  FLAG_POWERPC_LIB64,
  FLAG_RISCV_FLOAT_ABI_DOUBLE,
  FLAG_RISCV_FLOAT_ABI_SOFT,
  FLAG_S390_LIB64,
  FLAG_SPARC_LIB64,
  FLAG_X8664_LIB64,
  FLAG_X8664_LIBX32,
} from '../resolve/ldcache.js';

export const FLAG_LIBC4 = 0x0000;
export const FLAG_ELF_LIBC5 = 0x0002;

/** The few facts about one library file the flag wrapper looks at. */
export interface ElfFacts {
  elfClass: 32 | 64;
  machine: number;
  eflags: number;
}

/** One architecture's ldconfig. */
export interface LdconfigAbi {
  name: string;
  /** The machine ldconfig was built for (for the generic wrapper: the only class it reads). */
  machine: number;
  elfClass: 32 | 64;
  littleEndian: boolean;
  signedChar: boolean;
  /** readlib.c `interpreters`: PT_INTERP strings that make a library libc5/libc6. */
  interpreters: Map<string, number>;
  /** readlib.c `known_libs`: DT_NEEDED names that do. */
  knownLibs: Map<string, number>;
  /** Whether process_elf_file reads files of this class at all. */
  readsClass(elfClass: 32 | 64, machine: number): boolean;
  /** The wrapper around the generic reader: the final flags, or null when the file is refused. */
  finalFlags(facts: ElfFacts, generic: number): number | null;
  /** `_dl_string_hwcap` (only the names ldconfig's HWCAP_IMPORTANT keeps count for is_hwcap_platform). */
  hwcapBit(name: string, importantOnly: boolean): number | null;
  /** `_dl_string_platform`: the bit of a platform name, or null. */
  platformBit(name: string): number | null;
  /** `add_system_dir` for one directory. */
  systemDirs(dir: string): string[];
  /** Whether GNU property notes carry an x86 ISA level (x86 elf-read-prop.h). */
  readsIsaLevel: boolean;
}

const EF_ARM_EABIMASK = 0xff000000;
const EF_ARM_EABI_VER5 = 0x05000000;
const EF_ARM_ABI_FLOAT_SOFT = 0x200;
const EF_ARM_ABI_FLOAT_HARD = 0x400;
const EF_MIPS_ABI2 = 0x20;
const EF_MIPS_NAN2008 = 0x400;
const EF_RISCV_FLOAT_ABI = 0x6;
const EF_RISCV_RVC = 0x1;

/** x86 (ldconfig's build covers i386 and x86-64): hwcap names sse2, x86_64, avx512_1; platforms from bit 48. */
const X86_HWCAPS = ['sse2', 'x86_64', 'avx512_1'];
const X86_PLATFORMS = ['i586', 'i686', 'haswell', 'xeon_phi'];
const X86_FIRST_PLATFORM = 48;
/** HWCAP_IMPORTANT in ldconfig's x86 build: all three. */
const X86_IMPORTANT = 0b111;

/** Linux arch/arm64/kernel/cpuinfo.c names, as aarch64/dl-procinfo.c lists them (32 bits). */
const AARCH64_HWCAPS = [
  'fp', 'asimd', 'evtstrm', 'aes', 'pmull', 'sha1', 'sha2', 'crc32', 'atomics', 'fphp', 'asimdhp', 'cpuid', 'asimdrdm', 'jscvt', 'fcma', 'lrcpc',
  'dcpop', 'sha3', 'sm3', 'sm4', 'asimddp', 'sha512', 'sve', 'asimdfhm', 'dit', 'uscat', 'ilrcpc', 'flagm', 'ssbs', 'sb', 'paca', 'pacg',
];
/** aarch64 HWCAP_IMPORTANT = HWCAP_ATOMICS. */
const AARCH64_IMPORTANT = 1 << 8;

const libc6 = (names: string[]): Map<string, number> => new Map(names.map((n) => [n, FLAG_ELF_LIBC6]));
const LIBC6_LIBS = ['libc.so.6', 'libm.so.6'];

/** The generic add_system_dir: the directory itself. */
const plainDir = (dir: string): string[] => [dir];

/**
 * x86_64/dl-cache.h: a directory ending in /lib64 or /libx32 stands for
 * .../lib, and .../lib brings .../lib64 and .../libx32 after it. (sparc,
 * aarch64, mips and riscv have their own variants; only x86_64's is needed
 * for upstream-built roots elfdeps meets, and Debian's ldconfig uses none.)
 */
function x8664SystemDirs(dir: string): string[] {
  let base = dir;
  if (base.endsWith('/lib64')) base = base.slice(0, -2);
  else if (base.endsWith('/libx32')) base = base.slice(0, -3);
  return base.endsWith('/lib') ? [base, `${base}64`, `${base}x32`] : [base];
}

function indexBit(list: string[], name: string, mask?: number): number | null {
  const i = list.indexOf(name);
  if (i < 0) return null;
  if (mask !== undefined && ((1 << i) & mask) === 0) return null;
  return i;
}

/** Common parts; `generic` are the wrappers that only fix the flags of 64-bit files. */
function base(
  name: string,
  machine: number,
  elfClass: 32 | 64,
  littleEndian: boolean,
  signedChar: boolean,
  ldSo: string,
  extraInterpreters: string[],
): Pick<LdconfigAbi, 'name' | 'machine' | 'elfClass' | 'littleEndian' | 'signedChar' | 'interpreters' | 'knownLibs' | 'hwcapBit' | 'platformBit' | 'systemDirs' | 'readsIsaLevel'> {
  return {
    name,
    machine,
    elfClass,
    littleEndian,
    signedChar,
    interpreters: libc6([`/lib/${ldSo}`, ...extraInterpreters]),
    knownLibs: libc6(LIBC6_LIBS),
    hwcapBit: () => null,
    platformBit: () => null,
    systemDirs: plainDir,
    readsIsaLevel: false,
  };
}

/** Wrappers reading both classes, with a fixed flag for 64-bit files (powerpc, s390, sparc, ia64). */
function fixed64(flag: number) {
  return {
    readsClass: (): boolean => true,
    finalFlags: (f: ElfFacts, generic: number): number => (f.elfClass === 64 ? flag | FLAG_ELF_LIBC6 : generic),
  };
}

/**
 * The ldconfig of the root whose main loader is for this machine, or null
 * for machines glibc's ldconfig does not exist for. `elfClass` and byte
 * order are the loader's.
 */
export function ldconfigAbiFor(machine: number, elfClass: 32 | 64, littleEndian: boolean): LdconfigAbi | null {
  switch (machine) {
    case C.EM_X86_64:
    case C.EM_386: {
      const x64 = machine === C.EM_X86_64;
      const ldSo = !x64 ? 'ld-linux.so.2' : elfClass === 64 ? 'ld-linux-x86-64.so.2' : 'ld-linux-x32.so.2';
      return {
        ...base(x64 ? (elfClass === 64 ? 'x86_64' : 'x32') : 'i386', machine, elfClass, littleEndian, true, ldSo, x64 ? ['/lib/ld-linux.so.2', '/libx32/ld-linux-x32.so.2', '/lib64/ld-linux-x86-64.so.2'] : ['/lib/ld-linux.so.1']),
        knownLibs: x64 ? libc6(LIBC6_LIBS) : new Map([...libc6(LIBC6_LIBS), ['libc.so.5', FLAG_ELF_LIBC5], ['libm.so.5', FLAG_ELF_LIBC5]]),
        // x86/readelflib.c: x86-64 files of either class, i386 files of class 32; everything else is an unknown machine.
        readsClass: (cls, m) => m === C.EM_X86_64 || (m === C.EM_386 && cls === 32) || (!x64 && m === C.EM_IA_64 && cls === 64),
        finalFlags: (f, generic) => {
          if (f.machine === C.EM_X86_64) return (f.elfClass === 64 ? FLAG_X8664_LIB64 : FLAG_X8664_LIBX32) | FLAG_ELF_LIBC6;
          if (f.machine === C.EM_IA_64) return FLAG_IA64_LIB64 | FLAG_ELF_LIBC6;
          return generic;
        },
        hwcapBit: (name, important) => indexBit(X86_HWCAPS, name, important ? X86_IMPORTANT : undefined),
        platformBit: (name) => {
          const i = X86_PLATFORMS.indexOf(name);
          return i < 0 ? null : X86_FIRST_PLATFORM + i;
        },
        systemDirs: x64 ? x8664SystemDirs : plainDir,
        readsIsaLevel: true,
      };
    }
    case C.EM_AARCH64:
    case C.EM_ARM: {
      const a64 = machine === C.EM_AARCH64;
      const ldSo = a64 ? (littleEndian ? 'ld-linux-aarch64.so.1' : 'ld-linux-aarch64_be.so.1') : 'ld-linux.so.3';
      const extra = a64
        ? ['/lib/ld-linux-aarch64.so.1', '/lib/ld-linux-aarch64_be.so.1', '/lib/ld-linux-aarch64_ilp32.so.1', '/lib/ld-linux-aarch64_be_ilp32.so.1', '/lib/ld-linux.so.3', '/lib/ld-linux-armhf.so.3']
        : ['/lib/ld-linux.so.3', '/lib/ld-linux-armhf.so.3'];
      return {
        ...base(a64 ? 'aarch64' : 'arm', machine, elfClass, littleEndian, false, ldSo, extra),
        // arm/readelflib.c (aarch64 includes it): no machine check; 32-bit files by their EABI float flags.
        readsClass: () => true,
        finalFlags: (f, generic) => {
          if (f.elfClass === 64) return FLAG_AARCH64_LIB64 | FLAG_ELF_LIBC6;
          if (((f.eflags >>> 0) & EF_ARM_EABIMASK) >>> 0 !== EF_ARM_EABI_VER5) return generic;
          if (f.eflags & EF_ARM_ABI_FLOAT_HARD) return FLAG_ARM_LIBHF | FLAG_ELF_LIBC6;
          if (f.eflags & EF_ARM_ABI_FLOAT_SOFT) return FLAG_ARM_LIBSF | FLAG_ELF_LIBC6;
          return FLAG_ELF_LIBC6;
        },
        hwcapBit: a64 ? (name, important) => indexBit(AARCH64_HWCAPS, name, important ? AARCH64_IMPORTANT : undefined) : () => null,
      };
    }
    case C.EM_PPC64:
    case C.EM_PPC:
      return { ...base(machine === C.EM_PPC64 ? 'powerpc64' : 'powerpc', machine, elfClass, littleEndian, false, machine === C.EM_PPC ? 'ld.so.1' : littleEndian ? 'ld64.so.2' : 'ld64.so.1', ['/lib/ld.so.1', '/lib64/ld64.so.1', '/lib64/ld64.so.2']), ...fixed64(FLAG_POWERPC_LIB64) };
    case C.EM_S390:
      return { ...base('s390', machine, elfClass, littleEndian, false, elfClass === 64 ? 'ld64.so.1' : 'ld.so.1', ['/lib/ld.so.1', '/lib/ld64.so.1']), ...fixed64(FLAG_S390_LIB64) };
    case C.EM_SPARC:
    case C.EM_SPARC32PLUS:
    case C.EM_SPARCV9:
      return { ...base('sparc', machine, elfClass, littleEndian, true, elfClass === 64 ? 'ld-linux.so.2' : 'ld-linux.so.2', []), ...fixed64(FLAG_SPARC_LIB64) };
    case C.EM_IA_64:
      return { ...base('ia64', machine, elfClass, littleEndian, true, 'ld-linux-ia64.so.2', ['/lib/ld-linux.so.2']), ...fixed64(FLAG_IA64_LIB64) };
    case C.EM_MIPS:
      return {
        ...base('mips', machine, elfClass, littleEndian, true, 'ld.so.1', elfClass === 64 ? ['/lib32/ld.so.1', '/lib64/ld.so.1'] : []),
        readsClass: () => true,
        finalFlags: (f, generic) => {
          const nan2008 = (f.eflags & EF_MIPS_NAN2008) !== 0;
          if (f.elfClass === 64) return (nan2008 ? FLAG_MIPS64_LIBN64_NAN2008 : FLAG_MIPS64_LIBN64) | FLAG_ELF_LIBC6;
          if ((f.eflags & EF_MIPS_ABI2) !== 0) return (nan2008 ? FLAG_MIPS64_LIBN32_NAN2008 : FLAG_MIPS64_LIBN32) | FLAG_ELF_LIBC6;
          return nan2008 ? FLAG_MIPS_LIB32_NAN2008 | FLAG_ELF_LIBC6 : generic;
        },
      };
    case C.EM_RISCV:
      return {
        ...base('riscv', machine, elfClass, littleEndian, false, elfClass === 64 ? 'ld-linux-riscv64-lp64d.so.1' : 'ld-linux-riscv32-ilp32d.so.1', elfClass === 64 ? ['/lib/ld-linux-riscv64-lp64.so.1'] : ['/lib/ld-linux-riscv32-ilp32.so.1']),
        readsClass: () => true,
        // riscv/readelflib.c: the generic answer plus the float ABI (soft or double); other e_flags refuse the file.
        finalFlags: (f, generic) => {
          const abi = f.eflags & EF_RISCV_FLOAT_ABI;
          if (abi !== 0 && abi !== 0x4) return null;
          if (f.eflags & ~(EF_RISCV_FLOAT_ABI | EF_RISCV_RVC)) return null;
          return generic | (abi === 0 ? FLAG_RISCV_FLOAT_ABI_SOFT : FLAG_RISCV_FLOAT_ABI_DOUBLE);
        },
      };
    default:
      // The generic elf/readelflib.c, built for the native class only (loongarch, m68k, csky, ... in 2.36).
      return {
        ...base(C.machineName(machine, elfClass, littleEndian), machine, elfClass, littleEndian, signedByMachine(machine), 'ld.so.1', []),
        readsClass: (cls) => cls === elfClass,
        finalFlags: (_f, generic) => generic,
      };
  }
}

function signedByMachine(machine: number): boolean {
  return [C.EM_LOONGARCH, C.EM_68K, C.EM_SH].includes(machine);
}

/** FLAG_ELF: the generic reader's answer before interpreter or libc names classify a file. */
export { FLAG_ELF, FLAG_ELF_LIBC6 };
