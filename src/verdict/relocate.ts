/**
 * The relocation walk, as far as symbols go (elf/dl-reloc.c, do-rel.h,
 * RESOLVE_MAP): for each object in relocation order (the interpreter and
 * placeholders left out), each relocation whose type takes a symbol and whose
 * symbol is not local is looked up in the scope with the version its
 * DT_VERSYM index names. Nothing is written and no IFUNC resolver is run.
 *
 * Lazy binding (the default; LD_BIND_NOW unset) leaves the PLT range of every
 * object without DT_BIND_NOW / DF_BIND_NOW / DF_1_NOW unresolved until a call:
 * what is looked up then is exactly what the loader resolves before the
 * program's first instruction. ldd -r binds everything.
 *
 * RESOLVE_MAP's one-entry cache (l_lookup_cache) means two consecutive
 * relocations of one symbol and type class are looked up once; a symbol that
 * is undefined is therefore reported once per run of such relocations, as the
 * loader reports it.
 */
import { ElfdepsError } from '../errors.js';
import * as C from '../elf/constants.js';
import { machineRelocations, readRelocations, RTYPE_CLASS_COPY } from '../elf/relocations.js';
import { nameMatches, type LinkMap, type MapEntry } from './link-map.js';
import { lookupSymbol, tablesOf, type Reference } from './lookup.js';
import type { UndefinedSymbol } from './types.js';

export interface RelocationWalk {
  undefined: UndefinedSymbol[];
  /** Objects some lookup bound to (l_used). */
  used: Set<MapEntry>;
  unreadable: string[];
  notes: string[];
}

export interface WalkOptions {
  /** true: every PLT range too (LD_BIND_NOW, ldd -r, ldd -u). */
  bindNow: boolean;
  /** Only these objects (ldd -u relocates the program alone). */
  only?: MapEntry[];
}

/** A small number per image, to name a set of images. */
const imageIds = new WeakMap<object, number>();
let nextImageId = 0;
function imageId(e: MapEntry): number {
  const key = e.image as object;
  let id = imageIds.get(key);
  if (id === undefined) imageIds.set(key, (id = nextImageId++));
  return id;
}

/**
 * An object and everything its DT_NEEDED entries bring in, as this program's
 * link map resolved them. All of it is in the global scope of the main
 * namespace (every object loaded at start is), so a definition found here is
 * found by the loader's lookup too, whatever else the scope holds.
 */
interface Closure {
  /** The images in it, as a sorted list of ids: the same for every program that resolves the object's dependencies to the same files. */
  key: string;
  entries: MapEntry[];
}

function closureOf(e: MapEntry, memo: Map<MapEntry, Closure>): Closure {
  let c = memo.get(e);
  if (c) return c;
  const seen = new Set<MapEntry>();
  const entries: MapEntry[] = [];
  const visit = (m: MapEntry): void => {
    if (seen.has(m) || m.faked || !m.image) return;
    seen.add(m);
    entries.push(m);
    for (const d of m.deps) visit(d);
  };
  visit(e);
  // A typed array sorts numbers as numbers, without a comparator or a boxed copy.
  const key = Uint32Array.from(entries, imageId).sort().join(',');
  c = { key, entries };
  memo.set(e, c);
  return c;
}

export function walkRelocations(map: LinkMap, options: WalkOptions): RelocationWalk {
  const out: RelocationWalk = { undefined: [], used: new Set(), unreadable: [], notes: [] };
  const closures = new Map<MapEntry, Closure>();
  for (const e of options.only ?? map.relocationOrder) {
    if (e.faked || e.isInterpreter || !e.image) continue;
    try {
      relocateOne(map, closures, e, options.bindNow, out, options.only !== undefined);
    } catch (err) {
      if (!(err instanceof ElfdepsError)) throw err;
      out.unreadable.push(err.message);
    }
  }
  return out;
}

/** The relocations of one object that look a symbol up, with their type class: computed once per file. */
interface SymbolicRelocations {
  kind: Array<'data' | 'plt'>;
  symbols: Uint32Array;
  classes: Uint8Array;
}

function symbolicRelocations(e: MapEntry): SymbolicRelocations | 'unknown-machine' {
  const image = e.image as NonNullable<MapEntry['image']>;
  return image.cached('symbolic-relocations', () => {
    const machine = machineRelocations(image.file.header.machine);
    const { ranges } = readRelocations(image);
    if (ranges.length === 0) return { kind: [], symbols: new Uint32Array(0), classes: new Uint8Array(0) };
    if (!machine) return 'unknown-machine' as const;
    const symtab = tablesOf(e).symbols;
    const total = ranges.reduce((n, r) => n + r.types.length, 0);
    const kind: Array<'data' | 'plt'> = [];
    const syms = new Uint32Array(total);
    const classes = new Uint8Array(total);
    // Per symbol: 1 looked up, 2 bound to the object itself (one decode per symbol, not per relocation).
    const binding = new Uint8Array(symtab?.count ?? 0);
    let n = 0;
    for (const r of ranges) {
      for (let i = 0; i < r.types.length; i++) {
        const type = r.types[i] as number;
        if (machine.noSymbol.has(type)) continue;
        const symIndex = r.symbols[i] as number;
        if (!symtab) throw new ElfdepsError('ELF_BAD_SYMTAB', `${e.name}: relocations name symbols but there is no DT_SYMTAB`, { path: e.name });
        let how = symIndex < binding.length ? (binding[symIndex] as number) : 0;
        if (how === 0) {
          // RESOLVE_MAP: local symbols (index 0 among them) bind to the object itself.
          how = symtab.bindsLocally(symIndex) ? 2 : 1;
          if (symIndex < binding.length) binding[symIndex] = how;
        }
        if (how === 2) continue;
        kind.push(r.kind);
        syms[n] = symIndex;
        classes[n] = machine.typeClass(type);
        n++;
      }
    }
    return { kind, symbols: syms.slice(0, n), classes: classes.slice(0, n) };
  });
}

/**
 * The symbolic relocations the loader looks up, by index: a lazily bound PLT
 * range is only prepared (elf_machine_lazy_rel), and RESOLVE_MAP's cache
 * drops a relocation of the same symbol and type class as the one before.
 */
function lookedUp(e: MapEntry, rel: SymbolicRelocations, bindNow: boolean): Uint32Array {
  // The same for every program that maps the file: made once per file and binding mode.
  return (e.image as NonNullable<MapEntry['image']>).cached(bindNow ? 'looked-up-now' : 'looked-up-lazy', () => {
    const out: number[] = [];
    let lastSym = -1;
    let lastClass = -1;
    for (let i = 0; i < rel.symbols.length; i++) {
      if (rel.kind[i] === 'plt' && !bindNow) continue;
      const symIndex = rel.symbols[i] as number;
      const typeClass = rel.classes[i] as number;
      if (symIndex === lastSym && typeClass === lastClass) continue;
      lastSym = symIndex;
      lastClass = typeClass;
      out.push(i);
    }
    return Uint32Array.from(out);
  });
}

/**
 * Per object, closure and binding mode: the relocations (indexes into its
 * symbolic relocations) whose non-weak symbol nothing in the closure defines,
 * after RESOLVE_MAP's cache has dropped repeats. Whether a lookup in the
 * global scope finds a definition does not depend on the order of the scope
 * (glibc 2.36's do_lookup_x stops only at a match), so a reference the closure
 * settles is settled in every scope that contains the closure; only the rest
 * is looked up again, in the program's whole scope.
 */
function unsettledInClosure(closure: Closure, e: MapEntry, rel: SymbolicRelocations, bindNow: boolean): number[] {
  const byClosure = (e.image as NonNullable<MapEntry['image']>).cached('closure-unsettled', () => new Map<string, number[]>());
  const key = `${bindNow ? 'now' : 'lazy'}:${closure.key}`;
  let list = byClosure.get(key);
  if (list) return list;
  list = [];
  const t = tablesOf(e);
  // The object a version is needed from (its Verneed file), found once per name.
  const providers = new Map<string, MapEntry | null>();
  const providerOf = (filename: string): MapEntry | null => {
    let p = providers.get(filename);
    if (p === undefined) providers.set(filename, (p = closure.entries.find((m) => nameMatches(filename, m)) ?? null));
    return p;
  };
  // A symbol and type class give the same answer each time (vtables name one
  // symbol many times): 1 defined, 2 not, by symbol index * 4 + type class
  // (0..3); a Map for symbols past the hashed ones.
  const answered = new Uint8Array((t.symbols?.count ?? 0) * 4);
  const answeredBeyond = new Map<number, boolean>();
  const indexes = lookedUp(e, rel, bindNow);
  for (let n = 0; n < indexes.length; n++) {
    const i = indexes[n] as number;
    const symIndex = rel.symbols[i] as number;
    const typeClass = rel.classes[i] as number;
    const k = symIndex * 4 + typeClass;
    const known = k < answered.length ? answered[k] : answeredBeyond.has(k) ? (answeredBeyond.get(k) ? 1 : 2) : 0;
    let defined = known === 1;
    if (known === 0) {
      const r = referenceOf(e, t, symIndex, typeClass);
      // The object most likely to define it is tried alone first: the file its
      // version is needed from, or the object itself for a version it defines.
      const likely = r.version === null ? null : r.version.filename === null ? e : providerOf(r.version.filename);
      defined = r.symbol.bind === C.STB_WEAK || (likely !== null && lookupSymbol(r, [likely]) !== null) || lookupSymbol(r, closure.entries) !== null;
      if (k < answered.length) answered[k] = defined ? 1 : 2;
      else answeredBeyond.set(k, defined);
    }
    if (!defined) list.push(i);
  }
  byClosure.set(key, list);
  return list;
}

function referenceOf(e: MapEntry, t: ReturnType<typeof tablesOf>, symIndex: number, typeClass: number): Reference {
  const ref = (t.symbols as NonNullable<typeof t.symbols>).symbol(symIndex);
  let version = null;
  if (t.versym) {
    const v = t.versions?.[versionIndex(e, t.versym, symIndex) & 0x7fff];
    if (v && v.hash !== 0) version = v;
  }
  return { name: ref.name, symbol: ref, from: e, version, typeClass, hashes: undefined };
}

/** DT_VERSYM of a symbol, also past the hashed symbols (the table is indexed directly, like DT_SYMTAB). */
function versionIndex(e: MapEntry, versym: Uint16Array, symIndex: number): number {
  if (symIndex < versym.length) return versym[symIndex] as number;
  const image = e.image as NonNullable<MapEntry['image']>;
  const at = (image.file.dynamic?.tables.versym ?? 0n) + BigInt(symIndex) * 2n;
  if (!image.isMapped(at, 2n)) return 0;
  return image.uncached(() => image.fields.u16(image.read(at, 2n, 'DT_VERSYM entry', 'ELF_BAD_VERSION'), 0));
}

function undefinedSymbol(e: MapEntry, r: Reference, kind: 'data' | 'plt', objectBindNow: boolean): UndefinedSymbol {
  return {
    object: e.object,
    symbol: r.name,
    version: r.version?.name ?? null,
    relocation: kind === 'plt' ? 'function' : 'data',
    atStart: kind === 'data' || objectBindNow,
    message: `undefined symbol: ${r.name}${r.version ? `, version ${r.version.name}` : ''}`,
  };
}

function relocateOne(map: LinkMap, closures: Map<MapEntry, Closure>, e: MapEntry, bindNowAll: boolean, out: RelocationWalk, trackUse: boolean): void {
  const image = e.image;
  if (!image) return;
  const rel = symbolicRelocations(e);
  if (rel === 'unknown-machine') {
    out.notes.push(`${e.name}: relocation types of machine ${image.file.machineName} are not known; its symbols were not checked`);
    return;
  }
  const objectBindNow = image.file.dynamic?.tables.bindNow ?? false;
  const bindNow = bindNowAll || objectBindNow;
  const t = tablesOf(e);
  if (!trackUse) {
    // Nobody asks which object each reference binds to: what the closure
    // settles is settled; the rest is looked up in the whole scope.
    for (const i of unsettledInClosure(closureOf(e, closures), e, rel, bindNow)) {
      const r = referenceOf(e, t, rel.symbols[i] as number, rel.classes[i] as number);
      if (lookupSymbol(r, map.scope)) continue;
      out.undefined.push(undefinedSymbol(e, r, rel.kind[i] as 'data' | 'plt', objectBindNow));
    }
    return;
  }
  const indexes = lookedUp(e, rel, bindNow);
  for (let n = 0; n < indexes.length; n++) {
    const i = indexes[n] as number;
    const r = referenceOf(e, t, rel.symbols[i] as number, rel.classes[i] as number);
    const found = lookupSymbol(r, map.scope);
    if (found) {
      out.used.add(found.entry);
      continue;
    }
    if (r.symbol.bind === C.STB_WEAK) continue;
    out.undefined.push(undefinedSymbol(e, r, rel.kind[i] as 'data' | 'plt', objectBindNow));
  }
}
