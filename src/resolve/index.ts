/**
 * resolve(): for each input, what the dynamic loader would load inside a
 * chosen root, in its order, and why. See resolver.ts for the walk itself;
 * this module sets up what the walk needs from the root (cache, ld.so.conf,
 * preload file, musl path file, loader profile) and shares it across inputs.
 */
import { ElfdepsError, errnoWords } from '../errors.js';
import { ElfCache } from './candidate.js';
import type { SearchDir } from './dst.js';
import { cacheTargetFor, lookupLdCache, parseLdCache, type LdCache } from './ldcache.js';
import { readLdSoConf } from './ldconf.js';
import { loaderProfile, type ProfileOverrides } from './profile.js';
import { elfSummary, ProgramResolver, type CacheLookup, type ProgramContext } from './resolver.js';
import { RootFs } from './rootfs.js';
import type { ProgramResolution, ResolveResult } from './types.js';
import type { ElfFile } from '../elf/reader.js';
import type { TraceSink } from './explain.js';
import type { AttributeTable } from '../image-source/types.js';

export interface ResolveOptions {
  /** Host directory used as '/'; default '/'. Inputs are paths inside it. */
  root?: string;
  /**
   * Owners, modes and mtimes of the root's files when the host directory
   * does not hold them: an image unpacked by src/image-source/ (its
   * `attributes`). Default: the host's lstat says.
   */
  rootAttributes?: AttributeTable;
  /** In-root working directory for relative names; default: the process's cwd when root is '/', else '/'. */
  cwd?: string;
  /** LD_LIBRARY_PATH to apply (not taken from the environment unless the caller passes it). */
  libraryPath?: string | null;
  /** LD_PRELOAD to apply. */
  preload?: string | null;
  /** Read <root>/etc/ld.so.preload (glibc); default true. */
  preloadFile?: boolean;
  /** Use <root>/etc/ld.so.cache; default true. Without a cache, ld.so.conf's directories stand in for it. */
  useCache?: boolean;
  /** $ORIGIN of the program: 'exec' (real directory, as the kernel starts it; default) or 'ldd' (the path as given, as glibc <= 2.41's ldd does). */
  originMode?: 'exec' | 'ldd';
  /** Loader facts that cannot be inferred (target CPU, unusual layouts). */
  profile?: ProfileOverrides;
  /**
   * Receives the loader's lookup trace, line by line, as LD_DEBUG=libs prints it
   * without its "PID:\t" prefix (docs/explain.md); each dependency then also
   * carries its `candidates`. Searches are not shared between programs then.
   */
  trace?: TraceSink;
}

/** Largest ld.so.cache we read (the host's is ~40 KiB; distributions' reach a few MiB). */
const MAX_CACHE_BYTES = 64 << 20;
const MAX_SMALL_FILE = 1 << 20;
/** Rounds of resolveLoadedInto: each adds the loaded objects the last answer lacked (a chain longer than this is not met in practice). */
const MAX_LOADED_ROUNDS = 8;

/** Splits /etc/ld.so.preload: separators are whitespace and ':', '#' starts a comment (rtld.c). */
export function parsePreloadFile(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*$/, ''))
    .join(' ')
    .split(/[\s:]+/)
    .filter((s) => s !== '');
}

/** State shared by every program of one resolve() call. */
export class Resolver {
  readonly fs: RootFs;
  readonly elfCache = new ElfCache();
  private readonly cwd: string;
  /** The parsed cache per byte order (a root may hold programs of both, only one can match the file). */
  private readonly ldCaches = new Map<boolean, LdCache | null>();
  /** Why <root>/etc/ld.so.cache exists but is not used, or null. */
  private cacheProblem: string | null = null;
  private confDirs: SearchDir[] | undefined;
  private preloadFileEntries: string[] | undefined;
  private readonly muslPaths = new Map<string, SearchDir[]>();
  /**
   * One loader setup (profile, cache target, preloads, search memo) per
   * combination of what decides it; built for the first program that needs it
   * rather than for every input.
   */
  private readonly setups = new Map<string, ProgramContext>();

  constructor(private readonly options: ResolveOptions = {}) {
    this.fs = new RootFs(options.root ?? '/', options.rootAttributes);
    this.cwd = options.cwd ?? (this.fs.isHostRoot ? process.cwd() : '/');
  }

  private cache(littleEndian: boolean): LdCache | null {
    if (!this.ldCaches.has(littleEndian)) {
      this.ldCaches.set(littleEndian, null);
      if (this.options.useCache !== false) {
        try {
          const buf = this.fs.readFile('/etc/ld.so.cache', MAX_CACHE_BYTES);
          // The cache's byte order is the target's; the new format says which it is.
          if (buf) this.ldCaches.set(littleEndian, parseLdCache(buf, '/etc/ld.so.cache', { littleEndian }));
        } catch (err) {
          // ld.so runs without a cache it cannot read or use (wrong byte order,
          // bad magic, truncated: dl-cache.c), it does not fail the program.
          if (!(err instanceof ElfdepsError)) throw err;
          this.cacheProblem = err.message;
        }
      }
    }
    return this.ldCaches.get(littleEndian) ?? null;
  }

  private ldSoConfDirs(): SearchDir[] {
    if (this.confDirs === undefined) {
      const conf = readLdSoConf(this.fs, '/etc/ld.so.conf');
      this.confDirs = conf.dirs.map((d) => (d.endsWith('/') ? d : `${d}/`));
    }
    return this.confDirs;
  }

  private preloadFile(): string[] {
    if (this.preloadFileEntries === undefined) {
      const buf = this.options.preloadFile === false ? null : this.fs.readFile('/etc/ld.so.preload', MAX_SMALL_FILE);
      this.preloadFileEntries = buf ? parsePreloadFile(buf.toString('latin1')) : [];
    }
    return this.preloadFileEntries;
  }

  /** musl: <prefix>/etc/ld-musl-ARCH.path, where prefix is the loader path minus its last two components. */
  private muslSystemPath(interpreter: string, arch: string | null): SearchDir[] {
    const key = `${interpreter}\0${arch}`;
    let dirs = this.muslPaths.get(key);
    if (!dirs) {
      const parts = interpreter.split('/');
      const prefix = interpreter.startsWith('/') ? parts.slice(0, -2).join('/') : '';
      const file = `${prefix}/etc/ld-musl-${arch ?? ''}.path`;
      const buf = this.fs.readFile(file, MAX_SMALL_FILE);
      // Missing file: compiled-in default; present (even empty): exactly its contents.
      const text = buf === null ? '/lib:/usr/local/lib:/usr/lib' : buf.toString('latin1');
      dirs = text
        .split(/[:\n]/)
        .filter((e) => e !== '')
        // path_open joins "%s/%s": a trailing '/' stays (dir//name).
        .map((e) => `${e}/`);
      this.muslPaths.set(key, dirs);
    }
    return dirs;
  }

  /** Resolves one input. Throws ElfdepsError when the input itself cannot be read as ELF. */
  resolveOne(input: string): ProgramResolution {
    return this.resolveWith(input, []);
  }

  /**
   * Resolves `input` as dlopen() loads it into a process that has already
   * loaded `loaded` (in-root paths): _dl_map_object (elf/dl-load.c) first
   * compares each DT_NEEDED name with the loaded objects' names and SONAMEs,
   * and only then searches. A JDK module (lib/libjava.so needs libjvm.so,
   * which the launcher loaded from lib/server/) is found that way, not by
   * any search. A needed name none of `loaded` has is searched as usual.
   * The loaded objects the answer uses are taken as preloads (they come
   * first in its objects); the others are left out.
   */
  resolveLoadedInto(input: string, loaded: readonly string[]): ProgramResolution {
    let r = this.resolveWith(input, []);
    if (loaded.length === 0 || r.missing.length === 0) return r;
    const byName = new Map<string, string>();
    for (const path of loaded) {
      const walk = this.fs.walk(path, this.cwd);
      if (!walk.ok || walk.kind !== 'file') continue;
      const read = this.elfCache.read(walk.hostPath);
      const soname = read instanceof ElfdepsError ? null : (read.elf?.dynamic?.soname ?? null);
      for (const name of [soname, path, path.slice(path.lastIndexOf('/') + 1)]) if (name && !byName.has(name)) byName.set(name, path);
    }
    const preloads: string[] = [];
    // Each round may find libraries whose own needs are loaded ones (libnio needs libjava, which needs libjvm).
    for (let round = 0; round < MAX_LOADED_ROUNDS; round++) {
      const more = [...new Set(r.missing.map((d) => byName.get(d.name)).filter((p): p is string => p !== undefined && !preloads.includes(p)))];
      if (more.length === 0) break;
      preloads.push(...more);
      r = this.resolveWith(input, preloads);
    }
    return r;
  }

  private resolveWith(input: string, loaded: string[]): ProgramResolution {
    const walk = this.fs.walk(input, this.cwd);
    const inRoot = this.fs.isHostRoot ? '' : ` inside ${this.fs.root}`;
    if (!walk.ok) throw new ElfdepsError('ELF_IO', `${input}${inRoot}: ${errnoWords(walk.errno)}`, { path: input });
    if (walk.kind !== 'file') throw new ElfdepsError('ELF_NOT_REGULAR', `${input}: not a regular file`, { path: input });
    const r = this.elfCache.read(walk.hostPath);
    if (r instanceof ElfdepsError) throw new ElfdepsError(r.code, r.message.replace(walk.hostPath, input), { path: input, cause: r });
    if (r.error || !r.elf) throw new ElfdepsError(r.error?.code ?? 'INTERNAL', (r.error?.message ?? 'unreadable').replace(walk.hostPath, input), { path: input });
    const main = r.elf;
    const mainWalk = { path: input, realPath: walk.realPath, links: walk.links };
    if (main.dynamic === null && main.interpreter === null) {
      // Statically linked: nothing is loaded.
      return {
        input,
        path: input,
        kind: main.kind,
        flavour: 'none',
        interpreter: null,
        objects: [
          {
            index: 0,
            path: input,
            realPath: walk.realPath,
            links: walk.links,
            soname: null,
            names: [],
            aliasPaths: [],
            foundBy: 'input',
            via: null,
            loader: null,
            elf: elfSummary(main),
            isInterpreter: false,
          },
        ],
        dependencies: [],
        vdso: null,
        linkMap: [],
        openedPaths: [input],
        missing: [],
        fatal: null,
        warnings: [],
      };
    }
    const setup = this.setupFor(main);
    // Objects already loaded come before any preload; a walk with them is not the setup's to remember.
    const ctx = loaded.length === 0 ? setup : { ...setup, preloads: [...loaded, ...setup.preloads], programMemo: new Map() };
    return new ProgramResolver(ctx, input, mainWalk, main).run();
  }

  /**
   * The loader setup for programs like `main`. Everything it is built from is
   * in the key: the interpreter, the ELF identity and e_flags (the cache
   * target reads them), and whether the cache was found unusable, which
   * decides between the cache and ld.so.conf's directories and adds a note.
   */
  private setupFor(main: ElfFile): ProgramContext {
    const h = main.header;
    const ldCache = this.cache(h.littleEndian);
    const key = [main.interpreter ?? '', h.machine, h.elfClass, h.littleEndian, h.flags, this.cacheProblem ?? ''].join('\0');
    let setup = this.setups.get(key);
    if (setup === undefined) {
      setup = this.newSetup(h, main.interpreter, ldCache);
      this.setups.set(key, setup);
    }
    return setup;
  }

  private newSetup(h: ElfFile['header'], interpreter: string | null, ldCache: LdCache | null): ProgramContext {
    const profile = loaderProfile({
      fs: this.fs,
      machine: h.machine,
      elfClass: h.elfClass,
      littleEndian: h.littleEndian,
      interpreter,
      cacheGenerator: ldCache?.generator ?? null,
      overrides: this.options.profile ?? {},
    });
    let cache: CacheLookup | null = null;
    let preloads: string[] = [];
    const ldPreload = (this.options.preload ?? '').split(/[ :]+/).filter((s) => s !== '');
    if (profile.flavour === 'glibc') {
      if (ldCache) {
        const target = cacheTargetFor(h.machine, h.elfClass, h.littleEndian, h.flags, {
          activeHwcaps: profile.hwcaps,
          // The profile counts psABI levels (1 = baseline .. 4 = x86-64-v4); the
          // cache stores the level's index (0 .. 3, sysdeps/x86/dl-cache.h).
          isaLevel: profile.isaLevel > 0 ? profile.isaLevel - 1 : undefined,
          legacyHwcapMask: profile.legacyHwcapMask,
        });
        cache = { kind: 'ld-so-cache', dirs: [], lookup: (name) => lookupLdCache(ldCache, name, target) };
      } else if (this.cacheProblem === null) {
        cache = { kind: 'ld-so-conf', dirs: this.ldSoConfDirs(), lookup: () => null };
      }
      preloads = [...ldPreload, ...this.preloadFile()];
    } else {
      preloads = ldPreload;
    }
    return {
      fs: this.fs,
      elfCache: this.elfCache,
      profile,
      cwd: this.cwd,
      libraryPath: this.options.libraryPath ?? null,
      preloads,
      cache,
      originMode: this.options.originMode ?? 'exec',
      muslSystemPath: profile.flavour === 'musl' ? this.muslSystemPath(profile.interpreter, profile.muslArch) : [],
      notes: profile.flavour === 'glibc' && this.cacheProblem !== null ? [`${this.cacheProblem}; ld.so would run without it`] : [],
      searchMemo: new Map(),
      programMemo: new Map(),
      interpreterWalk: this.fs.walk(profile.interpreter, this.cwd),
      ...(this.options.trace ? { trace: this.options.trace } : {}),
    };
  }
}

/** Resolves every input with shared caches. Throws on the first input that cannot be read. */
export function resolve(files: string[], options: ResolveOptions = {}): ResolveResult {
  const resolver = new Resolver(options);
  return { root: resolver.fs.root || '/', programs: files.map((f) => resolver.resolveOne(f)) };
}

