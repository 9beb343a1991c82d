/**
 * The link map as glibc holds it after loading, rebuilt from a
 * ProgramResolution: the namespace chain (l_next, the order ldd prints, with
 * not-found placeholders, l_faked), the global search list (main's
 * l_searchlist: the breadth-first order without placeholders) and the
 * relocation order (l_initfini sorted by _dl_sort_maps_dfs, walked from its
 * end, elf/rtld.c). Each object gets its ElfImage, through which the
 * version, symbol and relocation tables are read when a check needs them.
 */
import { ElfdepsError } from '../errors.js';
import { ElfImage } from '../elf/image.js';
import { readVersionNeeds } from '../elf/versions.js';
import type { ElfCache } from '../resolve/candidate.js';
import type { RootFs } from '../resolve/rootfs.js';
import type { ProgramResolution } from '../resolve/types.js';

/** One link_map: a loaded object, or a placeholder for a name not found (trace mode). */
export interface MapEntry {
  /** Index in ProgramResolution.objects, or -1 for a placeholder. */
  object: number;
  /** l_name: the path it was opened by (the program name for the program). */
  name: string;
  /** l_libname list: every name it was asked for by. */
  names: string[];
  faked: boolean;
  isMain: boolean;
  isInterpreter: boolean;
  /** Null for placeholders, and for objects whose file could not be read again. */
  image: ElfImage | null;
  /** l_initfini of a dependency: its DT_NEEDED objects, in order. */
  deps: MapEntry[];
  /** Its Verneed files that name a not-found placeholder (trace mode): their versions get no l_versions slot above the found ones' (versions.ts). */
  missingNeeds: ReadonlySet<string>;
}

export interface LinkMap {
  /** What the loader calls the program in its messages (RTLD_PROGNAME): the name as given, "./" added to a bare name, as ldd does. */
  progname: string;
  /** The namespace chain: program first, then everything in ldd's order (the vDSO left out). */
  chain: MapEntry[];
  /** The global scope: main's search list. */
  scope: MapEntry[];
  /** Objects in the order the loader relocates them. */
  relocationOrder: MapEntry[];
  /** Problems re-reading an object's file (it changed or vanished since the resolver read it). */
  unreadable: string[];
}

/** Parsed images per host path, shared by every program of a run (libc is read once). */
export class ImageCache {
  private readonly images = new Map<string, ElfImage | ElfdepsError>();

  constructor(
    private readonly fs: RootFs,
    private readonly elfCache: ElfCache,
  ) {}

  /** The image of the in-root file `realPath`, or the error that stops reading it. */
  get(realPath: string): ElfImage | ElfdepsError {
    const hostPath = this.fs.hostPath(realPath);
    let img = this.images.get(hostPath);
    if (img === undefined) {
      const r = this.elfCache.read(hostPath);
      if (r instanceof ElfdepsError) img = r;
      else if (!r.elf) img = r.error ?? new ElfdepsError('INTERNAL', `${realPath}: unreadable`);
      else img = new ElfImage({ ...r.elf, path: realPath }, hostPath);
      this.images.set(hostPath, img);
    }
    return img;
  }
}

export function buildLinkMap(p: ProgramResolution, images: ImageCache): LinkMap {
  const progname = p.input.includes('/') ? p.input : `./${p.input}`;
  const unreadable: string[] = [];
  const entries = new Map<number, MapEntry>();
  const entryOf = (index: number): MapEntry => {
    let e = entries.get(index);
    if (!e) {
      const o = p.objects[index];
      if (!o) throw new ElfdepsError('INTERNAL', `link map names object ${index}, which does not exist`);
      const img = images.get(o.realPath);
      if (img instanceof ElfdepsError) unreadable.push(img.message);
      e = {
        object: index,
        name: index === 0 ? progname : o.path,
        names: index === 0 ? [progname] : [o.path, ...o.names],
        faked: false,
        isMain: index === 0,
        isInterpreter: o.isInterpreter,
        image: img instanceof ElfdepsError ? null : img,
        deps: [],
        missingNeeds: NO_NAMES,
      };
      entries.set(index, e);
    }
    return e;
  };
  const main = entryOf(0);
  const chain: MapEntry[] = [main];
  const scope: MapEntry[] = [main];
  for (const l of p.linkMap) {
    if (l.kind === 'vdso') continue;
    if (l.kind === 'not-found') {
      chain.push({ object: -1, name: l.name, names: [l.name], faked: true, isMain: false, isInterpreter: false, image: null, deps: [], missingNeeds: NO_NAMES });
      continue;
    }
    // musl prints its reserved names as separate lines of one object; glibc never repeats an object.
    if (scope.some((e) => e.object === l.object)) continue;
    const e = entryOf(l.object);
    chain.push(e);
    scope.push(e);
  }
  // l_initfini of each object: the objects its DT_NEEDED entries resolved to, in order.
  for (const d of p.dependencies) {
    if (d.object === null) continue;
    const req = entries.get(d.requester);
    const dep = entries.get(d.object);
    if (req && dep && dep !== req) req.deps.push(dep);
  }
  if (chain.some((e) => e.faked)) markMissingNeeds(chain);
  return { progname, chain, scope, relocationOrder: relocationOrder(scope), unreadable };
}

/**
 * _dl_sort_maps_dfs (elf/dl-sort-maps.c) over the search list, top level
 * from the last object back to the first, then rtld.c relocates
 * l_initfini[nlist-1] down to l_initfini[0]: that is the DFS post-order.
 */
function relocationOrder(scope: MapEntry[]): MapEntry[] {
  const visited = new Set<MapEntry>();
  const order: MapEntry[] = [];
  const visit = (m: MapEntry): void => {
    if (visited.has(m) || m.faked) return;
    visited.add(m);
    for (const d of m.deps) if (!visited.has(d) && !d.isMain) visit(d);
    order.push(m);
  };
  for (let i = scope.length - 1; i >= 0; i--) visit(scope[i] as MapEntry);
  return order;
}

/** _dl_name_match_p: the name is the object's l_name or one of its names. */
export function nameMatches(name: string, e: MapEntry): boolean {
  return e.name === name || e.names.includes(name);
}

const NO_NAMES: ReadonlySet<string> = new Set();

/**
 * For each object, the Verneed files whose first match in the chain is a
 * not-found placeholder (dl-version.c's find_needed walks the namespace
 * chain, faked entries included). Only read when something was not found.
 */
function markMissingNeeds(chain: MapEntry[]): void {
  for (const e of chain) {
    if (e.faked || !e.image) continue;
    let needs;
    try {
      needs = readVersionNeeds(e.image);
    } catch (err) {
      if (err instanceof ElfdepsError) continue; // reported by the version check
      throw err;
    }
    const missing = new Set<string>();
    for (const n of needs) if (chain.find((m) => nameMatches(n.file, m))?.faked) missing.add(n.file);
    if (missing.size > 0) e.missingNeeds = missing;
  }
}
