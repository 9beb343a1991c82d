/**
 * What ldconfig learns from one candidate file (glibc 2.36 elf/readlib.c
 * process_file, elf/readelflib.c process_elf_file and the architecture's
 * wrapper in abi.ts): its flags, its SONAME and, on x86, the ISA level its
 * GNU property note needs. null when ldconfig would leave the file out.
 *
 * The ELF file is read with elfdeps' own bounded reader; a file the reader
 * refuses as malformed is left out (ldconfig may read garbage from it, or
 * crash), which is the one place the two may differ.
 */
import { FileSource } from '../elf/file-source.js';
import { readElfDetails, readElfHeader } from '../elf/reader.js';
import * as C from '../elf/constants.js';
import { ElfdepsError } from '../errors.js';
import { FLAG_ELF, FLAG_LIBC4, type LdconfigAbi } from './abi.js';

export interface LibraryFacts {
  flags: number;
  /** DT_SONAME, or the name ldconfig makes up (implicit_soname). */
  soname: string;
  isaLevel: number;
}

const PT_GNU_PROPERTY = 0x6474e553;
const NT_GNU_PROPERTY_TYPE_0 = 5;
const GNU_PROPERTY_X86_ISA_1_NEEDED = 0xc0008002;
/** a.out magics (N_MAGIC of a_info): ZMAGIC 0413, QMAGIC 0314. */
const ZMAGIC = 0o413;
const QMAGIC = 0o314;
/** A GNU property segment is a few dozen bytes; more is not a real one. */
const MAX_PROPERTY_BYTES = 4096;

/** An a.out library's made-up soname: the name cut after its major number. */
function aoutSoname(name: string): string {
  const major = name.indexOf('.so.');
  if (major < 0) return name;
  const dot = name.indexOf('.', major + 4);
  return dot < 0 ? name : name.slice(0, dot);
}

/**
 * process_file for the file at `hostPath`, found in a directory under the
 * name `name`. Never throws for a bad file: ldconfig skips it and goes on.
 */
export function classifyLibrary(hostPath: string, name: string, abi: LdconfigAbi): LibraryFacts | null {
  let src: FileSource;
  try {
    src = FileSource.open(hostPath);
  } catch (err) {
    if (err instanceof ElfdepsError) return null;
    throw err;
  }
  try {
    return classifyOpen(src, name, abi);
  } catch (err) {
    if (err instanceof ElfdepsError) return null;
    throw err;
  } finally {
    src.close();
  }
}

function classifyOpen(src: FileSource, name: string, abi: LdconfigAbi): LibraryFacts | null {
  // Too small for `struct exec` or the native ELF header: "not checked".
  const structExec = abi.elfClass === 64 ? 40 : 32;
  const ehdr = abi.elfClass === 64 ? 64 : 52;
  if (src.size < BigInt(Math.max(structExec, ehdr))) return null;
  const head = src.readAt(0n, 8, 'file header', 'ELF_TOO_SHORT');
  // N_MAGIC: the low 16 bits of a_info (an unsigned long) in ldconfig's byte order.
  const infoSize = abi.elfClass === 64 ? 8 : 4;
  const magic = abi.littleEndian ? head.readUInt16LE(0) : head.readUInt16BE(infoSize - 2);
  if (magic === ZMAGIC || magic === QMAGIC) return { flags: FLAG_LIBC4, soname: aoutSoname(name), isaLevel: 0 };
  if (!head.subarray(0, 4).equals(C.ELFMAG)) return null;
  const header = readElfHeader(src);
  // ldconfig reads e_type in its own byte order: a file of the other order never reads as ET_DYN.
  if (header.littleEndian !== abi.littleEndian || header.type !== C.ET_DYN) return null;
  if (!abi.readsClass(header.elfClass, header.machine)) return null;
  const elf = readElfDetails(src, header);

  let flags = FLAG_ELF;
  let isaLevel = 0;
  for (const ph of elf.programHeaders) {
    if (ph.type === C.PT_INTERP && elf.interpreter !== null && flags === FLAG_ELF) {
      flags = abi.interpreters.get(elf.interpreter) ?? flags;
    } else if (ph.type === PT_GNU_PROPERTY && abi.readsIsaLevel && ph.align === BigInt(header.elfClass / 8)) {
      isaLevel = isaLevelOf(src, ph.offset, ph.filesz, header.elfClass, header.littleEndian) ?? isaLevel;
    }
  }
  const dyn = elf.dynamic;
  // No dynamic segment, or no string table: ldconfig leaves the file out.
  if (dyn === null || dyn.tables.strtab === null) return null;
  if (flags === FLAG_ELF) {
    for (const needed of dyn.needed) {
      const known = abi.knownLibs.get(needed);
      if (known !== undefined) {
        flags = known;
        break;
      }
    }
  }
  const final = abi.finalFlags({ elfClass: header.elfClass, machine: header.machine, eflags: header.flags }, flags);
  if (final === null) return null;
  return { flags: final, soname: dyn.soname ?? name, isaLevel };
}

/**
 * The x86 ISA level a PT_GNU_PROPERTY segment asks for: the highest bit of
 * GNU_PROPERTY_X86_ISA_1_NEEDED (x86 elf-read-prop.h), or null when the
 * segment does not say. Only the first NT_GNU_PROPERTY_TYPE_0 note counts;
 * properties must come in ascending type order.
 */
function isaLevelOf(src: FileSource, offset: bigint, size: bigint, elfClass: 32 | 64, le: boolean): number | null {
  if (size <= 0n || size > BigInt(MAX_PROPERTY_BYTES) || offset + size > src.size) return null;
  const buf = src.readAt(offset, Number(size), 'GNU property note', 'ELF_BAD_NOTE');
  const u32 = (at: number): number => (le ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const align = elfClass / 8;
  const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;
  let note = 0;
  while (note + 12 < buf.length) {
    const namesz = u32(note);
    const descsz = u32(note + 4);
    const type = u32(note + 8);
    if (namesz === 4 && type === NT_GNU_PROPERTY_TYPE_0 && note + 16 <= buf.length && buf.toString('latin1', note + 12, note + 16) === 'GNU\0') {
      if (descsz < 8 || descsz % align !== 0) return null;
      let ptr = note + 16;
      const end = Math.min(ptr + descsz, buf.length);
      let lastType = 0;
      do {
        if (ptr + 8 > buf.length) return null;
        const ptype = u32(ptr);
        const datasz = u32(ptr + 4);
        if (ptype < lastType) return null;
        ptr += 8;
        if (ptr + datasz > end) return null;
        lastType = ptype;
        if (ptype > GNU_PROPERTY_X86_ISA_1_NEEDED) return null;
        if (ptype === GNU_PROPERTY_X86_ISA_1_NEEDED) {
          if (datasz !== 4) return null;
          const needed = u32(ptr);
          return needed === 0 ? null : 31 - Math.clz32(needed);
        }
        ptr += alignUp(datasz, align);
      } while (end - ptr >= 8);
      return null;
    }
    note = alignUp(alignUp(12 + namesz, align) + descsz, align) + note;
  }
  return null;
}
