/**
 * Reads glibc's /etc/ld.so.cache and answers "which file would ld.so take
 * for this name", as `_dl_load_cache_lookup` / `search_cache` do
 * (glibc elf/dl-cache.c, sysdeps/generic/dl-cache.h; 2.33-2.38 logic).
 *
 * Three layouts exist: the old libc5 table (`ld.so-1.7.0`), the new table
 * (`glibc-ld.so.cache1.1`, the only one ldconfig writes by default since
 * 2.32), and the old table with the new one hidden in its string area
 * ("compat"); the loader then uses only the new part. Integers are in the
 * target's byte order, so a big-endian root's cache read on this host needs
 * the target's byte order from the caller.
 *
 * The parser is strict where the loader is merely lenient: every offset is
 * checked and every string must end inside the file, so a truncated or
 * corrupt cache is one CACHE_FORMAT error naming the file instead of an
 * answer built from garbage. A cache the loader would ignore (wrong byte
 * order, bad magic) is also a CACHE_FORMAT error; the resolver then behaves
 * as the loader does without a cache.
 */
import { ElfdepsError } from '../errors.js';

/** `flags` low byte: kind of library; high byte: ABI (sysdeps/generic/ldconfig.h). */
export const FLAG_ELF = 0x0001;
export const FLAG_ELF_LIBC6 = 0x0003;
export const FLAG_SPARC_LIB64 = 0x0100;
export const FLAG_IA64_LIB64 = 0x0200;
export const FLAG_X8664_LIB64 = 0x0300;
export const FLAG_S390_LIB64 = 0x0400;
export const FLAG_POWERPC_LIB64 = 0x0500;
export const FLAG_MIPS64_LIBN32 = 0x0600;
export const FLAG_MIPS64_LIBN64 = 0x0700;
export const FLAG_X8664_LIBX32 = 0x0800;
export const FLAG_ARM_LIBHF = 0x0900;
export const FLAG_AARCH64_LIB64 = 0x0a00;
export const FLAG_ARM_LIBSF = 0x0b00;
export const FLAG_MIPS_LIB32_NAN2008 = 0x0c00;
export const FLAG_MIPS64_LIBN32_NAN2008 = 0x0d00;
export const FLAG_MIPS64_LIBN64_NAN2008 = 0x0e00;
export const FLAG_RISCV_FLOAT_ABI_SOFT = 0x0f00;
export const FLAG_RISCV_FLOAT_ABI_DOUBLE = 0x1000;
export const FLAG_LARCH_FLOAT_ABI_SOFT = 0x1100;
export const FLAG_LARCH_FLOAT_ABI_DOUBLE = 0x1200;

/** hwcap bit 62 marks a glibc-hwcaps entry (DL_CACHE_HWCAP_EXTENSION). */
export const DL_CACHE_HWCAP_EXTENSION = 1n << 62n;
/** Bits 32-41 of such an entry hold the x86 ISA level it needs. */
export const DL_CACHE_HWCAP_ISA_LEVEL_MASK = 0x3ff;
/** A CacheTarget.isaLevel that accepts every ISA level (non-x86 loaders do not check). */
export const ISA_LEVEL_ANY = DL_CACHE_HWCAP_ISA_LEVEL_MASK;

/** A sane upper bound for reading a cache file (real ones are tens of KiB; offsets are u32). */
export const LD_CACHE_MAX_BYTES = 64 << 20;

const OLD_MAGIC = 'ld.so-1.7.0';
const NEW_MAGIC = 'glibc-ld.so.cache1.1';
const OLD_HEADER_SIZE = 16; // magic[11], 1 byte padding, u32 nlibs
const OLD_ENTRY_SIZE = 12;
const NEW_HEADER_SIZE = 48;
const NEW_ENTRY_SIZE = 24;
const EXTENSION_MAGIC = 0xeaa42174;
const EXT_TAG_GENERATOR = 0;
const EXT_TAG_GLIBC_HWCAPS = 1;
/** Generator strings are one line of text; cap what we decode from a hostile file. */
const MAX_GENERATOR = 4096;

export type LdCacheFormat = 'old' | 'new' | 'combined';

export interface LdCacheEntry {
  flags: number;
  /** The SONAME (or file name) the entry is found by. */
  key: string;
  /** The path ld.so opens. */
  value: string;
  /** 0n in the old format. */
  hwcap: bigint;
  /** Name of the glibc-hwcaps subdirectory of a glibc-hwcaps entry, null otherwise (or when its index is out of range). */
  hwcapsSubdir: string | null;
  /** x86 ISA level a glibc-hwcaps entry needs (0 = baseline, 1 = v2, 2 = v3, 3 = v4); 0 otherwise. */
  isaLevel: number;
}

export interface LdCache {
  path: string;
  format: LdCacheFormat;
  /** Byte order the integers were read in. */
  littleEndian: boolean;
  /** The entries the loader searches (the new part of a combined file), in file order. */
  entries: LdCacheEntry[];
  /** Extension tag 0: the ldconfig that wrote the file, e.g. "ldconfig (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36". */
  generator: string | null;
  /** Extension tag 1: glibc-hwcaps subdirectory names, indexed by the low 32 bits of an entry's hwcap. */
  hwcapsSubdirs: string[];
}

/** What one target loader accepts; see cacheTargetFor. */
export interface CacheTarget {
  /** Entry flags `_dl_cache_check_flags` accepts. */
  acceptedFlags: number[];
  /** `_DL_CACHE_DEFAULT_ID`: an entry with these flags ends the search at once. */
  preferredFlags: number;
  /** Active glibc-hwcaps subdirectories, best first (e.g. ['x86-64-v3', 'x86-64-v2']). */
  activeHwcaps: string[];
  /** Highest x86 ISA level the CPU supports (0 baseline .. 3 x86-64-v4); ISA_LEVEL_ANY elsewhere. */
  isaLevel: number;
  /**
   * Legacy hwcap bits ld.so allows: (AT_HWCAP & hwcap_mask) | its platform bit | TLS bit 63.
   * An entry with other bits set is skipped. null skips every entry with a legacy hwcap.
   */
  legacyHwcapMask: bigint | null;
  /** Whether `char` is signed for the target (x86, mips, sparc, loongarch): it orders non-ASCII names. */
  signedChar: boolean;
}

/** The string at `offset`, which cstringAt checked. */
function cstringOf(buf: Buffer, offset: number): string {
  return buf.toString('latin1', offset, buf.indexOf(0, offset));
}

/**
 * An entry whose key and value are checked when the cache is parsed but
 * decoded when first read: a lookup reads a dozen of the hundreds of entries.
 */
class CacheEntry implements LdCacheEntry {
  #key: string | undefined;
  #value: string | undefined;

  constructor(
    private readonly buf: Buffer,
    private readonly keyAt: number,
    private readonly valueAt: number,
    readonly flags: number,
    readonly hwcap: bigint,
    readonly hwcapsSubdir: string | null,
    readonly isaLevel: number,
  ) {}

  get key(): string {
    return (this.#key ??= cstringOf(this.buf, this.keyAt));
  }

  get value(): string {
    return (this.#value ??= cstringOf(this.buf, this.valueAt));
  }
}

function formatError(path: string, what: string): ElfdepsError {
  return new ElfdepsError('CACHE_FORMAT', `${path}: malformed ld.so.cache: ${what}`, { path });
}

/** Reads little- or big-endian integers with every offset checked against the file. */
/** What a read is of, for its error message: `what`, or `entry N what` (built only when there is an error). */
function label(what: string, entry: number | undefined): string {
  return entry === undefined ? what : `entry ${entry} ${what}`;
}

class CacheBytes {
  /** The last NUL byte's offset: a string starting at or before it is terminated. */
  private readonly lastNul: number;
  /**
   * Integers are read through a DataView: its getters are V8 builtins, fast
   * even before the parser is optimised, where Buffer's readUInt32LE and
   * readBigUInt64LE are JavaScript (the latter four BigInt operations per
   * call). A parse at start reads hundreds of entries; with Buffer's readers
   * it took most of a short run's ld.so.cache time (docs/architecture.md,
   * "How the command starts").
   */
  private readonly view: DataView;

  constructor(
    readonly buf: Buffer,
    readonly path: string,
    readonly le: boolean,
  ) {
    this.lastNul = buf.lastIndexOf(0);
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private need(offset: number, size: number, what: string, entry: number | undefined): void {
    if (offset < 0 || offset + size > this.buf.length) {
      throw formatError(this.path, `${label(what, entry)} at offset ${offset} lies beyond the end of the file (${this.buf.length} bytes)`);
    }
  }

  u32(offset: number, what: string, entry?: number): number {
    this.need(offset, 4, what, entry);
    return this.view.getUint32(offset, this.le);
  }

  i32(offset: number, what: string, entry?: number): number {
    this.need(offset, 4, what, entry);
    return this.view.getInt32(offset, this.le);
  }

  u64(offset: number, what: string, entry?: number): bigint {
    this.need(offset, 8, what, entry);
    return this.view.getBigUint64(offset, this.le);
  }

  /** Checks that a NUL-terminated string starts at `offset`, and returns the offset. */
  cstringAt(offset: number, what: string, entry?: number): number {
    if (offset < 0 || offset >= this.buf.length) {
      throw formatError(this.path, `${label(what, entry)} offset ${offset} lies beyond the end of the file (${this.buf.length} bytes)`);
    }
    if (offset > this.lastNul) throw formatError(this.path, `${label(what, entry)} at offset ${offset} is not NUL-terminated`);
    return offset;
  }

  /** A NUL-terminated string starting at `offset`; latin1 keeps one char per byte, as the ELF reader does. */
  cstring(offset: number, what: string, entry?: number): string {
    return cstringOf(this.buf, this.cstringAt(offset, what, entry));
  }

  startsWith(offset: number, magic: string): boolean {
    return offset + magic.length <= this.buf.length && this.buf.toString('latin1', offset, offset + magic.length) === magic;
  }
}

/**
 * Parses a whole ld.so.cache. `opts.littleEndian` is the target's byte order:
 * it decides for the old format, and a new header that declares the other
 * order makes the cache unusable for that target (ld.so ignores it).
 */
export function parseLdCache(buf: Buffer, path: string, opts: { littleEndian: boolean }): LdCache {
  const bytes = new CacheBytes(buf, path, opts.littleEndian);
  if (bytes.startsWith(0, NEW_MAGIC)) {
    // ld.so: cachesize > sizeof (struct cache_file_new).
    if (buf.length <= NEW_HEADER_SIZE) throw formatError(path, `${buf.length} bytes is too short for the header`);
    return parseNew(bytes, 0, 'new', opts.littleEndian);
  }
  if (bytes.startsWith(0, OLD_MAGIC)) {
    if (buf.length <= OLD_HEADER_SIZE) throw formatError(path, `${buf.length} bytes is too short for the header`);
    const nlibs = bytes.u32(12, 'entry count');
    if (Math.floor((buf.length - OLD_HEADER_SIZE) / OLD_ENTRY_SIZE) < nlibs) {
      throw formatError(path, `${nlibs} entries do not fit in ${buf.length} bytes`);
    }
    const oldEnd = OLD_HEADER_SIZE + nlibs * OLD_ENTRY_SIZE;
    // The new header is aligned for struct cache_file_new: 8 bytes on most
    // targets, 4 on i386. ldconfig pads the old table to an even count so both agree.
    for (const align of [8, 4]) {
      const at = Math.ceil(oldEnd / align) * align;
      if (buf.length >= at + NEW_HEADER_SIZE && bytes.startsWith(at, NEW_MAGIC)) {
        return parseNew(bytes, at, 'combined', opts.littleEndian);
      }
    }
    return parseOld(bytes, nlibs, oldEnd);
  }
  throw formatError(path, 'no ld.so.cache magic (neither "glibc-ld.so.cache1.1" nor "ld.so-1.7.0")');
}

function parseOld(bytes: CacheBytes, nlibs: number, stringBase: number): LdCache {
  const entries: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const at = OLD_HEADER_SIZE + i * OLD_ENTRY_SIZE;
    const flags = bytes.i32(at, 'flags', i);
    const key = bytes.cstringAt(stringBase + bytes.u32(at + 4, 'key', i), 'key', i);
    const value = bytes.cstringAt(stringBase + bytes.u32(at + 8, 'value', i), 'value', i);
    entries.push(new CacheEntry(bytes.buf, key, value, flags, 0n, null, 0));
  }
  return { path: bytes.path, format: 'old', littleEndian: bytes.le, entries, generator: null, hwcapsSubdirs: [] };
}

function parseNew(bytes: CacheBytes, base: number, format: LdCacheFormat, targetLe: boolean): LdCache {
  const { buf, path } = bytes;
  const flagsByte = buf[base + 28] ?? 0;
  if (flagsByte !== 0) {
    // cache_file_new_matches_endian: 2 = little, 3 = big, anything else is unusable.
    const endian = flagsByte & 3;
    const declared = endian === 2 ? 'little-endian' : endian === 3 ? 'big-endian' : `an invalid byte order (${flagsByte})`;
    if (endian !== (targetLe ? 2 : 3)) {
      throw formatError(path, `it declares ${declared} but the target is ${targetLe ? 'little' : 'big'}-endian; ld.so ignores it`);
    }
  }
  const nlibs = bytes.u32(base + 20, 'entry count');
  const entriesEnd = base + NEW_HEADER_SIZE;
  if (Math.floor((buf.length - entriesEnd) / NEW_ENTRY_SIZE) < nlibs) {
    throw formatError(path, `${nlibs} entries do not fit in ${buf.length} bytes`);
  }
  const ext = readExtensions(bytes, bytes.u32(base + 32, 'extension offset'));

  const entries: LdCacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const at = entriesEnd + i * NEW_ENTRY_SIZE;
    const flags = bytes.i32(at, 'flags', i);
    // Keys and values are relative to the new header.
    const key = bytes.cstringAt(base + bytes.u32(at + 4, 'key', i), 'key', i);
    const value = bytes.cstringAt(base + bytes.u32(at + 8, 'value', i), 'value', i);
    const hwcap = bytes.u64(at + 16, 'hwcap', i);
    let hwcapsSubdir: string | null = null;
    let isaLevel = 0;
    if (isHwcapsExtension(hwcap)) {
      hwcapsSubdir = ext.hwcapsSubdirs[Number(hwcap & 0xffffffffn)] ?? null;
      isaLevel = Number((hwcap >> 32n) & BigInt(DL_CACHE_HWCAP_ISA_LEVEL_MASK));
    }
    entries.push(new CacheEntry(buf, key, value, flags, hwcap, hwcapsSubdir, isaLevel));
  }
  return { path, format, littleEndian: bytes.le, entries, generator: ext.generator, hwcapsSubdirs: ext.hwcapsSubdirs };
}

/** `cache_extension_load` + `cache_extension_verify`, with a malformed directory an error. */
function readExtensions(bytes: CacheBytes, offset: number): { generator: string | null; hwcapsSubdirs: string[] } {
  const none = { generator: null, hwcapsSubdirs: [] };
  if (offset === 0) return none;
  const { buf, path } = bytes;
  if (offset % 4 !== 0) throw formatError(path, `extension directory offset ${offset} is not a multiple of 4`);
  const magic = bytes.u32(offset, 'extension directory');
  if (magic !== EXTENSION_MAGIC) throw formatError(path, `extension directory at offset ${offset} has a bad magic 0x${magic.toString(16)}`);
  const count = bytes.u32(offset + 4, 'extension count');
  if (count > Math.floor((buf.length - offset - 8) / 16)) {
    throw formatError(path, `${count} extension sections do not fit in ${buf.length} bytes`);
  }
  let generator: string | null = null;
  let hwcapsSubdirs: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = offset + 8 + i * 16;
    const tag = bytes.u32(at, `extension ${i} tag`);
    const sectionOffset = bytes.u32(at + 8, `extension ${i} offset`);
    const size = bytes.u32(at + 12, `extension ${i} size`);
    if (sectionOffset + size > buf.length) {
      throw formatError(path, `extension section ${i} (${size} bytes at offset ${sectionOffset}) lies beyond the end of the file`);
    }
    if (tag === EXT_TAG_GENERATOR) {
      generator = buf.toString('latin1', sectionOffset, sectionOffset + Math.min(size, MAX_GENERATOR));
    } else if (tag === EXT_TAG_GLIBC_HWCAPS) {
      // ld.so silently drops a section that is empty, misaligned or not whole u32s.
      if (size === 0 || sectionOffset % 4 !== 0 || size % 4 !== 0) {
        hwcapsSubdirs = [];
        continue;
      }
      hwcapsSubdirs = [];
      for (let j = 0; j < size / 4; j++) {
        // Offsets are from the file start: that is how ld.so and `ldconfig -p`
        // read them, although ldconfig writes them relative to the new header
        // (the two differ only in the combined format, where ld.so then
        // matches no subdirectory; verified with 2.36).
        hwcapsSubdirs.push(bytes.cstring(bytes.u32(sectionOffset + 4 * j, `glibc-hwcaps name ${j}`), `glibc-hwcaps name ${j}`));
      }
    }
  }
  return { generator, hwcapsSubdirs };
}

/** `dl_cache_hwcap_extension`: bit 62 set and nothing else above the low word but ISA-level bits. */
export function isHwcapsExtension(hwcap: bigint): boolean {
  return ((hwcap >> 32n) & ~BigInt(DL_CACHE_HWCAP_ISA_LEVEL_MASK)) === DL_CACHE_HWCAP_EXTENSION >> 32n;
}

/** The C `char` at `i` (0 past the end); strings hold one byte per char (latin1). */
function charAt(s: string, i: number, signed: boolean): number {
  const c = i < s.length ? s.charCodeAt(i) : 0;
  return signed && c >= 0x80 && c <= 0xff ? c - 0x100 : c;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * `_dl_cache_libcmp`: runs of digits compare as numbers, a digit sorts after
 * any other character, other characters compare as C `char` (signed on x86).
 * Only the sign of the result is meaningful. The cache is sorted descending.
 */
export function dlCacheLibcmp(a: string, b: string, signedChar = true): number {
  let i = 0;
  let j = 0;
  for (;;) {
    const c1 = charAt(a, i, signedChar);
    if (c1 === 0) break;
    const c2 = charAt(b, j, signedChar);
    if (isDigit(c1)) {
      if (!isDigit(c2)) return 1;
      // C int arithmetic: overflow wraps, as it does in ld.so.
      let v1 = 0;
      let v2 = 0;
      while (isDigit(charAt(a, i, signedChar))) v1 = (Math.imul(v1, 10) + (charAt(a, i++, signedChar) - 0x30)) | 0;
      while (isDigit(charAt(b, j, signedChar))) v2 = (Math.imul(v2, 10) + (charAt(b, j++, signedChar) - 0x30)) | 0;
      if (v1 !== v2) return (v1 - v2) | 0;
    } else if (isDigit(c2)) {
      return -1;
    } else if (c1 !== c2) {
      return c1 - c2;
    } else {
      i++;
      j++;
    }
  }
  return -charAt(b, j, signedChar);
}

/** Whether a legacy (pre-glibc-hwcaps) entry is usable: its hwcap bits must all be allowed. */
function legacyAllowed(hwcap: bigint, target: CacheTarget): boolean {
  if (hwcap === 0n) return true;
  if (target.legacyHwcapMask === null) return false;
  return (hwcap & ~target.legacyHwcapMask) === 0n;
}

/**
 * `search_cache`: binary search in the descending order ldconfig wrote, back
 * up to the first entry with an equal key, then scan the run of equal keys.
 * glibc-hwcaps entries (listed first in a run) compete by subdirectory
 * priority; the first other acceptable entry ends the scan if a hwcaps entry
 * was chosen, or is taken, ending the scan at once if its flags are the
 * preferred ones. Old-format entries carry no hwcap: each acceptable one
 * replaces the previous until one with the preferred flags.
 */
export function lookupLdCache(cache: LdCache, name: string, target: CacheTarget): string | null {
  const { entries } = cache;
  const withHwcap = cache.format !== 'old';
  const cmp = (key: string): number => dlCacheLibcmp(name, key, target.signedChar);
  let left = 0;
  let right = entries.length - 1;
  while (left <= right) {
    let middle = (left + right) >> 1;
    const cmpres = cmp((entries[middle] as LdCacheEntry).key);
    if (cmpres === 0) {
      left = middle;
      while (middle > 0 && cmp((entries[middle - 1] as LdCacheEntry).key) === 0) middle--;
      let best: string | null = null;
      let bestPriority = 0;
      for (; middle <= right; middle++) {
        const lib = entries[middle] as LdCacheEntry;
        if (middle > left && cmp(lib.key) !== 0) break;
        if (!target.acceptedFlags.includes(lib.flags)) continue;
        let named = false;
        if (withHwcap) {
          named = isHwcapsExtension(lib.hwcap);
          if (named && !isaLevelCompatible(lib, target)) continue;
          if (!named && best !== null) break;
          if (!named && !legacyAllowed(lib.hwcap, target)) continue;
          if (named) {
            const priority = hwcapsPriority(lib, target);
            if (priority === 0) continue;
            if (best !== null && priority >= bestPriority) continue;
            bestPriority = priority;
          }
        }
        best = lib.value;
        if (!named && lib.flags === target.preferredFlags) break;
      }
      return best;
    }
    if (cmpres < 0) left = middle + 1;
    else right = middle - 1;
  }
  return null;
}

/** x86 `dl_cache_hwcap_isa_level_compatible`: bit (level & 31) of the CPU's cumulative ISA bits. */
function isaLevelCompatible(lib: LdCacheEntry, target: CacheTarget): boolean {
  return (lib.isaLevel & 31) <= target.isaLevel;
}

/** 1 for the best active subdirectory, 2 for the next, ...; 0 when not active. */
function hwcapsPriority(lib: LdCacheEntry, target: CacheTarget): number {
  if (lib.hwcapsSubdir === null) return 0;
  return target.activeHwcaps.indexOf(lib.hwcapsSubdir) + 1;
}

const EM_SPARC = 2;
const EM_386 = 3;
const EM_68K = 4;
const EM_MIPS = 8;
const EM_SPARC32PLUS = 18;
const EM_PPC64 = 21;
const EM_S390 = 22;
const EM_ARM = 40;
const EM_SH = 42;
const EM_SPARCV9 = 43;
const EM_IA_64 = 50;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const EM_RISCV = 243;
const EM_LOONGARCH = 258;

const EF_ARM_ABI_FLOAT_HARD = 0x400;
const EF_MIPS_ABI2 = 0x20; // n32
const EF_MIPS_NAN2008 = 0x400;
const EF_RISCV_FLOAT_ABI = 0x6;
const EF_RISCV_FLOAT_ABI_DOUBLE = 0x4;
const EF_LARCH_ABI_MODIFIER_MASK = 0x7;
const EF_LARCH_ABI_DOUBLE_FLOAT = 0x3;

/** The generic rule: libc6 (0x3) preferred, plain ELF (0x1) accepted too. */
const GENERIC_FLAGS: [number[], number] = [[FLAG_ELF, FLAG_ELF_LIBC6], FLAG_ELF_LIBC6];
/** Only libc6 entries marked with this ABI, which is also the preferred id. */
const only = (abi: number): [number[], number] => [[abi | FLAG_ELF_LIBC6], abi | FLAG_ELF_LIBC6];

/** [accepted flags, preferred flags] of one loader. */
function cacheFlagsFor(machine: number, elfClass: 32 | 64, eflags: number): [number[], number] {
  switch (machine) {
    case EM_X86_64:
      return only(elfClass === 64 ? FLAG_X8664_LIB64 : FLAG_X8664_LIBX32);
    case EM_AARCH64:
      return elfClass === 64 ? only(FLAG_AARCH64_LIB64) : GENERIC_FLAGS;
    case EM_PPC64:
      return only(FLAG_POWERPC_LIB64);
    case EM_S390:
      return elfClass === 64 ? only(FLAG_S390_LIB64) : GENERIC_FLAGS;
    case EM_SPARCV9:
      return elfClass === 64 ? only(FLAG_SPARC_LIB64) : GENERIC_FLAGS;
    case EM_IA_64:
      return only(FLAG_IA64_LIB64);
    case EM_RISCV:
      return only((eflags & EF_RISCV_FLOAT_ABI) === EF_RISCV_FLOAT_ABI_DOUBLE ? FLAG_RISCV_FLOAT_ABI_DOUBLE : FLAG_RISCV_FLOAT_ABI_SOFT);
    case EM_LOONGARCH:
      return only((eflags & EF_LARCH_ABI_MODIFIER_MASK) === EF_LARCH_ABI_DOUBLE_FLOAT ? FLAG_LARCH_FLOAT_ABI_DOUBLE : FLAG_LARCH_FLOAT_ABI_SOFT);
    case EM_ARM: {
      // Unmarked (0x3) entries stay acceptable to both float ABIs, and the
      // preferred id stays the generic 0x3: arm/dl-cache.h redefines only the check.
      const abi = (eflags & EF_ARM_ABI_FLOAT_HARD) !== 0 ? FLAG_ARM_LIBHF : FLAG_ARM_LIBSF;
      return [[abi | FLAG_ELF_LIBC6, FLAG_ELF_LIBC6], FLAG_ELF_LIBC6];
    }
    case EM_MIPS: {
      const nan2008 = (eflags & EF_MIPS_NAN2008) !== 0;
      if (elfClass === 64) return only(nan2008 ? FLAG_MIPS64_LIBN64_NAN2008 : FLAG_MIPS64_LIBN64);
      if ((eflags & EF_MIPS_ABI2) !== 0) return only(nan2008 ? FLAG_MIPS64_LIBN32_NAN2008 : FLAG_MIPS64_LIBN32);
      return nan2008 ? only(FLAG_MIPS_LIB32_NAN2008) : GENERIC_FLAGS;
    }
    default:
      return GENERIC_FLAGS;
  }
}

export interface CacheTargetOptions {
  /** Active glibc-hwcaps subdirectories, best first (default none). */
  activeHwcaps?: string[];
  /** Default: on x86, the level of the best active x86-64-vN subdirectory (baseline if none); ISA_LEVEL_ANY elsewhere. */
  isaLevel?: number;
  /** Default null: legacy hwcap entries are skipped. */
  legacyHwcapMask?: bigint | null;
}

/**
 * The flags a loader for this ELF machine/class/byte order/e_flags accepts
 * (`_dl_cache_check_flags` and `_DL_CACHE_DEFAULT_ID` in
 * sysdeps/unix/sysv/linux/<arch>/dl-cache.h; the generic rule, used by i386
 * and every architecture without its own, accepts 0x1 and 0x3). No loader's
 * flags depend on the byte order (ppc64 and ppc64le both use 0x503); it is a
 * parameter so that callers describe the whole ABI and future rules fit.
 */
export function cacheTargetFor(
  machine: number,
  elfClass: 32 | 64,
  littleEndian: boolean,
  eflags: number,
  opts: CacheTargetOptions = {},
): CacheTarget {
  const [accepted, preferred] = cacheFlagsFor(machine, elfClass, eflags);
  const x86 = machine === EM_X86_64 || machine === EM_386;
  const activeHwcaps = opts.activeHwcaps ?? [];
  let isaLevel = opts.isaLevel;
  if (isaLevel === undefined) {
    isaLevel = x86 ? 0 : ISA_LEVEL_ANY;
    if (x86) {
      for (const sub of activeHwcaps) {
        const m = /^x86-64-v([2-4])$/.exec(sub);
        if (m) isaLevel = Math.max(isaLevel, Number(m[1]) - 1);
      }
    }
  }
  const signedChar = [EM_386, EM_X86_64, EM_MIPS, EM_SPARC, EM_SPARC32PLUS, EM_SPARCV9, EM_LOONGARCH, EM_IA_64, EM_68K, EM_SH].includes(machine);
  return {
    acceptedFlags: [...accepted],
    preferredFlags: preferred,
    activeHwcaps,
    isaLevel,
    legacyHwcapMask: opts.legacyHwcapMask ?? null,
    signedChar,
  };
}
