/**
 * judge(): would the loader start this program? The checks glibc makes after
 * mapping the link map the resolver found, in its order: symbol versions
 * (versions.ts), then the relocations it processes before the program's first
 * instruction (relocate.ts, lookup.ts). ldd's extra views (-v, -u, -d, -r) are
 * computed here too, so the CLI only prints.
 *
 * musl has no symbol versioning and binds lazily only what glibc does too;
 * its verdict here is the resolver's alone (library found or not): musl's own
 * relocation errors are not reproduced (a known difference, docs/verdict.md).
 */
import type { ElfCache } from '../resolve/candidate.js';
import type { RootFs } from '../resolve/rootfs.js';
import type { ProgramResolution } from '../resolve/types.js';
import { buildLinkMap, ImageCache, type LinkMap } from './link-map.js';
import { walkRelocations } from './relocate.js';
import type { Verdict } from './types.js';
import { checkVersions, highestVersions, versionInformation } from './versions.js';

export type { Verdict, VersionProblem, VersionNeed, HighestVersion, UndefinedSymbol } from './types.js';
export { ImageCache } from './link-map.js';

export interface JudgeOptions {
  /** Which relocations to look at: 'start' (what the loader binds at start; ldd -d shows these), 'all' (ldd -r), 'none'. */
  relocations?: 'start' | 'all' | 'none';
  /** Compute ldd -u's unused direct dependencies. */
  unused?: boolean;
}

/** What judge() computed beyond the typed verdict: ldd's -v block and the link map's program name. */
export interface Judgement {
  verdict: Verdict;
  /** ldd -v's "Version information:" lines (empty when no object needs versions). */
  versionInformation(): string[];
  /** The name the loader's messages give the program. */
  progname: string;
}

/** The state judge() shares across the programs of one run (images are read once). */
export class Judge {
  /** Parsed images shared by every program judged (the rules engine reads imports and notes through them too). */
  readonly images: ImageCache;

  constructor(fs: RootFs, elfCache: ElfCache) {
    this.images = new ImageCache(fs, elfCache);
  }

  judge(p: ProgramResolution, options: JudgeOptions = {}): Judgement {
    const relocations = options.relocations ?? 'start';
    const verdict: Verdict = {
      starts: p.fatal === null && p.missing.length === 0,
      refusal: p.fatal,
      versionProblems: [],
      versionNeeds: [],
      highest: [],
      undefinedSymbols: [],
      relocations: 'none',
      unused: null,
      unreadable: [],
      notes: [],
    };
    if (p.flavour !== 'glibc' || p.fatal !== null) {
      if (p.flavour === 'musl') verdict.notes.push('musl has no symbol versioning; symbols are not checked for musl programs');
      return { verdict, versionInformation: () => [], progname: p.input.includes('/') ? p.input : `./${p.input}` };
    }
    const map: LinkMap = buildLinkMap(p, this.images);
    verdict.unreadable.push(...map.unreadable);
    if (verdict.refusal === null && p.missing[0]) verdict.refusal = `${p.missing[0].name}: cannot open shared object file: No such file or directory`;

    const versions = checkVersions(map);
    verdict.versionProblems = versions.problems;
    verdict.versionNeeds = versions.needs;
    verdict.highest = highestVersions(versions.needs);
    verdict.unreadable.push(...versions.unreadable);
    const fatalVersion = versions.problems.find((v) => v.fatal);
    if (fatalVersion) {
      verdict.starts = false;
      verdict.refusal ??= `${fatalVersion.about}: ${fatalVersion.message}`;
    }

    if (relocations !== 'none') {
      const walk = walkRelocations(map, { bindNow: relocations === 'all' });
      verdict.relocations = relocations;
      verdict.undefinedSymbols = walk.undefined;
      verdict.unreadable.push(...walk.unreadable);
      verdict.notes.push(...walk.notes);
      const atStart = walk.undefined.find((u) => u.atStart);
      if (atStart) {
        verdict.starts = false;
        const who = map.chain.find((e) => e.object === atStart.object);
        verdict.refusal ??= `symbol lookup error: ${who?.isMain ? map.progname : (who?.name ?? '?')}: ${atStart.message}`;
      }
    }
    if (options.unused) {
      // ldd -u: the program alone, every relocation, undefined symbols not reported (DL_DEBUG_UNUSED).
      const main = map.chain[0];
      const walk = walkRelocations(map, { bindNow: true, only: main ? [main] : [] });
      const unused: string[] = [];
      // rtld.c pairs the k-th DT_NEEDED with the k-th object after the program in the chain.
      let at = 0;
      for (let i = 0; i < (p.objects[0]?.elf.needed.length ?? 0); i++) {
        at++;
        const e = map.chain[at];
        if (!e) break;
        if (!walk.used.has(e)) unused.push(e.name);
      }
      verdict.unused = unused;
    }
    if (verdict.unreadable.length > 0) {
      verdict.starts = false;
      verdict.refusal ??= verdict.unreadable[0] ?? null;
    }
    return { verdict, versionInformation: () => versionInformation(map), progname: map.progname };
  }
}
