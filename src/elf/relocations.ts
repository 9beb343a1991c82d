/**
 * The relocation tables the loader processes (glibc elf/dynamic-link.h,
 * elf/do-rel.h), and what each relocation type means to symbol lookup.
 *
 * Ranges, as _ELF_DYNAMIC_DO_RELOC forms them: DT_REL/DT_RELA (size from
 * DT_RELSZ/DT_RELASZ) is the "data" range; DT_JMPREL (DT_PLTRELSZ, format
 * DT_PLTREL) is the PLT range, which linkers often place at the end of the
 * data range; then the data range is shortened so no relocation is processed
 * twice. Without DT_PLTREL the loader processes no PLT relocations at all.
 * DT_RELR (relative relocations, no symbols) is read and checked for shape
 * only: it never needs a symbol. The first DT_RELACOUNT / DT_RELCOUNT entries
 * of the data range are relative by the loader's decree (do-rel.h starts its
 * symbol loop at relative + nrelative without looking at their types), so
 * they are skipped unread, as the loader skips them.
 *
 * Only the relocation type and symbol index are kept (typed arrays): that is
 * all symbol lookup needs, and a large library has a hundred thousand.
 */
import { ElfFormatError } from '../errors.js';
import * as C from './constants.js';
import type { ElfImage } from './image.js';

export const RELOCATION_LIMITS = {
  /** Relocations in one range. */
  maxRelocations: 16_000_000,
} as const;

export interface RelocationRange {
  /** 'plt' for DT_JMPREL, 'data' for DT_REL/DT_RELA. */
  kind: 'data' | 'plt';
  format: 'rel' | 'rela';
  /** Leading entries DT_RELACOUNT / DT_RELCOUNT declares relative: counted, not read (the loader never reads their symbol). */
  relative: number;
  /** Type and symbol index of each entry after those. */
  types: Uint32Array;
  symbols: Uint32Array;
}

export interface RelocationTables {
  /** In the loader's order: REL ranges first, then RELA (dynamic-link.h), data before PLT within each. */
  ranges: RelocationRange[];
  /** Entries of DT_RELR (bitmap words included). */
  relrEntries: number;
}

/** ELF_RTYPE_CLASS_* of glibc: how a relocation type constrains what may satisfy its symbol. */
export const RTYPE_CLASS_PLT = 1;
export const RTYPE_CLASS_COPY = 2;

/** What symbol lookup needs to know about one machine's relocation types (each machine's sysdeps/.../dl-machine.h). */
export interface MachineRelocations {
  /** Types that never look a symbol up (NONE, RELATIVE and friends). */
  noSymbol: ReadonlySet<number>;
  /** elf_machine_type_class. */
  typeClass(type: number): number;
}

function classTable(plt: number[], copy: number, noSymbol: number[], pltRange?: (t: number) => boolean): MachineRelocations {
  const p = new Set(plt);
  return {
    noSymbol: new Set(noSymbol),
    typeClass: (t) => ((p.has(t) || (pltRange?.(t) ?? false)) ? RTYPE_CLASS_PLT : 0) | (t === copy ? RTYPE_CLASS_COPY : 0),
  };
}

/** Machines whose relocation classes are known; symbol lookups are not checked for others. */
const MACHINES = new Map<number, MachineRelocations>([
  // x86_64: JUMP_SLOT 7, DTPMOD64 16, DTPOFF64 17, TPOFF64 18, TLSDESC 36; COPY 5; NONE 0, RELATIVE 8, RELATIVE64 38.
  [C.EM_X86_64, classTable([7, 16, 17, 18, 36], 5, [0, 8, 38])],
  // i386: JMP_SLOT 7, TLS_TPOFF 14, TLS_DTPMOD32 35, TLS_DTPOFF32 36, TLS_TPOFF32 37, TLS_DESC 41; COPY 5; NONE 0, RELATIVE 8.
  [C.EM_386, classTable([7, 14, 35, 36, 37, 41], 5, [0, 8])],
  // aarch64: JUMP_SLOT 1026, TLS_DTPMOD 1028, TLS_DTPREL 1029, TLS_TPREL 1030, TLSDESC 1031; COPY 1024; NONE 0, RELATIVE 1027.
  [C.EM_AARCH64, classTable([1026, 1028, 1029, 1030, 1031], 1024, [0, 1027])],
  // arm: JUMP_SLOT 22, TLS_DTPMOD32 17, TLS_DTPOFF32 18, TLS_TPOFF32 19, TLS_DESC 13; COPY 20; NONE 0, RELATIVE 23.
  [C.EM_ARM, classTable([22, 17, 18, 19, 13], 20, [0, 23])],
  // ppc64: JMP_SLOT 21, ADDR24 2, TLS relocations 67..96 and 112..115; COPY 19; NONE 0, RELATIVE 22.
  [C.EM_PPC64, classTable([21, 2], 19, [0, 22], (t) => (t >= 67 && t <= 96) || (t >= 112 && t <= 115))],
  // ppc: JMP_SLOT 21, TLS relocations 67..94; COPY 19; NONE 0, RELATIVE 22.
  [C.EM_PPC, classTable([21], 19, [0, 22], (t) => t >= 67 && t <= 94)],
  // s390/s390x: JMP_SLOT 11, TLS_DTPMOD 54, TLS_DTPOFF 55, TLS_TPOFF 56; COPY 9; NONE 0, RELATIVE 12.
  [C.EM_S390, classTable([11, 54, 55, 56], 9, [0, 12])],
  // riscv: JUMP_SLOT 5, TLS_DTPMOD32/64 6/7, TLS_DTPREL32/64 8/9, TLS_TPREL32/64 10/11; COPY 4; NONE 0, RELATIVE 3.
  [C.EM_RISCV, classTable([5, 6, 7, 8, 9, 10, 11], 4, [0, 3])],
]);

export function machineRelocations(machine: number): MachineRelocations | null {
  return MACHINES.get(machine) ?? null;
}

/** Decodes one range of Elf_Rel or Elf_Rela records. */
function readRange(image: ElfImage, kind: 'data' | 'plt', format: 'rel' | 'rela', addr: bigint, size: bigint, what: string, relative = 0n): RelocationRange {
  const is64 = image.file.header.elfClass === 64;
  const entsize = BigInt(format === 'rela' ? (is64 ? 24 : 12) : is64 ? 16 : 8);
  if (size % entsize !== 0n) throw new ElfFormatError('ELF_BAD_RELOC', image.path, `${what} size ${size} is not a multiple of the entry size ${entsize}`);
  const all = size / entsize;
  if (all > BigInt(RELOCATION_LIMITS.maxRelocations)) throw new ElfFormatError('ELF_LIMIT', image.path, `${what} has ${all} relocations (limit ${RELOCATION_LIMITS.maxRelocations})`);
  // A count past the range (hostile) leaves no symbolic relocation in it: the
  // loader's symbol loop would not run either.
  const skip = relative < all ? relative : all;
  const n = Number(all - skip);
  // The whole range must still be where the loader would find it.
  if (skip > 0n && !image.isMapped(addr, size)) image.read(addr, size, what, 'ELF_BAD_RELOC');
  const buf = n === 0 ? Buffer.alloc(0) : image.read(addr + skip * entsize, size - skip * entsize, what, 'ELF_BAD_RELOC');
  const types = new Uint32Array(n);
  const symbols = new Uint32Array(n);
  const le = image.file.header.littleEndian;
  const e = Number(entsize);
  for (let i = 0, at = 0; i < n; i++, at += e) {
    if (is64) {
      // r_info = sym << 32 | type, read as two 32-bit halves (no bigint per record).
      types[i] = le ? buf.readUInt32LE(at + 8) : buf.readUInt32BE(at + 12);
      symbols[i] = le ? buf.readUInt32LE(at + 12) : buf.readUInt32BE(at + 8);
    } else {
      const info = le ? buf.readUInt32LE(at + 4) : buf.readUInt32BE(at + 4);
      symbols[i] = info >>> 8;
      types[i] = info & 0xff;
    }
  }
  return { kind, format, relative: Number(skip), types, symbols };
}

/**
 * The relocation ranges of an image. Not kept: callers keep what they need of
 * them (the verdict keeps only the relocations that name symbols), and a large
 * library's ranges are megabytes.
 */
export function readRelocations(image: ElfImage): RelocationTables {
  return image.uncached(() => {
    const t = image.file.dynamic?.tables;
    const ranges: RelocationRange[] = [];
    if (!t) return { ranges, relrEntries: 0 };
    const pltFormat = t.pltRel === C.DT_RELA ? 'rela' : t.pltRel === C.DT_REL ? 'rel' : null;
    if (t.pltRel !== null && pltFormat === null) throw new ElfFormatError('ELF_BAD_RELOC', image.path, `DT_PLTREL is ${t.pltRel}, neither DT_REL nor DT_RELA`);
    const plt = pltFormat !== null && t.jmprel !== null ? { start: t.jmprel, size: t.pltRelSz ?? 0n } : null;
    for (const format of ['rel', 'rela'] as const) {
      const start = format === 'rel' ? t.rel : t.rela;
      let size = format === 'rel' ? t.relSz : t.relaSz;
      const name = format === 'rel' ? 'DT_REL' : 'DT_RELA';
      if (start !== null) {
        if (size === null) throw new ElfFormatError('ELF_BAD_RELOC', image.path, `${name} without ${name}SZ`);
        // The PLT range inside the data range, at its end, is not done twice.
        if (plt && pltFormat === format && start + size === plt.start + plt.size && size >= plt.size) size -= plt.size;
        const relative = (format === 'rel' ? t.relCount : t.relaCount) ?? 0n;
        if (size > 0n) ranges.push(readRange(image, 'data', format, start, size, `${name} relocations`, relative));
      }
      if (plt && pltFormat === format && plt.size > 0n) ranges.push(readRange(image, 'plt', format, plt.start, plt.size, 'DT_JMPREL relocations'));
    }
    let relrEntries = 0;
    if (t.relr !== null) {
      const w = BigInt(image.fields.wordSize);
      const size = t.relrSz ?? 0n;
      if (size % w !== 0n) throw new ElfFormatError('ELF_BAD_RELOC', image.path, `DT_RELRSZ ${size} is not a multiple of the word size ${w}`);
      if (!image.isMapped(t.relr, size)) throw new ElfFormatError('ELF_BAD_RELOC', image.path, `DT_RELR (${size} bytes at 0x${t.relr.toString(16)}) is not inside any PT_LOAD segment's file bytes`);
      relrEntries = Number(size / w);
    }
    return { ranges, relrEntries };
  });
}
