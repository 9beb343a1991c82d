/**
 * createManifest(): resolves programs (resolve()) and lists everything a new
 * root needs for them to run, as the host (or a foreign root) has it.
 */
import { posix } from 'node:path';
import { ElfdepsError, errnoWords } from '../errors.js';
import { Resolver, type ResolveOptions } from '../resolve/index.js';
import { Judge } from '../verdict/index.js';
import { RootFs } from '../resolve/rootfs.js';
import type { ProgramResolution } from '../resolve/types.js';
import { EntryCollector } from './collect.js';
import { comparePaths } from './entry-path.js';
import { envTarget, MAX_SCRIPT_DEPTH, sniffExecutable } from './script.js';
import { MANIFEST_VERSION, type Manifest, type ManifestProgram, type MissingItem } from './types.js';
import { validateManifest } from './validate.js';

export interface CreateManifestOptions extends ResolveOptions {
  /** Extra in-root paths: files (with their symlinks) or directories, recursively. */
  add?: string[];
  /** PATH used to find the program of "#!/usr/bin/env NAME"; default the usual system PATH. */
  scriptPath?: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What the inputs turned out to be, in the order met: ELF programs go to resolve(), scripts bring their interpreters. */
type Item = { type: 'elf'; input: string } | { type: 'script'; input: string; path: string; interpreter: string };

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
  const fs = new RootFs(options.root ?? '/');
  const cwd = options.cwd ?? (fs.isHostRoot ? process.cwd() : '/');
  const collector = new EntryCollector(fs);
  const missing: MissingItem[] = [];
  const items: Item[] = [];
  const seen = new Set<string>();

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
    collector.addOpened(input, cwd);
    items.push({ type: 'script', input, path: posix.resolve(cwd, input), interpreter: what.interpreter });
    if (depth >= MAX_SCRIPT_DEPTH) {
      missing.push({ program: input, name: what.interpreter, neededBy: input, reason: `more than ${MAX_SCRIPT_DEPTH} levels of #! interpreters (ELOOP)` });
      return;
    }
    visit(what.interpreter, depth + 1, input);
    const viaEnv = envTarget(what);
    if (viaEnv !== null) {
      const dirs = (options.scriptPath ?? DEFAULT_PATH).split(':').filter((d) => d !== '');
      const found = viaEnv.includes('/') ? viaEnv : dirs.map((d) => posix.join(d, viaEnv)).find((p) => fs.walk(p, cwd).kind === 'file');
      if (found === undefined) missing.push({ program: input, name: viaEnv, neededBy: what.interpreter, reason: `not found in PATH ${dirs.join(':')}` });
      else visit(found, depth + 1, input);
    }
  };
  for (const file of files) visit(file, 0, null);

  const elfInputs = items.filter((i) => i.type === 'elf').map((i) => i.input);
  const resolved = new Map<string, ProgramResolution>();
  const resolver = new Resolver(options);
  elfInputs.forEach((input) => resolved.set(input, resolver.resolveOne(input)));
  // The loader's checks after mapping: a version the root's library lacks, or a
  // symbol it resolves at start and cannot find, means the program will not start there.
  const judge = new Judge(resolver.fs, resolver.elfCache);

  const programs: ManifestProgram[] = [];
  const warnings: string[] = [];
  let usedLdCache = false;
  for (const item of items) {
    if (item.type === 'script') {
      programs.push({ input: item.input, path: item.path, type: 'script', interpreter: item.interpreter });
      continue;
    }
    const p = resolved.get(item.input) as ProgramResolution;
    programs.push({ input: item.input, path: posix.resolve(cwd, p.path), type: 'elf', interpreter: p.interpreter });
    for (const opened of p.openedPaths) {
      const walk = collector.addOpened(opened, cwd);
      if (!walk.ok) missing.push({ program: p.path, name: opened, neededBy: p.path, reason: `cannot open: ${errnoWords(walk.errno)}` });
    }
    for (const dep of p.missing) {
      const neededBy = p.objects[dep.requester]?.path ?? p.path;
      missing.push({ program: p.path, name: dep.name, neededBy, reason: dep.how === 'error' ? dep.error ?? 'rejected by the loader' : 'not found' });
    }
    if (p.fatal !== null) warnings.push(`${p.path}: the loader would fail: ${p.fatal}`);
    const { verdict } = judge.judge(p);
    for (const v of verdict.versionProblems) {
      const neededBy = p.objects[v.requester]?.path ?? p.path;
      if (v.fatal) missing.push({ program: p.path, name: v.version || v.about, neededBy, reason: `${v.about}: ${v.message}` });
      else warnings.push(`${p.path}: ${v.about}: ${v.message}`);
    }
    for (const u of verdict.undefinedSymbols) {
      const neededBy = p.objects[u.object]?.path ?? p.path;
      if (u.atStart) missing.push({ program: p.path, name: u.symbol, neededBy, reason: u.message });
    }
    for (const w of verdict.unreadable) warnings.push(`${p.path}: cannot check: ${w}`);
    for (const w of p.warnings) warnings.push(`${p.path}: ${w}`);
    if (p.flavour === 'glibc' && p.objects.some((o) => o.foundBy === 'ld-so-cache')) usedLdCache = true;
  }
  // The loader in the new root reads the cache too; with it, it finds each library where the host's did.
  if (usedLdCache) collector.addOpened('/etc/ld.so.cache', '/');

  const added: string[] = [];
  for (const extra of options.add ?? []) {
    collector.addTree(extra, cwd);
    added.push(posix.resolve(cwd, extra));
  }
  warnings.push(...collector.warnings);

  const manifest: Manifest = {
    elfdepsManifest: MANIFEST_VERSION,
    root: fs.root || '/',
    programs,
    added,
    entries: [...collector.entries.values()].sort((a, b) => comparePaths(a.path, b.path)),
    missing: dedupe(missing),
    warnings: [...new Set(warnings)],
  };
  return validateManifest(manifest, 'created manifest');
}
