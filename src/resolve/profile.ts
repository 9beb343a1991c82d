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
  /** glibc <= 2.36: the "important" AT_HWCAP names the CPU has, highest bit first (e.g. ['neon', 'vfp'] on armhf). */
  legacyHwcaps?: string[];
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

/**
 * Whether this kernel maps a vDSO into a program of another machine that it
 * runs natively (a compat ABI): on x86_64, i386 programs get linux-gate.so.1
 * when /proc/sys/abi/vsyscall32 is 1 (arch/x86/entry/vdso/vdso32-setup.c);
 * a 64-bit POWER kernel always maps linux-vdso32.so.1 into 32-bit programs.
 */
function compatVdsoMapped(machineName: string): boolean {
  const host = hostMachineName();
  if (host === 'x86_64' && machineName === 'i386') {
    try {
      return readFileSync('/proc/sys/abi/vsyscall32', 'latin1').trim() === '1';
    } catch {
      return false;
    }
  }
  return host === 'ppc64' && machineName === 'ppc';
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
    if (buf.length <= MAX_LDSO_SCAN) facts = { systemDirs: findSystemDirs(buf), version: findVersion(buf) };
  } catch {
    // Unreadable interpreter: fall back to the root's layout.
  }
  ldsoFactsCache.set(hostPath, facts);
  return facts;
}

const VERSION_MARK = Buffer.from('release version ');

function findVersion(buf: Buffer): [number, number] | null {
  const at = buf.indexOf(VERSION_MARK);
  if (at < 0) return null;
  const m = /^(\d+)\.(\d+)/.exec(buf.toString('latin1', at + VERSION_MARK.length, at + VERSION_MARK.length + 16));
  return m ? [Number(m[1]), Number(m[2])] : null;
}

const DIR_JOINT = Buffer.from('/\0/');
const PATH_BYTE = /[A-Za-z0-9_.\-/]/;

function isPathByte(b: number | undefined): boolean {
  return b !== undefined && PATH_BYTE.test(String.fromCharCode(b));
}
const DIR_CHAR = /^\/[A-Za-z0-9_.\-/]*\/$/;

/**
 * glibc's SYSTEM_DIRS is one string literal of NUL-separated absolute
 * directories, each ending in '/', e.g. "/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0/lib/\0/usr/lib/".
 * Find the first run of at least two such strings that all name a lib directory.
 */
function findSystemDirs(buf: Buffer): string[] | null {
  for (let joint = buf.indexOf(DIR_JOINT); joint >= 0; joint = buf.indexOf(DIR_JOINT, joint + 1)) {
    // Walk back over path bytes only: the literal may follow code bytes rather
    // than a NUL (armhf's ld.so), and those must not become part of the first entry.
    let start = joint;
    while (start > 0 && isPathByte(buf[start - 1]) && joint - start < 256) start--;
    start = buf.indexOf(0x2f, start);
    const dirs: string[] = [];
    let pos = start;
    while (pos < buf.length && dirs.length < 8) {
      const end = buf.indexOf(0, pos);
      if (end < 0 || end - pos > 256) break;
      const s = buf.toString('latin1', pos, end);
      if (!DIR_CHAR.test(s) || !s.includes('lib')) break;
      dirs.push(s);
      pos = end + 1;
    }
    if (dirs.length >= 2) return dirs;
  }
  return null;
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
    const set = new Set(flags.split(/\s+/));
    // glibc tests LZCNT (CPUID 0x80000001 ECX bit 5, the kernel's "abm") from
    // CPUID itself; some virtual machines' kernels leave "abm" out of
    // /proc/cpuinfo although CPUID sets it (seen: AMD EPYC under a 6.18
    // Firecracker kernel, where ld.so --help says x86-64-v4 is supported).
    // No x86 CPU has BMI1 without LZCNT (Intel brought both with Haswell,
    // AMD had ABM since K10), so BMI1 stands for it when "abm" is missing.
    if (set.has('bmi1')) set.add('abm');
    cpuInfo = { vendor: /^vendor_id\s*:\s*(.*)$/m.exec(text)?.[1] ?? '', flags: set };
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

/**
 * What glibc's init_cpu_features (sysdeps/x86/cpu-features.c) makes of an
 * Intel CPU: AT_PLATFORM becomes "haswell" or "xeon_phi", and AVX-512 sets
 * the legacy HWCAP_X86_AVX512_1 bit. On other vendors nothing changes.
 */
function x86Overrides(): { platform: string | null; avx512_1: boolean } {
  const cpu = hostCpu();
  if (cpu.vendor !== 'GenuineIntel') return { platform: null, avx512_1: false };
  const has = (...names: string[]): boolean => names.every((n) => cpu.flags.has(n));
  let platform: string | null = null;
  let avx512_1 = false;
  if (has('avx512f', 'avx512cd')) {
    if (has('avx512er')) {
      if (has('avx512pf')) platform = 'xeon_phi';
    } else if (has('avx512bw', 'avx512dq', 'avx512vl')) avx512_1 = true;
  }
  if (platform === null && has('avx2', 'fma', 'bmi1', 'bmi2', 'abm', 'movbe', 'popcnt')) platform = 'haswell';
  return { platform, avx512_1 };
}

/** $PLATFORM (AT_PLATFORM) for a machine. */
function platformFor(machineName: string, isHostMachine: boolean): string | null {
  switch (machineName) {
    case 'x86_64':
      return (isHostMachine ? x86Overrides().platform : null) ?? 'x86_64';
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

/** Machines whose AT_PLATFORM is known without knowing the CPU model. */
const LEGACY_PLATFORM_MACHINES = new Set(['x86_64', 'i386', 'x32', 'arm', 'aarch64']);

/** x86 platform names in glibc's order (dl-procinfo.c); their bits start at 48. */
const X86_PLATFORMS = ['i586', 'i686', 'haswell', 'xeon_phi'];

/**
 * glibc <= 2.36 also searched legacy subdirectories (dl-hwcaps.c): every
 * combination of the platform and the "important" AT_HWCAP names (highest bit
 * first), larger combinations first, each first with a leading tls/. Observed
 * on an Intel host: tls/haswell/avx512_1/x86_64, tls/haswell/avx512_1, ...,
 * tls, haswell/avx512_1/x86_64, ..., x86_64. Returns the subdirectories and
 * the hwcap mask legacy cache entries are checked against.
 */
function legacyHwcaps(
  machineName: string,
  platform: string | null,
  isHostMachine: boolean,
  names: string[] | undefined,
  platformGiven: boolean,
): { dirs: string[]; mask: bigint } {
  const parts: string[] = [];
  let mask = 1n << 63n; // the tls/ bit
  // The platform is a subdirectory name only where its value is known without
  // the CPU: x86 (i686, x86_64 or the Intel overrides), arm (v7l), aarch64.
  // ppc64 and s390x report the CPU model (power9, z15...); say it with --platform.
  if (platform && (LEGACY_PLATFORM_MACHINES.has(machineName) || platformGiven)) parts.push(platform);
  if (names !== undefined) {
    // Given by the caller (highest AT_HWCAP bit first); cache entries' masks are not checked against them.
    parts.push(...names);
  } else if (machineName === 'arm') {
    // Every ARMv7 hard-float CPU has NEON and VFP: HWCAP_ARM_NEON (0x1000) and
    // HWCAP_ARM_VFP (0x40) are "important" (observed under qemu-arm:
    // tls/v7l/neon/vfp, ..., neon, vfp).
    parts.push('neon', 'vfp');
    mask |= 0x1000n | 0x40n;
  } else if (machineName === 'x86_64') {
    if (isHostMachine && x86Overrides().avx512_1) {
      parts.push('avx512_1');
      mask |= 0x4n;
    }
    parts.push('x86_64'); // HWCAP_X86_64 is always set
    mask |= 0x2n;
    const idx = platform ? X86_PLATFORMS.indexOf(platform) : -1;
    if (idx >= 0) mask |= 1n << BigInt(48 + idx);
  } else if (machineName === 'i386') {
    // The i386 loader sets HWCAP_X86_SSE2 (bit 0, "sse2") when SSE2 is usable:
    // on every CPU that also runs x86_64 code (observed under qemu-i386:
    // dl_hwcap=0x1, platform i686).
    parts.push('sse2');
    mask |= 0x1n;
    const idx = platform ? X86_PLATFORMS.indexOf(platform) : -1;
    if (idx >= 0) mask |= 1n << BigInt(48 + idx);
  }
  const combos: string[] = [];
  for (let m = (1 << parts.length) - 1; m >= 0; m--) {
    combos.push(parts.filter((_, i) => m & (1 << (parts.length - 1 - i))).join('/'));
  }
  const withTls = combos.map((c) => (c === '' ? 'tls' : `tls/${c}`));
  return { dirs: [...withTls, ...combos.filter((c) => c !== '')], mask };
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
  const vdso = isHostMachine || (fs.isHostRoot && compatVdsoMapped(machineName)) ? vdsoName(machineName) : null;
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
  const legacy =
    glibcVersion[0] === 2 && glibcVersion[1] <= 36 ? legacyHwcaps(machineName, platform, isHostMachine, overrides.legacyHwcaps, overrides.platform !== undefined) : null;
  return {
    flavour: 'glibc',
    interpreter,
    systemDirs,
    lib: (systemDirs[0] ?? '/lib/').replace(/^\/+|\/+$/g, ''),
    platform,
    glibcVersion,
    hwcaps: overrides.hwcaps ?? hw.dirs,
    legacyHwcapDirs: legacy?.dirs ?? [],
    legacyHwcapMask: legacy?.mask ?? null,
    isaLevel: hw.isaLevel,
    vdso,
    muslArch: null,
  };
}
