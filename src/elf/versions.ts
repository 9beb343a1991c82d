/**
 * Symbol versioning tables (GNU extension to the gABI), read through the
 * dynamic segment the way glibc's elf/dl-version.c walks them:
 *
 * - DT_VERNEED: Elf_Verneed records (one per needed file), each with a chain
 *   of Elf_Vernaux (one per version needed from it);
 * - DT_VERDEF: Elf_Verdef records (one per version this object defines), each
 *   with Elf_Verdaux names (the first is the version's own name);
 * - DT_VERSYM: one 16-bit version index per dynamic symbol.
 *
 * The loader follows vn_next / vna_next / vd_next until a zero and ignores the
 * counts (DT_VERNEEDNUM, vn_cnt, ...); so do we, but every link is checked:
 * each record must be mapped, a chain may not revisit a record (a loop would
 * hang the loader; here it is an error) and may not exceed LIMITS below.
 * Both record layouts are the same in ELF32 and ELF64.
 */
import { ElfFormatError } from '../errors.js';
import type { ElfImage } from './image.js';

export const VERSION_LIMITS = {
  /** Records in one table, all chains together (needed files and their versions; definitions). Real objects have a few dozen. */
  maxRecords: 16384,
} as const;

const VERNEED_SIZE = 16n;
const VERNAUX_SIZE = 16n;
const VERDEF_SIZE = 20n;
const VERDAUX_SIZE = 8n;

/** One version needed from one file (Elf_Vernaux). */
export interface VersionNeedAux {
  name: string;
  /** vna_hash: the ELF hash of the name, compared with vd_hash by the loader. */
  hash: number;
  /** vna_flags (VER_FLG_WEAK). */
  flags: number;
  /** vna_other: the version index symbols use for it (bit 15: hidden). */
  other: number;
}

/** One needed file and the versions needed from it (Elf_Verneed). */
export interface VersionNeed {
  /** vn_version (1 is the only one defined). */
  version: number;
  /** vn_file: the DT_NEEDED name of the provider. */
  file: string;
  versions: VersionNeedAux[];
}

/** One version this object defines (Elf_Verdef). */
export interface VersionDef {
  /** vd_version (1 is the only one defined). */
  version: number;
  /** vd_flags (VER_FLG_BASE: the object's own name, VER_FLG_WEAK). */
  flags: number;
  /** vd_ndx: the version index. */
  index: number;
  hash: number;
  /** The version's name (first Verdaux) and the names of its parents (the rest). */
  names: string[];
}

/** Follows one chain of records linked by relative offsets, refusing loops and overlong chains. */
function walkChain(image: ElfImage, start: bigint, size: bigint, what: string, nextAt: (rec: Buffer) => number, visit: (rec: Buffer, addr: bigint) => void, budget: { left: number }): void {
  const seen = new Set<bigint>();
  let addr = start;
  for (;;) {
    if (seen.has(addr)) throw new ElfFormatError('ELF_BAD_VERSION', image.path, `${what} chain loops back to address 0x${addr.toString(16)}`);
    if (seen.size >= VERSION_LIMITS.maxRecords) throw new ElfFormatError('ELF_LIMIT', image.path, `${what} chain has more than ${VERSION_LIMITS.maxRecords} records`);
    seen.add(addr);
    // All chains of one table together: records shared between chains must not make the walk quadratic.
    if (--budget.left < 0) throw new ElfFormatError('ELF_LIMIT', image.path, `version tables have more than ${VERSION_LIMITS.maxRecords} records in all`);
    const rec = image.read(addr, size, `${what} record`, 'ELF_BAD_VERSION');
    visit(rec, addr);
    const next = nextAt(rec);
    if (next === 0) return;
    addr += BigInt(next);
  }
}

/** DT_VERNEED, or [] when the object has none. */
export function readVersionNeeds(image: ElfImage): VersionNeed[] {
  return image.cached('verneed', () => {
    const at = image.file.dynamic?.tables.verneed ?? null;
    if (at === null) return [];
    const f = image.fields;
    const needs: VersionNeed[] = [];
    const budget = { left: VERSION_LIMITS.maxRecords };
    walkChain(
      image,
      at,
      VERNEED_SIZE,
      'Verneed',
      (rec) => f.u32(rec, 12),
      (rec, addr) => {
        const need: VersionNeed = { version: f.u16(rec, 0), file: image.string(f.u32(rec, 4), 'vn_file'), versions: [] };
        const aux = f.u32(rec, 8);
        // glibc reads the first Vernaux at vn_aux even when vn_cnt is 0.
        walkChain(
          image,
          addr + BigInt(aux),
          VERNAUX_SIZE,
          'Vernaux',
          (a) => f.u32(a, 12),
          (a) => {
            need.versions.push({ hash: f.u32(a, 0), flags: f.u16(a, 4), other: f.u16(a, 6), name: image.string(f.u32(a, 8), 'vna_name') });
          },
          budget,
        );
        needs.push(need);
      },
      budget,
    );
    return needs;
  });
}

/** DT_VERDEF, or null when the object defines no versions (an unversioned library). */
export function readVersionDefs(image: ElfImage): VersionDef[] | null {
  return image.cached('verdef', () => {
    const at = image.file.dynamic?.tables.verdef ?? null;
    if (at === null) return null;
    const f = image.fields;
    const defs: VersionDef[] = [];
    const budget = { left: VERSION_LIMITS.maxRecords };
    walkChain(
      image,
      at,
      VERDEF_SIZE,
      'Verdef',
      (rec) => f.u32(rec, 16),
      (rec, addr) => {
        const def: VersionDef = { version: f.u16(rec, 0), flags: f.u16(rec, 2), index: f.u16(rec, 4), hash: f.u32(rec, 8), names: [] };
        const count = f.u16(rec, 6);
        // The loader reads only the first Verdaux (the name); the parents are
        // read for tools, at most vd_cnt of them, along vda_next.
        let aux = addr + BigInt(f.u32(rec, 12));
        const seen = new Set<bigint>();
        for (let i = 0; i < Math.max(1, count); i++) {
          if (seen.has(aux)) throw new ElfFormatError('ELF_BAD_VERSION', image.path, `Verdaux chain loops back to address 0x${aux.toString(16)}`);
          seen.add(aux);
          const a = image.read(aux, VERDAUX_SIZE, 'Verdaux record', 'ELF_BAD_VERSION');
          def.names.push(image.string(f.u32(a, 0), 'vda_name'));
          const next = f.u32(a, 4);
          if (next === 0) break;
          aux += BigInt(next);
        }
        defs.push(def);
      },
      budget,
    );
    return defs;
  });
}

/**
 * DT_VERSYM for the first `count` symbols, or null when the object has no
 * DT_VERSYM. The table has one entry per dynamic symbol: its length is the
 * symbol count (symbols.ts), which the caller passes.
 */
export function readVersionIndexes(image: ElfImage, count: number): Uint16Array | null {
  return image.cached(`versym:${count}`, () => {
    const at = image.file.dynamic?.tables.versym ?? null;
    if (at === null) return null;
    const buf = image.read(at, BigInt(count) * 2n, 'DT_VERSYM table', 'ELF_BAD_VERSION');
    return image.fields.u16s(buf, 0, count);
  });
}

/** The ELF hash of a name (SysV hash: vna_hash, vd_hash and DT_HASH use it; glibc _dl_elf_hash). */
export function elfHash(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) {
    h = ((h << 4) + (name.charCodeAt(i) & 0xff)) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h &= ~g >>> 0;
    h >>>= 0;
  }
  return h >>> 0;
}
