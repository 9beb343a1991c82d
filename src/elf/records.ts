/**
 * The decoder of the ELF file header, one per class and byte order, built
 * with binary-parser, and the record sizes of each class. (Program headers
 * and dynamic entries, a dozen or more per file, are decoded by the reader
 * itself straight into what it keeps.) The decoder is only ever given a
 * buffer the caller has already read in full, so it cannot run past the end.
 * 64-bit fields decode to bigint; ELF32's are widened to bigint too, so
 * callers never branch on the class.
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

export interface RecordCodec {
  /** Size of the file header (52 or 64). */
  ehsize: number;
  /** Size of one program header (32 or 56). */
  phentsize: number;
  /** Size of one dynamic entry (8 or 16; the reader decodes them itself, keeping only the tags it reads). */
  dynsize: number;
  header(buf: Buffer): RawHeader;
}

type Endian = 'little' | 'big';

function widen<T extends object>(rec: T, keys: ReadonlyArray<keyof T>): T {
  for (const k of keys) {
    const v = rec[k];
    if (typeof v === 'number') (rec as Record<keyof T, unknown>)[k] = BigInt(v);
  }
  return rec;
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

  const addrKeysH: Array<keyof RawHeader> = ['e_entry', 'e_phoff', 'e_shoff'];
  return {
    ehsize: elfClass === 64 ? 64 : 52,
    phentsize: elfClass === 64 ? 56 : 32,
    dynsize: elfClass === 64 ? 16 : 8,
    header: (buf) => widen(header.parse(buf) as RawHeader, addrKeysH),
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
