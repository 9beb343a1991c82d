/**
 * The rules engine: for each resolved program (and each module a rule or
 * --add brought in), the rules whose trigger it meets add what they name to
 * the manifest's collector, each entry with the rule and trigger as its
 * reason. A rule applies once per set of values its paths use ({libdir},
 * {python}, ...). ELF files added are resolved by the caller
 * (createManifest), whose resolutions come back here: an extension module
 * that needs libssl brings the TLS rule.
 */
import { posix } from 'node:path';
import { ElfdepsError } from '../errors.js';
import type { EntryCollector } from '../manifest/collect.js';
import type { EntryWhy, MissingItem } from '../manifest/types.js';
import type { RootFs } from '../resolve/rootfs.js';
import type { LoadedObject, ProgramResolution } from '../resolve/types.js';
import type { ImageCache } from '../verdict/link-map.js';
import { readHead } from '../manifest/script.js';
import { factsOf, scriptFacts, type ResolutionFacts, type ScriptInfo } from './facts.js';
import { userDatabase } from './generate.js';
import { captureMatcher, captures, componentMatcher, expandPattern, hasWildcard, lineMatcher } from './paths.js';
import { keepPycache } from './pycache.js';
import { MAX_SCAN_BYTES, scanShellScript } from './shell-scan.js';
import { headerClosure, linkerScriptInputs, MAX_TOOLCHAIN_FILE_BYTES } from './toolchain.js';
import type { DlopenLevel, PathItem, Rule, RuleItem, RuleOptions } from './types.js';

const PRIORITY_RANK: Record<DlopenLevel, number> = { required: 0, recommended: 1, suggested: 2, none: -1 };

/**
 * NSS modules are taken for every service nsswitch.conf names, files and dns
 * included: glibc >= 2.34 has those two inside libc (their .so.2 files are
 * stubs), older ones load them, and a root may be either.
 */
const MAX_NSSWITCH_BYTES = 1 << 20;
/** A `read` item's file is a small configuration file (jvm.cfg is 300 bytes); longer lines are not compared. */
const MAX_READ_BYTES = 1 << 20;
const MAX_READ_LINE = 4096;

/** What a trigger matched: its text (the entries' reason) and the placeholders it sets ({origin}, a needs pattern's captures). */
interface Match {
  text: string;
  vars: Map<string, string>;
}

export interface RuleEngineOptions extends RuleOptions {
  fs: RootFs;
  images: ImageCache;
  collector: EntryCollector;
  rules: Rule[];
  /** Where unsatisfied required things go (a required dlopen note's library not found). */
  missing: MissingItem[];
  /** Asked before a required library not found is missing: true when --exclude leaves it out (the caller lists it). */
  excludedName?: ((name: string, why: EntryWhy) => boolean) | undefined;
  warnings: string[];
  /** Where names a program runs by PATH are looked for (the root's PATH). */
  searchPath: string[];
}

/**
 * A program some rule says is run (a helper, a script's command, a #!
 * interpreter): the caller resolves it as a program, so its own rules
 * apply, and scans it if it is a script. `depth`: how many helpers away
 * from an input it is.
 */
export interface HelperProgram {
  path: string;
  depth: number;
}

/**
 * Helpers and scripts more than this many steps from an input are not
 * followed further (a chain of scripts each running the next).
 */
export const MAX_HELPER_DEPTH = 8;

/** A path pattern ("/usr/bin/python3*") as a RegExp over whole in-root paths; * and ? stay within a component. */
function pathMatcher(pattern: string): RegExp {
  return new RegExp(pattern.split('/').map((c) => componentMatcher(c).source.slice(1, -1)).join('/').replace(/^/, '^') + '$');
}

export class RuleEngine {
  private readonly applied = new Set<string>();
  /** ELF files a rule brought → the objects already loaded when the program dlopen()s them (see loadedWith). */
  private readonly loadedBefore = new Map<string, string[]>();
  /** Rules in the order they first applied, with their first trigger. */
  readonly firstTriggers = new Map<string, string>();
  private readonly forced: Set<string>;
  private readonly dropped: Set<string>;
  private helpers: HelperProgram[] = [];
  /** The depth of the program or script the rules are applied to now. */
  private depth = 0;

  constructor(private readonly o: RuleEngineOptions) {
    const known = new Set(o.rules.map((r) => r.name));
    for (const n of [...(o.with ?? []), ...(o.without ?? [])]) {
      if (!known.has(n)) throw new ElfdepsError('USAGE', `no rule named ${n} (rules: ${[...known].join(', ')})`);
    }
    this.forced = new Set(o.with ?? []);
    this.dropped = new Set(o.without ?? []);
  }

  /**
   * Applies every rule `p` triggers. `asProgram`: p is an input program
   * (program-path triggers apply). `objects`: the objects of p the root
   * gets (libraries left out with --exclude trigger nothing).
   */
  apply(p: ProgramResolution, asProgram: boolean, objects: readonly LoadedObject[] = p.objects, depth = 0): void {
    const facts = factsOf(p, this.o.images, objects);
    const main = p.objects[0];
    // {prefix}: where an interpreter installed as PREFIX/bin/NAME finds its library (PREFIX/lib/...): a program's only.
    if (asProgram && main) facts.vars.set('prefix', posix.dirname(posix.dirname(main.realPath)));
    this.applyFacts(facts, asProgram, p.path, depth, objects);
    for (const u of facts.unreadable) this.o.warnings.push(`${p.path}: rules could not read ${u}`);
  }

  /** Applies every rule a #! script triggers (program paths and script interpreters; it has no link map). */
  applyScript(script: ScriptInfo, depth: number): void {
    this.applyFacts(scriptFacts(script), true, script.path, depth, []);
  }

  /** Programs the rules applied so far say are run, since the last call. */
  takeHelpers(): HelperProgram[] {
    const out = this.helpers;
    this.helpers = [];
    return out;
  }

  /** `objects`: what the program has loaded (none for a script), for the modules its rules bring (loadedWith). */
  private applyFacts(facts: ResolutionFacts, asProgram: boolean, path: string, depth: number, objects: readonly LoadedObject[]): void {
    this.depth = depth;
    for (const rule of this.o.rules) {
      if (this.dropped.has(rule.name)) continue;
      const matched = this.triggerOf(rule, facts, asProgram);
      // --with cannot make a script of an ELF program: a script trigger needs a script.
      const forced = this.forced.has(rule.name) && (rule.when.scripts === undefined || facts.script !== undefined);
      const trigger = forced ? { text: '--with', vars: matched?.vars ?? new Map<string, string>() } : matched;
      if (trigger === null) continue;
      this.run(rule, trigger.text, { ...facts, vars: new Map([...facts.vars, ...trigger.vars]) }, path, objects);
    }
  }

  /**
   * In-root paths of the objects already loaded when the program loads
   * `file` (an ELF file a rule brought): the program's link map and the
   * other ELF files the same rule brought for it (the JDK's libjvm.so, which
   * lib/libjava.so needs by name). Resolver.resolveLoadedInto takes them.
   */
  loadedWith(file: string): readonly string[] {
    return this.loadedBefore.get(file) ?? [];
  }

  private triggerOf(rule: Rule, f: ResolutionFacts, asProgram: boolean): Match | null {
    const none = new Map<string, string>();
    for (const sym of rule.when.imports ?? []) {
      const by = f.imports.get(sym);
      if (by !== undefined) return { text: `${sym} imported by ${by}`, vars: none };
    }
    for (const pattern of rule.when.needs ?? []) {
      const m = captureMatcher(pattern);
      for (const [name, obj] of f.names) {
        const vars = captures(m, name);
        if (vars === null) continue;
        const origin = f.nameDirs.get(name);
        if (origin !== undefined) vars.set('origin', origin);
        return { text: `${name} loaded (${obj})`, vars };
      }
    }
    for (const sym of rule.when.defines ?? []) {
      if (f.defines(sym)) return { text: `${sym} defined by ${f.programPaths[0] ?? 'the program'}`, vars: none };
    }
    if (asProgram) {
      for (const pattern of rule.when.programs ?? []) {
        // A pattern without '/' is a file name: the program's as given or its real one.
        const test = pattern.includes('/') ? (x: string) => pathMatcher(pattern).test(x) : (x: string) => componentMatcher(pattern).test(posix.basename(x));
        const hit = f.programPaths.find(test);
        if (hit !== undefined) return { text: `program ${hit}`, vars: none };
      }
    }
    const note = rule.when.dlopenNotes ? this.notesTaken(f)[0] : undefined;
    if (note !== undefined) return { text: `dlopen notes of ${note.object}`, vars: none };
    const s = f.script;
    if (s !== undefined && rule.when.scripts !== undefined) {
      const name = rule.when.scripts.find((n) => n === posix.basename(s.interpreter) || n === s.envTarget);
      if (name !== undefined) return { text: `#!${s.interpreter}${s.envTarget === null ? '' : ` ${s.envTarget}`} script ${s.path}`, vars: none };
    }
    return null;
  }

  private notesTaken(f: ResolutionFacts): ResolutionFacts['notes'] {
    const limit = PRIORITY_RANK[this.o.dlopen ?? 'recommended'];
    return f.notes.filter((n) => PRIORITY_RANK[n.note.priority] <= limit);
  }

  /** {name} placeholders ({a,b} alternatives never match: they hold a comma or a slash); null when one has no value here (the item does not apply). */
  private fill(path: string, f: ResolutionFacts): string | null {
    let unknown = false;
    const out = path.replace(/\{([a-z-]+)\}/g, (m: string, name: string) => {
      const v = f.vars.get(name);
      if (v === undefined) unknown = true;
      return v ?? m;
    });
    // {origin}/../conf: placeholders stand for real directories, so '..' may be resolved by name.
    return unknown ? null : posix.normalize(out);
  }

  private run(rule: Rule, trigger: string, f: ResolutionFacts, path: string, objects: readonly LoadedObject[]): void {
    // Once per rule and values: gconv of one libc directory is added once for every program using it.
    const used = [...JSON.stringify(rule.add).matchAll(/\{([a-z-]+)\}/g)].map((m) => `${m[1]}=${f.vars.get(m[1] as string) ?? ''}`);
    const perObject = rule.add.some((i) => 'dlopen' in i || 'commands' in i);
    const key = `${rule.name}\0${used.join('\0')}\0${perObject ? path : ''}`;
    if (this.applied.has(key)) return;
    this.applied.add(key);
    if (!this.firstTriggers.has(rule.name)) this.firstTriggers.set(rule.name, trigger);
    const c = this.o.collector;
    const before = c.pendingElfFiles().length;
    const helpersBefore = this.helpers.length;
    c.withWhy({ by: 'rule', rule: rule.name, trigger }, () => {
      for (const item of rule.add) this.item(rule, item, f, path);
    });
    // Programs the rule runs are processes of their own (resolved as programs), not objects dlopen()ed into this one.
    const ran = new Set(this.helpers.slice(helpersBefore).map((h) => this.o.fs.walk(h.path).realPath));
    const brought = c.pendingElfFiles().slice(before).filter((file) => !ran.has(file));
    const loaded = [...objects.map((o) => o.realPath), ...brought];
    for (const file of brought) if (!this.loadedBefore.has(file)) this.loadedBefore.set(file, loaded);
  }

  /** A `read` item: the file is added, and `then` for each matching line (the first only with `first`). */
  private readItem(rule: Rule, item: Extract<RuleItem, { read: string }>, f: ResolutionFacts, program: string): void {
    const file = this.fill(item.read, f);
    if (file === null) return;
    let text: Buffer | null;
    try {
      text = this.o.fs.readFile(file, MAX_READ_BYTES);
    } catch (err) {
      if (!(err instanceof ElfdepsError)) throw err;
      this.note(rule, err.message);
      return;
    }
    if (text === null) {
      if (item.optional !== true) this.note(rule, `${file} is not in the root`);
      return;
    }
    this.addOne(rule, file, false, true);
    const match = lineMatcher(item.match);
    let matched = false;
    for (const line of text.toString('utf8').split('\n')) {
      const vars = line.length > MAX_READ_LINE ? null : match(line);
      if (vars === null) continue;
      matched = true;
      const g = { ...f, vars: new Map([...f.vars, ...vars]) };
      for (const sub of item.then as PathItem[]) this.item(rule, sub, g, program);
      if (item.first === true) break;
    }
    if (!matched && item.optional !== true) this.note(rule, `no line of ${file} matches '${item.match}'`);
  }

  private note(rule: Rule, text: string): void {
    this.o.warnings.push(`rule ${rule.name}: ${text}`);
  }

  private addOne(rule: Rule, path: string, tree: boolean, optional: boolean, excluded?: (name: string) => boolean): void {
    const c = this.o.collector;
    try {
      if (tree) c.addTree(path, '/', excluded);
      else {
        const w = c.addOpened(path, '/');
        if (!w.ok && !optional) this.note(rule, `${path} is not in the root (${w.errno ?? 'missing'})`);
      }
    } catch (err) {
      if (!(err instanceof ElfdepsError)) throw err;
      if (!optional) this.note(rule, err.message);
    }
  }

  private item(rule: Rule, item: RuleItem, f: ResolutionFacts, program: string): void {
    const { fs, collector } = this.o;
    if ('read' in item) {
      this.readItem(rule, item, f, program);
      return;
    }
    if ('runs' in item) {
      for (const name of item.runs) this.runs(rule, name, f, item.optional === true);
      return;
    }
    if ('commands' in item) {
      if (f.script !== undefined) this.commands(rule, f.script.realPath, new Set());
      return;
    }
    if ('includes' in item) {
      const dirs = item.dirs.map((d) => this.fill(d, f)).filter((d): d is string => d !== null);
      const { found, truncated } = headerClosure(fs, item.includes, dirs);
      if (truncated) this.note(rule, `more headers than the limit under ${dirs.join(', ')}; the rest left out`);
      for (const h of found) this.addOne(rule, h, false, true);
      return;
    }
    if ('linkerScript' in item) {
      const path = this.fill(item.linkerScript, f);
      if (path === null) return;
      const w = fs.walk(path);
      if (!w.ok || w.kind !== 'file') {
        if (item.optional !== true) this.note(rule, `${path} is not in the root`);
        return;
      }
      this.addOne(rule, path, false, false);
      const text = readHead(w.hostPath, MAX_TOOLCHAIN_FILE_BYTES)?.toString('latin1') ?? '';
      const dirs = (item.dirs ?? []).map((d) => this.fill(d, f)).filter((d): d is string => d !== null);
      for (const input of linkerScriptInputs(fs, w.realPath, text, dirs) ?? []) this.addOne(rule, input, false, false);
      return;
    }
    if ('path' in item || 'tree' in item || 'glob' in item) {
      const raw = 'path' in item ? item.path : 'tree' in item && typeof item.tree === 'string' ? item.tree : (item as { glob: string }).glob;
      const pattern = this.fill(raw, f);
      if (pattern === null) return;
      const tree = 'tree' in item && item.tree !== false && !('path' in item);
      const optional = 'optional' in item && item.optional === true;
      // Names or patterns (* and ? within the name: "config-3*", "*.a"), for a glob's matches and a tree's components alike.
      const left = ('exclude' in item ? (item.exclude ?? []) : []).map((x) => componentMatcher(x));
      const excluded = (name: string): boolean => left.some((re) => re.test(name));
      const paths = (hasWildcard(pattern) || pattern.includes('{') ? expandPattern(fs, pattern) : [pattern]).filter((x) => !excluded(posix.basename(x)));
      if (paths.length === 0 && !optional) this.note(rule, `nothing in the root matches ${pattern}`);
      for (const path of paths) {
        if (tree && !fs.walk(path).ok) {
          if (!optional) this.note(rule, `${path} is not in the root`);
          continue;
        }
        this.addOne(rule, path, tree, optional, excluded);
        const stdlib = tree && 'pycache' in item && item.pycache !== undefined ? this.fill(item.pycache, f) : null;
        if (stdlib !== null) keepPycache(fs, collector, fs.walk(path).realPath, stdlib, f.bigEndian, (text) => this.note(rule, text));
      }
      return;
    }
    if ('generate' in item) {
      if (item.generate === 'tmp') collector.addDirectoryWithMode('/tmp', '1777');
      else {
        const db = userDatabase(fs, this.o.users);
        collector.addGenerated('/etc', 'passwd', db.passwd, '0644');
        collector.addGenerated('/etc', 'group', db.group, '0644');
        for (const u of db.notFound) this.note(rule, `--user ${u}: no such uid in the root's user database; not added`);
      }
      return;
    }
    if ('nss' in item) {
      for (const svc of nssServices(fs, item.nss)) {
        const dir = f.vars.get('libdir');
        if (dir === undefined) return;
        const module = `${dir}/libnss_${svc}.so.2`;
        if (fs.walk(module).ok) this.addOne(rule, module, false, true);
      }
      return;
    }
    if ('locales' in item) {
      for (const locale of this.o.locales ?? ['C.UTF-8']) {
        const found = localePaths(fs, locale);
        if (found === null) this.note(rule, `locale ${locale} is not in the root (neither its directory under /usr/lib/locale nor locale-archive)`);
        else for (const path of found) this.addOne(rule, path, true, false);
      }
      return;
    }
    if ('zones' in item) {
      if (this.o.zones && this.o.zones.length > 0) {
        for (const z of this.o.zones) {
          if (z.split('/').some((c) => c === '' || c === '.' || c === '..')) throw new ElfdepsError('USAGE', `--tz ${z}: not a time zone name`);
          this.addOne(rule, `/usr/share/zoneinfo/${z}`, false, false);
        }
      } else this.addOne(rule, '/usr/share/zoneinfo', true, true);
      return;
    }
    if ('dlopen' in item) {
      for (const { object, note } of this.notesTaken(f)) {
        let found: string | null = null;
        for (const name of note.soname) {
          // dlopen() searches as the loader does; the directories the program's
          // own libraries came from stand in for that search (docs/rules.md).
          const dirs = [...f.objectDirs, ...(f.vars.has('libdir') ? [f.vars.get('libdir') as string] : [])];
          found = dirs.map((d) => `${d}/${name}`).find((x) => fs.walk(x).ok) ?? null;
          if (found) break;
        }
        const what = `${note.soname.join(' or ')} (${note.feature ?? 'dlopen note'}, ${note.priority})`;
        if (found) collector.withWhy({ by: 'rule', rule: rule.name, trigger: `dlopen note of ${object}: ${what}` }, () => this.addOne(rule, found as string, false, false, undefined));
        else if (note.priority === 'required' && this.o.excludedName?.(note.soname[0] as string, { by: 'rule', rule: rule.name, trigger: `dlopen note of ${object}: ${what}` }) === true) continue;
        else if (note.priority === 'required') this.o.missing.push({ program, name: note.soname[0] as string, neededBy: object, reason: `dlopen note (${note.feature ?? 'required'}): not found` });
        else this.note(rule, `${object}: ${what} not found; left out`);
      }
    }
  }

  /** Where `name` (a command word or a rule's `runs` name) is in the root: itself when it has a slash, else the first PATH directory holding a file of that name. */
  private lookUp(name: string, extraDirs: string[] = []): string | null {
    if (name.includes('/')) return name.startsWith('/') && this.o.fs.walk(name).kind === 'file' ? name : null;
    for (const dir of [...this.o.searchPath, ...extraDirs]) {
      const path = posix.join(dir, name);
      if (this.o.fs.walk(path).kind === 'file') return path;
    }
    return null;
  }

  /** A program that is run enters (with its symlinks) and goes to the caller as a helper. */
  private bring(rule: Rule, path: string): void {
    const w = this.o.collector.addOpened(path, '/');
    if (!w.ok) return this.note(rule, `${path}: ${w.errno ?? 'missing'}`);
    this.helpers.push({ path, depth: this.depth + 1 });
  }

  /** One name of a `runs` item: looked up in PATH, or an in-root path or pattern. */
  private runs(rule: Rule, raw: string, f: ResolutionFacts, optional: boolean): void {
    const name = this.fill(raw, f);
    if (name === null) return;
    if (!name.startsWith('/')) {
      const found = this.lookUp(name);
      if (found !== null) this.bring(rule, found);
      else if (!optional) this.note(rule, `${name} is not in PATH (${this.o.searchPath.join(':')})`);
      return;
    }
    const paths = (hasWildcard(name) || name.includes('{') ? expandPattern(this.o.fs, name) : [name]).filter((x) => this.o.fs.walk(x).kind === 'file');
    if (paths.length === 0 && !optional) this.note(rule, `nothing in the root matches ${name}`);
    for (const path of paths) this.bring(rule, path);
  }

  /**
   * The commands a shell script runs (src/rules/shell-scan.ts), each found in
   * PATH entering as a helper; a command not found is not reported (the scan
   * sees functions of sourced files, aliases and the like as names too). A
   * file the script sources by a literal name (looked up in PATH, then in
   * the script's own directory, where git's helpers find git-sh-setup) enters
   * and is scanned in turn.
   */
  private commands(rule: Rule, script: string, scanned: Set<string>): void {
    if (scanned.has(script)) return;
    scanned.add(script);
    if (this.depth >= MAX_HELPER_DEPTH) return this.note(rule, `${script}: not scanned: more than ${MAX_HELPER_DEPTH} levels of helper programs`);
    const w = this.o.fs.walk(script);
    const text = w.ok ? readHead(w.hostPath, MAX_SCAN_BYTES) : null;
    if (text === null) return this.note(rule, `${script}: cannot read it to find the commands it runs`);
    const scan = scanShellScript(text.toString('latin1'));
    for (const name of scan.commands) {
      const found = this.lookUp(name);
      if (found !== null) this.bring(rule, found);
    }
    const beside = posix.dirname(w.realPath);
    const sourced = [...scan.sourced.map((name) => this.lookUp(name, [beside])), ...scan.sourcedBeside.map((name) => posix.join(beside, name))];
    for (const found of sourced) {
      if (found === null || this.o.fs.walk(found).kind !== 'file') continue;
      const sourced = this.o.collector.addOpened(found, '/');
      if (sourced.ok) this.commands(rule, sourced.realPath, scanned);
    }
  }
}

/** The services /etc/nsswitch.conf names for `databases` (glibc's defaults when the file is missing or silent). */
export function nssServices(fs: RootFs, databases: string[]): string[] {
  const text = fs.readFile('/etc/nsswitch.conf', MAX_NSSWITCH_BYTES)?.toString('utf8') ?? '';
  const out: string[] = [];
  for (const db of databases) {
    let services: string[] | null = null;
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*$/, '');
      const m = /^\s*([a-z_]+)\s*:(.*)$/.exec(line);
      if (!m || m[1] !== db) continue;
      // [STATUS=action] items are not services.
      services = (m[2] as string).replace(/\[[^\]]*\]/g, ' ').split(/\s+/).filter((s) => /^[a-zA-Z0-9_-]+$/.test(s));
    }
    // nss/nsswitch.c: "files" for most databases, "dns [!UNAVAIL=return] files" for hosts.
    services ??= db === 'hosts' ? ['dns', 'files'] : ['files'];
    for (const s of services) if (!out.includes(s)) out.push(s);
  }
  return out;
}

/**
 * Where setlocale() finds `locale` in the root (glibc locale/findlocale.c):
 * its own directory under /usr/lib/locale, the codeset normalised
 * (_nl_normalize_codeset: "UTF-8" → "utf8"), else locale-archive.
 * C and POSIX are built in. Null when the root has neither.
 */
export function localePaths(fs: RootFs, locale: string): string[] | null {
  if (locale === 'C' || locale === 'POSIX') return [];
  if (locale.includes('/') || locale.startsWith('.')) throw new ElfdepsError('USAGE', `--locale ${locale}: not a locale name`);
  const m = /^([^.@]+)(?:\.([^@]+))?(@.*)?$/.exec(locale);
  const candidates = [locale];
  if (m && m[2]) {
    const cs = m[2].toLowerCase().replace(/[^a-z0-9]/g, '');
    candidates.unshift(`${m[1]}.${/^[0-9]+$/.test(cs) ? `iso${cs}` : cs}${m[3] ?? ''}`);
  }
  for (const c of candidates) if (fs.isDirectory(`/usr/lib/locale/${c}`)) return [`/usr/lib/locale/${c}`];
  if (fs.walk('/usr/lib/locale/locale-archive').ok) return ['/usr/lib/locale/locale-archive'];
  return null;
}

