/**
 * Scanning dpkg's file lists (info/*.list, status.d's *.md5sums) for the
 * paths whose last component is wanted: one pass over the bytes, a filter
 * slot of each line's last component, a string only for a line that can
 * match, so a database of 100k paths costs milliseconds and only the few
 * paths that can match are canonicalised. Checks of listed paths (apk's too).
 */

/** Longest path accepted from a list (PATH_MAX less the NUL). */
const MAX_LISTED_PATH = 4095;

/**
 * Why an absolute listed path cannot be used, or null: it must start with
 * "/", and no component may be empty, ".", ".." or hold a NUL. A list naming
 * "/../../etc/shadow" is hostile (or corrupt); RootFs would keep it inside
 * the root anyway, but it names nothing a package installed.
 */
export function listedPathProblem(path: string): string | null {
  if (!path.startsWith('/')) return 'is not absolute';
  if (path.length > MAX_LISTED_PATH) return `is longer than ${MAX_LISTED_PATH} bytes`;
  if (path.includes('\0')) return 'contains a NUL byte';
  // Called for every matched line of every list: the common case (no bad component) without splitting.
  if (!path.includes('//') && !path.includes('/.') && !path.endsWith('/')) return null;
  const parts = path.split('/');
  for (let i = 1; i < parts.length; i++) {
    const c = parts[i] as string;
    if (c === '' || c === '.' || c === '..') return `has a "${c}" component`;
  }
  return null;
}

/** The last component of an absolute path. */
export function lastComponent(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * The last components a scan looks for: their latin1 strings (one character
 * per byte), and a 64 Ki-slot table keyed on a component's length and four
 * of its bytes (first, middle, last two), so that a line is turned into a
 * string only when its last component could be one of them. Computing the
 * key reads four bytes where a hash of the whole component read them all:
 * over the 7.6 MB of a Debian system's lists that is most of the scan.
 */
export class NameFilter {
  readonly slots = new Uint8Array(1 << 16);
  /** The names as latin1 strings (one character per byte), for the final comparison. */
  readonly names = new Set<string>();

  constructor(utf8Names: Iterable<string>) {
    for (const n of utf8Names) {
      const bytes = Buffer.from(n, 'utf8');
      if (bytes.length === 0 || bytes.length > MAX_LISTED_PATH) continue;
      this.names.add(bytes.toString('latin1'));
      this.slots[slotOf(bytes, 0, bytes.length)] = 1;
    }
  }
}

/** The filter's slot of the component `bytes[start, end)` (not empty): FNV-1a over its length and four of its bytes, folded to 16 bits. */
function slotOf(bytes: Uint8Array, start: number, end: number): number {
  const len = end - start;
  let h = Math.imul(FNV_OFFSET ^ len, FNV_PRIME);
  h = Math.imul(h ^ (bytes[start] as number), FNV_PRIME);
  h = Math.imul(h ^ (bytes[start + (len >> 1)] as number), FNV_PRIME);
  h = Math.imul(h ^ (bytes[end - 2 < start ? start : end - 2] as number), FNV_PRIME);
  h = Math.imul(h ^ (bytes[end - 1] as number), FNV_PRIME);
  return (h ^ (h >>> 16)) & 0xffff;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;
const NEWLINE = 10;
const SLASH = 47;

/** The end of the line starting at `start`: its newline, or the end of the bytes. */
function lineEnd(bytes: Buffer, start: number): number {
  const end = bytes.indexOf(NEWLINE, start);
  return end === -1 ? bytes.length : end;
}

/**
 * The start of the last component of the line [start, end), or -1 when the
 * line has no "/" or nothing after its last one. The line is read back from
 * its end, so the directory part of a line is never read.
 */
function nameStart(bytes: Buffer, start: number, end: number): number {
  let i = end - 1;
  while (i >= start && bytes[i] !== SLASH) i--;
  return i >= start && end - i - 1 <= MAX_LISTED_PATH && i + 1 < end ? i + 1 : -1;
}

/**
 * Calls `found(line)` (the line as latin1: one character per byte) for each
 * line of `bytes` (one path per line) whose last component `filter` names.
 * Each line's end is found natively (memchr) and only its last component is
 * read: no string is made for a line that cannot match. Decoding 7.5 MiB of
 * lists into strings and slicing one per line cost more than the rest of
 * the package lookup together.
 */
export function scanListBytes(bytes: Buffer, filter: NameFilter, found: (line: string) => void): void {
  const { slots, names } = filter;
  for (let start = 0; start < bytes.length; ) {
    const end = lineEnd(bytes, start);
    const name = nameStart(bytes, start, end);
    if (name !== -1 && slots[slotOf(bytes, name, end)] === 1 && names.has(bytes.toString('latin1', name, end))) found(bytes.toString('latin1', start, end));
    start = end + 1;
  }
}
