/**
 * Reads /etc/ld.so.conf the way ldconfig does (glibc elf/ldconfig.c
 * parse_conf, parse_conf_include, add_dir_1, add_single_dir), inside a root:
 * the directory list ldconfig would scan, before the system directories it
 * appends. The resolver searches these when a root has no ld.so.cache.
 *
 * Syntax: `#` starts a comment anywhere (no quoting); leading whitespace is
 * dropped; `include PATTERN...` reads every file the glob matches (sorted),
 * a relative pattern being relative to the including file's directory;
 * `hwcap ...` is ignored with a warning (glibc >= 2.32); anything else is a
 * directory, with an optional `=TYPE` suffix, trailing whitespace and then
 * trailing slashes removed. Missing directories and directories already
 * listed (same file identity) are dropped.
 *
 * Every path is resolved through RootFs, so symlinks (absolute ones too)
 * stay inside the root, exactly as ldconfig sees them after `chroot(ROOT)`.
 * Unlike ldconfig, an include cycle is cut (ldconfig recurses until it runs
 * out of file descriptors, with the same resulting list) and nesting and
 * the number of files are bounded.
 */
import { posix } from 'node:path';
import { createRequire } from 'node:module';
import { describeError, errnoWords } from '../errors.js';
import type { RootFs } from './rootfs.js';

type GlobOptions = { cwd: string; dot: boolean; nobrace: boolean; noext: boolean; noglobstar: boolean; posix: boolean };
type GlobSync = (pattern: string, options: GlobOptions) => string[];
let globSyncFn: GlobSync | undefined;
/**
 * glob is loaded on first use only: most roots have an ld.so.cache, so the
 * plain resolve command never needs it, and loading it costs ~25 ms of startup.
 * Its CommonJS build can be required synchronously, which keeps this API sync.
 */
function globSync(pattern: string, options: GlobOptions): string[] {
  globSyncFn ??= (createRequire(import.meta.url)('glob') as { globSync: GlobSync }).globSync;
  return globSyncFn(pattern, options);
}

export interface LdSoConf {
  /** Directories in the order ldconfig scans them, as written (relative ones made absolute), without missing ones and duplicates. */
  dirs: string[];
  /** Configuration files read, in order (in-root paths as reached, not canonicalised). */
  files: string[];
  /** Problems worth telling the user, one line each, `file:line: what`. */
  warnings: string[];
}

/** A configuration file larger than this is refused (real ones are a few hundred bytes). */
export const LD_SO_CONF_MAX_BYTES = 1 << 20;
/** Include nesting depth; ldconfig has no limit but real configurations use 1 or 2 levels. */
export const LD_SO_CONF_MAX_DEPTH = 32;
/** Configuration files read in total. */
export const LD_SO_CONF_MAX_FILES = 4096;
/** Paths one include pattern may expand to. */
const MAX_GLOB_MATCHES = 4096;

/** `dir=TYPE` names ldconfig knows (lib_types in ldconfig.c). */
const LIB_TYPES = new Set(['libc4', 'libc5', 'libc6', 'glibc2']);

interface State {
  fs: RootFs;
  out: LdSoConf;
  /** File identities (dev:ino) of directories already listed. */
  seenDirs: Set<string>;
  /** realPaths of the files being parsed, outermost first: the include chain. */
  stack: string[];
}

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
const isBlank = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** Parses `path` (in-root) and everything it includes. A missing file gives an empty result. */
export function readLdSoConf(fs: RootFs, path = '/etc/ld.so.conf'): LdSoConf {
  const state: State = { fs, out: { dirs: [], files: [], warnings: [] }, seenDirs: new Set(), stack: [] };
  parseConf(state, path, 0, null);
  return state.out;
}

/** `from` is the `file:line` of the include that named this file, null for the top-level file. */
function parseConf(st: State, file: string, depth: number, from: string | null): void {
  const warn = (what: string): void => {
    st.out.warnings.push(`${from ?? file}: ${what}`);
  };
  if (depth > LD_SO_CONF_MAX_DEPTH) return warn(`includes nested deeper than ${LD_SO_CONF_MAX_DEPTH} levels; ${file} ignored`);
  if (st.out.files.length >= LD_SO_CONF_MAX_FILES) return warn(`more than ${LD_SO_CONF_MAX_FILES} configuration files; ${file} ignored`);
  const walk = st.fs.walk(file);
  if (!walk.ok) {
    // A root without /etc/ld.so.conf is normal; an include that matched but cannot be opened is not.
    if (from !== null || (walk.errno !== 'ENOENT' && walk.errno !== 'ENOTDIR')) warn(`cannot open configuration file ${file}: ${errnoWords(walk.errno)}`);
    return;
  }
  if (st.stack.includes(walk.realPath)) return warn(`include cycle: ${file} is already being read; ignored`);
  let data: Buffer | null;
  try {
    data = st.fs.readFile(file, LD_SO_CONF_MAX_BYTES);
  } catch (err) {
    return warn(`configuration file ignored: ${describeError(err)}`);
  }
  if (data === null) return;
  st.out.files.push(file);
  st.stack.push(walk.realPath);
  // Bytes in, one char per byte out: paths are byte strings to ldconfig.
  const lines = data.toString('latin1').split('\n');
  lines.forEach((raw, i) => parseLine(st, raw, file, i + 1, depth));
  st.stack.pop();
}

function parseLine(st: State, raw: string, file: string, lineno: number, depth: number): void {
  let line = raw;
  const nul = line.indexOf('\0');
  if (nul >= 0) line = line.slice(0, nul); // a C string ends there
  const hash = line.indexOf('#');
  if (hash >= 0) line = line.slice(0, hash);
  let start = 0;
  while (start < line.length && isSpace(line[start])) start++;
  line = line.slice(start);
  if (line === '') return;
  const where = `${file}:${lineno}`;
  if (line.startsWith('include') && isBlank(line[7])) {
    for (const pattern of line.slice(8).split(/[ \t]/)) {
      if (pattern !== '') include(st, pattern, file, where, depth);
    }
  } else if (line.slice(0, 5).toLowerCase() === 'hwcap' && isBlank(line[5])) {
    st.out.warnings.push(`${where}: hwcap directive ignored`);
  } else {
    addDir(st, line, where);
  }
}

function include(st: State, pattern: string, file: string, where: string, depth: number): void {
  let full = pattern;
  if (!pattern.startsWith('/') && file.includes('/')) full = `${posix.dirname(file)}/${pattern}`;
  const { matches, truncated } = expandGlob(st.fs, full);
  if (truncated) st.out.warnings.push(`${where}: include ${pattern} matches more than ${MAX_GLOB_MATCHES} paths; the rest are ignored`);
  for (const match of matches) parseConf(st, match, depth + 1, where);
}

/** add_dir_1 + add_single_dir. */
function addDir(st: State, line: string, where: string): void {
  let path = line;
  const eq = line.indexOf('=');
  if (eq >= 0) {
    path = line.slice(0, eq);
    const type = line.slice(eq + 1);
    if (!LIB_TYPES.has(type)) st.out.warnings.push(`${where}: ${type} is not a known library type`);
  }
  let end = path.length;
  while (end > 0 && isSpace(path[end - 1])) end--;
  while (end > 0 && path[end - 1] === '/') end--;
  path = path.slice(0, end);
  if (path === '') return; // e.g. a line that is just "/"
  if (!path.startsWith('/')) {
    // ldconfig stats it relative to its working directory, which is / after chroot.
    st.out.warnings.push(`${where}: relative directory ${path} taken as /${path}`);
    path = `/${path}`;
  }
  const walk = st.fs.walk(path);
  if (!walk.ok) {
    // ldconfig drops missing directories silently (it says so only with -v).
    if (walk.errno !== 'ENOENT' && walk.errno !== 'ENOTDIR') st.out.warnings.push(`${where}: cannot use directory ${path}: ${errnoWords(walk.errno)}`);
    return;
  }
  if (walk.kind !== 'dir') {
    st.out.warnings.push(`${where}: ${path} is not a directory`);
    return;
  }
  const id = st.fs.identity(walk.realPath);
  const key = id ? `${id.dev}:${id.ino}` : walk.realPath;
  if (st.seenDirs.has(key)) return;
  st.seenDirs.add(key);
  st.out.dirs.push(path);
}

/**
 * glibc's `__glob_pattern_p` for one component: `*`, `?`, or a `[` that has
 * a `]` after it; a backslash quotes the next character.
 */
function hasMagic(component: string): boolean {
  for (let i = 0; i < component.length; i++) {
    const c = component[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?') return true;
    else if (c === '[' && component.indexOf(']', i + 1) >= 0) return true;
  }
  return false;
}

const unescapeGlob = (component: string): string => component.replace(/\\(.)/g, '$1');
const join = (dir: string, name: string): string => (dir === '/' ? `/${name}` : `${dir}/${name}`);

/**
 * glob(pattern, 0) inside the root. Literal components are appended as they
 * are; each magic component is matched against the entries of every
 * directory reached so far, that directory being resolved through RootFs
 * (so a symlinked directory, even with an absolute target, stays inside the
 * root). Like glob(), `*` does not match a leading dot and braces are not
 * special; results are sorted bytewise (glob() sorts with strcoll; ldconfig
 * runs in the C or C.UTF-8 locale in practice).
 */
export function expandGlob(fs: RootFs, pattern: string): { matches: string[]; truncated: boolean } {
  let candidates = ['/'];
  let truncated = false;
  for (const component of pattern.split('/')) {
    if (component === '') continue;
    if (!hasMagic(component)) {
      const name = unescapeGlob(component);
      candidates = candidates.map((dir) => join(dir, name));
      continue;
    }
    const next: string[] = [];
    for (const dir of candidates) {
      const walk = fs.walk(dir);
      if (!walk.ok || walk.kind !== 'dir') continue;
      let names: string[];
      try {
        names = globSync(component, { cwd: walk.hostPath, dot: false, nobrace: true, noext: true, noglobstar: true, posix: true });
      } catch {
        continue; // unreadable directory: glob() without GLOB_ERR skips it too
      }
      for (const name of names) next.push(join(dir, name));
    }
    candidates = next;
    if (candidates.length > MAX_GLOB_MATCHES) {
      candidates = candidates.slice(0, MAX_GLOB_MATCHES);
      truncated = true;
    }
  }
  // Literal components after the last magic one (or a pattern without magic) must exist.
  const matches = candidates.filter((p) => fs.walk(p).ok);
  matches.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return { matches, truncated };
}
