/**
 * The dynamic symbol table and its hash table, read the way the loader uses
 * them (glibc elf/dl-lookup.c, dl-setup_hash in dl-lookup.c):
 *
 * - DT_SYMTAB has no size of its own: its length is taken from the hash
 *   table, DT_GNU_HASH (preferred by glibc when present) or DT_HASH (nchain);
 * - a name is looked up through the hash table only: with DT_GNU_HASH the
 *   Bloom filter first, then the bucket and its chain; with DT_HASH the bucket
 *   and chain. A defined symbol the hash table does not reach is invisible to
 *   the loader, and so it is here.
 *
 * Records are decoded on demand from one read of the table (a libc has a few
 * thousand symbols; a program needs a few dozen of them looked up).
 */
import { ElfFormatError } from '../errors.js';
import * as C from './constants.js';
import type { ElfImage } from './image.js';

export { elfHash } from './versions.js';

export const SYMBOL_LIMITS = {
  /** Dynamic symbols per object (libLLVM has ~100 000; the loader has no limit, memory is ours). */
  maxSymbols: 4_000_000,
  /** Hash buckets per object. */
  maxBuckets: 4_000_000,
} as const;

export interface ElfSymbol {
  index: number;
  name: string;
  value: bigint;
  size: bigint;
  /** STB_* */
  bind: number;
  /** STT_* */
  type: number;
  /** STV_* */
  visibility: number;
  shndx: number;
}

/** The GNU hash of a name (glibc _dl_new_hash: h = h * 33 + c, from 5381). */
export function gnuHash(name: string): number {
  let h = 5381;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 33) + (name.charCodeAt(i) & 0xff)) >>> 0;
  return h >>> 0;
}

/** Hash entries are 32-bit, except DT_HASH on 64-bit s390 and Alpha (glibc Elf_Symndx). */
function sysvEntrySize(image: ElfImage): 4 | 8 {
  const m = image.file.header.machine;
  return image.file.header.elfClass === 64 && (m === C.EM_S390 || m === 0x9026 /* EM_ALPHA */) ? 8 : 4;
}

interface GnuHashTable {
  kind: 'gnu';
  nbuckets: number;
  symoffset: number;
  bloomShift: number;
  /** Bloom filter words split in 32-bit halves (low, high for 64-bit words): no bigint on the lookup path. */
  bloom: Uint32Array;
  /** 32 or 64: bits per Bloom word (the class's word size). */
  bloomBits: number;
  buckets: Uint32Array;
  /** Chain words from index symoffset on. */
  chain: Uint32Array;
}

interface SysvHashTable {
  kind: 'sysv';
  buckets: Uint32Array;
  chain: Uint32Array;
}

export class SymbolTable {
  private readonly entsize: number;
  private readonly decoded: Array<ElfSymbol | undefined>;
  private readonly beyond = new Map<number, ElfSymbol>();

  private constructor(
    private readonly image: ElfImage,
    /** Number of dynamic symbols (index 0 is the null symbol). */
    readonly count: number,
    private readonly bytes: Buffer,
    private readonly hash: GnuHashTable | SysvHashTable | null,
  ) {
    this.entsize = image.file.header.elfClass === 64 ? 24 : 16;
    this.decoded = new Array<ElfSymbol | undefined>(count);
  }

  /** The symbol table of an image, read once; null when the object has no DT_SYMTAB. */
  static of(image: ElfImage): SymbolTable | null {
    return image.cached('symtab', () => {
      const t = image.file.dynamic?.tables;
      if (!t || t.symtab === null) return null;
      const hash = t.gnuHash !== null ? readGnuHash(image, t.gnuHash) : t.hash !== null ? readSysvHash(image, t.hash) : null;
      // Without a hash table the loader can look nothing up here (l_nbuckets == 0);
      // the table's length is then unknown, and only index 0 is taken as present.
      const count = hash === null ? 1 : hash.kind === 'sysv' ? hash.chain.length : gnuSymbolCount(hash);
      if (count > SYMBOL_LIMITS.maxSymbols) throw new ElfFormatError('ELF_LIMIT', image.path, `${count} dynamic symbols (limit ${SYMBOL_LIMITS.maxSymbols})`);
      const entsize = image.file.header.elfClass === 64 ? 24 : 16;
      const bytes = image.read(t.symtab, BigInt(count) * BigInt(entsize), 'dynamic symbol table', 'ELF_BAD_SYMTAB');
      image.loadStringTable();
      return new SymbolTable(image, count, bytes, hash);
    });
  }

  /** Whether the loader can look names up in this object at all. */
  get hasHashTable(): boolean {
    return this.hash !== null && (this.hash.kind === 'gnu' ? this.hash.nbuckets > 0 : this.hash.buckets.length > 0);
  }

  /**
   * Symbol `index`. The hash table counts only what it can reach; the loader
   * indexes DT_SYMTAB directly for relocations, so an index past that count
   * (undefined symbols a linker left out of the hash chains) is read on its
   * own, if the table's segment holds it.
   */
  symbol(index: number): ElfSymbol {
    if (!Number.isInteger(index) || index < 0 || index > SYMBOL_LIMITS.maxSymbols) {
      throw new ElfFormatError('ELF_BAD_SYMTAB', this.image.path, `symbol index ${index} is outside the dynamic symbol table`);
    }
    let s = index < this.count ? this.decoded[index] : this.beyond.get(index);
    if (s === undefined) {
      let b = this.bytes;
      let at = index * this.entsize;
      if (index >= this.count) {
        const base = this.image.file.dynamic?.tables.symtab ?? 0n;
        const addr = base + BigInt(index) * BigInt(this.entsize);
        if (!this.image.isMapped(addr, BigInt(this.entsize))) {
          throw new ElfFormatError('ELF_BAD_SYMTAB', this.image.path, `symbol index ${index} is outside the dynamic symbol table (${this.count} symbols hashed, and no symbol record at 0x${addr.toString(16)})`);
        }
        b = this.image.uncached(() => this.image.read(addr, BigInt(this.entsize), 'dynamic symbol', 'ELF_BAD_SYMTAB'));
        at = 0;
      }
      s = decodeSymbol(this.image, b, at, this.entsize, index);
      if (index < this.count) this.decoded[index] = s;
      else this.beyond.set(index, s);
    }
    return s;
  }

  /**
   * Whether symbol `index` binds to its own object whatever the scope holds
   * (RESOLVE_MAP: STB_LOCAL, index 0 among them, or hidden/internal), read
   * from its record without decoding the rest (its name above all): a
   * relocation walk asks this of every symbol a relocation names, and then
   * looks up only some of them (lazily bound PLT slots are not looked up at
   * start).
   */
  bindsLocally(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      // Past the hashed symbols (or not an index): decoded, with its checks.
      const s = this.symbol(index);
      return s.bind === C.STB_LOCAL || s.visibility === C.STV_HIDDEN || s.visibility === C.STV_INTERNAL;
    }
    const s = this.decoded[index];
    if (s !== undefined) return s.bind === C.STB_LOCAL || s.visibility === C.STV_HIDDEN || s.visibility === C.STV_INTERNAL;
    const at = index * this.entsize + (this.entsize === 24 ? 4 : 12);
    const bind = (this.bytes[at] as number) >> 4;
    const visibility = (this.bytes[at + 1] as number) & 3;
    return bind === C.STB_LOCAL || visibility === C.STV_HIDDEN || visibility === C.STV_INTERNAL;
  }

  /**
   * Names this object imports: undefined global or weak symbols among those
   * the hash table counts (what a root builder asks "does it call
   * getpwnam?"). Read from the raw records, without decoding every symbol.
   */
  importedNames(): string[] {
    const out: string[] = [];
    const f = this.image.fields;
    const wide = this.entsize === 24;
    for (let i = 1; i < this.count; i++) {
      const at = i * this.entsize;
      const shndx = f.u16(this.bytes, at + (wide ? 6 : 14));
      if (shndx !== C.SHN_UNDEF) continue;
      const bind = f.u8(this.bytes, at + (wide ? 4 : 12)) >> 4;
      if (bind !== C.STB_GLOBAL && bind !== C.STB_WEAK) continue;
      const name = f.u32(this.bytes, at);
      if (name !== 0) out.push(this.image.string(name, 'symbol name'));
    }
    return out;
  }

  /**
   * Indexes of the symbols the loader would consider for `name`, in the order
   * it considers them (bucket chain order). The caller applies the matching
   * rules (check_match); the hash table only decides who is a candidate. An
   * empty answer is one shared, frozen array: callers read answers, never change them.
   */
  candidates(name: string, hashes: { gnu: number; sysv: () => number }): number[] {
    // Most objects of a scope are ruled out by the Bloom filter or an empty
    // bucket: they get the one empty answer, nothing is allocated for them.
    const h = this.hash;
    if (h === null) return NO_CANDIDATES;
    if (h.kind === 'gnu') {
      if (h.nbuckets === 0) return NO_CANDIDATES;
      const bits = h.bloomBits;
      const halves = bits / 32;
      const words = h.bloom.length / halves;
      const w = Math.floor(hashes.gnu / bits) & (words - 1);
      // glibc shifts a uint_fast32_t: 64 bits wide on 64-bit targets, where a shift of 32 or more gives 0.
      const shifted = h.bloomShift >= 32 ? (bits === 64 ? 0 : hashes.gnu >>> (h.bloomShift & 31)) : hashes.gnu >>> h.bloomShift;
      const bit1 = hashes.gnu & (bits - 1);
      const bit2 = shifted & (bits - 1);
      if ((((h.bloom[w * halves + (bit1 >>> 5)] as number) >>> (bit1 & 31)) & 1) === 0) return NO_CANDIDATES;
      if ((((h.bloom[w * halves + (bit2 >>> 5)] as number) >>> (bit2 & 31)) & 1) === 0) return NO_CANDIDATES;
      let i = h.buckets[hashes.gnu % h.nbuckets] as number;
      if (i === 0) return NO_CANDIDATES;
      // Made on the first match: a chain often holds none.
      let out: number[] | null = null;
      for (;;) {
        const c = h.chain[i - h.symoffset];
        if (c === undefined) break; // checked when the table was read; defensive
        if (((c ^ hashes.gnu) >>> 1) === 0) (out ??= []).push(i);
        if ((c & 1) !== 0) break;
        i++;
      }
      return out ?? NO_CANDIDATES;
    }
    if (h.buckets.length === 0) return NO_CANDIDATES;
    const out: number[] = [];
    const seen = new Set<number>();
    for (let i = h.buckets[hashes.sysv() % h.buckets.length] as number; i !== 0; i = h.chain[i] as number) {
      // A SysV chain that loops would hang the loader; it ends here.
      if (seen.has(i) || i >= h.chain.length) break;
      seen.add(i);
      out.push(i);
    }
    return out;
  }
}

/** The answer of candidates() when the hash table rules every symbol out: one array for all, frozen so that no caller can change it for the others. */
const NO_CANDIDATES: number[] = Object.freeze([]) as unknown as number[];

function decodeSymbol(image: ElfImage, b: Buffer, at: number, entsize: number, index: number): ElfSymbol {
  const f = image.fields;
  let name: number, info: number, other: number, shndx: number, value: bigint, size: bigint;
  if (entsize === 24) {
    name = f.u32(b, at);
    info = f.u8(b, at + 4);
    other = f.u8(b, at + 5);
    shndx = f.u16(b, at + 6);
    value = f.u64(b, at + 8);
    size = f.u64(b, at + 16);
  } else {
    name = f.u32(b, at);
    value = BigInt(f.u32(b, at + 4));
    size = BigInt(f.u32(b, at + 8));
    info = f.u8(b, at + 12);
    other = f.u8(b, at + 13);
    shndx = f.u16(b, at + 14);
  }
  return { index, name: name === 0 ? '' : image.string(name, `symbol ${index} name`), value, size, bind: info >> 4, type: info & 0xf, visibility: other & 3, shndx };
}

function readGnuHash(image: ElfImage, at: bigint): GnuHashTable {
  const f = image.fields;
  const head = image.read(at, 16n, 'DT_GNU_HASH header', 'ELF_BAD_HASH');
  const nbuckets = f.u32(head, 0);
  const symoffset = f.u32(head, 4);
  const bloomSize = f.u32(head, 8);
  const bloomShift = f.u32(head, 12);
  if (nbuckets > SYMBOL_LIMITS.maxBuckets) throw new ElfFormatError('ELF_LIMIT', image.path, `DT_GNU_HASH has ${nbuckets} buckets (limit ${SYMBOL_LIMITS.maxBuckets})`);
  // glibc requires a power-of-two Bloom filter size (it masks with size - 1).
  if (nbuckets > 0 && (bloomSize === 0 || (bloomSize & (bloomSize - 1)) !== 0)) {
    throw new ElfFormatError('ELF_BAD_HASH', image.path, `DT_GNU_HASH Bloom filter size ${bloomSize} is not a power of two`);
  }
  if (bloomSize > SYMBOL_LIMITS.maxBuckets) throw new ElfFormatError('ELF_LIMIT', image.path, `DT_GNU_HASH Bloom filter has ${bloomSize} words`);
  const w = BigInt(f.wordSize);
  const bloomAt = at + 16n;
  const bloomBytes = image.read(bloomAt, BigInt(bloomSize) * w, 'DT_GNU_HASH Bloom filter', 'ELF_BAD_HASH');
  const halves = f.wordSize / 4;
  // Each word as its 32-bit halves, low half first, in the file's byte order:
  // in a little-endian file that is just the 32-bit fields in order.
  const le = image.file.header.littleEndian;
  let bloom: Uint32Array;
  if (halves === 1 || le) bloom = f.u32s(bloomBytes, 0, bloomSize * halves);
  else {
    bloom = new Uint32Array(bloomSize * 2);
    for (let i = 0; i < bloomSize; i++) {
      bloom[i * 2] = f.u32(bloomBytes, i * 8 + 4);
      bloom[i * 2 + 1] = f.u32(bloomBytes, i * 8);
    }
  }
  const bucketsAt = bloomAt + BigInt(bloomSize) * w;
  const bucketBytes = image.read(bucketsAt, BigInt(nbuckets) * 4n, 'DT_GNU_HASH buckets', 'ELF_BAD_HASH');
  const buckets = f.u32s(bucketBytes, 0, nbuckets);
  let maxBucket = 0;
  for (let i = 0; i < nbuckets; i++) {
    const b = buckets[i] as number;
    if (b !== 0 && b < symoffset) throw new ElfFormatError('ELF_BAD_HASH', image.path, `DT_GNU_HASH bucket ${i} names symbol ${b}, below symoffset ${symoffset}`);
    if (b > maxBucket) maxBucket = b;
  }
  // The chain runs from symoffset to the end of the last bucket's chain (its
  // last word has bit 0 set); read it in growing pieces until that word.
  const chainAt = bucketsAt + BigInt(nbuckets) * 4n;
  // Grown by doubling: a chain word is any 32-bit value, which a plain array would hold as a double.
  let words = new Uint32Array(0);
  let used = 0;
  if (maxBucket !== 0) {
    let i = symoffset;
    let piece = 1024;
    let done = false;
    while (!done) {
      if (i - symoffset > SYMBOL_LIMITS.maxSymbols) throw new ElfFormatError('ELF_LIMIT', image.path, `DT_GNU_HASH chain longer than ${SYMBOL_LIMITS.maxSymbols} entries`);
      const start = chainAt + BigInt(i - symoffset) * 4n;
      // Never ask past the segment: shrink the last piece to what is mapped.
      let n = piece;
      while (n > 1 && !image.isMapped(start, BigInt(n) * 4n)) n = Math.floor(n / 2);
      const buf = image.read(start, BigInt(n) * 4n, 'DT_GNU_HASH chain', 'ELF_BAD_HASH');
      if (used + n > words.length) {
        const grown = new Uint32Array(Math.max(words.length * 2, used + n));
        grown.set(words.subarray(0, used));
        words = grown;
      }
      const piece32 = f.u32s(buf, 0, n);
      for (let k = 0; k < n; k++, i++) {
        const c = piece32[k] as number;
        words[used++] = c;
        if (i >= maxBucket && (c & 1) !== 0) {
          done = true;
          break;
        }
      }
      piece = Math.min(piece * 4, 65536);
    }
  }
  return { kind: 'gnu', nbuckets, symoffset, bloomShift, bloom, bloomBits: f.wordSize * 8, buckets, chain: words.slice(0, used) };
}

/** Number of symbols a GNU hash table covers: symoffset plus every chain entry. */
function gnuSymbolCount(h: GnuHashTable): number {
  return h.symoffset + h.chain.length;
}

function readSysvHash(image: ElfImage, at: bigint): SysvHashTable {
  const f = image.fields;
  const size = sysvEntrySize(image);
  const entry = (b: Buffer, i: number): number => {
    if (size === 4) return f.u32(b, i * 4);
    const v = f.u64(b, i * 8);
    if (v > 0xffffffffn) throw new ElfFormatError('ELF_LIMIT', image.path, `DT_HASH entry ${i} is ${v}, beyond any symbol count`);
    return Number(v);
  };
  const head = image.read(at, BigInt(2 * size), 'DT_HASH header', 'ELF_BAD_HASH');
  const nbucket = entry(head, 0);
  const nchain = entry(head, 1);
  if (nbucket > SYMBOL_LIMITS.maxBuckets || nchain > SYMBOL_LIMITS.maxSymbols) {
    throw new ElfFormatError('ELF_LIMIT', image.path, `DT_HASH has ${nbucket} buckets and ${nchain} chain entries (limits ${SYMBOL_LIMITS.maxBuckets}, ${SYMBOL_LIMITS.maxSymbols})`);
  }
  const body = image.read(at + BigInt(2 * size), BigInt(nbucket + nchain) * BigInt(size), 'DT_HASH table', 'ELF_BAD_HASH');
  const buckets = new Uint32Array(nbucket);
  const chain = new Uint32Array(nchain);
  for (let i = 0; i < nbucket; i++) buckets[i] = entry(body, i);
  for (let i = 0; i < nchain; i++) chain[i] = entry(body, nbucket + i);
  return { kind: 'sysv', buckets, chain };
}

