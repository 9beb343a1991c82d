/**
 * The loader's walk over DT_NEEDED, reproduced without running anything.
 *
 * glibc (_dl_map_object_deps in elf/dl-deps.c, _dl_map_object in
 * elf/dl-load.c) and musl (load_deps/load_library in ldso/dynlink.c) both walk
 * breadth-first: take the next object in the queue, resolve each DT_NEEDED in
 * .dynamic order, append objects not loaded yet. Whether a name is already
 * loaded is decided against everything mapped so far, so the order matters:
 * a depth-first walk gives wrong answers when two copies of a name exist.
 *
 * Each program gets its own link map; the file system view, parsed ELF files
 * and the ld.so.cache are shared across programs of one resolve() call.
 */
import { ElfdepsError } from '../errors.js';
import * as C from '../elf/constants.js';
import type { ElfFile } from '../elf/reader.js';
import { ElfCache, openCandidateGlibc, openCandidateMusl, type CandidateOutcome, type TargetIdentity } from './candidate.js';
import { expandDst, hasDst, LIBRARY_PATH_SEPARATORS, muslOriginOf, originOf, parseSearchList, RPATH_SEPARATORS, type DstValues, type SearchDir } from './dst.js';
import type { LoaderProfile } from './profile.js';
import type { PathWalk, RootFs } from './rootfs.js';
import { SearchTrace, type ListWhat, type TraceSink } from './explain.js';
import { KEY_SEP, listKey, type MemoOutcome, type SearchMemo, type SearchMemoEntry } from './search-memo.js';
import type { Dependency, FoundBy, LinkMapEntry, LoadedObject, ProgramResolution } from './types.js';

/** Where DT_NEEDED names go when the search lists fail: a cache lookup (glibc) or nothing. */
export interface CacheLookup {
  /** The path the cache gives for `name`, or null. */
  lookup(name: string): string | null;
  /** 'ld-so-cache' for a real cache; 'ld-so-conf' when the dirs of ld.so.conf stand in for it. */
  kind: 'ld-so-cache' | 'ld-so-conf';
  /** For 'ld-so-conf': directories searched like a path list. */
  dirs: SearchDir[];
}

export interface ProgramContext {
  fs: RootFs;
  elfCache: ElfCache;
  profile: LoaderProfile;
  /** In-root working directory, for relative names and empty search elements. */
  cwd: string;
  /** LD_LIBRARY_PATH, or null. */
  libraryPath: string | null;
  /** LD_PRELOAD entries followed by /etc/ld.so.preload entries (glibc), or LD_PRELOAD (musl). */
  preloads: string[];
  cache: CacheLookup | null;
  /** 'exec': $ORIGIN of the program is its real directory (the kernel resolved it); 'ldd': the path as given (glibc <= 2.41 ldd). */
  originMode: 'exec' | 'ldd';
  /** musl: the directories of <prefix>/etc/ld-musl-ARCH.path, or its defaults. */
  muslSystemPath: SearchDir[];
  /** Warnings about the environment (e.g. an unusable ld.so.cache), copied into the result. */
  notes?: string[];
  /** glibc search outcomes shared with the other programs of this setup; without it every search runs. */
  searchMemo?: SearchMemo;
  /** The walk to profile.interpreter from cwd, when the setup made it already (the same for every program). */
  interpreterWalk?: PathWalk;
  /** Where the lookup trace goes (--explain); without it nothing of the trace is built. */
  trace?: TraceSink;
  /** glibc: link maps of earlier programs of this setup, by what their walks depend on (see programKey); without it every program is walked. */
  programMemo?: ProgramMemo;
}

/**
 * What a glibc program's walk produced beyond its own record (objects[0]),
 * for later programs with the same programKey: they get the same link map.
 */
export interface ProgramWalk {
  /** objects[0].names after the walk (names the program was asked for by, through its SONAME). */
  mainNames: string[];
  /** objects[1..], shared by every program that reuses the walk (records are never changed after a walk). */
  objects: LoadedObject[];
  dependencies: Dependency[];
  linkMap: LinkMapEntry[];
  /** openedPaths after the program's own path. */
  openedAfterMain: string[];
  missing: Dependency[];
  fatal: string | null;
  /** Warnings the walk added (after the setup's notes and the program's own $ORIGIN warning). */
  walkWarnings: string[];
}

/** Program walks by programKey, per loader setup. */
export type ProgramMemo = Map<string, ProgramWalk>;

/** musl's strerror() text for the errno names our path walk reports. */
const MUSL_STRERROR: Record<string, string> = {
  ELOOP: 'Symbolic link loop',
  ENAMETOOLONG: 'Filename too long',
  ENOTDIR: 'Not a directory',
  EACCES: 'Permission denied',
  ENOENT: 'No such file or directory',
};

/** Summaries by file: one object serves every program that loads the file (results never change it). */
const summaries = new WeakMap<ElfFile, LoadedObject['elf']>();

/** What a result says about an object's ELF file. */
export function elfSummary(file: ElfFile): LoadedObject['elf'] {
  let summary = summaries.get(file);
  if (summary === undefined) {
    summary = summarise(file);
    summaries.set(file, summary);
  }
  return summary;
}

function summarise(file: ElfFile): LoadedObject['elf'] {
  const d = file.dynamic;
  return {
    class: file.header.elfClass,
    machine: file.machineName,
    kind: file.kind,
    needed: d?.needed ?? [],
    rpath: d?.rpath ?? null,
    runpath: d?.runpath ?? null,
    nodeflib: d?.flags1 != null && (d.flags1 & C.DF_1_NODEFLIB) !== 0n,
  };
}

/** Names musl satisfies with itself (ldso/dynlink.c load_library). */
const MUSL_RESERVED = /^lib(c|pthread|rt|m|dl|util|xnet)\./;

interface MapObject extends LoadedObject {
  /** Parsed file (null for nothing: every object here has one). */
  file: ElfFile;
  dev: bigint | null;
  ino: bigint | null;
  origin: string | null;
  /** musl: basename of the path a search found it under. */
  shortname: string | null;
  rpathDirs: SearchDir[] | undefined;
  runpathDirs: SearchDir[] | undefined;
  /** The DT_RPATH lists of it and its first loaders, as a key part (see searchKey). */
  rpathChainKey: string | undefined;
  /** What its searches depend on beyond the name, as a memo key prefix (see searchKey). */
  searchKey: string | undefined;
  /** Whether it has entered the breadth-first queue. */
  queued: boolean;
  /** The search memo's outcomes for its searchKey, once asked for. */
  memoBucket: Map<string, SearchMemoEntry> | undefined;
  /** The public record (see published), made with the object: it shares the arrays the walk adds to. */
  record: LoadedObject;
}

type NewObject = Omit<MapObject, 'index' | 'queued' | 'rpathDirs' | 'runpathDirs' | 'rpathChainKey' | 'searchKey' | 'aliasPaths' | 'record' | 'memoBucket'>;

interface Found {
  pathString: string;
  outcome: Extract<CandidateOutcome, { kind: 'ok' }>;
  how: FoundBy;
  via: number | null;
}

type SearchResult = { found: Found } | { fatal: string } | null;

export class ProgramResolver {
  private readonly objects: MapObject[] = [];
  private readonly linkMap: LinkMapEntry[] = [];
  private readonly dependencies: Dependency[] = [];
  private readonly warnings: string[] = [];
  private readonly opened: string[] = [];
  private readonly openedSet = new Set<string>();
  /** glibc: the first object (in load order) each name, path or SONAME matches; see findLoaded. */
  private readonly loadedByName = new Map<string, MapObject>();
  private fatal: string | null = null;
  private interp: MapObject | null = null;
  private readonly target: TargetIdentity;
  private libraryPathDirs: SearchDir[] | undefined;
  private readonly muslFamilies = new Set<string>();
  /** glibc: whether the current search skipped a file of the other ELF class (found_other_class). */
  private otherClassSeen = false;
  /** Requests the loader skips without failing (preloads it cannot load, unexpandable DT_NEEDED). */
  private readonly ignored = new Set<Dependency>();
  /** The lookup trace of this program's loader (explain.ts), or null. */
  private readonly trace: SearchTrace | null;
  /** Whether a path the walk opened was the program's own path string (then openedPaths depends on it: not reusable). */
  private mainPathReopened = false;

  constructor(
    private readonly ctx: ProgramContext,
    private readonly input: string,
    private readonly mainWalk: { path: string; realPath: string; links: Array<{ path: string; target: string }> },
    private readonly main: ElfFile,
  ) {
    this.target = { elfClass: main.header.elfClass, littleEndian: main.header.littleEndian, machine: main.header.machine };
    this.warnings.push(...(ctx.notes ?? []));
    const { hwcaps, legacyHwcapDirs } = ctx.profile;
    this.trace = ctx.trace
      ? new SearchTrace(ctx.trace, {
          flavour: ctx.profile.flavour === 'musl' ? 'musl' : 'glibc',
          fs: ctx.fs,
          subdirs: ctx.profile.flavour === 'musl' ? [''] : [...hwcaps.map((h) => `glibc-hwcaps/${h}/`), ...legacyHwcapDirs.map((l) => `${l}/`), ''],
        })
      : null;
  }

  private get glibc(): boolean {
    return this.ctx.profile.flavour === 'glibc';
  }

  private dst(origin: string | null): DstValues {
    return { origin, lib: this.ctx.profile.lib, platform: this.ctx.profile.platform };
  }

  private addObject(o: NewObject): MapObject {
    // Spelled out rather than spread: every record gets the same shape, which
    // keeps the property reads of the hot lookups cheap.
    const obj: MapObject = {
      index: this.objects.length,
      path: o.path,
      realPath: o.realPath,
      links: o.links,
      soname: o.soname,
      names: o.names,
      aliasPaths: [],
      foundBy: o.foundBy,
      via: o.via,
      loader: o.loader,
      elf: o.elf,
      isInterpreter: o.isInterpreter,
      file: o.file,
      dev: o.dev,
      ino: o.ino,
      origin: o.origin,
      shortname: o.shortname,
      rpathDirs: undefined,
      runpathDirs: undefined,
      rpathChainKey: undefined,
      searchKey: undefined,
      queued: false,
      memoBucket: undefined,
      record: undefined as unknown as LoadedObject,
    };
    // In the order --json has always printed them. The walk never changes a
    // field once set, only the arrays (names, links, aliasPaths), which the
    // record shares: no copy is needed when the walk ends.
    obj.record = {
      path: obj.path,
      realPath: obj.realPath,
      links: obj.links,
      soname: obj.soname,
      names: obj.names,
      foundBy: obj.foundBy,
      via: obj.via,
      loader: obj.loader,
      elf: obj.elf,
      isInterpreter: obj.isInterpreter,
      index: obj.index,
      aliasPaths: obj.aliasPaths,
    };
    this.objects.push(obj);
    // The program matches by SONAME only (dl-load.c _dl_map_object skips its name).
    if (obj.index !== 0) this.registerName(obj.path, obj);
    if (obj.soname !== null) this.registerName(obj.soname, obj);
    for (const n of obj.names) this.registerName(n, obj);
    return obj;
  }

  /** Earlier objects win: findLoaded returns the first match in load order. */
  private registerName(name: string, obj: MapObject): void {
    if (!this.loadedByName.has(name)) this.loadedByName.set(name, obj);
  }

  /** The public record of an object, without the walk's own state. */
  private static published(o: MapObject): LoadedObject {
    return o.record;
  }

  /** Whether the program's own search paths or DT_NEEDED use $ORIGIN (which glibc computes from /proc for it). */
  private usesOrigin(file: ElfFile): boolean {
    const d = file.dynamic;
    if (!d) return false;
    const strings = [d.rpath, d.runpath, ...d.needed].filter((x): x is string => x !== null);
    return strings.some((x) => /\$(ORIGIN\b|\{ORIGIN\})/.test(x));
  }

  private noteOpened(path: string): void {
    if (this.opened.length > 0 && path === this.opened[0]) this.mainPathReopened = true;
    if (this.openedSet.has(path)) return;
    this.openedSet.add(path);
    this.opened.push(path);
  }

  run(): ProgramResolution {
    const { profile } = this.ctx;
    // Only a program is started by the kernel, which resolves its path (the
    // loader reads /proc/self/exe). A library is dlopen()ed by the path given,
    // unresolved, like every library's origin (dl-object.c); so is anything
    // under ldd, which names the input on the loader's command line.
    const kernelStarted = this.main.kind === 'executable' || this.main.kind === 'pie-executable';
    const mainOrigin =
      this.ctx.originMode === 'exec' && kernelStarted
        ? originOf(this.mainWalk.realPath, '/')
        : this.glibc
          ? originOf(this.mainWalk.path, this.ctx.cwd)
          : muslOriginOf(this.mainWalk.path);
    if (this.glibc && kernelStarted && this.usesOrigin(this.main)) {
      this.warnings.push(
        `$ORIGIN of ${this.mainWalk.path} comes from /proc/self/exe when it runs: in a root without /proc the loader drops the elements that use it (run it with /proc mounted, e.g. elfdeps run --proc)`,
      );
    }
    // The setup's notes and the warning about the program itself; the walk's own follow.
    const walkWarningsFrom = this.warnings.length;
    const main = this.addObject({
      path: this.mainWalk.path,
      realPath: this.mainWalk.realPath,
      links: this.mainWalk.links,
      soname: this.main.dynamic?.soname ?? null,
      names: [],
      foundBy: 'input',
      via: null,
      loader: null,
      elf: elfSummary(this.main),
      isInterpreter: false,
      file: this.main,
      // The program is never matched by file identity (dl-load.c skips it).
      dev: null,
      ino: null,
      origin: mainOrigin,
      shortname: null,
    });
    this.noteOpened(main.path);
    if (this.trace && this.glibc) {
      const runpath = this.main.dynamic?.runpath != null;
      this.trace.start(profile.systemDirs, { dirs: runpath ? this.runpathOf(main) : this.rpathOf(main), what: runpath ? 'RUNPATH' : 'RPATH', where: main.path }, this.libraryPathList());
    }
    if (profile.vdso) this.linkMap.push({ kind: 'vdso', name: profile.vdso });
    // A static PIE has no PT_INTERP: the kernel starts it directly, no loader
    // ever runs, so neither the interpreter nor preloads are part of it.
    const loaderRuns = this.main.kind !== 'static-pie';
    if (loaderRuns) this.loadInterpreter();

    // A trace depends on this program's own loader state (explain.ts): every program is walked.
    const memo = this.glibc && !this.trace ? this.ctx.programMemo : undefined;
    const key = memo !== undefined ? this.programKey(main, loaderRuns) : null;
    if (memo !== undefined && key !== null) {
      const earlier = memo.get(key);
      // The program's own path is never matched by name (below), but it is
      // the first of openedPaths, which holds each path once.
      if (earlier !== undefined && !earlier.openedAfterMain.includes(main.path)) return this.reuse(earlier, main, this.warnings.slice(0, walkWarningsFrom));
    }

    const queue: MapObject[] = [main];
    main.queued = true;
    for (const name of loaderRuns ? this.ctx.preloads : []) {
      const obj = this.request(name, main, 'preload');
      if (obj && !obj.queued) {
        obj.queued = true;
        queue.push(obj);
      }
    }
    for (let i = 0; i < queue.length; i++) {
      const obj = queue[i] as MapObject;
      const needed = obj.file.dynamic?.needed;
      if (needed === undefined) continue;
      // Indexed: the loop runs for every edge of every program, mostly before
      // V8 optimises it, where an iterator costs an object per step.
      for (let n = 0; n < needed.length; n++) {
        const dep = this.request(needed[n] as string, obj, 'needed');
        if (dep && !dep.queued) {
          dep.queued = true;
          queue.push(dep);
        }
      }
    }
    const objects = this.objects.map(ProgramResolver.published);
    const missing = this.dependencies.filter((d) => (d.how === 'not-found' || d.how === 'error') && !this.ignored.has(d));
    if (memo !== undefined && key !== null && !this.mainPathReopened) {
      memo.set(key, {
        mainNames: [...main.names],
        objects: objects.slice(1),
        dependencies: this.dependencies.slice(),
        linkMap: this.linkMap.slice(),
        openedAfterMain: this.opened.slice(1),
        missing: missing.slice(),
        fatal: this.fatal,
        walkWarnings: this.warnings.slice(walkWarningsFrom),
      });
    }
    return {
      input: this.input,
      path: main.path,
      kind: this.main.kind,
      flavour: profile.flavour,
      interpreter: this.main.interpreter,
      objects,
      dependencies: this.dependencies,
      vdso: profile.vdso,
      linkMap: this.linkMap,
      openedPaths: this.opened,
      missing,
      fatal: this.fatal,
      warnings: this.warnings,
    };
  }

  /**
   * What a glibc walk reads of the program itself, as a key: two programs of
   * one setup with the same key get the same link map, apart from the
   * program's own record. _dl_map_object_deps (elf/dl-deps.c) walks
   * breadth-first from the main map, and each DT_NEEDED goes through
   * _dl_map_object (elf/dl-load.c): the name is first compared with every
   * loaded object (_dl_name_match_p: l_libname entries and SONAME; the main
   * map's file name is not among them, nor is its file identity compared,
   * since it has no l_dev/l_ino in trace mode here), then searched by the
   * requester's DT_RPATH chain through l_loader, LD_LIBRARY_PATH,
   * DT_RUNPATH, the cache and the default directories, skipped under
   * DF_1_NODEFLIB. The main map enters that only through: its DT_NEEDED
   * strings (as written, and after DST expansion with its l_origin), its
   * SONAME, its expanded DT_RPATH or DT_RUNPATH, DF_1_NODEFLIB, the
   * LD_LIBRARY_PATH list expanded with its origin (all four in searchKey),
   * and whether the loader runs at all (a static PIE has no PT_INTERP).
   * Everything else (profile, cache, preloads, cwd, the files) is fixed by
   * the setup. The search memo (search-memo.ts) gives each later search the
   * outcome the first one had; this goes one step further and keeps the
   * whole walk those searches make.
   */
  private programKey(main: MapObject, loaderRuns: boolean): string {
    const needed = main.file.dynamic?.needed ?? [];
    let key = `${this.searchKey(main)}${loaderRuns ? 'L' : 'S'}${main.soname === null ? 'n' : `s${main.soname}`}${KEY_SEP}${needed.length}${KEY_SEP}`;
    for (const raw of needed) {
      key += raw + KEY_SEP;
      if (hasDst(raw)) key += (expandDst(raw, this.dst(main.origin)) ?? 'x') + KEY_SEP;
    }
    return key;
  }

  /** The result of an earlier program's walk with the same programKey, for this program. */
  private reuse(earlier: ProgramWalk, main: MapObject, mainWarnings: string[]): ProgramResolution {
    const record = ProgramResolver.published(main);
    record.names = [...earlier.mainNames];
    return {
      input: this.input,
      path: main.path,
      kind: this.main.kind,
      flavour: this.ctx.profile.flavour,
      interpreter: this.main.interpreter,
      objects: [record, ...earlier.objects],
      dependencies: earlier.dependencies.slice(),
      vdso: this.ctx.profile.vdso,
      linkMap: earlier.linkMap.slice(),
      openedPaths: [main.path, ...earlier.openedAfterMain],
      missing: earlier.missing.slice(),
      fatal: earlier.fatal,
      warnings: [...mainWarnings, ...earlier.walkWarnings],
    };
  }

  /** The interpreter is mapped before any DT_NEEDED, under its PT_INTERP name and its SONAME. */
  private loadInterpreter(): void {
    const interpPath = this.ctx.profile.interpreter;
    const walk = this.ctx.interpreterWalk ?? this.ctx.fs.walk(interpPath, this.ctx.cwd);
    this.noteOpened(interpPath);
    if (!walk.ok || walk.kind !== 'file') {
      this.fatal ??= `${interpPath}: interpreter not found (${walk.errno ?? walk.kind})`;
      this.warnings.push(`interpreter ${interpPath} not found inside the root`);
      return;
    }
    const r = this.ctx.elfCache.read(walk.hostPath);
    if (r instanceof ElfdepsError || !r.elf) {
      this.fatal ??= `${interpPath}: ${r instanceof ElfdepsError ? r.message : r.error?.message}`;
      return;
    }
    const soname = r.elf.dynamic?.soname ?? null;
    const names = [interpPath];
    // Without a dynamic section glibc uses the basename of PT_INTERP as second name (rtld.c).
    const second = soname ?? interpPath.slice(interpPath.lastIndexOf('/') + 1);
    if (!names.includes(second)) names.push(second);
    this.interp = this.addObject({
      path: interpPath,
      realPath: walk.realPath,
      links: [...walk.links], // the walk is shared by the setup's programs; the record is this program's
      soname,
      names,
      foundBy: 'interpreter',
      via: null,
      loader: null,
      elf: elfSummary(r.elf),
      isInterpreter: true,
      file: r.elf,
      dev: null, // ld.so has no file identity in its own link map
      ino: null,
      origin: originOf(interpPath, this.ctx.cwd),
      shortname: null,
    });
  }

  /** Resolves one DT_NEEDED (or preload) name for `requester`. Returns the object, or null. */
  private request(rawName: string, requester: MapObject, why: 'needed' | 'preload'): MapObject | null {
    const dep: Dependency = { requester: requester.index, name: rawName, object: null, how: 'not-found', tried: [] };
    this.dependencies.push(dep);
    let name = rawName;
    if (this.glibc && hasDst(rawName)) {
      const expanded = expandDst(rawName, this.dst(requester.origin));
      if (expanded === null) {
        this.warnings.push(`${rawName}: dynamic string token cannot be expanded; skipped as the loader does`);
        dep.how = 'error';
        dep.error = 'cannot expand dynamic string token';
        // glibc drops such an entry silently (dl-deps.c): nothing is missing.
        this.ignored.add(dep);
        return null;
      }
      name = expanded;
    }
    const loaded = this.findLoaded(name);
    if (loaded) return this.satisfied(dep, loaded, 'loaded', name);

    this.otherClassSeen = false;
    const result = this.glibc ? this.searchGlibcShared(name, requester, dep.tried) : this.searchMusl(name, requester, dep.tried);
    if (this.trace) dep.candidates = this.trace.done(result !== null && 'fatal' in result, why === 'preload');
    if (why === 'preload' && (!result || 'fatal' in result)) {
      // A preload that cannot be loaded, for whatever reason, is reported and
      // skipped (rtld.c do_preload; musl load_preload is silent): the program
      // still starts, and no placeholder enters the link map.
      dep.how = result ? 'error' : 'not-found';
      if (result) dep.error = result.fatal;
      this.ignored.add(dep);
      this.warnings.push(`object '${name}' from LD_PRELOAD cannot be preloaded (${result ? result.fatal : 'cannot open shared object file'}): ignored`);
      return null;
    }
    if (result && 'fatal' in result) {
      dep.how = 'error';
      dep.error = result.fatal;
      this.fatal ??= result.fatal;
      return null;
    }
    if (!result) {
      // glibc's trace mode records a placeholder that never matches later requests.
      // (musl reports the error and records nothing.)
      if (this.glibc) {
        this.linkMap.push({ kind: 'not-found', name });
        // A real run says why when only files of the other class were seen (dl-load.c).
        if (this.otherClassSeen) dep.error = `${name}: wrong ELF class: ELFCLASS${this.target.elfClass === 64 ? 32 : 64}`;
      }
      return null;
    }
    if (result.found.how === 'musl-libc') {
      // musl --list prints each reserved family once, where it is first asked for.
      const family = MUSL_RESERVED.exec(name)?.[1] ?? name;
      if (!this.muslFamilies.has(family)) {
        this.muslFamilies.add(family);
        this.linkMap.push({ kind: 'object', object: (this.interp as MapObject).index, as: name });
      }
      return this.satisfied(dep, this.interp as MapObject, 'musl-libc', name);
    }
    const { pathString, outcome } = result.found;
    this.noteOpened(pathString);
    // The same file under another name is the same object (st_dev/st_ino).
    const same = this.objects.find((o) => o.dev !== null && o.dev === outcome.elf.dev && o.ino === outcome.elf.ino);
    if (same) {
      if (!same.aliasPaths.includes(pathString) && same.path !== pathString) same.aliasPaths.push(pathString);
      for (const l of outcome.walk.links) if (!same.links.some((x) => x.path === l.path)) same.links.push(l);
      // musl: an object first loaded by a path gets, when a search finds its
      // inode again, the basename of that first path as its short name (not N).
      if (!this.glibc && !same.shortname && !name.includes('/')) same.shortname = same.path.slice(same.path.lastIndexOf('/') + 1);
      return this.satisfied(dep, same, 'loaded', name);
    }
    const obj = this.addObject({
      path: pathString,
      realPath: outcome.walk.realPath,
      links: [...outcome.walk.links],
      soname: outcome.elf.dynamic?.soname ?? null,
      names: [],
      foundBy: why === 'preload' && result.found.how === 'direct' ? 'preload' : result.found.how,
      via: result.found.via,
      loader: requester.index,
      elf: elfSummary(outcome.elf),
      isInterpreter: false,
      file: outcome.elf,
      dev: outcome.elf.dev,
      ino: outcome.elf.ino,
      origin: this.glibc ? originOf(pathString, this.ctx.cwd) : muslOriginOf(pathString),
      shortname: !this.glibc && !name.includes('/') ? name : null,
    });
    this.linkMap.push({ kind: 'object', object: obj.index });
    return this.satisfied(dep, obj, result.found.how, name);
  }

  private satisfied(dep: Dependency, obj: MapObject, how: Dependency['how'], name: string): MapObject {
    dep.object = obj.index;
    dep.how = how;
    if (!obj.names.includes(name)) {
      obj.names.push(name);
      if (this.glibc) this.registerName(name, obj);
    }
    // ld.so is taken out of the link map at startup and put back right after
    // its predecessor in the breadth-first search list (rtld.c): the last
    // object mapped so far, or, when nothing came before it but the program,
    // ahead of the vDSO. Not-found placeholders are in the link map but not in
    // the search list, so ld.so goes before those that follow its predecessor.
    if (this.glibc && obj.isInterpreter && !this.linkMap.some((e) => e.kind === 'object' && e.object === obj.index)) {
      const entry: LinkMapEntry = { kind: 'object', object: obj.index };
      let at = -1;
      for (let i = this.linkMap.length - 1; i >= 0; i--) {
        if (this.linkMap[i]?.kind === 'object') {
          at = i;
          break;
        }
      }
      this.linkMap.splice(at + 1, 0, entry);
    }
    return obj;
  }

  /** glibc: name, alias or SONAME of anything mapped; musl: the short name of a searched object. */
  private findLoaded(name: string): MapObject | null {
    // The index holds, for each string, the first object whose path (not the
    // program's), names or SONAME it is: what a scan in load order would find.
    if (this.glibc) return this.loadedByName.get(name) ?? null;
    if (name.includes('/')) return null;
    return this.objects.find((o) => o.shortname === name) ?? null;
  }

  private rpathOf(o: MapObject): SearchDir[] {
    if (o.rpathDirs === undefined) {
      const d = o.file.dynamic;
      // An object with DT_RUNPATH contributes no DT_RPATH (get-dynamic-info.h).
      o.rpathDirs = d && d.rpath !== null && d.runpath === null ? parseSearchList(d.rpath, RPATH_SEPARATORS, this.dst(o.origin)) : [];
    }
    return o.rpathDirs;
  }

  private runpathOf(o: MapObject): SearchDir[] {
    if (o.runpathDirs === undefined) {
      const rp = o.file.dynamic?.runpath ?? null;
      o.runpathDirs = rp !== null ? parseSearchList(rp, RPATH_SEPARATORS, this.dst(o.origin)) : [];
    }
    return o.runpathDirs;
  }

  private libraryPathList(): SearchDir[] {
    if (this.libraryPathDirs === undefined) {
      const lp = this.ctx.libraryPath;
      const main = this.objects[0] as MapObject;
      this.libraryPathDirs = lp ? parseSearchList(lp, LIBRARY_PATH_SEPARATORS, this.dst(main.origin)) : [];
    }
    return this.libraryPathDirs;
  }

  /**
   * What a search by `o` depends on besides the name (search-memo.ts): the
   * LD_LIBRARY_PATH directories, then either its DT_RUNPATH directories
   * (which turn the DT_RPATH chain off) or the DT_RPATH lists of it and each
   * of its first loaders, then its DF_1_NODEFLIB. Prefix-free, so that no two
   * different setups of lists can spell the same key.
   */
  private searchKey(o: MapObject): string {
    if (o.searchKey === undefined) {
      const paths = o.file.dynamic?.runpath != null ? `R${KEY_SEP}${listKey(this.runpathOf(o))}` : `P${KEY_SEP}${this.rpathChainKey(o)}`;
      o.searchKey = `S${KEY_SEP}${listKey(this.libraryPathList())}${paths}${o.elf.nodeflib ? 'N' : 'D'}${KEY_SEP}`;
    }
    return o.searchKey;
  }

  /** The DT_RPATH lists from `o` up its first loaders, in chain order (a hit's depth is its position). */
  private rpathChainKey(o: MapObject): string {
    if (o.rpathChainKey === undefined) {
      const up = o.loader === null ? undefined : this.objects[o.loader];
      o.rpathChainKey = listKey(this.rpathOf(o)) + (up ? this.rpathChainKey(up) : `E${KEY_SEP}`);
    }
    return o.rpathChainKey;
  }

  /** The setup's outcomes for one search key, by name (a name with a slash is opened as given, whoever asks: key "D"). */
  private memoBucket(key: string): Map<string, SearchMemoEntry> {
    const memo = this.ctx.searchMemo as SearchMemo;
    let bucket = memo.get(key);
    if (bucket === undefined) memo.set(key, (bucket = new Map()));
    return bucket;
  }

  /** The object `depth` steps up the chain of first loaders from `o`. */
  private chainAt(o: MapObject, depth: number): MapObject {
    let at = o;
    for (let i = 0; i < depth && at.loader !== null; i++) at = this.objects[at.loader] as MapObject;
    return at;
  }

  /** searchGlibc, through the setup's memo when there is one: the same key always gives the same search. */
  private searchGlibcShared(name: string, requester: MapObject, tried: string[]): SearchResult {
    const memo = this.ctx.searchMemo;
    // A trace depends on this program's loader state (explain.ts): every search runs.
    if (!memo || this.trace) return this.searchGlibc(name, requester, tried);
    // A name with a slash is opened as given, whoever asks (relative to the setup's cwd).
    const bucket = name.includes('/') ? this.memoBucket(`D${KEY_SEP}`) : (requester.memoBucket ??= this.memoBucket(this.searchKey(requester)));
    let entry = bucket.get(name);
    if (entry === undefined) {
      const ownTried: string[] = [];
      const r = this.searchGlibc(name, requester, ownTried);
      let outcome: MemoOutcome;
      if (r === null) outcome = { kind: 'none' };
      else if ('fatal' in r) outcome = { kind: 'fatal', message: r.fatal };
      else {
        let viaDepth: number | null = null;
        if (r.found.via !== null) {
          viaDepth = 0;
          for (let at = requester; at.index !== r.found.via && at.loader !== null; at = this.objects[at.loader] as MapObject) viaDepth++;
        }
        outcome = { kind: 'found', pathString: r.found.pathString, outcome: r.found.outcome, how: r.found.how, viaDepth };
      }
      entry = { outcome, tried: ownTried, otherClass: this.otherClassSeen };
      bucket.set(name, entry);
    }
    for (const t of entry.tried) tried.push(t);
    this.otherClassSeen = entry.otherClass;
    const o = entry.outcome;
    if (o.kind === 'none') return null;
    if (o.kind === 'fatal') return { fatal: o.message };
    return { found: { pathString: o.pathString, outcome: o.outcome, how: o.how, via: o.viaDepth === null ? null : this.chainAt(requester, o.viaDepth).index } };
  }

  private open(pathString: string): CandidateOutcome {
    const { fs, elfCache, cwd, profile } = this.ctx;
    if (!this.glibc) return openCandidateMusl(fs, elfCache, pathString, cwd, this.target);
    // glibc before 2.39 abandoned a list on ENOTDIR too (BZ 31035).
    const enotdirAbandons = profile.glibcVersion[0] === 2 && profile.glibcVersion[1] < 39;
    return openCandidateGlibc(fs, elfCache, pathString, cwd, this.target, enotdirAbandons);
  }

  /** Tries `name` in each directory (and its hwcaps subdirectories) of one list. */
  private searchList(dirs: SearchDir[], name: string, how: FoundBy, via: number | null, tried: string[], owner = via): SearchResult {
    const { hwcaps, legacyHwcapDirs } = this.ctx.profile;
    const trace = this.trace;
    if (trace && dirs.length > 0) this.traceList(trace, dirs, how, owner);
    for (const dir of dirs) {
      trace?.beginDir(dir);
      // Every element, the empty one (CWD) included, is expanded into its
      // hwcaps subdirectories first: "" gives "glibc-hwcaps/x86-64-v3/NAME"
      // relative to the CWD (observed with LD_DEBUG=libs).
      const candidates: string[] = [];
      for (const h of hwcaps) candidates.push(`${dir}glibc-hwcaps/${h}/${name}`);
      for (const l of legacyHwcapDirs) candidates.push(`${dir}${l}/${name}`);
      const plain = dir + name;
      candidates.push(plain);
      let last: CandidateOutcome | null = null;
      for (let c = 0; c < candidates.length; c++) {
        const pathString = candidates[c] as string;
        const outcome = this.open(pathString);
        trace?.candidate(c, pathString, outcome);
        if (outcome.kind === 'ok') return { found: { pathString, outcome, how, via } };
        if (outcome.kind === 'skip' && outcome.otherClass) this.otherClassSeen = true;
        // Only the plain candidate is worth reporting; hwcaps misses are noise.
        if (pathString === plain || outcome.kind === 'fatal') tried.push(pathString);
        if (outcome.kind === 'fatal') return { fatal: outcome.message };
        last = outcome;
      }
      // open_path (dl-load.c): after the element's last candidate (the plain
      // one), an errno other than ENOENT/EACCES abandons the whole list, but
      // only if some directory of the element exists. Relative elements
      // always count as existing (fillin_rpath: the CWD may change); an
      // absolute one naming a file or nothing does not.
      if (last?.kind === 'abandon' && (!dir.startsWith('/') || this.ctx.fs.isDirectory(dir))) return null;
    }
    trace?.endList(true);
    return null;
  }

  /** Tells the trace which list a search enters: its kind, and the object it belongs to. */
  private traceList(trace: SearchTrace, dirs: SearchDir[], how: FoundBy, ownerIndex: number | null): void {
    const what: ListWhat =
      how === 'rpath' ? 'RPATH' : how === 'runpath' ? 'RUNPATH' : how === 'ld-library-path' ? 'LD_LIBRARY_PATH' : how === 'ld-so-conf' ? 'ld.so.conf' : 'system search path';
    const owner = ownerIndex === null ? null : (this.objects[ownerIndex] as MapObject);
    trace.beginList(dirs, how, what, owner ? owner.path : null, owner ? `${how}:${owner.index}` : null);
  }

  private searchGlibc(name: string, requester: MapObject, tried: string[]): SearchResult {
    if (name.includes('/')) {
      const outcome = this.open(name);
      this.trace?.candidate(null, name, outcome);
      if (outcome.kind === 'ok') return { found: { pathString: name, outcome, how: 'direct', via: null } };
      if (outcome.kind === 'skip' && outcome.otherClass) this.otherClassSeen = true;
      tried.push(name);
      return outcome.kind === 'fatal' ? { fatal: outcome.message } : null;
    }
    this.trace?.find(name);
    let r: SearchResult = null;
    // DT_RPATH of the requester and of its first loaders, unless the requester has DT_RUNPATH.
    if (requester.file.dynamic?.runpath == null) {
      for (let o: MapObject | undefined = requester; o; o = o.loader === null ? undefined : this.objects[o.loader]) {
        r = this.searchList(this.rpathOf(o), name, 'rpath', o.index, tried);
        if (r) return r;
      }
    }
    r = this.searchList(this.libraryPathList(), name, 'ld-library-path', null, tried);
    if (r) return r;
    r = this.searchList(this.runpathOf(requester), name, 'runpath', null, tried, requester.index);
    if (r) return r;
    const nodeflib = requester.elf.nodeflib;
    const { cache, profile } = this.ctx;
    if (cache) {
      if (cache.kind === 'ld-so-cache') {
        const hit = cache.lookup(name);
        const refused = hit !== null && nodeflib && profile.systemDirs.some((d) => hit.startsWith(d));
        if (hit === null || refused) this.trace?.cache(hit, null, 'the requester has DF_1_NODEFLIB and this is under a default directory');
        if (hit !== null && !refused) {
          const outcome = this.open(hit);
          this.trace?.cache(hit, outcome, null);
          if (outcome.kind === 'ok') return { found: { pathString: hit, outcome, how: 'ld-so-cache', via: null } };
          if (outcome.kind === 'skip' && outcome.otherClass) this.otherClassSeen = true;
          tried.push(hit);
          if (outcome.kind === 'fatal') return { fatal: outcome.message };
        }
      } else {
        const dirs = nodeflib ? cache.dirs.filter((d) => !profile.systemDirs.includes(d)) : cache.dirs;
        r = this.searchList(dirs, name, 'ld-so-conf', null, tried);
        if (r) return r;
      }
    } else this.trace?.cache(null, null, null); // an unusable cache is still looked for
    if (!nodeflib) return this.searchList(profile.systemDirs, name, 'default', null, tried);
    return null;
  }

  private searchMusl(name: string, requester: MapObject, tried: string[]): SearchResult {
    if (MUSL_RESERVED.test(name) && this.interp) {
      return { found: { pathString: this.interp.path, outcome: { kind: 'ok', walk: this.ctx.fs.walk(this.interp.path), elf: this.interp.file }, how: 'musl-libc', via: null } };
    }
    // musl's message: "Error loading shared library N: <strerror> (needed by R)".
    const failure = (reason: string): SearchResult => ({ fatal: `Error loading shared library ${name}: ${MUSL_STRERROR[reason] ?? reason}` });
    if (name.includes('/')) {
      const outcome = this.open(name);
      this.trace?.candidate(null, name, outcome);
      if (outcome.kind === 'ok') return { found: { pathString: name, outcome, how: 'direct', via: null } };
      tried.push(name);
      return outcome.kind === 'fatal' ? failure(outcome.message) : null;
    }
    const trace = this.trace;
    trace?.find(name);
    const musl = (dirs: SearchDir[], how: FoundBy, via: number | null): SearchResult => {
      if (trace) this.traceList(trace, dirs, how, via);
      for (const dir of dirs) {
        if (dir === '') continue; // musl skips empty elements (no CWD meaning)
        const pathString = dir + name;
        const outcome = this.open(pathString);
        trace?.candidate(0, pathString, outcome);
        if (outcome.kind === 'ok') return { found: { pathString, outcome, how, via } };
        tried.push(pathString);
        if (outcome.kind === 'fatal') return failure(outcome.message);
        // Any other open() error ends the whole search (path_open).
        if (outcome.kind === 'abandon') return failure(outcome.reason);
      }
      return null;
    };
    let r = musl(this.muslList(this.ctx.libraryPath), 'ld-library-path', null);
    if (r) return r;
    // musl treats RUNPATH like RPATH (RUNPATH wins if both) and inherits it along needed_by.
    for (let o: MapObject | undefined = requester; o; o = o.loader === null ? undefined : this.objects[o.loader]) {
      const d = o.file.dynamic;
      const rp = d?.runpath ?? d?.rpath ?? null;
      if (rp === null) continue;
      r = musl(this.muslRpath(rp, o), o.file.dynamic?.runpath != null ? 'runpath' : 'rpath', o.index);
      if (r) return r;
    }
    return musl(this.ctx.muslSystemPath, 'default', null);
  }

  /** path_open joins "%s/%s": a trailing '/' in an element stays (dir//name). */
  private muslList(list: string | null): SearchDir[] {
    if (!list) return [];
    return list.split(/[:\n]/).map((e) => (e === '' ? '' : `${e}/`));
  }

  /** musl expands only $ORIGIN / ${ORIGIN}; any other '$' makes it ignore the whole rpath (fixup_rpath). */
  private muslRpath(rp: string, o: MapObject): SearchDir[] {
    const replaced = rp.replace(/\$\{ORIGIN\}|\$ORIGIN/g, () => o.origin ?? '');
    if (replaced.includes('$')) return [];
    return this.muslList(replaced);
  }
}
