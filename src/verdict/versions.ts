/**
 * Symbol-version checks, as glibc makes them before relocating anything
 * (elf/dl-version.c, _dl_check_all_versions, called from rtld.c with
 * verbose=1): for every object in the namespace chain that is not a
 * placeholder, each Elf_Verneed names a file that must be in the link map
 * (find_needed), and each of its Elf_Vernaux a version that file's Verdef
 * must define (match_symbol: hash and name). A missing version is fatal
 * unless the Vernaux is VER_FLG_WEAK; a provider without any DT_VERDEF gives
 * the non-fatal "no version information available".
 *
 * Also here: the per-object version table the symbol lookup uses
 * (l_versions), and what ldd -v prints ("Version information:", rtld.c,
 * with its own find_needed over the search list and match_version by name).
 */
import { ElfdepsError } from '../errors.js';
import * as C from '../elf/constants.js';
import type { ElfImage } from '../elf/image.js';
import { readVersionDefs, readVersionNeeds } from '../elf/versions.js';
import { nameMatches, type LinkMap, type MapEntry } from './link-map.js';
import type { HighestVersion, VersionNeed, VersionProblem } from './types.js';

/** One slot of l_versions (r_found_version). */
export interface FoundVersion {
  name: string;
  hash: number;
  hidden: boolean;
  /** The file it is needed from; null for versions the object defines. */
  filename: string | null;
}

/** DSO_FILENAME: an object's name, the program name for the program. */
function dsoName(map: LinkMap, e: MapEntry): string {
  return e.isMain ? map.progname : e.name;
}

/** dl-version.c find_needed: the namespace chain first (placeholders included), then the object's own dependencies. */
function findNeeded(map: LinkMap, name: string, requester: MapEntry): MapEntry | null {
  for (const e of map.chain) if (nameMatches(name, e)) return e;
  for (const e of requester.deps) if (nameMatches(name, e)) return e;
  return null;
}

/** The Verneed records of one object, or the reader's error (malformed tables). */
function needsOf(image: ElfImage): ReturnType<typeof readVersionNeeds> | ElfdepsError {
  try {
    return readVersionNeeds(image);
  } catch (err) {
    if (err instanceof ElfdepsError) return err;
    throw err;
  }
}

export interface VersionCheck {
  problems: VersionProblem[];
  needs: VersionNeed[];
  /** Read errors (malformed tables), one line each. */
  unreadable: string[];
}

/** The version checks of the whole link map, in the loader's order. */
export function checkVersions(map: LinkMap): VersionCheck {
  const problems: VersionProblem[] = [];
  const needs: VersionNeed[] = [];
  const unreadable: string[] = [];
  for (const e of map.chain) {
    if (e.faked || !e.image) continue;
    const verneed = needsOf(e.image);
    if (verneed instanceof ElfdepsError) {
      unreadable.push(verneed.message);
      continue;
    }
    if (verneed.length === 0) continue;
    const requester = dsoName(map, e);
    // Only the first record's vn_version is checked (dl-version.c), and that stops everything.
    const first = verneed[0];
    if (first && first.version !== 1) {
      problems.push({
        kind: 'unsupported-verneed',
        requester: e.object,
        provider: e.object,
        version: '',
        fatal: true,
        about: requester,
        message: `unsupported version ${first.version} of Verneed record`,
      });
      continue;
    }
    for (const need of verneed) {
      const provider = findNeeded(map, need.file, e);
      // A placeholder (trace mode) is not checked; neither is a name nothing
      // answers to (the loader asserts that cannot happen).
      const checked = provider !== null && !provider.faked && provider.image !== null;
      for (const aux of need.versions) {
        const weak = (aux.flags & C.VER_FLG_WEAK) !== 0;
        let satisfied = false;
        if (checked) {
          try {
            const r = matchSymbol(provider.image as ElfImage, aux.name, aux.hash);
            satisfied = r === 'found';
            const pname = dsoName(map, provider);
            if (r === 'no-verdef') {
              problems.push({ kind: 'no-version-information', requester: e.object, provider: provider.object, version: '', fatal: false, about: pname, message: `no version information available (required by ${requester})` });
            } else if (typeof r === 'object') {
              problems.push({ kind: 'unsupported-verdef', requester: e.object, provider: provider.object, version: aux.name, fatal: true, about: pname, message: `unsupported version ${r.unsupported} of Verdef record` });
            } else if (r === 'missing') {
              problems.push(
                weak
                  ? { kind: 'weak-version-not-found', requester: e.object, provider: provider.object, version: aux.name, fatal: false, about: pname, message: `weak version \`${aux.name}' not found (required by ${requester})` }
                  : { kind: 'version-not-found', requester: e.object, provider: provider.object, version: aux.name, fatal: true, about: pname, message: `version \`${aux.name}' not found (required by ${requester})` },
              );
            }
          } catch (err) {
            if (!(err instanceof ElfdepsError)) throw err;
            unreadable.push(err.message);
          }
        }
        needs.push({ requester: e.object, file: need.file, provider: provider && !provider.faked ? provider.object : null, version: aux.name, weak, satisfied });
      }
    }
  }
  return { problems, needs, unreadable };
}

/** match_symbol: does `provider` define `version` (by hash, then name)? */
function matchSymbol(provider: ElfImage, version: string, hash: number): 'found' | 'missing' | 'no-verdef' | { unsupported: number } {
  const defs = readVersionDefs(provider);
  if (defs === null) return 'no-verdef';
  for (const d of defs) {
    if (d.version !== 1) return { unsupported: d.version };
    if (d.hash === hash && d.names[0] === version) return 'found';
  }
  return 'missing';
}

/**
 * The l_versions table of one object (_dl_check_map_versions), or null when
 * it has no version information. `missing`: the Verneed files that were not
 * found (trace mode's faked entries): glibc counts the highest index over
 * found files and the object's definitions only, and fills no slot at or
 * above it, so a reference at such an index has no version (ldd -r prints
 * `undefined symbol: X` without one).
 */
export function versionTable(image: ElfImage, missing: ReadonlySet<string> = NO_FILES): Array<FoundVersion | undefined> | null {
  const key = missing.size === 0 ? 'l_versions' : `l_versions:${[...missing].sort().join('\0')}`;
  return image.cached(key, () => {
    const needs = readVersionNeeds(image);
    const defs = readVersionDefs(image);
    let high = 0;
    for (const n of needs) if (!missing.has(n.file)) for (const a of n.versions) high = Math.max(high, a.other & 0x7fff);
    for (const d of defs ?? []) high = Math.max(high, d.index & 0x7fff);
    if (high === 0) return null;
    const table = new Array<FoundVersion | undefined>(high + 1);
    for (const n of needs) {
      for (const a of n.versions) {
        const ndx = a.other & 0x7fff;
        if (ndx <= high) table[ndx] = { name: a.name, hash: a.hash, hidden: (a.other & 0x8000) !== 0, filename: n.file };
      }
    }
    for (const d of defs ?? []) {
      // The base version (the object's own name) is not for matching symbols.
      if ((d.flags & C.VER_FLG_BASE) === 0) table[d.index & 0x7fff] = { name: d.names[0] ?? '', hash: d.hash, hidden: false, filename: null };
    }
    return table;
  });
}

const NO_FILES: ReadonlySet<string> = new Set();

/** ldd -v's block (rtld.c): each object with DT_VERNEED, each needed version and who provides it. */
export function versionInformation(map: LinkMap): string[] {
  const lines: string[] = [];
  // rtld.c's find_needed: the search list, from its end, by name.
  const find = (name: string): MapEntry | null => {
    for (let i = map.scope.length - 1; i >= 0; i--) if (nameMatches(name, map.scope[i] as MapEntry)) return map.scope[i] as MapEntry;
    return null;
  };
  for (const e of map.chain) {
    if (e.faked || !e.image) continue;
    // Unreadable tables were reported by checkVersions; the block leaves them out.
    const verneed = needsOf(e.image);
    if (verneed instanceof ElfdepsError || verneed.length === 0) continue;
    if (lines.length === 0) lines.push('', '\tVersion information:');
    lines.push(`\t${dsoName(map, e)}:`);
    for (const need of verneed) {
      const provider = find(need.file);
      for (const aux of need.versions) {
        let defined = false;
        if (provider?.image) {
          try {
            defined = (readVersionDefs(provider.image) ?? []).some((d) => d.names[0] === aux.name);
          } catch (err) {
            if (!(err instanceof ElfdepsError)) throw err;
          }
        }
        const weak = (aux.flags & C.VER_FLG_WEAK) !== 0 ? '[WEAK] ' : '';
        lines.push(`\t\t${need.file} (${aux.name}) ${weak}=> ${defined && provider ? provider.name : 'not found'}`);
      }
    }
  }
  return lines;
}

/** The highest version needed per namespace (the prefix before the first digit), with who needs it. */
export function highestVersions(needs: VersionNeed[]): HighestVersion[] {
  const best = new Map<string, { high: HighestVersion; parts: number[] }>();
  for (const n of needs) {
    const parsed = parseVersion(n.version);
    if (!parsed) continue;
    const cur = best.get(parsed.namespace);
    const cmp = cur ? compareDotted(parsed.parts, cur.parts) : 1;
    if (!cur || cmp > 0) best.set(parsed.namespace, { high: { namespace: parsed.namespace, version: n.version, neededBy: [n.requester] }, parts: parsed.parts });
    else if (cmp === 0 && !cur.high.neededBy.includes(n.requester)) cur.high.neededBy.push(n.requester);
  }
  return [...best.values()].map((b) => b.high).sort((a, b) => (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
}

/** A version name split into its namespace and numbers ("GLIBC_2.34" → "GLIBC_", [2, 34]), once per name a run meets. */
const parsedVersions = new Map<string, { namespace: string; parts: number[] } | null>();
function parseVersion(version: string): { namespace: string; parts: number[] } | null {
  let p = parsedVersions.get(version);
  if (p === undefined) {
    const m = /^(.*[^0-9.])([0-9]+(?:\.[0-9]+)*)$/.exec(version);
    p = m ? { namespace: m[1] as string, parts: (m[2] as string).split('.').map(Number) } : null;
    parsedVersions.set(version, p);
  }
  return p;
}

function compareDotted(pa: number[], pb: number[]): number {
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
