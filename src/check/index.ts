/**
 * check(): every ELF file under some in-root paths, judged as the loader
 * would judge it at start, in one run with the resolver's and the verdict's
 * caches shared; and every library symlink there that dangles.
 *
 * What fails (docs/check.md): what makes glibc's loader refuse to start a
 * program (or, for a shared library, to load it as `ldd LIB` does):
 *  - a DT_NEEDED library not found (glibc skips candidates of another class or
 *    machine silently, so a wrong-architecture library is "not found" unless
 *    a candidate is fatal);
 *  - a candidate the loader stops at (invalid ELF header, wrong byte order,
 *    a directory, ...);
 *  - the interpreter (PT_INTERP) missing or unusable;
 *  - a symbol version a provider lacks, not weak (elf/dl-version.c);
 *  - for programs with every library found, a symbol the loader binds at
 *    start that is defined nowhere (non-PLT relocations, and PLT ones of
 *    BIND_NOW objects). A shared library's undefined symbols are not counted:
 *    a plugin's are defined by the program that loads it; nor are those of a
 *    program missing a library (the library is the reason);
 *  - tables the checks cannot read (malformed input), a file or directory
 *    that cannot be read.
 * Not failures: weak versions, "no version information", lazily bound
 * functions, static programs, relocatable objects and core files (nothing
 * loads them), and a shared library of a machine whose loader the root lacks
 * (nothing in the root loads it; counted apart).
 */
import * as C from '../elf/constants.js';
import { ElfdepsError, errnoWords } from '../errors.js';
import { Resolver, type ResolveOptions } from '../resolve/index.js';
import type { ProgramResolution } from '../resolve/types.js';
import { Judge, type Verdict } from '../verdict/index.js';
import { isLibraryLink, sightFile, type Sighting } from './sniff.js';
import { walkTree, type WalkEntry } from './walk.js';

export { LIBRARY_NAME } from './sniff.js';

/** Why a file fails, one word per kind of problem. */
export type CheckCause =
  | 'library-not-found'
  | 'bad-library'
  | 'interpreter'
  | 'version-not-found'
  | 'undefined-symbol'
  | 'dangling-symlink'
  | 'unreadable'
  | 'malformed';

export const CHECK_CAUSES: readonly CheckCause[] = ['library-not-found', 'bad-library', 'interpreter', 'version-not-found', 'undefined-symbol', 'dangling-symlink', 'unreadable', 'malformed'];

/** Words for a cause, in the summary. */
export const CAUSE_WORDS: Record<CheckCause, string> = {
  'library-not-found': 'library not found',
  'bad-library': 'library the loader stops at',
  interpreter: 'interpreter missing or unusable',
  'version-not-found': 'version not found',
  'undefined-symbol': 'symbol undefined at start',
  'dangling-symlink': 'dangling library symlink',
  unreadable: 'unreadable',
  malformed: 'malformed ELF',
};

export interface CheckProblem {
  cause: CheckCause;
  /** What is wrong, in the loader's words where it has some (without the file's own path in front). */
  message: string;
}

/** One failing file, symlink or directory. */
export interface CheckFailure {
  /** In-root path. */
  path: string;
  /** What it is: an ELF file, a symlink, or something that could not be examined. */
  type: 'elf' | 'symlink' | 'file' | 'directory';
  problems: CheckProblem[];
}

export interface CheckCounts {
  /** ELF files judged (programs, libraries, static programs). */
  elf: number;
  /** Library symlinks (named *.so or *.so.*) whose targets were looked up. */
  symlinks: number;
  /** Regular files that are not ELF, skipped. */
  notElf: number;
  /** ELF files nothing loads (relocatable objects, core files, unknown types, separate debug files under /usr/lib/debug), skipped. */
  notLoadable: number;
  /** Shared libraries of a machine whose loader the root lacks, not judged. */
  noLoader: number;
}

export interface CheckReport {
  /** The root, as a host path ('/' for the host). */
  root: string;
  /** The in-root paths walked. */
  paths: string[];
  counts: CheckCounts;
  /** Failing entries, in walk order. */
  failures: CheckFailure[];
  /** Failing entries per cause (an entry with two causes counts under each). */
  byCause: Partial<Record<CheckCause, number>>;
}

export interface CheckProgress {
  /** Entries looked at so far (files and symlinks). */
  done: number;
  failing: number;
  /** The entry being looked at. */
  path: string;
}

export interface CheckOptions extends ResolveOptions {
  /**
   * Threads for checkAsync (default 1): with 2 or more, a directory's walk and
   * each file's first look run in a scout thread while the calling thread
   * judges (pipeline.ts, docs/jobs.md); the report is the same. The
   * synchronous forms always use the calling thread alone.
   */
  jobs?: number;
  /** Called with each failing entry as soon as it is known. */
  onFailure?: (failure: CheckFailure) => void;
  /** Called for each entry looked at. */
  onProgress?: (progress: CheckProgress) => void;
}

/** A reader's message without the file's path in front (the report's line starts with it). */
function withoutPath(message: string, path: string): string {
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}

/** The state one check run shares: one Resolver and one Judge for every file. */
export class Checker {
  readonly resolver: Resolver;
  private readonly judge: Judge;

  constructor(options: ResolveOptions = {}) {
    this.resolver = new Resolver(options);
    this.judge = new Judge(this.resolver.fs, this.resolver.elfCache);
  }

  /**
   * What is wrong with the regular file at in-root `path` (host path
   * `hostPath`): 'not-elf', 'not-loadable' or 'no-loader' when it is no
   * file the loader loads here, 'vanished' when it is gone, else its problems (none when the loader would
   * start or load it).
   */
  checkFile(path: string, hostPath: string): FileOutcome {
    return this.outcomeOf(path, hostPath, sightFile(path, hostPath));
  }

  /** checkFile of a file whose first look (sightFile) has been taken, here or by a scout (pipeline.ts). */
  outcomeOf(path: string, hostPath: string, sighting: Sighting): FileOutcome {
    if (sighting === 'elf') return this.checkElf(path, hostPath);
    return typeof sighting === 'string' ? sighting : [{ cause: 'unreadable', message: sighting.unreadable }];
  }

  /** checkFile's judging, for a file known to start with the ELF magic (sightFile). */
  checkElf(path: string, hostPath: string): FileOutcome {
    const read = this.resolver.elfCache.read(hostPath);
    if (read instanceof ElfdepsError) {
      return [{ cause: read.code === 'ELF_IO' || read.code === 'ELF_NOT_REGULAR' ? 'unreadable' : 'malformed', message: withoutPath(read.message, hostPath) }];
    }
    const kind = read.elf?.kind;
    if (read.elf && (kind === 'relocatable' || kind === 'core' || kind === 'other')) return 'not-loadable';
    if (!read.elf) {
      // Relocatable objects, core files and unknown types are nothing the loader loads, readable or not.
      if (read.header.type !== C.ET_EXEC && read.header.type !== C.ET_DYN) return 'not-loadable';
      return [{ cause: 'malformed', message: withoutPath(read.error?.message ?? 'unreadable', hostPath) }];
    }
    let p: ProgramResolution;
    try {
      p = this.resolver.resolveOne(path);
    } catch (err) {
      if (!(err instanceof ElfdepsError)) throw err;
      return [{ cause: err.code === 'ELF_IO' ? 'unreadable' : 'malformed', message: withoutPath(err.message, path) }];
    }
    if (p.flavour === 'none') return [];
    const program = p.kind !== 'shared-library';
    const hasInterpreter = p.objects.some((o) => o.isInterpreter);
    if (!hasInterpreter && p.kind !== 'static-pie' && p.fatal !== null) {
      // A library names no interpreter: the one missing is only the default loader of its machine.
      if (!program && p.interpreter === null) return 'no-loader';
      // The kernel cannot start it at all: nothing else matters.
      return [{ cause: 'interpreter', message: p.fatal }];
    }
    // One problem per missing name, with every object that needs it (the JDK's libraries all need libjvm.so).
    const byName = new Map<string, { cause: CheckCause; what: string; needers: string[] }>();
    // A candidate the loader stops at is all ldd reports (its list, with the names not found, is never printed).
    const fatal = p.missing.find((m) => m.how === 'error');
    for (const m of fatal ? [fatal] : p.missing) {
      const who = p.objects[m.requester]?.path ?? path;
      const what = m.error ?? `${m.name}: not found`;
      const key = `${m.how}\0${what}`;
      const entry = byName.get(key) ?? { cause: m.how === 'error' ? 'bad-library' : 'library-not-found', what, needers: [] };
      if (!entry.needers.includes(who)) entry.needers.push(who);
      byName.set(key, entry);
    }
    const problems: CheckProblem[] = [...byName.values()].map((e) => ({ cause: e.cause, message: `${e.what} (needed by ${e.needers.join(', ')})` }));
    if (p.fatal !== null && problems.length === 0) problems.push({ cause: 'bad-library', message: p.fatal });
    // The version check runs once every object is mapped (rtld.c): after a fatal mapping error it never does.
    if (p.fatal !== null) return problems;
    // With a library missing, what it would define is undefined too: the missing library is the reason, not its symbols.
    const symbols = program && problems.length === 0;
    const { verdict } = this.judge.judge(p, { relocations: symbols ? 'start' : 'none' });
    problems.push(...verdictProblems(verdict, p));
    return problems;
  }

  /**
   * What is wrong with the symlink at in-root `path`: a dangling library
   * link (its target, looked up inside the root, does not exist), or nothing.
   */
  checkSymlink(path: string): CheckProblem[] {
    const w = this.resolver.fs.walk(path);
    if (w.ok && w.kind !== 'missing') return [];
    const last = w.links[w.links.length - 1];
    const target = w.links[0]?.path === path ? w.links[0].target : '?';
    const why = w.errno === 'ELOOP' ? 'a symlink loop' : `${errnoWords(w.errno ?? 'ENOENT')}`;
    const via = last && last.path !== path ? ` (via ${last.path} -> ${last.target})` : '';
    return [{ cause: 'dangling-symlink', message: `dangling symlink to ${target}${via}: ${why}` }];
  }

  /**
   * The starts of a check of `paths` (in-root; default the whole root), each
   * looked up before anything is walked: a bad one is a usage error, with
   * nothing printed yet. Starts under another start are dropped (a walk
   * follows no symlink, so only overlapping starts could meet a path twice).
   */
  startsOf(paths: string[]): CheckStart[] {
    const fs = this.resolver.fs;
    const targets: CheckStart[] = (paths.length ? paths : ['/']).map((start) => {
      const w = fs.walk(start);
      if (w.ok && (w.kind === 'dir' || w.kind === 'file')) return { type: w.kind, path: w.realPath };
      if (w.ok) throw new ElfdepsError('ELF_NOT_REGULAR', `${start}: not a regular file or directory`, { path: start });
      // A start that is itself a dangling symlink is looked at as one.
      const trimmed = start.replace(/\/+$/, '');
      const parent = fs.walk(trimmed.slice(0, trimmed.lastIndexOf('/')) || '/');
      const linkPath = parent.ok ? `${parent.realPath === '/' ? '' : parent.realPath}/${trimmed.slice(trimmed.lastIndexOf('/') + 1)}` : null;
      if (linkPath !== null && w.links.some((l) => l.path === linkPath)) return { type: 'symlink', path: linkPath };
      throw new ElfdepsError('ELF_IO', `${start}${fs.isHostRoot ? '' : ` inside ${fs.root}`}: ${errnoWords(w.errno ?? 'ENOENT')}`, { path: start });
    });
    const dirs = targets.filter((t) => t.type === 'dir').map((t) => t.path);
    const under = (path: string, dir: string): boolean => dir === '/' || path === dir || path.startsWith(`${dir}/`);
    const taken = new Set<string>();
    return targets.filter((t) => {
      if (taken.has(t.path) || dirs.some((d) => d !== t.path && under(t.path, d))) return false;
      taken.add(t.path);
      return true;
    });
  }

  /** Walks `paths` (in-root; default the whole root) and checks everything met. */
  check(paths: string[], options: Pick<CheckOptions, 'onFailure' | 'onProgress'> = {}): CheckReport {
    return this.checkStarts(this.startsOf(paths), paths, options);
  }

  /** check(paths) of its starts, already looked up (startsOf(paths)). */
  checkStarts(starts: CheckStart[], paths: string[], options: Pick<CheckOptions, 'onFailure' | 'onProgress'> = {}): CheckReport {
    const fs = this.resolver.fs;
    const tally = new CheckTally(options);
    const visit = (e: WalkEntry): void => this.visit(tally, e);
    for (const t of starts) {
      if (t.type === 'dir') walkTree(fs.root, t.path, visit);
      else visit({ type: t.type, path: t.path, hostPath: fs.hostPath(t.path) });
    }
    return this.reportOf(tally, paths);
  }

  /** The report of a check of `paths` (none: the whole root) that `tally` has tallied. */
  reportOf(tally: CheckTally, paths: string[]): CheckReport {
    return tally.report(this.resolver.fs.root || '/', paths.length ? paths : ['/']);
  }

  /** Checks one thing the walk met (or a start that is a file or symlink) into `tally`. */
  visit(tally: CheckTally, e: WalkEntry): void {
    if (e.type === 'error') tally.unlistable(e.path, e.message);
    else if (e.type === 'symlink') {
      if (isLibraryLink(e.path)) tally.symlink(e.path, this.checkSymlink(e.path));
    } else {
      tally.seen(e.path);
      tally.file(e.path, this.checkFile(e.path, e.hostPath));
    }
  }
}

/** A start of a check, as looked up in the root (Checker.startsOf). */
export interface CheckStart {
  type: 'dir' | 'file' | 'symlink';
  /** In-root path, with no symlink in it (but the last component of a 'symlink'). */
  path: string;
}

/** What checkFile says of a regular file: skipped (and why), gone, or its problems (none: the loader would start or load it). */
export type FileOutcome = 'not-elf' | 'not-loadable' | 'no-loader' | 'vanished' | CheckProblem[];

/**
 * A check's report as entries come in, in walk order: counts, failures and
 * causes, the progress and failure callbacks. One thread's check and the
 * main thread of a check with a scout (pipeline.ts) tally alike, so their
 * reports and what they print are the same.
 */
export class CheckTally {
  private readonly counts: CheckCounts = { elf: 0, symlinks: 0, notElf: 0, notLoadable: 0, noLoader: 0 };
  private readonly failures: CheckFailure[] = [];
  private readonly byCause: Partial<Record<CheckCause, number>> = {};
  private done = 0;

  constructor(private readonly options: Pick<CheckOptions, 'onFailure' | 'onProgress'>) {}

  private fail(failure: CheckFailure): void {
    this.failures.push(failure);
    for (const cause of new Set(failure.problems.map((x) => x.cause))) this.byCause[cause] = (this.byCause[cause] ?? 0) + 1;
    this.options.onFailure?.(failure);
  }

  /** A file or library symlink is looked at (`count` of them, the last at `path`). */
  seen(path: string, count = 1): void {
    this.done += count;
    this.options.onProgress?.({ done: this.done, failing: this.failures.length, path });
  }

  /** A directory (or start) that could not be listed or examined. */
  unlistable(path: string, message: string): void {
    this.fail({ path, type: 'directory', problems: [{ cause: 'unreadable', message }] });
  }

  /** A library symlink and what is wrong with it (checkSymlink). */
  symlink(path: string, problems: CheckProblem[]): void {
    this.seen(path);
    this.counts.symlinks++;
    if (problems.length) this.fail({ path, type: 'symlink', problems });
  }

  /** `count` regular files that are not ELF. */
  notElf(count: number): void {
    this.counts.notElf += count;
  }

  /** A regular file and what checkFile says of it (its seen() comes first). */
  file(path: string, r: FileOutcome): void {
    if (r === 'not-elf') this.counts.notElf++;
    else if (r === 'not-loadable') this.counts.notLoadable++;
    else if (r === 'no-loader') this.counts.noLoader++;
    else if (r !== 'vanished') {
      const unreadable = r.length > 0 && r.every((x) => x.cause === 'unreadable');
      if (!unreadable) this.counts.elf++;
      if (r.length) this.fail({ path, type: unreadable ? 'file' : 'elf', problems: r });
    }
  }

  report(root: string, paths: string[]): CheckReport {
    return { root, paths, counts: this.counts, failures: this.failures, byCause: this.byCause };
  }
}

/** The verdict's reasons not to start, as problems. */
function verdictProblems(verdict: Verdict, p: ProgramResolution): CheckProblem[] {
  const problems: CheckProblem[] = [];
  for (const v of verdict.versionProblems) if (v.fatal) problems.push({ cause: 'version-not-found', message: `${v.about}: ${v.message}` });
  for (const u of verdict.undefinedSymbols) {
    if (!u.atStart) continue;
    const who = u.object === 0 ? p.path : (p.objects[u.object]?.path ?? '?');
    problems.push({ cause: 'undefined-symbol', message: `${u.message} (${who})` });
  }
  for (const u of verdict.unreadable) problems.push({ cause: 'malformed', message: u });
  return problems;
}

/** Checks `paths` inside a root with one set of caches. */
export function check(paths: string[], options: CheckOptions = {}): CheckReport {
  const { onFailure, onProgress, jobs: _oneThread, ...resolveOptions } = options;
  return new Checker(resolveOptions).check(paths, { onFailure, onProgress });
}
