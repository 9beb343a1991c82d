/**
 * The loader profile: the build-time constants and run-time facts of one
 * dynamic loader that change its answers (ldso-rules.md §1.9, §3): which libc,
 * the default directories, $LIB, $PLATFORM, the glibc version (legacy hwcaps
 * before 2.37), the active glibc-hwcaps subdirectories, the vDSO name.
 *
 * Where the interpreter file is available its own strings are the best
 * witness: glibc's ld.so carries its SYSTEM_DIRS list and its version string
 * in .rodata, so the profile reads them from it instead of guessing per
 * distribution. Without them (a synthetic or unknown root) the layout of the
 * root decides.
 */
import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import * as C from '../elf/constants.js';
import type { RootFs } from './rootfs.js';

export type Flavour = 'glibc' | 'musl';

export interface LoaderProfile {
  flavour: Flavour;
  /** The interpreter path (PT_INTERP, or the default for the machine). */
  interpreter: string;
  /** glibc: default directories with trailing '/', in search order. */
  systemDirs: string[];
  lib: string;
  platform: string | null;
  /** glibc version as [major, minor]. */
  glibcVersion: [number, number];
  /** glibc-hwcaps subdirectories in priority order (best first). */
  hwcaps: string[];
  /** glibc <= 2.36: legacy hwcap subdirectories (tls/, platform/...), best first. */
  legacyHwcapDirs: string[];
  /** glibc <= 2.36: the AT_HWCAP/platform/TLS bits legacy cache entries may require, or null (>= 2.37: such entries are skipped). */
  legacyHwcapMask: bigint | null;
  /** x86 ISA level supported (for cache entries), 0 if unknown/not x86. */
  isaLevel: number;
  /** The vDSO's name as ldd prints it, or null when the machine has none we know or it is not the host's. */
  vdso: string | null;
  /** musl: the ARCH in ld-musl-ARCH.so.1. */
  muslArch: string | null;
}

export interface ProfileOverrides {
  platform?: string;
  hwcaps?: string[];
  systemDirs?: string[];
  glibcVersion?: [number, number];
}

/** Debian multiarch triplets by machine name. */
const TRIPLETS: Record<string, string[]> = {
  x86_64: ['x86_64-linux-gnu'],
  x32: ['x86_64-linux-gnux32'],
  i386: ['i386-linux-gnu'],
  aarch64: ['aarch64-linux-gnu'],
  arm: ['arm-linux-gnueabihf', 'arm-linux-gnueabi'],
  ppc64le: ['powerpc64le-linux-gnu'],
  ppc64: ['powerpc64-linux-gnu'],
  ppc: ['powerpc-linux-gnu'],
  s390x: ['s390x-linux-gnu'],
  riscv64: ['riscv64-linux-gnu'],
  mips64el: ['mips64el-linux-gnuabi64'],
  mipsel: ['mipsel-linux-gnu'],
  mips: ['mips-linux-gnu'],
  loongarch64: ['loongarch64-linux-gnu'],
  sparc64: ['sparc64-linux-gnu'],
};

/** Upstream slibdir for machines whose 64-bit libraries live in /lib64. */
const LIB64_MACHINES = new Set(['x86_64', 'aarch64', 'ppc64', 'ppc64le', 's390x', 'sparc64', 'loongarch64', 'mips64', 'mips64el']);

/** The interpreter a machine's programs use when none is named (what ldd would pick). */
export function defaultInterpreter(machine: number, elfClass: 32 | 64, littleEndian: boolean): string {
  const name = C.machineName(machine, elfClass, littleEndian);
  switch (name) {
    case 'x86_64':
      return '/lib64/ld-linux-x86-64.so.2';
    case 'x32':
      return '/libx32/ld-linux-x32.so.2';
    case 'i386':
      return '/lib/ld-linux.so.2';
    case 'aarch64':
      return '/lib/ld-linux-aarch64.so.1';
    case 'aarch64_be':
      return '/lib/ld-linux-aarch64_be.so.1';
    case 'arm':
      return '/lib/ld-linux-armhf.so.3';
    case 'ppc64le':
      return '/lib64/ld64.so.2';
    case 'ppc64':
      return '/lib64/ld64.so.1';
    case 'ppc':
      return '/lib/ld.so.1';
    case 's390x':
      return '/lib/ld64.so.1';
    case 'riscv64':
      return '/lib/ld-linux-riscv64-lp64d.so.1';
    case 'loongarch64':
      return '/lib64/ld-linux-loongarch-lp64d.so.1';
    default:
      return '/lib/ld.so.1';
  }
}

/** The vDSO name glibc registers (setup-vdso.h), by machine. */
function vdsoName(machineName: string): string | null {
  switch (machineName) {
    case 'x86_64':
    case 'x32':
    case 'aarch64':
    case 'riscv64':
      return 'linux-vdso.so.1';
    case 'i386':
      return 'linux-gate.so.1';
    case 'ppc64':
    case 'ppc64le':
    case 's390x':
      return 'linux-vdso64.so.1';
    case 'ppc':
    case 's390':
      return 'linux-vdso32.so.1';
    default:
      return null;
  }
}

export function isMuslInterpreter(interp: string): boolean {
  return /(^|\/)ld-musl-[^/]*\.so\.1$/.test(interp);
}

/** What the interpreter file itself says: its SYSTEM_DIRS and version. Cached per host path. */
interface LdsoFacts {
  systemDirs: string[] | null;
  version: [number, number] | null;
}
const ldsoFactsCache = new Map<string, LdsoFacts>();

/** Cap on how much of an interpreter we scan for its constants (ld.so is ~200-250 KiB). */
const MAX_LDSO_SCAN = 4 << 20;

function readLdsoFacts(hostPath: string): LdsoFacts {
  const cached = ldsoFactsCache.get(hostPath);
  if (cached) return cached;
  let facts: LdsoFacts = { systemDirs: null, version: null };
  try {
    const buf = readFileSync(hostPath);
    if (buf.length <= MAX_LDSO_SCAN) {
      const text = buf.toString('latin1');
      // SYSTEM_DIRS is one string literal of NUL-separated absolute directories
      // ending in '/', e.g. "/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/".
      const m = /\0((?:\/[A-Za-z0-9_.\-/]*lib[A-Za-z0-9_.\-/]*\/\0){1,7}\/[A-Za-z0-9_.\-/]*lib[A-Za-z0-9_.\-/]*\/)\0/.exec(text);
      const v = /release version (\d+)\.(\d+)/.exec(text);
      facts = {
        systemDirs: m ? (m[1] as string).split('\0') : null,
        version: v ? [Number(v[1]), Number(v[2])] : null,
      };
    }
  } catch {
    // Unreadable interpreter: fall back to the root's layout.
  }
  ldsoFactsCache.set(hostPath, facts);
  return facts;
}

/** Default directories from the layout of the root, when the interpreter does not tell. */
function guessSystemDirs(fs: RootFs, machineName: string, interpreter: string): string[] {
  for (const triplet of TRIPLETS[machineName] ?? []) {
    if (fs.isDirectory(`/usr/lib/${triplet}`) || fs.isDirectory(`/lib/${triplet}`)) {
      return [`/lib/${triplet}/`, `/usr/lib/${triplet}/`, '/lib/', '/usr/lib/'];
    }
  }
  // Debian's biarch libc6-i386 and libc6-x32 packages.
  if (machineName === 'i386' && fs.isDirectory('/usr/lib32')) return ['/lib32/', '/usr/lib32/', '/lib/', '/usr/lib/'];
  if (machineName === 'x32' && fs.isDirectory('/usr/libx32')) return ['/libx32/', '/usr/libx32/', '/lib/', '/usr/lib/'];
  if (machineName === 'riscv64') return ['/lib64/lp64d/', '/usr/lib64/lp64d/'];
  if (LIB64_MACHINES.has(machineName) && (fs.isDirectory('/lib64') || interpreter.startsWith('/lib64/'))) return ['/lib64/', '/usr/lib64/'];
  return ['/lib/', '/usr/lib/'];
}

/** Flags from the host CPU (for hwcaps); empty when not readable. */
let cpuInfo: { vendor: string; flags: Set<string> } | null = null;
function hostCpu(): { vendor: string; flags: Set<string> } {
  if (cpuInfo) return cpuInfo;
  try {
    const text = readFileSync('/proc/cpuinfo', 'latin1');
    const flags = /^flags\s*:\s*(.*)$/m.exec(text)?.[1] ?? '';
    cpuInfo = { vendor: /^vendor_id\s*:\s*(.*)$/m.exec(text)?.[1] ?? '', flags: new Set(flags.split(/\s+/)) };
  } catch {
    cpuInfo = { vendor: '', flags: new Set() };
  }
  return cpuInfo;
}

/** The x86-64 ISA level (psABI) the host CPU supports: 1..4. */
export function hostX86IsaLevel(): number {
  const f = hostCpu().flags;
  const all = (names: string[]): boolean => names.every((n) => f.has(n));
  if (!all(['cx16', 'lahf_lm', 'popcnt', 'pni', 'sse4_1', 'sse4_2', 'ssse3'])) return 1;
  if (!all(['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave'])) return 2;
  if (!all(['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'])) return 3;
  return 4;
}

function hostMachineName(): string {
  switch (process.arch) {
    case 'x64':
      return 'x86_64';
    case 'arm64':
      return 'aarch64';
    case 'ia32':
      return 'i386';
    case 'ppc64':
      return endianness() === 'LE' ? 'ppc64le' : 'ppc64';
    case 's390x':
      return 's390x';
    case 'riscv64':
      return 'riscv64';
    default:
      return process.arch;
  }
}

/** $PLATFORM (AT_PLATFORM) for a machine; glibc overrides it on some Intel CPUs. */
function platformFor(machineName: string, isHostMachine: boolean): string | null {
  switch (machineName) {
    case 'x86_64': {
      if (isHostMachine) {
        const cpu = hostCpu();
        if (cpu.vendor === 'GenuineIntel') {
          if (cpu.flags.has('avx512er')) return 'xeon_phi';
          if (['avx2', 'bmi1', 'bmi2', 'abm', 'movbe', 'popcnt', 'fma'].every((n) => cpu.flags.has(n))) return 'haswell';
        }
      }
      return 'x86_64';
    }
    case 'i386':
      return 'i686';
    case 'x32':
      return 'x86_64';
    case 'aarch64':
      return 'aarch64';
    case 'arm':
      return 'v7l';
    case 's390x':
      return 'z13';
    default:
      return machineName;
  }
}

/** glibc-hwcaps subdirectories, best first, for a machine (only x86_64 is derived from the host CPU). */
function hwcapsFor(machineName: string, isHostMachine: boolean): { dirs: string[]; isaLevel: number } {
  if (machineName === 'x86_64' && isHostMachine) {
    const level = hostX86IsaLevel();
    const dirs: string[] = [];
    for (let l = level; l >= 2; l--) dirs.push(`x86-64-v${l}`);
    return { dirs, isaLevel: level };
  }
  return { dirs: [], isaLevel: 0 };
}

/**
 * glibc <= 2.36 also searched legacy subdirectories: every combination of
 * the "important" hwcap names and the platform, larger combinations first,
 * each with and without a leading tls/ (observed order on x86_64:
 * tls/x86_64/x86_64, tls/x86_64, tls/x86_64, tls, x86_64/x86_64, x86_64, x86_64).
 */
function legacyHwcapDirs(machineName: string, platform: string | null): string[] {
  const parts: string[] = [];
  if (machineName === 'x86_64') parts.push('x86_64'); // HWCAP_X86_64 is always set
  if (platform) parts.push(platform);
  const combos: string[] = [];
  for (let mask = (1 << parts.length) - 1; mask >= 0; mask--) {
    combos.push(parts.filter((_, i) => mask & (1 << (parts.length - 1 - i))).join('/'));
  }
  const withTls = combos.map((c) => (c === '' ? 'tls' : `tls/${c}`));
  return [...withTls, ...combos.filter((c) => c !== '')];
}

export interface ProfileInput {
  fs: RootFs;
  machine: number;
  elfClass: 32 | 64;
  littleEndian: boolean;
  /** PT_INTERP of the program, or null (then the machine's default). */
  interpreter: string | null;
  /** Version string from the root's ld.so.cache generator, when known. */
  cacheGenerator?: string | null;
  overrides?: ProfileOverrides;
}

export function loaderProfile(input: ProfileInput): LoaderProfile {
  const { fs, overrides = {} } = input;
  const machineName = C.machineName(input.machine, input.elfClass, input.littleEndian);
  const interpreter = input.interpreter ?? defaultInterpreter(input.machine, input.elfClass, input.littleEndian);
  // hwcaps and $PLATFORM come from the CPU we run on only when the program is for this machine.
  const isHostMachine = machineName === hostMachineName();
  const vdso = isHostMachine ? vdsoName(machineName) : null;
  if (isMuslInterpreter(interpreter)) {
    const arch = /ld-musl-([^/]*)\.so\.1$/.exec(interpreter)?.[1] ?? null;
    return {
      flavour: 'musl',
      interpreter,
      systemDirs: [],
      lib: '',
      platform: null,
      glibcVersion: [0, 0],
      hwcaps: [],
      legacyHwcapDirs: [],
      legacyHwcapMask: null,
      isaLevel: 0,
      vdso: null,
      muslArch: arch,
    };
  }
  const w = fs.walk(interpreter);
  const facts = w.ok && w.kind === 'file' ? readLdsoFacts(w.hostPath) : { systemDirs: null, version: null };
  const genVersion = input.cacheGenerator ? /release version (\d+)\.(\d+)/.exec(input.cacheGenerator) : null;
  const glibcVersion: [number, number] =
    overrides.glibcVersion ?? facts.version ?? (genVersion ? [Number(genVersion[1]), Number(genVersion[2])] : [2, 42]);
  const systemDirs = overrides.systemDirs ?? facts.systemDirs ?? guessSystemDirs(fs, machineName, interpreter);
  const platform = overrides.platform ?? platformFor(machineName, isHostMachine);
  const hw = hwcapsFor(machineName, isHostMachine);
  const legacy = glibcVersion[0] === 2 && glibcVersion[1] <= 36 ? legacyHwcapDirs(machineName, platform) : [];
  return {
    flavour: 'glibc',
    interpreter,
    systemDirs,
    lib: (systemDirs[0] ?? '/lib/').replace(/^\/+|\/+$/g, ''),
    platform,
    glibcVersion,
    hwcaps: overrides.hwcaps ?? hw.dirs,
    legacyHwcapDirs: legacy,
    // HWCAP_X86_64 (bit 1) is always set on x86_64; bit 63 stands for tls/ (dl-hwcaps.h).
    legacyHwcapMask: legacy.length > 0 ? (machineName === 'x86_64' ? 0x2n : 0n) | (1n << 63n) : null,
    isaLevel: hw.isaLevel,
    vdso,
    muslArch: null,
  };
}
