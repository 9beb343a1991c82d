/**
 * Serialises cache entries into an ld.so.cache image byte for byte as
 * glibc 2.36's ldconfig writes one in its default format (`-c new`, the only
 * format since 2.32): elf/cache.c save_cache and write_extensions, with the
 * string table of elf/stringtable.c (every string once, sorted by reversed
 * bytes so that a string that is the tail of the one before it shares its
 * bytes). Integers are in the target's byte order.
 *
 * Layout: header (48 bytes: magic "glibc-ld.so.cache", version "1.1", nlibs,
 * len_strings, flags = 2 little / 3 big endian, 3 padding bytes,
 * extension_offset, 12 unused bytes), nlibs entries of 24 bytes (flags, key,
 * value, osversion_unused, hwcap), the string table, zero padding to 4, the
 * extension directory (magic 0xeaa42174, count, sections of 16 bytes), the
 * glibc-hwcaps section (u32 string offsets), then the generator string.
 */
import { dlCacheLibcmp } from '../resolve/ldcache.js';

export interface CacheRecord {
  /** The SONAME (the cache key). */
  soname: string;
  /** The path stored: directory as scanned + '/' + soname (or file name in glibc-hwcaps). */
  path: string;
  flags: number;
  /** x86 ISA level (recorded only for glibc-hwcaps entries). */
  isaLevel: number;
  /** Legacy hwcap bits of the directory (tls/, platform/...); 0 in glibc-hwcaps subdirectories. */
  hwcap: bigint;
  /** glibc-hwcaps subdirectory name, or null. */
  hwcapsSubdir: string | null;
}

const HEADER_SIZE = 48;
const ENTRY_SIZE = 24;
const EXTENSION_MAGIC = 0xeaa42174;
const DL_CACHE_HWCAP_EXTENSION = 1n << 62n;
const ISA_LEVEL_MASK = 0x3ff;

/** A byte string as ldconfig holds it: paths and sonames are bytes, kept one char per byte (latin1). */
const bytesOf = (s: string): Buffer => Buffer.from(s, 'latin1');

function popcount(v: bigint): number {
  let n = 0;
  for (let x = v; x > 0n; x >>= 1n) n += Number(x & 1n);
  return n;
}

function strcmpBytes(a: string, b: string): number {
  return Buffer.compare(bytesOf(a), bytesOf(b));
}

/**
 * cache.c `compare`: keys in descending _dl_cache_libcmp order, then flags
 * descending, glibc-hwcaps entries before the others (by subdirectory name),
 * then more legacy hwcap bits first, then the larger hwcap value first.
 */
export function compareRecords(e1: CacheRecord, e2: CacheRecord, signedChar: boolean): number {
  const res = dlCacheLibcmp(e2.soname, e1.soname, signedChar);
  if (res !== 0) return res;
  if (e1.flags !== e2.flags) return e1.flags < e2.flags ? 1 : -1;
  if (e1.hwcapsSubdir !== null && e2.hwcapsSubdir === null) return -1;
  if (e1.hwcapsSubdir === null && e2.hwcapsSubdir !== null) return 1;
  if (e1.hwcapsSubdir !== null && e2.hwcapsSubdir !== null) {
    const r = strcmpBytes(e1.hwcapsSubdir, e2.hwcapsSubdir);
    if (r !== 0) return r;
  }
  const b1 = popcount(e1.hwcap);
  const b2 = popcount(e2.hwcap);
  if (b2 !== b1) return b2 > b1 ? 1 : -1;
  if (e2.hwcap !== e1.hwcap) return e2.hwcap > e1.hwcap ? 1 : -1;
  return 0;
}

/**
 * add_to_cache's insertion: each new record goes after every record it does
 * not sort before, so records that compare equal keep the order they were
 * added in (the directory scan order). Array.prototype.sort is stable, which
 * gives the same list.
 */
export function sortRecords(records: CacheRecord[], signedChar: boolean): CacheRecord[] {
  return [...records].sort((a, b) => compareRecords(a, b, signedChar));
}

/** stringtable.c finalize_compare: by reversed bytes, descending; a longer string before its own tail. */
function finalizeCompare(l: Buffer, r: Buffer): number {
  const n = Math.min(l.length, r.length);
  for (let i = 1; i <= n; i++) {
    const lch = l[l.length - i] as number;
    const rch = r[r.length - i] as number;
    if (lch !== rch) return rch - lch;
  }
  if (l.length === r.length) return 0;
  return l.length < r.length ? 1 : -1;
}

/** stringtable_finalize: offsets with tail merging, and the table's bytes. */
export function finalizeStrings(strings: Iterable<string>): { offsets: Map<string, number>; table: Buffer } {
  const unique = [...new Set(strings)];
  const offsets = new Map<string, number>();
  if (unique.length === 0) return { offsets, table: Buffer.alloc(0) };
  const items = unique.map((s) => ({ s, b: bytesOf(s), offset: 0 }));
  items.sort((x, y) => finalizeCompare(x.b, y.b));
  for (let j = 1; j < items.length; j++) {
    const prev = items[j - 1] as (typeof items)[number];
    const cur = items[j] as (typeof items)[number];
    if (prev.b.length >= cur.b.length && prev.b.subarray(prev.b.length - cur.b.length).equals(cur.b)) {
      cur.offset = prev.offset + prev.b.length - cur.b.length;
    } else {
      cur.offset = prev.offset + prev.b.length + 1;
    }
  }
  const last = items[items.length - 1] as (typeof items)[number];
  const table = Buffer.alloc(last.offset + last.b.length + 1);
  for (const it of items) {
    it.b.copy(table, it.offset);
    offsets.set(it.s, it.offset);
  }
  return { offsets, table };
}

export interface WriteCacheOptions {
  littleEndian: boolean;
  /** Whether `char` is signed on the target (it orders non-ASCII names). */
  signedChar: boolean;
  /** The generator string (extension tag 0), e.g. "ldconfig (Debian GLIBC 2.36-9+deb12u14) stable release version 2.36". */
  generator: string;
  /**
   * Every glibc-hwcaps subdirectory name ldconfig met (interned in the string
   * table even when no library in it made it into the cache).
   */
  hwcapsNames: Iterable<string>;
}

/** The cache file for `records`, already in ldconfig's order (sortRecords). */
export function writeLdCache(records: CacheRecord[], opts: WriteCacheOptions): Buffer {
  const le = opts.littleEndian;
  const hwcapsSeen = [...new Set(opts.hwcapsNames)];
  const { offsets, table } = finalizeStrings([...records.flatMap((r) => [r.path, r.soname]), ...hwcapsSeen]);
  // assign_glibc_hwcaps_indices: only the subdirectories some entry uses, sorted by strcmp.
  const used = [...new Set(records.flatMap((r) => (r.hwcapsSubdir === null ? [] : [r.hwcapsSubdir])))].sort(strcmpBytes);
  const index = new Map(used.map((name, i) => [name, i]));

  const n = records.length;
  const entriesSize = HEADER_SIZE + n * ENTRY_SIZE;
  // In the new format the string offsets count from the start of the file (= the header).
  const strOffset = entriesSize;
  const extensionOffset = Math.ceil((entriesSize + table.length) / 4) * 4;
  const generator = bytesOf(opts.generator);
  const sections = used.length > 0 ? 2 : 1;
  const dirSize = 8 + 16 * sections;
  const hwcapsOffset = extensionOffset + dirSize;
  const hwcapsSize = 4 * used.length;
  const generatorOffset = hwcapsOffset + hwcapsSize;
  const out = Buffer.alloc(generatorOffset + generator.length);

  const u32 = (at: number, v: number): void => void (le ? out.writeUInt32LE(v >>> 0, at) : out.writeUInt32BE(v >>> 0, at));
  const i32 = (at: number, v: number): void => void (le ? out.writeInt32LE(v, at) : out.writeInt32BE(v, at));
  const u64 = (at: number, v: bigint): void => void (le ? out.writeBigUInt64LE(v, at) : out.writeBigUInt64BE(v, at));

  out.write('glibc-ld.so.cache1.1', 0, 'latin1');
  u32(20, n);
  u32(24, table.length);
  out[28] = le ? 2 : 3; // cache_file_new_flags_endian_current
  u32(32, extensionOffset);
  records.forEach((r, i) => {
    const at = HEADER_SIZE + i * ENTRY_SIZE;
    i32(at, r.flags);
    u32(at + 4, strOffset + (offsets.get(r.soname) as number));
    u32(at + 8, strOffset + (offsets.get(r.path) as number));
    // at + 12: osversion_unused, 0
    let hwcap = r.hwcap;
    if (r.hwcapsSubdir !== null) {
      hwcap = DL_CACHE_HWCAP_EXTENSION | (BigInt(r.isaLevel & ISA_LEVEL_MASK) << 32n) | BigInt(index.get(r.hwcapsSubdir) as number);
    }
    u64(at + 16, hwcap);
  });
  table.copy(out, entriesSize);

  u32(extensionOffset, EXTENSION_MAGIC);
  u32(extensionOffset + 4, sections);
  // Section 0: the generator (tag 0, flags 0), after the hwcaps array.
  u32(extensionOffset + 8, 0);
  u32(extensionOffset + 16, generatorOffset);
  u32(extensionOffset + 20, generator.length);
  if (used.length > 0) {
    u32(extensionOffset + 24, 1); // cache_extension_tag_glibc_hwcaps
    u32(extensionOffset + 32, hwcapsOffset);
    u32(extensionOffset + 36, hwcapsSize);
    used.forEach((name, i) => u32(hwcapsOffset + 4 * i, strOffset + (offsets.get(name) as number)));
  }
  generator.copy(out, generatorOffset);
  return out;
}
