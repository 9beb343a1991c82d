/**
 * A package's `status.d/<package>.md5sums` lists only the files a manifest
 * keeps (docs/packages.md). Copying a second program of the same package into
 * a root an earlier copy wrote (`elfdeps copy /bin/ls R`, then `elfdeps copy
 * /bin/cat R`) must not lose the first program's lines nor stop on a conflict:
 * the file written is the union of both lists.
 */
import { readHead } from '../manifest/script.js';
import type { GeneratedEntry } from '../manifest/types.js';

/** The largest existing md5sums read for a merge (a package's whole list is far smaller). */
const MAX_MD5SUMS_BYTES = 4 << 20;

/** dpkg's md5sums line: 32 hex digits, two spaces, a path relative to / (dpkg's src/main/script.c writes it so). */
const MD5SUMS_LINE = /^[0-9a-f]{32} {2}(\S.*)$/;

/** Whether `entry` is a package's generated md5sums list, which merges with what is there. */
export function isMergeableMd5sums(entry: GeneratedEntry): boolean {
  return entry.why?.by === 'package-metadata' && entry.path.startsWith('/var/lib/dpkg/status.d/') && entry.path.endsWith('.md5sums') && entry.encoding !== 'base64';
}

/** The lines of an md5sums text keyed by path, or null when a line is not an md5sums line. */
function md5sumsLines(text: string): Map<string, string> | null {
  const lines = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = MD5SUMS_LINE.exec(line);
    if (!m) return null;
    lines.set(m[1] as string, line);
  }
  return lines;
}

/**
 * The union of the md5sums file at `hostPath` (opened without following a
 * symlink) and `entry`'s lines, sorted by path, the entry's line winning for
 * a path in both; null when the existing file is not an md5sums list (then it
 * is a conflict as any other differing file).
 */
export function mergedMd5sums(hostPath: string, entry: GeneratedEntry): string | null {
  // One byte past the bound tells a list too large to merge from one that fits.
  const head = readHead(hostPath, MAX_MD5SUMS_BYTES + 1);
  if (head === null || head.length > MAX_MD5SUMS_BYTES) return null;
  const text = head.toString('utf8');
  const existing = md5sumsLines(text);
  const generated = md5sumsLines(entry.content);
  if (existing === null || generated === null) return null;
  for (const [path, line] of generated) existing.set(path, line);
  const paths = [...existing.keys()].sort();
  return paths.map((p) => existing.get(p) as string).join('\n') + '\n';
}
