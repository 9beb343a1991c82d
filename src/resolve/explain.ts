/**
 * The loader's lookup trace, as glibc prints it with LD_DEBUG=libs
 * (`find library=`, ` search path=`, `  trying file=`, ` search cache=`),
 * reproduced from the resolver's searches (`elfdeps --explain`).
 *
 * glibc does not try every candidate the search rules name: it keeps, per
 * process, one record per directory name (dl-load.c fillin_rpath, shared by
 * every list that names the directory, the system directories included) with
 * a status per hwcaps subdirectory, set after the first failed open by a
 * stat() (open_path). A subdirectory found missing is never tried, nor
 * printed, again; an RPATH or RUNPATH list none of whose directories exists
 * is dropped for good. A record's `what` and `where` (the list and object
 * that first named the directory) are what ` search path=` prints, whichever
 * list names it later. This module holds that state for one program (one
 * loader process) and turns the resolver's search events into those lines.
 * The resolver's own answers never depend on it: a subdirectory glibc skips
 * cannot hold the file.
 *
 * Lines glibc never prints are elfdeps' own, all of the form `   WORD: ...`
 * (EXPLAIN_OWN_LINE): why a candidate that exists was not used, in glibc's
 * words where it has them (its error messages).
 *
 * musl has no LD_DEBUG: its trace has the same shape with the directories
 * musl searches, every one tried (no status, no hwcaps, no cache).
 */
import { errnoWords } from '../errors.js';
import type { CandidateOutcome } from './candidate.js';
import type { SearchDir } from './dst.js';
import type { RootFs } from './rootfs.js';
import type { Candidate, FoundBy } from './types.js';

/** Receives each trace line, without glibc's "PID:\t" prefix and without a newline. */
export type TraceSink = (line: string) => void;

/** Lines of the trace that glibc does not print (elfdeps' reasons); a comparison with LD_DEBUG leaves them out. */
export const EXPLAIN_OWN_LINE = /^ {3}[a-z][a-z ]*: /;

/** The list a directory was first named in, as print_search_path names it. */
export type ListWhat = 'RPATH' | 'RUNPATH' | 'LD_LIBRARY_PATH' | 'system search path' | 'ld.so.conf';

const enum Status {
  Unknown,
  Nonexisting,
  Existing,
}

interface DirRecord {
  what: ListWhat;
  /** The object whose list first named it (printed "from file X"), or null. */
  where: string | null;
  /** Per subdirectory (hwcaps ones, legacy ones, then the directory itself). */
  status: Status[];
}

interface ActiveList {
  dirs: SearchDir[];
  how: FoundBy;
  /** glibc can drop this list (an object's RPATH or RUNPATH); null for LD_LIBRARY_PATH and the system dirs. */
  key: string | null;
  /** Dropped earlier, so glibc does not search it: nothing is printed for it. */
  silent: boolean;
  currentWhat: ListWhat | null;
  dir: DirRecord | null;
  dirName: SearchDir;
}

export interface TraceSetup {
  flavour: 'glibc' | 'musl';
  fs: RootFs;
  /** Subdirectories in glibc's capstr order, with their trailing '/', the directory itself ('') last. */
  subdirs: string[];
}

export class SearchTrace {
  private readonly dirs = new Map<SearchDir, DirRecord>();
  private readonly dropped = new Set<string>();
  private list: ActiveList | null = null;
  /** Inside a search that printed `find library=` (names without '/'). */
  private searching = false;
  /** After a fatal error outside a preload the loader has exited: nothing more is printed. */
  private ended = false;
  private candidates: Candidate[] = [];
  private readonly glibc: boolean;

  constructor(
    private readonly sink: TraceSink,
    private readonly setup: TraceSetup,
  ) {
    this.glibc = setup.flavour === 'glibc';
  }

  private print(line: string): void {
    if (!this.ended) this.sink(line);
  }

  /**
   * glibc's records made at start-up (_dl_init_paths), before any search:
   * the system directories, the program's DT_RUNPATH or else DT_RPATH, LD_LIBRARY_PATH.
   */
  start(systemDirs: SearchDir[], mainList: { dirs: SearchDir[]; what: 'RPATH' | 'RUNPATH'; where: string } | null, libraryPath: SearchDir[]): void {
    if (!this.glibc) return;
    this.register(systemDirs, 'system search path', null);
    if (mainList) this.register(mainList.dirs, mainList.what, mainList.where);
    this.register(libraryPath, 'LD_LIBRARY_PATH', null);
  }

  private register(dirs: SearchDir[], what: ListWhat, where: string | null): void {
    for (const d of dirs) {
      if (this.dirs.has(d)) continue;
      // Relative directories are never marked missing: the CWD may change (fillin_rpath).
      const init = d.startsWith('/') ? Status.Unknown : Status.Existing;
      this.dirs.set(d, { what, where, status: this.setup.subdirs.map(() => init) });
    }
  }

  /** A search for a name without '/' begins (dl-load.c _dl_map_object). */
  find(name: string): void {
    this.searching = true;
    this.print(`find library=${name} [0]; searching`);
  }

  /**
   * The search is about to try one list. `key` names a list glibc may drop
   * (e.g. "rpath:3"); `where` is the object that list belongs to.
   */
  beginList(dirs: SearchDir[], how: FoundBy, what: ListWhat, where: string | null, key: string | null): void {
    const silent = key !== null && this.dropped.has(key);
    this.list = { dirs, how, key, silent, currentWhat: null, dir: null, dirName: '' };
    if (this.glibc && !silent) this.register(dirs, what, where);
    if (!this.glibc && this.searching && dirs.some((d) => d !== '')) {
      // musl: one line per list, every element tried.
      this.print(` search path=${dirs.filter((d) => d !== '').map(printedDir).join(':')}\t\t(${where !== null ? `${what} from file ${where}` : what})`);
    }
  }

  /** The search moves to one directory of the current list (open_path's loop). */
  beginDir(dir: SearchDir): void {
    const l = this.list;
    if (!l || !this.glibc) return;
    l.dirName = dir;
    l.dir = this.dirs.get(dir) ?? null;
    const rec = l.dir;
    if (l.silent || !rec || !this.searching) return;
    if (l.currentWhat !== rec.what) {
      l.currentWhat = rec.what;
      this.printSearchPath(l, l.dirs.indexOf(dir), rec);
    }
  }

  /** print_search_path: the run of directories named first by the same kind of list, each subdirectory not known missing. */
  private printSearchPath(l: ActiveList, from: number, first: DirRecord): void {
    const parts: string[] = [];
    for (let i = from; i < l.dirs.length; i++) {
      const d = l.dirs[i] as SearchDir;
      const rec = this.dirs.get(d);
      if (!rec || rec.what !== first.what) break;
      this.setup.subdirs.forEach((sub, c) => {
        if (rec.status[c] !== Status.Nonexisting) parts.push(printedDir(d + sub));
      });
    }
    this.print(` search path=${parts.join(':')}\t\t(${first.where !== null ? `${first.what} from file ${first.where}` : first.what})`);
  }

  /**
   * One candidate was opened with `outcome`: subdirectory `sub` (an index into
   * setup.subdirs) of the current directory, or a path outside any list
   * (a name with '/') when sub is null.
   */
  candidate(sub: number | null, path: string, outcome: CandidateOutcome): void {
    const l = this.list;
    if (sub !== null && l && this.glibc) {
      if (l.silent) return;
      const rec = l.dir;
      if (rec && rec.status[sub] === Status.Nonexisting) return; // glibc does not try it
      this.tried(path, outcome, l.how);
      if (rec && rec.status[sub] === Status.Unknown) {
        if (outcome.kind === 'ok') rec.status[sub] = Status.Existing;
        else {
          // open_path stats the directory (its name without the last '/');
          // only absolute ones get here (relative ones start as existing).
          const dir = (l.dirName + (this.setup.subdirs[sub] as string)).slice(0, -1);
          rec.status[sub] = dir !== '' && this.setup.fs.isDirectory(dir) ? Status.Existing : Status.Nonexisting;
        }
      }
      return;
    }
    this.tried(path, outcome, sub === null ? 'direct' : (l?.how ?? 'direct'));
  }

  private tried(path: string, outcome: CandidateOutcome, how: FoundBy): void {
    if (this.searching) this.print(`  trying file=${path}`);
    const entry: Candidate = { path, list: how, outcome: 'absent' };
    switch (outcome.kind) {
      case 'ok':
        entry.outcome = 'found';
        break;
      case 'skip':
        if (outcome.reason !== 'ENOENT' && outcome.reason !== 'EACCES' && outcome.reason !== 'ENOTDIR') {
          entry.outcome = 'rejected';
          entry.reason = outcome.reason;
        } else if (outcome.reason !== 'ENOENT') entry.reason = errnoWords(outcome.reason);
        break;
      case 'abandon':
        entry.outcome = 'failed';
        entry.reason = errnoWords(outcome.reason);
        break;
      case 'fatal':
        entry.outcome = 'fatal';
        entry.reason = outcome.message.startsWith(`${path}: `) ? outcome.message.slice(path.length + 2) : outcome.message;
        break;
    }
    this.candidates.push(entry);
    if (this.searching && entry.outcome !== 'found' && entry.outcome !== 'absent') this.print(`   ${entry.outcome}: ${entry.reason}`);
  }

  /** The current list is done: `complete` when every directory was tried without a hit. */
  endList(complete: boolean): void {
    const l = this.list;
    this.list = null;
    if (!l || !complete || l.key === null || l.silent || !this.glibc) return;
    // open_path: a list none of whose directories exists is removed for good.
    const any = l.dirs.some((d) => this.dirs.get(d)?.status.some((s) => s !== Status.Nonexisting));
    if (!any) this.dropped.add(l.key);
  }

  /** ld.so.cache was consulted (dl-cache.c): its answer, and what became of it (null: not opened, `discarded` says why). */
  cache(hit: string | null, outcome: CandidateOutcome | null, discarded: string | null): void {
    this.list = null;
    if (this.searching) this.print(' search cache=/etc/ld.so.cache');
    if (hit === null) return;
    if (outcome) this.tried(hit, outcome, 'ld-so-cache');
    else {
      if (this.searching) this.print(`  trying file=${hit}`);
      this.candidates.push({ path: hit, list: 'ld-so-cache', outcome: 'not-used', reason: discarded ?? 'not used' });
      if (this.searching) this.print(`   not used: ${discarded ?? 'not used'}`);
    }
  }

  /**
   * The request is over. The candidates tried, in order. A fatal error ends
   * the loader (nothing more is printed) unless it was a preload's, which
   * rtld.c catches; glibc ends a search that did not fail fatally with an
   * empty line.
   */
  done(fatal: boolean, preload: boolean): Candidate[] {
    if (this.searching && !fatal) this.print('');
    if (fatal && !preload) this.ended = true;
    this.searching = false;
    this.list = null;
    const c = this.candidates;
    this.candidates = [];
    return c;
  }
}

/** A directory as print_search_path prints it: without its last '/', except "" and "/". */
function printedDir(d: string): string {
  return d === '' || d === '/' ? d : d.slice(0, -1);
}
