/**
 * Writes ld.so.cache files for tests, laid out the way glibc 2.36's ldconfig
 * writes them (elf/cache.c save_cache): old (`ld.so-1.7.0`), new
 * (`glibc-ld.so.cache1.1` + extension directory) or combined ("compat": the
 * old table padded to an even count, then the new table), in either byte
 * order. Entries are sorted like ldconfig's `compare` unless told not to.
 *
 * Like the ELF writer, this is an oracle for the reader: it has its own
 * `_dl_cache_libcmp` instead of importing the one under test.
 */

export interface CacheEntrySpec {
  key: string;
  value: string;
  flags: number;
  /** Makes it a glibc-hwcaps entry for this subdirectory. */
  hwcapsSubdir?: string;
  /** ISA level of a glibc-hwcaps entry (bits 32-41 of hwcap). */
  isaLevel?: number;
  /** A legacy hwcap mask (ignored for glibc-hwcaps entries). */
  hwcap?: bigint;
}

export interface CacheWriteOptions {
  format: 'old' | 'new' | 'combined';
  littleEndian: boolean;
  /** Extension tag 0; default a made-up ldconfig banner, null for none. */
  generator?: string | null;
  /** Sort like ldconfig (default true); false keeps the given order. */
  sort?: boolean;
  /** Target `char` signedness for sorting (default true, as on x86). */
  signedChar?: boolean;
  /** Override the new header's flags byte (default 2 little / 3 big). */
  endianFlag?: number;
  /** Write no extension directory at all (extension_offset 0). */
  noExtensions?: boolean;
  /** Combined format: alignment of the new header (8, or 4 as an i386 ldconfig would use). */
  newHeaderAlign?: 4 | 8;
  /** Combined format: pad the old table to an even count as ldconfig does (default true). */
  evenOldCount?: boolean;
}

export const DEFAULT_GENERATOR = 'ldconfig (elfdeps test writer) stable release version 2.36';

function cchar(bytes: Buffer, i: number, signed: boolean): number {
  const c = i < bytes.length ? (bytes[i] as number) : 0;
  return signed && c >= 0x80 ? c - 256 : c;
}

/** glibc `_dl_cache_libcmp` over the latin1 bytes of both names. */
export function referenceLibcmp(a: string, b: string, signedChar = true): number {
  const p = Buffer.from(a, 'latin1');
  const q = Buffer.from(b, 'latin1');
  const digit = (c: number) => c >= 48 && c <= 57;
  let i = 0;
  let j = 0;
  while (cchar(p, i, signedChar) !== 0) {
    const c1 = cchar(p, i, signedChar);
    const c2 = cchar(q, j, signedChar);
    if (digit(c1)) {
      if (!digit(c2)) return 1;
      let v1 = 0;
      let v2 = 0;
      while (digit(cchar(p, i, signedChar))) v1 = (v1 * 10 + cchar(p, i++, signedChar) - 48) | 0;
      while (digit(cchar(q, j, signedChar))) v2 = (v2 * 10 + cchar(q, j++, signedChar) - 48) | 0;
      if (v1 !== v2) return (v1 - v2) | 0;
    } else if (digit(c2)) {
      return -1;
    } else if (c1 !== c2) {
      return c1 - c2;
    } else {
      i++;
      j++;
    }
  }
  return cchar(p, i, signedChar) - cchar(q, j, signedChar);
}

function popcount(v: bigint): number {
  let n = 0;
  for (let x = v; x > 0n; x >>= 1n) n += Number(x & 1n);
  return n;
}

/** ldconfig's `compare` (2.36): keys descending, flags descending, hwcaps entries first by name, then more legacy bits first. */
export function sortLikeLdconfig(entries: CacheEntrySpec[], signedChar = true): CacheEntrySpec[] {
  // Array.prototype.sort is stable: ties keep insertion (= directory scan) order, as add_to_cache does.
  return [...entries].sort((e1, e2) => {
    const res = referenceLibcmp(e2.key, e1.key, signedChar);
    if (res !== 0) return res;
    if (e1.flags !== e2.flags) return e1.flags < e2.flags ? 1 : -1;
    const h1 = e1.hwcapsSubdir;
    const h2 = e2.hwcapsSubdir;
    if (h1 !== undefined && h2 === undefined) return -1;
    if (h1 === undefined && h2 !== undefined) return 1;
    if (h1 !== undefined && h2 !== undefined) return Buffer.compare(Buffer.from(h1, 'latin1'), Buffer.from(h2, 'latin1'));
    const l1 = e1.hwcap ?? 0n;
    const l2 = e2.hwcap ?? 0n;
    if (popcount(l1) !== popcount(l2)) return popcount(l2) - popcount(l1);
    return l1 === l2 ? 0 : l2 > l1 ? 1 : -1;
  });
}

class Out {
  readonly buf: Buffer;
  constructor(
    size: number,
    private readonly le: boolean,
  ) {
    this.buf = Buffer.alloc(size);
  }
  u32(off: number, v: number): void {
    if (this.le) this.buf.writeUInt32LE(v >>> 0, off);
    else this.buf.writeUInt32BE(v >>> 0, off);
  }
  i32(off: number, v: number): void {
    if (this.le) this.buf.writeInt32LE(v, off);
    else this.buf.writeInt32BE(v, off);
  }
  u64(off: number, v: bigint): void {
    if (this.le) this.buf.writeBigUInt64LE(v, off);
    else this.buf.writeBigUInt64BE(v, off);
  }
  text(off: number, s: string): void {
    this.buf.write(s, off, 'latin1');
  }
}

/** Serialises `entries` into an ld.so.cache image. */
export function buildLdCache(specs: CacheEntrySpec[], opts: CacheWriteOptions): Buffer {
  const entries = opts.sort === false ? specs : sortLikeLdconfig(specs, opts.signedChar ?? true);
  const { format, littleEndian: le } = opts;

  // String table: each distinct string once.
  const strings = new Map<string, number>();
  let strSize = 0;
  const intern = (s: string): number => {
    let at = strings.get(s);
    if (at === undefined) {
      at = strSize;
      strings.set(s, at);
      strSize += Buffer.byteLength(s, 'latin1') + 1;
    }
    return at;
  };
  const hasOld = format !== 'new';
  const hasNew = format !== 'old';
  const hwcapsNames = [...new Set(entries.flatMap((e) => (e.hwcapsSubdir === undefined ? [] : [e.hwcapsSubdir])))].sort((a, b) =>
    Buffer.compare(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')),
  );
  for (const e of entries) {
    intern(e.key);
    intern(e.value);
  }
  // (ldconfig also stores them in an old-format file, unreferenced; leaving them out
  // keeps every byte of the string table referenced, so any truncation is detectable.)
  if (hasNew) for (const name of hwcapsNames) intern(name);

  const n = entries.length;
  // ldconfig duplicates the last old entry so the new header lands 8-aligned for every reader.
  const oldCount = format === 'combined' && opts.evenOldCount !== false ? (n + 1) & ~1 : n;
  const oldSize = hasOld ? 16 + 12 * oldCount : 0;
  const newSize = hasNew ? 48 + 24 * n : 0;
  const align = opts.newHeaderAlign ?? 8;
  const pad = hasOld && hasNew ? Math.ceil(oldSize / align) * align - oldSize : 0;
  const strOffset = hasNew ? newSize : 0;
  const stringsAt = oldSize + pad + newSize;
  let extensionOffset = 0;
  let total = stringsAt + strSize;
  const generator = opts.generator === undefined ? DEFAULT_GENERATOR : opts.generator;
  const sections: Array<{ tag: number; offset: number; size: number }> = [];
  if (hasNew && !opts.noExtensions) {
    extensionOffset = (total + 3) & ~3;
    const sectionCount = (generator === null ? 0 : 1) + (hwcapsNames.length > 0 ? 1 : 0);
    let dataAt = extensionOffset + 8 + 16 * sectionCount;
    if (generator !== null) sections.push({ tag: 0, offset: 0, size: Buffer.byteLength(generator, 'latin1') });
    if (hwcapsNames.length > 0) {
      sections.push({ tag: 1, offset: dataAt, size: 4 * hwcapsNames.length });
      dataAt += 4 * hwcapsNames.length;
    }
    if (generator !== null) (sections[0] as { offset: number }).offset = dataAt;
    total = dataAt + (generator === null ? 0 : Buffer.byteLength(generator, 'latin1'));
  }

  const out = new Out(total, le);
  if (hasOld) {
    out.text(0, 'ld.so-1.7.0');
    out.u32(12, oldCount);
    for (let i = 0; i < oldCount; i++) {
      const e = entries[Math.min(i, n - 1)] as CacheEntrySpec;
      const at = 16 + 12 * i;
      out.i32(at, e.flags);
      // Relative to the end of the old table; in the combined format the
      // padding and the new header sit in between.
      out.u32(at + 4, pad + strOffset + (strings.get(e.key) as number));
      out.u32(at + 8, pad + strOffset + (strings.get(e.value) as number));
    }
  }
  if (hasNew) {
    const base = oldSize + pad;
    out.text(base, 'glibc-ld.so.cache1.1');
    out.u32(base + 20, n);
    out.u32(base + 24, strSize);
    out.buf[base + 28] = opts.endianFlag ?? (le ? 2 : 3);
    out.u32(base + 32, extensionOffset);
    entries.forEach((e, i) => {
      const at = base + 48 + 24 * i;
      out.i32(at, e.flags);
      out.u32(at + 4, strOffset + (strings.get(e.key) as number));
      out.u32(at + 8, strOffset + (strings.get(e.value) as number));
      let hwcap = e.hwcap ?? 0n;
      if (e.hwcapsSubdir !== undefined) {
        hwcap = (1n << 62n) | (BigInt(e.isaLevel ?? 0) << 32n) | BigInt(hwcapsNames.indexOf(e.hwcapsSubdir));
      }
      out.u64(at + 16, hwcap);
    });
  }
  for (const [s, at] of strings) out.text(stringsAt + at, s);
  if (extensionOffset !== 0) {
    out.u32(extensionOffset, 0xeaa42174);
    out.u32(extensionOffset + 4, sections.length);
    sections.forEach((s, i) => {
      out.u32(extensionOffset + 8 + 16 * i, s.tag);
      out.u32(extensionOffset + 8 + 16 * i + 8, s.offset);
      out.u32(extensionOffset + 8 + 16 * i + 12, s.size);
      if (s.tag === 1) {
        // Like ldconfig: relative to the new header, i.e. file offsets only in the pure new format.
        hwcapsNames.forEach((name, j) => out.u32(s.offset + 4 * j, strOffset + (strings.get(name) as number)));
      } else if (generator !== null) {
        out.text(s.offset, generator);
      }
    });
  }
  return out.buf;
}
