/**
 * Scanning dpkg's file lists (info/*.list, status.d's *.md5sums) for the
 * paths whose last component is wanted: one pass over the bytes, a hash of
 * each line's last component, a string only for a line that can match, so a
 * database of 100k paths costs milliseconds and only the few paths that can
 * match are canonicalised. Checks of listed paths (apk's too).
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
 * The last components a scan looks for, as bytes: a 32-bit FNV-1a hash of
 * each (over its bytes last to first, the order a scan meets them) and the
 * lengths that occur, so that a line is turned into a string only when its
 * last component could be one of them.
 */
export class NameFilter {
  readonly hashes = new Set<number>();
  readonly lengths = new Uint8Array(MAX_LISTED_PATH + 1);
  /** The names as latin1 strings (one character per byte), for the final comparison. */
  readonly names = new Set<string>();

  constructor(utf8Names: Iterable<string>) {
    for (const n of utf8Names) {
      const bytes = Buffer.from(n, 'utf8');
      if (bytes.length > MAX_LISTED_PATH) continue;
      this.names.add(bytes.toString('latin1'));
      this.lengths[bytes.length] = 1;
      let h = FNV_OFFSET;
      for (let i = bytes.length - 1; i >= 0; i--) h = Math.imul(h ^ (bytes[i] as number), FNV_PRIME);
      this.hashes.add(h >>> 0);
    }
  }
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;
const NEWLINE = 10;
const SLASH = 47;

/**
 * Calls `found(line)` (the line as latin1: one character per byte) for each
 * line of `bytes` (one path per line) whose last component `filter` names.
 * Each line's end is found natively (memchr), then its last component is
 * hashed from the end back to the "/": no string is made for a line that
 * cannot match, and the directory part of a line is never read. Decoding 7.5
 * MiB of lists into strings and slicing one per line cost more than the rest
 * of the package lookup together; a forward pass hashing every byte, 3x this.
 */
export function scanListBytes(bytes: Buffer, filter: NameFilter, found: (line: string) => void): void {
  const { hashes, lengths, names } = filter;
  const n = bytes.length;
  let start = 0;
  while (start < n) {
    let end = bytes.indexOf(NEWLINE, start);
    if (end === -1) end = n;
    let h = FNV_OFFSET;
    let i = end - 1;
    for (; i >= start; i--) {
      const c = bytes[i] as number;
      if (c === SLASH) break;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    const len = end - i - 1;
    if (i >= start && len <= MAX_LISTED_PATH && lengths[len] === 1 && hashes.has(h >>> 0) && names.has(bytes.toString('latin1', i + 1, end))) {
      found(bytes.toString('latin1', start, end));
    }
    start = end + 1;
  }
}
