/**
 * Decoders for the fixed-size ELF records (file header, program header),
 * one per class and byte order, built with binary-parser (dynamic entries,
 * of which only some tags are kept, are decoded by the reader itself).
 * They are only ever given buffers that the caller has already read in full,
 * so they cannot run past the end. 64-bit fields decode to bigint; 32-bit
 * classes are widened to bigint too, so callers never branch on the class.
 */
import { Parser } from 'binary-parser';

export interface RawHeader {
  e_type: number;
  e_machine: number;
  e_version: number;
  e_entry: bigint;
  e_phoff: bigint;
  e_shoff: bigint;
  e_flags: number;
  e_ehsize: number;
  e_phentsize: number;
  e_phnum: number;
  e_shentsize: number;
  e_shnum: number;
  e_shstrndx: number;
}

export interface RawProgramHeader {
  p_type: number;
  p_flags: number;
  p_offset: bigint;
  p_vaddr: bigint;
  p_paddr: bigint;
  p_filesz: bigint;
  p_memsz: bigint;
  p_align: bigint;
}

export interface RecordCodec {
  /** Size of the file header (52 or 64). */
  ehsize: number;
  /** Size of one program header (32 or 56). */
  phentsize: number;
  /** Size of one dynamic entry (8 or 16; the reader decodes them itself, keeping only the tags it reads). */
  dynsize: number;
  header(buf: Buffer): RawHeader;
  /** Every program header in `buf` (a whole number of them). */
  programHeaders(buf: Buffer): RawProgramHeader[];
}

type Endian = 'little' | 'big';

function widen<T extends object>(rec: T, keys: ReadonlyArray<keyof T>): T {
  for (const k of keys) {
    const v = rec[k];
    if (typeof v === 'number') (rec as Record<keyof T, unknown>)[k] = BigInt(v);
  }
  return rec;
}

function widenAll<T extends object>(elfClass: 32 | 64, recs: T[], keys: ReadonlyArray<keyof T>): T[] {
  if (elfClass === 32) for (const r of recs) widen(r, keys);
  return recs;
}

function makeCodec(elfClass: 32 | 64, endian: Endian): RecordCodec {
  const addr = (p: Parser, name: string): Parser => (elfClass === 64 ? p.uint64(name) : p.uint32(name));
  // e_ident (16 bytes) is skipped: the caller decodes it by hand first.
  let header = new Parser().endianness(endian).seek(16).uint16('e_type').uint16('e_machine').uint32('e_version');
  header = addr(header, 'e_entry');
  header = addr(header, 'e_phoff');
  header = addr(header, 'e_shoff');
  header = header
    .uint32('e_flags')
    .uint16('e_ehsize')
    .uint16('e_phentsize')
    .uint16('e_phnum')
    .uint16('e_shentsize')
    .uint16('e_shnum')
    .uint16('e_shstrndx');

  // The two classes order the program header fields differently (p_flags moves).
  const phdr =
    elfClass === 64
      ? new Parser()
          .endianness(endian)
          .uint32('p_type')
          .uint32('p_flags')
          .uint64('p_offset')
          .uint64('p_vaddr')
          .uint64('p_paddr')
          .uint64('p_filesz')
          .uint64('p_memsz')
          .uint64('p_align')
      : new Parser()
          .endianness(endian)
          .uint32('p_type')
          .uint32('p_offset')
          .uint32('p_vaddr')
          .uint32('p_paddr')
          .uint32('p_filesz')
          .uint32('p_memsz')
          .uint32('p_flags')
          .uint32('p_align');

  // Tables are decoded a buffer at a time: one parse call per table rather than
  // per record costs a fifth as much (binary-parser sets up a view per call).
  const phdrs = new Parser().array('records', { type: phdr, readUntil: 'eof' });

  const addrKeysH: Array<keyof RawHeader> = ['e_entry', 'e_phoff', 'e_shoff'];
  const addrKeysP: Array<keyof RawProgramHeader> = ['p_offset', 'p_vaddr', 'p_paddr', 'p_filesz', 'p_memsz', 'p_align'];
  return {
    ehsize: elfClass === 64 ? 64 : 52,
    phentsize: elfClass === 64 ? 56 : 32,
    dynsize: elfClass === 64 ? 16 : 8,
    header: (buf) => widen(header.parse(buf) as RawHeader, addrKeysH),
    // ELF64's words already decode to bigint: only ELF32's need widening.
    programHeaders: (buf) => widenAll(elfClass, (phdrs.parse(buf) as { records: RawProgramHeader[] }).records, addrKeysP),
  };
}

const codecs = new Map<string, RecordCodec>();

/** The (cached) decoders for one class and byte order. */
export function codecFor(elfClass: 32 | 64, littleEndian: boolean): RecordCodec {
  const key = `${elfClass}${littleEndian ? 'le' : 'be'}`;
  let codec = codecs.get(key);
  if (!codec) {
    codec = makeCodec(elfClass, littleEndian ? 'little' : 'big');
    codecs.set(key, codec);
  }
  return codec;
}
