/**
 * createManifest(): resolves programs (resolve()) and lists everything a new
 * root needs for them to run, as the host (or a foreign root) has it.
 */
import { posix } from 'node:path';
import { ElfdepsError, errnoWords } from '../errors.js';
import { startsWithElfMagic } from '../file-type.js';
import { Resolver, type ResolveOptions } from '../resolve/index.js';
import { Judge, type Verdict } from '../verdict/index.js';
import { buildRootLdCache, ldconfigSetupFor } from '../ldconfig/index.js';
import { readLdSoConf } from '../resolve/ldconf.js';
import { RootFs } from '../resolve/rootfs.js';
import type { Dependency, LoadedObject, ProgramResolution } from '../resolve/types.js';
import { MAX_HELPER_DEPTH, RuleEngine, type HelperProgram } from '../rules/engine.js';
import { loadRules } from '../rules/load.js';
import type { RuleOptions } from '../rules/types.js';
import { addPackageData } from '../packages/index.js';
import { parseAdd, placeAdd, type Placement } from './add-place.js';
import { EntryCollector } from './collect.js';
import { comparePaths } from './entry-path.js';
import { Exclusion, type Pruning } from './exclude.js';
import { envTarget, MAX_SCRIPT_DEPTH, sniffExecutable } from './script.js';
import { MANIFEST_VERSION, type EntryWhy, type ExcludedItem, type Manifest, type ManifestProgram, type MissingItem, type NeedsItem } from './types.js';
import { summariseRules } from './rule-summary.js';
import { validateManifest } from './validate.js';

export interface CreateManifestOptions extends ResolveOptions, RuleOptions {
  /**
   * Extra in-root paths: files (with their symlinks) or directories,
   * recursively; or "SRC=DEST", a host file or directory placed at the
   * in-root path DEST (add-place.ts: `\=` for a literal `=`).
   */
  add?: string[];
  /** The host directory SRC of "--add SRC=DEST" is relative to; default the process's. */
  hostCwd?: string;
  /** PATH used to find the program of "#!/usr/bin/env NAME"; default the usual system PATH. */
  scriptPath?: string;
  /**
   * Libraries to leave out, as globs (docs/exclude.md; HOST_GPU_EXCLUDES is
   * the built-in set): each with every object only it brings in, listed in
   * `excluded` instead. The target provides them.
   */
  exclude?: string[];
  /**
   * Package data (docs/packages.md): each entry's package from the root's
   * database, the packages and distribution, and package metadata for the
   * files kept; default true. False leaves all of it out.
   */
  packageMetadata?: boolean;
  /** With package data: keep each package's /usr/share/doc/NAME/copyright; default true. */
  copyright?: boolean;
  /**
   * The new root's /etc/ld.so.cache (docs/ldconfig.md): `generate` (default)
   * writes the cache the root's own ldconfig would write for exactly the
   * manifest's tree, with the ld.so.conf files it reads; `copy` takes the
   * source root's cache file as it is (when a library was found through it);
   * `none` gives the new root no cache.
   */
  ldCache?: LdCacheMode;
}

export const LD_CACHE_MODES = ['generate', 'copy', 'none'] as const;
export type LdCacheMode = (typeof LD_CACHE_MODES)[number];

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Shells, by file name: a script they run starts other programs by name. */
const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'ksh93', 'mksh', 'yash', 'posh', 'busybox', 'csh', 'tcsh', 'fish']);
const isShell = (interpreter: string): boolean => SHELLS.has(posix.basename(interpreter));

/** What the inputs turned out to be, in the order met: ELF programs go to resolve(), scripts bring their interpreters. */
type Item = { type: 'elf'; input: string } | { type: 'script'; input: string; path: string; realPath: string; interpreter: string; envTarget: string | null };

function dedupe(items: MissingItem[]): MissingItem[] {
  const keys = new Set<string>();
  return items.filter((m) => {
    const key = `${m.program}\0${m.name}\0${m.neededBy}`;
    if (keys.has(key)) return false;
    keys.add(key);
    return true;
  });
}

/**
 * Builds a manifest for `files` (paths inside `options.root`, default the host).
 * Libraries that cannot be found are listed in `missing`; an input that cannot
 * be read at all throws.
 */
export function createManifest(files: string[], options: CreateManifestOptions = {}): Manifest {
  const exclusion = new Exclusion(options.exclude ?? []); // a bad pattern stops before any work
  const fs = new RootFs(options.root ?? '/', options.rootAttributes);
  const cwd = options.cwd ?? (fs.isHostRoot ? process.cwd() : '/');
  const collector = new EntryCollector(fs);
  const missing: MissingItem[] = [];
  const excluded = new ExcludedList(cwd);
  if (!exclusion.empty) {
    // A library a rule or --add brings is left out too, with the links to it;
    // the loader's own objects are pruned per program (below).
    collector.leaveOut = (path, walk, why) => {
      if (why?.by !== 'rule' && why?.by !== 'add') return false;
      const paths = [posix.resolve(cwd, path), walk.realPath];
      const pattern = exclusion.match(paths.map((x) => posix.basename(x)), paths);
      // Unreadable counts as no ELF file here: the collector reports it when it opens the file.
      if (pattern === null || !startsWithElfMagic(walk.hostPath)) return false;
      excluded.brought(paths[0] as string, pattern, why);
      return true;
    };
  }
  // --add SRC=DEST first: everything after sees the root with SRC at DEST.
  const adds = (options.add ?? []).map((arg) => ({ arg, spec: parseAdd(arg) }));
  const placed = new Map<string, Placement[]>();
  const dests = new Set<string>();
  for (const { arg, spec } of adds) {
    if (!('src' in spec)) continue;
    if (dests.has(spec.dest)) throw new ElfdepsError('USAGE', `--add ${arg}: DEST ${spec.dest} is given twice`);
    dests.add(spec.dest);
    placed.set(arg, placeAdd(fs, spec, options.hostCwd ?? process.cwd(), arg));
  }
  const items: Item[] = [];
  const seen = new Set<string>();
  const scriptNotes: string[] = [];
  const searchPath = (options.scriptPath ?? DEFAULT_PATH).split(':').filter((d) => d !== '');

  // Scripts first: their interpreters (and env's target) become further programs.
  const visit = (input: string, depth: number, neededBy: string | null): void => {
    const walk = fs.walk(input, cwd);
    if (!walk.ok || walk.kind !== 'file') {
      const reason = walk.ok ? 'not a regular file' : errnoWords(walk.errno ?? 'ENOENT');
      if (neededBy === null) throw new ElfdepsError('ELF_IO', `${input}: ${reason}`, { path: input });
      missing.push({ program: neededBy, name: input, neededBy, reason });
      return;
    }
    if (seen.has(walk.realPath)) return;
    seen.add(walk.realPath);
    const what = sniffExecutable(walk.hostPath);
    if (what === 'elf' || what === 'other') {
      items.push({ type: 'elf', input }); // resolve() names what is wrong with a non-ELF file
      return;
    }
    if (what === null) {
      if (neededBy === null) throw new ElfdepsError('ELF_IO', `${input}: unusable #! line`, { path: input });
      missing.push({ program: neededBy, name: input, neededBy, reason: 'unusable #! line' });
      return;
    }
    collector.withWhy({ by: 'program', program: posix.resolve(cwd, input) }, () => collector.addOpened(input, cwd));
    items.push({ type: 'script', input, path: posix.resolve(cwd, input), realPath: walk.realPath, interpreter: what.interpreter, envTarget: envTarget(what) });
    if (depth >= MAX_SCRIPT_DEPTH) {
      missing.push({ program: input, name: what.interpreter, neededBy: input, reason: `more than ${MAX_SCRIPT_DEPTH} levels of #! interpreters (ELOOP)` });
      return;
    }
    visit(what.interpreter, depth + 1, input);
    const viaEnv = envTarget(what);
    // A shell script given as the program (a pyenv shim for python3, a wrapper) runs other programs
    // the manifest cannot see: only the script and its shell come. Said once per such input.
    if (neededBy === null && isShell(viaEnv ?? what.interpreter)) {
      const line = `#!${what.interpreter}${what.argument === null ? '' : ` ${what.argument}`}`;
      scriptNotes.push(
        `${input} is a shell script (${line}): the root holds the script and its interpreter, not the programs it runs; ` +
          `name the real program instead, or as well (for a pyenv or rbenv shim: the path 'pyenv which NAME' prints)`,
      );
    }
    if (viaEnv !== null) {
      const found = viaEnv.includes('/') ? viaEnv : searchPath.map((d) => posix.join(d, viaEnv)).find((p) => fs.walk(p, cwd).kind === 'file');
      if (found === undefined) missing.push({ program: input, name: viaEnv, neededBy: what.interpreter, reason: `not found in PATH ${searchPath.join(':')}` });
      else visit(found, depth + 1, input);
    }
  };
  for (const file of files) visit(file, 0, null);

  const elfInputs = items.filter((i) => i.type === 'elf').map((i) => i.input);
  const resolved = new Map<string, ProgramResolution>();
  const resolver = new Resolver(options);
  resolver.fs.mountsOf(fs);
  elfInputs.forEach((input) => resolved.set(input, resolver.resolveOne(input)));
  // The loader's checks after mapping: a version the root's library lacks, or a
  // symbol it resolves at start and cannot find, means the program will not start there.
  const judge = new Judge(resolver.fs, resolver.elfCache);

  const programs: ManifestProgram[] = [];
  const warnings: string[] = [];
  const engine = options.loaderOnly
    ? null
    : new RuleEngine({
        ...options,
        fs: resolver.fs,
        images: judge.images,
        collector,
        rules: loadRules(options.rulesFiles),
        missing,
        warnings,
        searchPath,
        excludedName: exclusion.empty ? undefined : (name, why) => excluded.notFound(name, exclusion.matchName(name, '/'), why),
      });
  /** Real paths of every object some resolution covers: an ELF file among them needs no resolution of its own. */
  const resolvedFiles = new Set<string>();
  /** The loader's edges (DT_NEEDED, PT_INTERP) between kept objects, by real in-root path: the manifest's `needs`. */
  const needs = new Map<string, Set<string>>();
  /** Real paths of the ELF programs whose rules were applied as a program's (inputs, helpers). */
  const appliedAsProgram = new Set<string>();
  /** Real paths of the scripts whose interpreters came and whose rules were applied. */
  const scripts = new Set<string>();
  let cacheUser: string | null = null;
  /** The loader of the first glibc program: the root's ldconfig is the one of its glibc. */
  let glibcInterpreter: string | null = null;

  /**
   * What the loader opens for `p` and the root gets (`cut`: without what
   * --exclude leaves out), each path with the object that named it as its reason.
   */
  const addLoaded = (p: ProgramResolution, programPath: string, rule: string | undefined, cut: Pruning): void => {
    for (const o of p.objects) if (cut.kept.has(o.index)) resolvedFiles.add(o.realPath);
    addNeeds(needs, p, cut);
    for (const opened of p.openedPaths) {
      const o = p.objects.find((x) => x.path === opened || x.aliasPaths.includes(opened));
      if (o && !cut.kept.has(o.index)) continue;
      let why: EntryWhy;
      if (o?.index === 0) why = rule === undefined ? { by: 'program', program: programPath } : { by: 'loader', program: programPath, neededBy: null, rule };
      else {
        const loader = o?.loader ?? null;
        const neededBy = loader !== null ? (p.objects[loader]?.path ?? null) : o?.isInterpreter ? p.path : null;
        why = { by: 'loader', program: programPath, neededBy, ...(rule === undefined ? {} : { rule }) };
      }
      const walk = collector.withWhy(why, () => collector.addOpened(opened, cwd));
      if (!walk.ok) missing.push({ program: p.path, name: opened, neededBy: p.path, reason: `cannot open: ${errnoWords(walk.errno)}` });
    }
    // Excluded, or needed only by what is excluded: the target's to provide.
    const targets = (dep: Dependency): boolean => !cut.kept.has(dep.requester) || exclusion.matchName(dep.name, cwd) !== null;
    for (const dep of p.missing) {
      if (targets(dep)) continue;
      const neededBy = p.objects[dep.requester]?.path ?? p.path;
      missing.push({ program: p.path, name: dep.name, neededBy, reason: dep.how === 'error' ? dep.error ?? 'rejected by the loader' : 'not found' });
    }
    const fatalDep = p.fatal === null ? undefined : p.dependencies.find((d) => d.how === 'error' && d.error === p.fatal);
    if (p.fatal !== null && !(fatalDep && targets(fatalDep))) warnings.push(`${p.path}: the loader would fail: ${p.fatal}`);
    for (const w of p.warnings) warnings.push(`${p.path}: ${w}`);
    if (p.flavour === 'glibc' && p.objects.some((o) => cut.kept.has(o.index) && o.foundBy === 'ld-so-cache')) cacheUser ??= p.path;
    if (p.flavour === 'glibc' && p.interpreter !== null) glibcInterpreter ??= p.interpreter;
    excluded.requests(p, cut);
  };

  /**
   * Fatal version problems are missing (the loader would refuse); the others
   * are warnings, for programs (`warn`). Versions needed from or by an
   * excluded library (or what it brings) are not checked: the target provides it.
   */
  const addVersionProblems = (p: ProgramResolution, problems: Verdict['versionProblems'], warn: boolean, cut: Pruning): void => {
    for (const v of problems) {
      if (!cut.kept.has(v.requester) || !cut.kept.has(v.provider)) continue;
      const neededBy = p.objects[v.requester]?.path ?? p.path;
      if (v.fatal) missing.push({ program: p.path, name: v.version || v.about, neededBy, reason: `${v.about}: ${v.message}` });
      else if (warn) warnings.push(`${p.path}: ${v.about}: ${v.message}`);
    }
  };

  for (const item of items) {
    if (item.type === 'script') {
      programs.push({ input: item.input, path: item.path, type: 'script', interpreter: item.interpreter });
      continue;
    }
    const p = resolved.get(item.input) as ProgramResolution;
    const programPath = posix.resolve(cwd, p.path);
    programs.push({ input: item.input, path: programPath, type: 'elf', interpreter: p.interpreter });
    const cut = exclusion.prune(p, cwd);
    addLoaded(p, programPath, undefined, cut);
    const { verdict } = judge.judge(p);
    addVersionProblems(p, verdict.versionProblems, true, cut);
    // An excluded library this root lacks may define any symbol: those are not judged.
    const absent = [...new Set(cut.requests.filter((r) => r.object === null).map((r) => r.name))];
    // A library not found (or one the loader stops at) would define symbols too: it is the one
    // reason then, not each symbol it would have defined (as check says it; ldd -r lists them all).
    const libraryMissing = p.fatal !== null || p.missing.some((m) => !absent.includes(m.name));
    for (const u of verdict.undefinedSymbols) {
      if (!u.atStart || !cut.kept.has(u.object) || libraryMissing) continue;
      const neededBy = p.objects[u.object]?.path ?? p.path;
      if (absent.length > 0) warnings.push(`${p.path}: ${u.message} (${neededBy}): not checked: excluded ${absent.join(', ')} may define it`);
      else missing.push({ program: p.path, name: u.symbol, neededBy, reason: u.message });
    }
    for (const w of verdict.unreadable) warnings.push(`${p.path}: cannot check: ${w}`);
    engine?.apply(p, true, p.objects.filter((o) => cut.kept.has(o.index)));
    if (p.objects[0]) appliedAsProgram.add(p.objects[0].realPath);
  }
  for (const item of items) {
    if (item.type !== 'script') continue;
    scripts.add(item.realPath);
    engine?.applyScript({ path: item.path, realPath: item.realPath, interpreter: item.interpreter, envTarget: item.envTarget }, 0);
  }

  const added: string[] = [];
  for (const { arg, spec } of adds) {
    if ('path' in spec) {
      const path = posix.resolve(cwd, spec.path);
      collector.withWhy({ by: 'add', path }, () => collector.addTree(spec.path, cwd));
      added.push(path);
      continue;
    }
    for (const p of placed.get(arg) ?? []) collector.withWhy({ by: 'add', path: p.src, dest: p.dest }, () => collector.addTree(p.dest, '/'));
    added.push(spec.dest);
  }

  /** The rule that brought an in-root file (directly, or as a library of what it brought). */
  const ruleOf = (path: string): string | undefined => {
    const why = collector.entries.get(path)?.why;
    return why?.by === 'rule' ? why.rule : why?.by === 'loader' ? why.rule : undefined;
  };

  /**
   * Resolves an ELF file that entered, as the loader would load it; null when
   * it is not a program or library. `loaded`: what the program that dlopen()s
   * it has already loaded (a module a rule brought), which satisfies needed
   * names; none for a program run on its own.
   */
  const resolveEntered = (path: string, real: string, rule: string | undefined, loaded: readonly string[]): { r: ProgramResolution; cut: Pruning } | null => {
    resolvedFiles.add(real);
    let r: ProgramResolution;
    try {
      r = resolver.resolveLoadedInto(path, loaded);
    } catch (err) {
      if (!(err instanceof ElfdepsError)) throw err;
      warnings.push(`${path}: not resolved: ${err.message}`);
      return null;
    }
    if (r.kind === 'relocatable' || r.kind === 'core' || r.kind === 'other') return null;
    const cut = exclusion.prune(r, cwd);
    addLoaded(r, path, rule, cut);
    const { verdict } = judge.judge(r, { relocations: 'none' });
    addVersionProblems(r, verdict.versionProblems, false, cut);
    return { r, cut };
  };

  const pending: HelperProgram[] = [];

  /**
   * A #! script that entered: the kernel runs its interpreter (and env its
   * target), which come as programs; the rules see the script (its commands).
   */
  const enterScript = (path: string, depth: number): void => {
    const walk = fs.walk(path);
    if (!walk.ok || walk.kind !== 'file' || scripts.has(walk.realPath)) return;
    scripts.add(walk.realPath);
    let what: ReturnType<typeof sniffExecutable>;
    try {
      what = sniffExecutable(walk.hostPath);
    } catch (err) {
      warnings.push(`${path}: cannot read its #! line: ${errnoWords(err)}`);
      return;
    }
    if (what === 'elf' || what === 'other') return;
    if (what === null) {
      warnings.push(`${path}: unusable #! line; no interpreter brought for it`);
      return;
    }
    const rule = ruleOf(walk.realPath);
    const why: EntryWhy = { by: 'loader', program: path, neededBy: path, ...(rule === undefined ? {} : { rule }) };
    const viaEnv = envTarget(what);
    const envFound = viaEnv === null ? null : viaEnv.includes('/') ? viaEnv : (searchPath.map((d) => posix.join(d, viaEnv)).find((p) => fs.walk(p).kind === 'file') ?? null);
    for (const run of [what.interpreter, ...(viaEnv === null ? [] : [envFound ?? viaEnv])]) {
      const w = collector.withWhy(why, () => collector.addOpened(run, '/'));
      if (w.ok && w.kind === 'file') pending.push({ path: run, depth: depth + 1 });
      else warnings.push(`${path}: ${run === what.interpreter ? 'its #! interpreter' : 'the program its #! line runs through env'} ${run} is not in the root`);
    }
    engine?.applyScript({ path, realPath: walk.realPath, interpreter: what.interpreter, envTarget: viaEnv }, depth);
  };

  /** A program a rule says is run, a script's command or interpreter: resolved as a program (its rules apply), or entered as a script. */
  const enterHelper = (h: HelperProgram): void => {
    const walk = fs.walk(h.path);
    if (!walk.ok || walk.kind !== 'file' || appliedAsProgram.has(walk.realPath) || scripts.has(walk.realPath)) return;
    if (h.depth > MAX_HELPER_DEPTH) {
      warnings.push(`${h.path}: not followed: more than ${MAX_HELPER_DEPTH} levels of helper programs`);
      return;
    }
    if (!startsWithElfMagic(walk.hostPath)) return enterScript(h.path, h.depth);
    appliedAsProgram.add(walk.realPath);
    const done = resolveEntered(h.path, walk.realPath, ruleOf(walk.realPath), []);
    if (done !== null) engine?.apply(done.r, true, done.r.objects.filter((o) => done.cut.kept.has(o.index)), h.depth);
  };

  // Every ELF file that entered (--add, rules) is resolved as the loader
  // would load it (dlopen): its libraries come too, and the rules see it.
  // Its symbols are not judged: a module's undefined symbols are the
  // program's to define. Its version needs are checked. Programs the rules
  // say are run enter as programs first; every executable #! file that
  // entered brings its interpreter.
  for (;;) {
    pending.push(...(engine?.takeHelpers() ?? []));
    const helper = pending.shift();
    if (helper !== undefined) {
      enterHelper(helper);
      continue;
    }
    const files = collector.takeElfFiles();
    const entered = collector.takeScripts();
    if (files.length === 0 && entered.length === 0) break;
    for (const file of files) {
      if (resolvedFiles.has(file)) continue;
      const done = resolveEntered(file, file, ruleOf(file), engine?.loadedWith(file) ?? []);
      if (done !== null) engine?.apply(done.r, false, done.r.objects.filter((o) => done.cut.kept.has(o.index)));
    }
    for (const script of entered) enterScript(script, 1);
  }
  const ldCache = options.ldCache ?? 'generate';
  if (ldCache === 'copy' && cacheUser !== null) {
    // The source root's cache as it is: the loader in the new root then finds each library where the source's did.
    collector.withWhy({ by: 'loader', program: cacheUser, neededBy: null }, () => collector.addOpened('/etc/ld.so.cache', '/'));
  } else if (ldCache === 'generate' && glibcInterpreter !== null) {
    addGeneratedLdCache(fs, collector, glibcInterpreter, warnings);
  }
  // Last: the owners of everything else, their licence files and their metadata.
  const packageData = options.packageMetadata === false ? null : addPackageData(collector, fs, { copyright: options.copyright }, warnings);
  warnings.push(...collector.warnings, ...scriptNotes);

  const rules = summariseRules(collector.entries.values(), engine?.firstTriggers ?? []);

  const manifest: Manifest = {
    elfdepsManifest: MANIFEST_VERSION,
    root: fs.root || '/',
    programs,
    added,
    entries: [...collector.entries.values()].sort((a, b) => comparePaths(a.path, b.path)),
    missing: dedupe(missing),
    warnings: [...new Set(warnings)],
    rules,
    ...(exclusion.empty ? {} : { excluded: excluded.items(collector) }),
    ...(packageData === null ? {} : { packages: packageData.packages, distro: packageData.distro }),
    needs: needsList(needs, collector),
  };
  return validateManifest(manifest, 'created manifest');
}

/**
 * The loader's edges of one resolution between objects the root keeps: each
 * DT_NEEDED that found an object (also one already loaded: the edge is the
 * requester's all the same), and the program's PT_INTERP, which the kernel
 * maps before any DT_NEEDED is read. By real in-root path, as entries are.
 */
function addNeeds(needs: Map<string, Set<string>>, p: ProgramResolution, cut: Pruning): void {
  const add = (from: LoadedObject | undefined, to: LoadedObject | undefined): void => {
    if (!from || !to || from.realPath === to.realPath || !cut.kept.has(from.index) || !cut.kept.has(to.index)) return;
    let set = needs.get(from.realPath);
    if (!set) needs.set(from.realPath, (set = new Set()));
    set.add(to.realPath);
  };
  if (p.interpreter !== null) add(p.objects[0], p.objects.find((o) => o.isInterpreter));
  for (const d of p.dependencies) if (d.object !== null) add(p.objects[d.requester], p.objects[d.object]);
}

/** `needs` as the manifest holds it: only paths that are entries, sorted by path, each list sorted. */
function needsList(needs: Map<string, Set<string>>, collector: EntryCollector): NeedsItem[] {
  const out: NeedsItem[] = [];
  for (const [path, set] of needs) {
    if (!collector.entries.has(path)) continue;
    const to = [...set].filter((x) => collector.entries.has(x)).sort(comparePaths);
    if (to.length > 0) out.push({ path, needs: to });
  }
  return out.sort((a, b) => comparePaths(a.path, b.path));
}

/**
 * The new root's /etc/ld.so.cache as its own ldconfig would write it for the
 * manifest's tree (src/ldconfig/), after the configuration ldconfig reads
 * (/etc/ld.so.conf and what it includes) has joined the tree. Replaces a
 * cache file something else brought, unless --add asked for it.
 */
function addGeneratedLdCache(fs: RootFs, collector: EntryCollector, interpreter: string, warnings: string[]): void {
  const setup = ldconfigSetupFor(fs, interpreter);
  if (setup === null) {
    warnings.push(`${interpreter}: no ldconfig is known for this loader; the new root gets no /etc/ld.so.cache`);
    return;
  }
  const why: EntryWhy = { by: 'ldconfig' };
  const conf = readLdSoConf(fs, '/etc/ld.so.conf');
  collector.withWhy(why, () => {
    for (const file of conf.files) collector.addOpened(file, '/');
  });
  const old = collector.entries.get('/etc/ld.so.cache');
  if (old !== undefined && old.why?.by !== 'add') collector.entries.delete('/etc/ld.so.cache');
  const { bytes, scan } = buildRootLdCache(fs.root || '/', [...collector.entries.values()], setup);
  warnings.push(...scan.warnings.map((w) => `ldconfig: ${w}`));
  collector.withWhy(why, () => collector.addGenerated('/etc', 'ld.so.cache', bytes, '0644'));
}

/** The manifest's `excluded` list, gathered over every resolution (one item per name and path). */
class ExcludedList {
  private readonly byKey = new Map<string, { item: ExcludedItem; neededBy: Set<string>; dropped: Map<string, string> }>();

  constructor(private readonly cwd: string) {}

  private get(name: string, pattern: string, path: string | null) {
    const key = `${name}\0${path ?? ''}`;
    let x = this.byKey.get(key);
    if (!x) {
      x = { item: { name, pattern, path, neededBy: [], dropped: [] }, neededBy: new Set(), dropped: new Map() };
      this.byKey.set(key, x);
    }
    return x;
  }

  /** A file a rule or --add brought, left out. */
  brought(path: string, pattern: string, why: EntryWhy): void {
    this.get(path, pattern, path).item.why ??= why;
  }

  /** A library a rule would bring, not in the root: true (and listed) when `pattern` matched it. */
  notFound(name: string, pattern: string | null, why: EntryWhy): boolean {
    if (pattern === null) return false;
    this.get(name, pattern, null).item.why ??= why;
    return true;
  }

  /** The excluded libraries kept objects of `p` ask for, and what each brings in. */
  requests(p: ProgramResolution, cut: Pruning): void {
    const at = (i: number) => p.objects[i] as LoadedObject;
    for (const r of cut.requests) {
      const o = r.object === null ? null : at(r.object);
      const x = this.get(r.name, r.pattern, o ? posix.resolve(this.cwd, o.path) : null);
      x.neededBy.add(posix.resolve(this.cwd, at(r.requester).path));
      for (const d of o ? (cut.dropped.get(o.index) ?? []) : []) x.dropped.set(posix.resolve(this.cwd, at(d).path), at(d).realPath);
    }
  }

  /** The items, sorted; an object some program keeps (an entry of `collector`) is not dropped. */
  items(collector: EntryCollector): ExcludedItem[] {
    const out = [...this.byKey.values()].map(({ item, neededBy, dropped }) => ({
      ...item,
      neededBy: [...neededBy].sort(),
      dropped: [...dropped].filter(([, real]) => !collector.entries.has(real)).map(([path]) => path).sort(),
    }));
    const key = (x: ExcludedItem) => `${x.name}\0${x.path ?? ''}`;
    return out.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }
}
