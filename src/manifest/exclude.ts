/**
 * Leaving libraries out of a manifest (`--exclude`, docs/exclude.md): over
 * one program's resolved dependency graph, the objects a pattern matches are
 * removed, and with them every object only they bring in. What stays is
 * what the program (with its interpreter and preloads) still reaches
 * through DT_NEEDED edges without passing through an excluded object.
 */
import { posix } from 'node:path';
import type { LoadedObject, ProgramResolution } from '../resolve/types.js';
import { parseExcludePatterns, type ExcludePattern } from './exclude-pattern.js';

/** One request of a kept object for an excluded library. */
export interface ExcludedRequest {
  /** The DT_NEEDED name as written. */
  name: string;
  pattern: string;
  /** The excluded object (index in the resolution), or null when the root does not have it. */
  object: number | null;
  requester: number;
}

/** What stays of one resolution, and what is left out. */
export interface Pruning {
  /** Indexes of the objects that stay. */
  kept: ReadonlySet<number>;
  /** Requests of kept objects for excluded libraries, in the loader's order. */
  requests: ExcludedRequest[];
  /** For each excluded object (index): the objects left out with it, those it reaches through objects that do not stay. */
  dropped: ReadonlyMap<number, number[]>;
}

export class Exclusion {
  private readonly patterns: ExcludePattern[];

  /** Throws USAGE for a bad pattern (ExcludePattern). */
  constructor(patterns: readonly string[]) {
    this.patterns = parseExcludePatterns(patterns);
  }

  get empty(): boolean {
    return this.patterns.length === 0;
  }

  /** The first pattern matching any of `names` (file names) or `paths` (absolute in-root paths), or null. */
  match(names: Iterable<string>, paths: Iterable<string>): string | null {
    const nameList = [...names];
    const pathList = [...paths];
    for (const p of this.patterns) {
      if (p.kind === 'name' ? nameList.some((n) => p.matchesName(n)) : pathList.some((x) => p.matchesPath(x))) return p.text;
    }
    return null;
  }

  /**
   * The pattern an object matches: by every name it is loaded by (DT_NEEDED
   * names, SONAME, the file names of the paths it is opened by and of its
   * real path) or by those paths. `cwd` makes a relative path absolute.
   */
  matchObject(o: LoadedObject, cwd: string): string | null {
    const paths = [o.path, ...o.aliasPaths, o.realPath, ...o.names.filter((n) => n.includes('/'))].map((p) => posix.resolve(cwd, p));
    const names = [o.soname, ...o.names, ...paths].filter((n): n is string => n !== null).map((n) => posix.basename(n));
    return this.match(names, paths);
  }

  /** The pattern a DT_NEEDED name nothing was found for matches (by its file name, or as a path), or null. */
  matchName(name: string, cwd: string): string | null {
    return name.includes('/') ? this.match([posix.basename(name)], [posix.resolve(cwd, name)]) : this.match([name], []);
  }

  /**
   * Prunes one resolution. The program and its interpreter are never
   * excluded (the kernel starts them; they are not libraries anything
   * needs): every walk starts there, preloads are edges from the program.
   */
  prune(p: ProgramResolution, cwd: string): Pruning {
    if (this.empty) return { kept: new Set(p.objects.map((o) => o.index)), requests: [], dropped: new Map() };
    const matched = new Map<number, string>();
    for (const o of p.objects) {
      if (o.index === 0 || o.isInterpreter) continue;
      const pattern = this.matchObject(o, cwd);
      if (pattern !== null) matched.set(o.index, pattern);
    }
    const edges = new Map<number, number[]>();
    for (const d of p.dependencies) {
      if (d.object === null) continue;
      const list = edges.get(d.requester);
      if (list) list.push(d.object);
      else edges.set(d.requester, [d.object]);
    }
    /** Objects reached from `from` without entering any of `stop`. */
    const reach = (from: number[], stop: (i: number) => boolean): Set<number> => {
      const seen = new Set<number>(from);
      const queue = [...from];
      for (let i = 0; i < queue.length; i++) {
        for (const next of edges.get(queue[i] as number) ?? []) {
          if (seen.has(next) || stop(next)) continue;
          seen.add(next);
          queue.push(next);
        }
      }
      return seen;
    };
    const roots = p.objects.filter((o) => o.index === 0 || o.isInterpreter).map((o) => o.index);
    const kept = matched.size === 0 ? new Set(p.objects.map((o) => o.index)) : reach(roots, (i) => matched.has(i));

    const requests: ExcludedRequest[] = [];
    for (const d of p.dependencies) {
      if (!kept.has(d.requester)) continue;
      const pattern = d.object !== null ? (matched.get(d.object) ?? null) : this.matchName(d.name, cwd);
      if (pattern !== null) requests.push({ name: d.name, pattern, object: d.object, requester: d.requester });
    }
    const dropped = new Map<number, number[]>();
    for (const x of matched.keys()) {
      const brought = [...reach([x], (i) => kept.has(i))].filter((i) => i !== x);
      dropped.set(x, brought);
    }
    return { kept, requests, dropped };
  }
}
