/**
 * `--exclude PATTERN`: globs naming libraries a manifest leaves out (the
 * target provides them), and the built-in set `--exclude-host-gpu` stands
 * for. docs/exclude.md documents the syntax and what is matched.
 *
 * A small matcher of our own rather than minimatch: minimatch compiles a
 * glob to a RegExp, and `*a*a*a*a*a*a*a*b` (16 characters) against a name
 * of 60 `a`s backtracks for 48 s there (minimatch 10.2, this machine), each
 * further `*a` about six times longer. The patterns here are
 * matched by the classic greedy algorithm (one backtracking point per star),
 * which takes at most pattern length × text length steps for any input, and
 * the syntax is only what library names and paths need: `*`, `?`, `[...]`,
 * `\` escapes, and `**` as a whole path component.
 */
import { ElfdepsError } from '../errors.js';

/**
 * The libraries of a host's GPU driver stack, which a container runtime
 * (nvidia-container-toolkit, a host bind mount) provides from the host: the
 * GL vendor-neutral dispatch libraries (libglvnd) and NVIDIA's own. Names,
 * matched against every name a library is loaded by (docs/exclude.md).
 */
export const HOST_GPU_EXCLUDES: readonly string[] = Object.freeze([
  'libGL.so*',
  'libEGL.so*',
  'libGLX.so*',
  'libGLdispatch.so*',
  'libOpenGL.so*',
  'libcuda.so*',
  'libnvidia-*',
]);

/** Longest pattern accepted (PATH_MAX): longer ones can match no path. */
export const MAX_PATTERN_LENGTH = 4096;
/** Most patterns in one manifest. */
export const MAX_PATTERNS = 1000;

const STAR = Symbol('*');
type Star = typeof STAR;

/** One character position of a component pattern: a literal, `?`, or a `[...]` class. */
type Unit = { literal: string } | { any: true } | { ranges: Array<[string, string]>; negated: boolean };

/** A component pattern: units and stars. */
type Segment = Array<Unit | Star>;

/**
 * Wildcard matching with one backtracking point (the last star): a star
 * matches any run of text items, every other token exactly one. Linear in
 * text length per retry, so at most pattern × text steps in all.
 */
function wildMatch<P, T>(pattern: ReadonlyArray<P | Star>, text: readonly T[], one: (p: P, t: T) => boolean): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < text.length) {
    const token = pattern[p];
    if (token === STAR) {
      starP = p++;
      starT = t;
    } else if (p < pattern.length && one(token as P, text[t] as T)) {
      p++;
      t++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else return false;
  }
  while (pattern[p] === STAR) p++;
  return p === pattern.length;
}

function unitMatches(u: Unit, c: string): boolean {
  if ('literal' in u) return u.literal === c;
  if ('any' in u) return true;
  const inside = u.ranges.some(([lo, hi]) => c >= lo && c <= hi);
  return inside !== u.negated;
}

const segmentMatches = (s: Segment, text: string): boolean => wildMatch(s, [...text], unitMatches);

/** Shortens a pattern for a message (a huge one must still give one readable line). */
function shown(pattern: string): string {
  const cut = pattern.length > 60 ? `${pattern.slice(0, 60)}...` : pattern;
  return JSON.stringify(cut);
}

function refuse(pattern: string, why: string): never {
  throw new ElfdepsError('USAGE', `--exclude ${shown(pattern)}: ${why}`);
}

/** Parses one component pattern; throws USAGE for an unclosed class or a trailing backslash. */
function parseSegment(text: string, whole: string): Segment {
  const chars = [...text];
  const out: Segment = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '*') {
      if (out[out.length - 1] !== STAR) out.push(STAR);
    } else if (c === '?') out.push({ any: true });
    else if (c === '\\') {
      const next = chars[++i];
      if (next === undefined) refuse(whole, 'ends with a lone backslash');
      out.push({ literal: next });
    } else if (c === '[') {
      let j = i + 1;
      const negated = chars[j] === '!' || chars[j] === '^';
      if (negated) j++;
      const ranges: Array<[string, string]> = [];
      // A ']' right after the opening (or the negation) is a member, as in fnmatch.
      for (let first = true; j < chars.length && (first || chars[j] !== ']'); first = false) {
        if (chars[j] === '[' && (chars[j + 1] === ':' || chars[j + 1] === '.' || chars[j + 1] === '=')) {
          refuse(whole, `has a POSIX class '[${chars[j + 1]}...${chars[j + 1]}]', which is not supported (write the set: [0-9], [a-zA-Z])`);
        }
        let lo = chars[j++] as string;
        if (lo === '\\' && j < chars.length) lo = chars[j++] as string;
        let hi = lo;
        if (chars[j] === '-' && j + 1 < chars.length && chars[j + 1] !== ']') {
          hi = chars[j + 1] as string;
          j += 2;
          if (hi === '\\' && j < chars.length) hi = chars[j++] as string;
        }
        ranges.push([lo, hi]);
      }
      if (j >= chars.length) refuse(whole, "has a '[' without its ']' (write '\\[' for the character)");
      out.push({ ranges, negated });
      i = j;
    } else out.push({ literal: c });
  }
  return out;
}

/** Whether a segment names nothing in particular (only stars and `?`): it matches every name of some length. */
const isWildcardOnly = (s: Segment): boolean => s.every((u) => u === STAR || 'any' in u);

/**
 * One --exclude pattern. Without '/', a name pattern: matched against every
 * name a library is known by (DT_NEEDED name, SONAME, file names). With '/',
 * an absolute in-root path pattern: matched against the paths the loader
 * opens it by and its real path; `**` as a whole component matches any
 * number of directories.
 */
export class ExcludePattern {
  readonly kind: 'name' | 'path';
  private readonly segment: Segment = [];
  private readonly components: Array<Segment | Star> = [];

  constructor(readonly text: string) {
    if (text === '') refuse(text, 'empty pattern');
    if (text.length > MAX_PATTERN_LENGTH) refuse(text, `longer than ${MAX_PATTERN_LENGTH} characters`);
    if (text.includes('\0')) refuse(text, 'contains a NUL character');
    this.kind = text.includes('/') ? 'path' : 'name';
    if (this.kind === 'name') {
      this.segment = parseSegment(text, text);
      if (isWildcardOnly(this.segment)) refuse(text, "matches every library; name what to leave out (e.g. 'libGL.so*')");
      return;
    }
    if (!text.startsWith('/')) refuse(text, "a pattern with '/' is an absolute in-root path (or give a file name without '/')");
    const parts = text.slice(1).split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..')) {
      refuse(text, "matches nothing: paths are matched in canonical form (no '//', '.', '..' or trailing '/'; '/DIR/**' for everything under DIR)");
    }
    for (const part of parts) this.components.push(part === '**' ? STAR : parseSegment(part, text));
    if (this.components.every((c) => c === STAR || isWildcardOnly(c))) refuse(text, "matches every library; name a directory or a file (e.g. '/opt/nvidia/**')");
  }

  /** Whether a file name (no '/') matches a name pattern. */
  matchesName(name: string): boolean {
    return this.kind === 'name' && segmentMatches(this.segment, name);
  }

  /** Whether an absolute, canonical in-root path matches a path pattern. */
  matchesPath(path: string): boolean {
    if (this.kind !== 'path' || !path.startsWith('/')) return false;
    const parts = path === '/' ? [] : path.slice(1).split('/');
    return wildMatch(this.components, parts, (seg, comp) => segmentMatches(seg, comp));
  }
}

/** Parses every pattern (USAGE for a bad one, or for more than MAX_PATTERNS); duplicates are kept once. */
export function parseExcludePatterns(patterns: readonly string[]): ExcludePattern[] {
  const unique = [...new Set(patterns)];
  if (unique.length > MAX_PATTERNS) throw new ElfdepsError('USAGE', `--exclude: ${unique.length} patterns; at most ${MAX_PATTERNS}`);
  return unique.map((p) => new ExcludePattern(p));
}
