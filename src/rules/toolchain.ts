/**
 * What a C compiler driver reads besides programs, found from the files
 * themselves: the headers a set of headers includes (the preprocessor's
 * search, C99 6.10.2 and GCC's "Search Path"), and the files a GNU ld
 * linker script names (libc.so is one: GROUP ( libc.so.6 libc_nonshared.a
 * AS_NEEDED ( ld-linux ) )).
 *
 * Both read bounded prefixes of the files and keep bounded results: a
 * hostile header or script costs at most MAX_FILE_BYTES per file and
 * MAX_HEADERS files.
 */
import { posix } from 'node:path';
import { readHead } from '../manifest/script.js';
import type { RootFs } from '../resolve/rootfs.js';

/** The most of one header or linker script that is read. */
const MAX_FILE_BYTES = 1 << 20;
/** Headers one closure may hold. */
const MAX_HEADERS = 20_000;

const INCLUDE = /^[ \t]*#[ \t]*(include|include_next|import)[ \t]*([<"])([^>"\n]+)[>"]/gm;

/** The first `dirs[i]/name` (i >= from) that is a file in the root, with the index of its directory. */
function findIn(fs: RootFs, dirs: string[], name: string, from = 0): { path: string; dir: number } | null {
  for (let i = from; i < dirs.length; i++) {
    const path = posix.join(dirs[i] as string, name);
    if (fs.walk(path).kind === 'file') return { path, dir: i };
  }
  return null;
}

/**
 * The headers `seeds` name and every header they include, transitively, as
 * found through `dirs` (the compiler's <...> search list, in order). Every
 * #include line counts, whatever #if it sits under (the closure is a
 * superset: another architecture's branch brings its headers too). A
 * computed include (#include MACRO) is not followed. `#include "x"` looks
 * in the including header's directory first; #include_next looks in the
 * directories after the one its header came from.
 */
export function headerClosure(fs: RootFs, seeds: string[], dirs: string[]): { found: string[]; truncated: boolean } {
  const found: string[] = [];
  const seen = new Set<string>();
  const queue: Array<{ path: string; dir: number }> = [];
  const take = (hit: { path: string; dir: number } | null): void => {
    if (hit === null || seen.has(hit.path)) return;
    seen.add(hit.path);
    found.push(hit.path);
    queue.push(hit);
  };
  for (const name of seeds) take(findIn(fs, dirs, name));
  let truncated = false;
  for (let next = 0; next < queue.length; next++) {
    if (found.length >= MAX_HEADERS) {
      truncated = true;
      break;
    }
    const { path, dir } = queue[next] as { path: string; dir: number };
    const w = fs.walk(path);
    const text = w.ok ? readHead(w.hostPath, MAX_FILE_BYTES)?.toString('latin1') : undefined;
    if (text === undefined) continue;
    for (const m of text.matchAll(INCLUDE)) {
      const [, how, quote, name] = m as unknown as [string, string, string, string];
      if (name.startsWith('/') || name.split('/').includes('..')) continue;
      if (how === 'include_next') take(findIn(fs, dirs, name, dir + 1) ?? findIn(fs, dirs, name));
      else if (quote === '"') {
        const local = posix.join(posix.dirname(path), name);
        take(fs.walk(local).kind === 'file' ? { path: local, dir } : findIn(fs, dirs, name));
      } else take(findIn(fs, dirs, name));
    }
  }
  return { found, truncated };
}

/** `text` with its C comments blanked, in one pass (an unclosed comment runs to the end). */
function withoutComments(text: string): string {
  let out = '';
  for (let at = 0; at < text.length; ) {
    const open = text.indexOf('/*', at);
    if (open < 0) return out + text.slice(at);
    out += text.slice(at, open) + ' ';
    const close = text.indexOf('*/', open + 2);
    at = close < 0 ? text.length : close + 2;
  }
  return out;
}

/**
 * The files a GNU ld script names in INPUT(...) and GROUP(...), AS_NEEDED
 * lists included (ld's "File Commands"): absolute names as they are (in
 * the root: a sysroot's scripts name in-root paths), others looked for in
 * `dirs` then the script's own directory. `-lNAME` items are left to ld's
 * search. Null when `text` is not a linker script (an ELF file or an
 * archive, which ld reads itself).
 */
export function linkerScriptInputs(fs: RootFs, scriptPath: string, text: string, dirs: string[]): string[] | null {
  if (text.startsWith('\x7fELF') || text.startsWith('!<arch>')) return null;
  const body = withoutComments(text);
  const out: string[] = [];
  const command = /\b(?:INPUT|GROUP)[ \t\r\n]*\(/g;
  for (let m = command.exec(body); m !== null; m = command.exec(body)) {
    // To the matching parenthesis (AS_NEEDED ( ... ) nests once); one pass, then on from there.
    let end = command.lastIndex;
    for (let depth = 1; end < body.length && depth > 0; end++) depth += body[end] === '(' ? 1 : body[end] === ')' ? -1 : 0;
    command.lastIndex = end;
    for (const word of body.slice(m.index + m[0].length, end).split(/[\s(),]+/)) {
      if (word === '' || word === 'AS_NEEDED' || word.startsWith('-l')) continue;
      const path = word.startsWith('/') ? word : findIn(fs, [...dirs, posix.dirname(scriptPath)], word)?.path;
      if (path !== undefined && !out.includes(path)) out.push(path);
    }
  }
  return out;
}

export { MAX_FILE_BYTES as MAX_TOOLCHAIN_FILE_BYTES };
