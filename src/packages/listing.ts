/**
 * Scanning package file lists (dpkg's info/*.list and *.md5sums, apk's F:/R:
 * lines) for the paths whose last component is wanted: one pass over text
 * already in memory, a Set lookup per line, so a database of 100k paths costs
 * milliseconds and only the few paths that can match are canonicalised.
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
 * Calls `found(line)` for each line of `text` (one path per line, as `toPath`
 * turns a line into an absolute path) whose last component is in `names`.
 */
export function scanLines(text: string, names: ReadonlySet<string>, toPath: (line: string) => string | null, found: (path: string, line: string) => void): void {
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf('\n', at);
    if (end === -1) end = text.length;
    const slash = text.lastIndexOf('/', end - 1);
    // The cheap test first: the text after the last "/" on this line.
    if (slash >= at && names.has(text.slice(slash + 1, end))) {
      const line = text.slice(at, end);
      const path = toPath(line);
      if (path !== null) found(path, line);
    }
    at = end + 1;
  }
}
