/**
 * Dynamic string tokens ($ORIGIN, $LIB, $PLATFORM and their braced forms) and
 * search-path list parsing, as glibc's dl-load.c does them (is_dst,
 * _dl_dst_substitute, fillin_rpath, decompose_rpath).
 */

export interface DstValues {
  /** Directory of the object whose string is expanded; null when unknown (then the element is dropped). */
  origin: string | null;
  lib: string | null;
  platform: string | null;
}

const TOKENS = ['ORIGIN', 'LIB', 'PLATFORM'] as const;
type Token = (typeof TOKENS)[number];

function isNameChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_]/.test(c);
}

/** Length of a recognised token at s[i] (which is '$'), and its name; null if none. */
function tokenAt(s: string, i: number): { token: Token; length: number } | null {
  for (const token of TOKENS) {
    if (s.startsWith(`{${token}}`, i + 1)) return { token, length: token.length + 3 };
    // Unbraced tokens must not run on into a longer name: $ORIGINx stays literal.
    if (s.startsWith(token, i + 1) && !isNameChar(s[i + 1 + token.length])) return { token, length: token.length + 1 };
  }
  return null;
}

/** Whether `s` contains a recognised token. */
export function hasDst(s: string): boolean {
  for (let i = s.indexOf('$'); i >= 0; i = s.indexOf('$', i + 1)) if (tokenAt(s, i)) return true;
  return false;
}

/**
 * Expands every recognised token; unknown `$NAME`s stay literal. Returns null
 * when a token has no value, which drops the element (or skips the DT_NEEDED).
 */
export function expandDst(s: string, values: DstValues): string | null {
  if (!s.includes('$')) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const ch = s[i] as string;
    const tok = ch === '$' ? tokenAt(s, i) : null;
    if (!tok) {
      out += ch;
      i++;
      continue;
    }
    const value = tok.token === 'ORIGIN' ? values.origin : tok.token === 'LIB' ? values.lib : values.platform;
    if (value === null) return null;
    out += value;
    i += tok.length;
  }
  return out;
}

/**
 * One element of a search list: a directory with a trailing '/', or '' for an
 * empty element, which means the current directory (the name is opened as is).
 */
export type SearchDir = string;

/**
 * Splits and expands a DT_RPATH / DT_RUNPATH / LD_LIBRARY_PATH string into
 * the directories the loader searches: empty elements mean CWD, elements whose
 * tokens cannot be expanded are dropped, trailing slashes are normalised to
 * one, duplicates are dropped (first kept). A wholly empty string gives [].
 */
export function parseSearchList(list: string, separators: RegExp, values: DstValues): SearchDir[] {
  if (list === '') return [];
  const dirs: SearchDir[] = [];
  for (const element of list.split(separators)) {
    let dir: string;
    if (element === '') dir = '';
    else {
      const expanded = expandDst(element, values);
      if (expanded === null || expanded === '') continue;
      dir = expanded.replace(/\/+$/, '');
      dir = dir === '' ? '/' : `${dir}/`;
    }
    if (!dirs.includes(dir)) dirs.push(dir);
  }
  return dirs;
}

/** DT_RPATH and DT_RUNPATH are split on ':' only. */
export const RPATH_SEPARATORS = /:/;
/** LD_LIBRARY_PATH also accepts ';'. */
export const LIBRARY_PATH_SEPARATORS = /[:;]/;

/** Directory part of a path string, as glibc computes an object's origin (no normalisation). */
export function originOf(path: string, cwd: string): string {
  const abs = path.startsWith('/') ? path : `${cwd.replace(/\/+$/, '')}/${path}`;
  const slash = abs.lastIndexOf('/');
  return slash <= 0 ? '/' : abs.slice(0, slash);
}

/**
 * musl's origin of an object: the directory part of the path string it was
 * opened by, as is (fixup_rpath): relative stays relative, "." when there is
 * no '/', "" for a file in '/'.
 */
export function muslOriginOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '.' : path.slice(0, slash);
}
