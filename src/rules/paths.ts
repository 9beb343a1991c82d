/**
 * Path patterns of rules, expanded inside a root: {a,b} alternatives, then
 * * and ? within one component (never across '/'), matched against the
 * root's directory listings. Deterministic: matches come out sorted.
 */
import { readdirSync } from 'node:fs';
import type { RootFs } from '../resolve/rootfs.js';

const MAX_ALTERNATIVES = 1000;

/** "{a,b}c" → ["ac", "bc"] (nested braces too), bounded. */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf('{');
  if (open < 0) return [pattern];
  let depth = 0;
  let close = -1;
  const commas: number[] = [];
  for (let i = open; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) {
      close = i;
      break;
    } else if (c === ',' && depth === 1) commas.push(i);
  }
  if (close < 0) return [pattern];
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = [open, ...commas, close];
  const out: string[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    for (const alt of expandBraces(head + pattern.slice((bounds[k] as number) + 1, bounds[k + 1]) + tail)) {
      out.push(alt);
      if (out.length > MAX_ALTERNATIVES) return out;
    }
  }
  return out;
}

/** A pattern of one path component as a RegExp (* and ? only). */
export function componentMatcher(pattern: string): RegExp {
  const body = pattern.replace(/[.+^$()|[\]\\{}]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

export const hasWildcard = (s: string): boolean => /[*?]/.test(s);

/** In-root paths in `fs` that `pattern` (absolute) matches, sorted. Unreadable directories match nothing. */
export function expandPattern(fs: RootFs, pattern: string): string[] {
  const found = new Set<string>();
  for (const alt of expandBraces(pattern)) {
    const parts = alt.split('/').filter((p) => p !== '');
    let current = ['/'];
    for (const part of parts) {
      const next: string[] = [];
      for (const dir of current) {
        const base = dir === '/' ? '' : dir;
        if (!hasWildcard(part)) {
          next.push(`${base}/${part}`);
          continue;
        }
        const w = fs.walk(dir);
        if (!w.ok || w.kind !== 'dir') continue;
        let names: string[];
        try {
          names = readdirSync(w.hostPath).sort();
        } catch {
          continue;
        }
        const re = componentMatcher(part);
        for (const n of names) if (re.test(n)) next.push(`${base}/${n}`);
      }
      current = next;
    }
    for (const p of current) if (fs.walk(p).ok) found.add(p);
  }
  return [...found].sort();
}

/** A name pattern with {name} captures: the RegExp, and the placeholder each group fills. */
export interface CaptureMatcher {
  re: RegExp;
  names: string[];
}

/**
 * A pattern of one name ("libMagickCore-{major}.{quantum}.so.*") as a
 * RegExp: * and ? as in componentMatcher, each {name} a non-empty part
 * without '/', as short as the rest allows (matched left to right).
 */
export function captureMatcher(pattern: string): CaptureMatcher {
  const names: string[] = [];
  let body = '';
  for (const piece of pattern.split(/(\{[a-z-]+\})/)) {
    const m = /^\{([a-z-]+)\}$/.exec(piece);
    if (m) {
      names.push(m[1] as string);
      body += '([^/]+?)';
    } else body += componentMatcher(piece).source.slice(1, -1);
  }
  return { re: new RegExp(`^${body}$`), names };
}

/** The placeholders `m` captures from `text`, or null when it does not match (a capture '.' or '..' never does: it would step out of a directory). */
export function captures(m: CaptureMatcher, text: string): Map<string, string> | null {
  const hit = m.re.exec(text);
  if (!hit) return null;
  const out = new Map<string, string>();
  for (let i = 0; i < m.names.length; i++) {
    const v = hit[i + 1] as string;
    if (v === '.' || v === '..') return null;
    out.set(m.names[i] as string, v);
  }
  return out;
}

/**
 * A line pattern of a `read` item: words separated by blanks, each a
 * captureMatcher, compared with a line's first words ("-{vm} KNOWN"
 * matches jvm.cfg's "-server KNOWN"). Returns the line's captures, or null.
 */
export function lineMatcher(pattern: string): (line: string) => Map<string, string> | null {
  const words = pattern.trim().split(/\s+/).map(captureMatcher);
  return (line) => {
    const have = line.trim().split(/\s+/);
    if (have.length < words.length) return null;
    const out = new Map<string, string>();
    for (let i = 0; i < words.length; i++) {
      const got = captures(words[i] as CaptureMatcher, have[i] as string);
      if (got === null) return null;
      for (const [k, v] of got) out.set(k, v);
    }
    return out;
  };
}
