/**
 * Symbol lookup in the link map's scope, as glibc's elf/dl-lookup.c does it
 * (_dl_lookup_symbol_x, do_lookup_x, check_match), without running anything:
 *
 * - objects are searched in scope order (the global search list; an object
 *   with DT_SYMBOLIC first searches itself); a COPY relocation skips the
 *   program; objects without a hash table have nothing to find;
 * - candidates come from the hash table (symbols.ts); check_match rejects
 *   symbols without a value (unless absolute or TLS), undefined ones for PLT
 *   relocations, types other than NOTYPE/OBJECT/FUNC/COMMON/TLS/IFUNC, other
 *   names, and other versions (a non-hidden unversioned definition satisfies a
 *   versioned reference; an unversioned reference takes the one non-default
 *   version when it is the only one);
 * - hidden and internal definitions are skipped, STB_LOCAL ones end the search
 *   of that object; STB_GLOBAL, STB_WEAK (LD_DYNAMIC_WEAK unset) and
 *   STB_GNU_UNIQUE definitions are taken.
 */
import * as C from '../elf/constants.js';
import { gnuHash, SymbolTable, type ElfSymbol } from '../elf/symbols.js';
import { elfHash, readVersionIndexes } from '../elf/versions.js';
import { RTYPE_CLASS_COPY, RTYPE_CLASS_PLT } from '../elf/relocations.js';
import type { MapEntry } from './link-map.js';
import { versionTable, type FoundVersion } from './versions.js';

const ALLOWED_TYPES = (1 << C.STT_NOTYPE) | (1 << C.STT_OBJECT) | (1 << C.STT_FUNC) | (1 << C.STT_COMMON) | (1 << C.STT_TLS) | (1 << C.STT_GNU_IFUNC);

export interface LookupResult {
  entry: MapEntry;
  symbol: ElfSymbol;
}

/** Per-object tables the lookup needs, read once. */
export interface ObjectTables {
  symbols: SymbolTable | null;
  versym: Uint16Array | null;
  versions: Array<FoundVersion | undefined> | null;
}

export function tablesOf(entry: MapEntry): ObjectTables {
  const image = entry.image;
  if (!image) return { symbols: null, versym: null, versions: null };
  const missing = entry.missingNeeds;
  return image.cached(missing.size === 0 ? 'lookup-tables' : `lookup-tables:${[...missing].sort().join('\0')}`, () => {
    const symbols = SymbolTable.of(image);
    const versions = versionTable(image, missing);
    // l_versyms is only set when the object has version information at all.
    const versym = symbols && versions ? readVersionIndexes(image, symbols.count) : null;
    return { symbols, versym, versions };
  });
}

export interface Reference {
  name: string;
  /** The referencing symbol (check_match accepts it without comparing names). */
  symbol: ElfSymbol;
  /** The object the reference is in. */
  from: MapEntry;
  version: FoundVersion | null;
  typeClass: number;
  /** The name's hashes, made by the first lookup of this reference (a reference is often looked up in a few scopes). */
  hashes?: NameHashes;
}

/** A name's GNU hash, and its SysV ELF hash when a DT_HASH-only object asks (dl-lookup.c computes that lazily too). */
export class NameHashes {
  readonly gnu: number;
  private sysvHash = -1;

  constructor(private readonly name: string) {
    this.gnu = gnuHash(name);
  }

  sysv(): number {
    if (this.sysvHash < 0) this.sysvHash = elfHash(this.name);
    return this.sysvHash;
  }
}

/** The definition the loader binds `ref` to, or null (then a non-weak reference is an "undefined symbol"). */
export function lookupSymbol(ref: Reference, scope: MapEntry[]): LookupResult | null {
  const hashes = (ref.hashes ??= new NameHashes(ref.name));
  const symbolic = (ref.from.image?.file.dynamic?.tables.symbolic ?? false) && !ref.from.isMain;
  for (let i = symbolic ? -1 : 0; i < scope.length; i++) {
    const map = i < 0 ? ref.from : (scope[i] as MapEntry);
    if (map.faked || !map.image) continue;
    if ((ref.typeClass & RTYPE_CLASS_COPY) !== 0 && map.isMain) continue;
    const t = tablesOf(map);
    if (!t.symbols || !t.symbols.hasHashTable) continue;
    const found = lookupIn(ref, map, t, hashes);
    if (found) return { entry: map, symbol: found };
  }
  return null;
}

/** do_lookup_x for one object: its definition of the reference, or null to go on with the next object. */
function lookupIn(ref: Reference, map: MapEntry, t: ObjectTables, hashes: NameHashes): ElfSymbol | null {
  const symtab = t.symbols as SymbolTable;
  let versioned: ElfSymbol | null = null;
  let numVersions = 0;
  let sym: ElfSymbol | null = null;
  const candidates = symtab.candidates(ref.name, hashes);
  for (let c = 0; c < candidates.length; c++) {
    const idx = candidates[c] as number;
    const s = symtab.symbol(idx);
    if ((s.value === 0n && s.shndx !== C.SHN_ABS && s.type !== C.STT_TLS) || ((ref.typeClass & RTYPE_CLASS_PLT) !== 0 && s.shndx === C.SHN_UNDEF)) continue;
    if (((1 << s.type) & ALLOWED_TYPES) === 0) continue;
    const isRef = map === ref.from && s.index === ref.symbol.index;
    if (!isRef && s.name !== ref.name) continue;
    const verstab = t.versym;
    if (ref.version !== null) {
      if (verstab !== null) {
        const raw = verstab[idx] ?? 0;
        const have = t.versions?.[raw & 0x7fff];
        const haveHash = have?.hash ?? 0;
        if ((haveHash !== ref.version.hash || have?.name !== ref.version.name) && (ref.version.hidden || haveHash !== 0 || (raw & 0x8000) !== 0)) continue;
      }
    } else if (verstab !== null) {
      const raw = verstab[idx] ?? 0;
      if ((raw & 0x7fff) >= 3) {
        // Not the default version: remember it, and take it if it is the only one.
        if ((raw & 0x8000) === 0 && numVersions++ === 0) versioned = s;
        continue;
      }
    }
    sym = s;
    break;
  }
  if (sym === null) sym = numVersions === 1 ? versioned : null;
  if (sym === null) return null;
  if (sym.visibility === C.STV_HIDDEN || sym.visibility === C.STV_INTERNAL) return null;
  if (sym.bind === C.STB_GLOBAL || sym.bind === C.STB_WEAK || sym.bind === C.STB_GNU_UNIQUE) return sym;
  return null;
}
