/**
 * The new root as a manifest describes it, looked at without writing it:
 * paths are walked through the manifest's own symlink entries the way the
 * kernel walks them inside the root (absolute targets from the root, `..`
 * clamped at it, at most 40 links), so the image knows which of its entries
 * a program path names, and whether a directory such as /bin exists there.
 */
import { ancestorsOf } from '../manifest/entry-path.js';
import type { FileEntry, GeneratedEntry, Manifest, ManifestEntry } from '../manifest/types.js';

/** Linux's MAXSYMLINKS. */
const MAX_LINKS = 40;

export interface ViewWalk {
  /** What the path names in the root: an entry's kind, a directory only implied by deeper entries, or nothing. */
  kind: 'file' | 'directory' | 'absent';
  /** The canonical in-root path reached (for 'file' and 'directory'). */
  path: string;
  /** The file entry reached, for 'file'. */
  file?: FileEntry | GeneratedEntry;
  /** In-root paths of the symlink entries followed on the way, in order. */
  links: string[];
}

export class RootView {
  private readonly byPath = new Map<string, ManifestEntry>();
  private readonly impliedDirs = new Set<string>();

  constructor(manifest: Pick<Manifest, 'entries'>) {
    for (const e of manifest.entries) this.byPath.set(e.path, e);
    for (const e of manifest.entries) for (const dir of ancestorsOf(e.path)) this.impliedDirs.add(dir);
  }

  entry(path: string): ManifestEntry | undefined {
    return this.byPath.get(path);
  }

  /** Walks an absolute in-root path, following symlink entries in every component. */
  walk(path: string): ViewWalk {
    const links: string[] = [];
    let pending = path.split('/').filter((c) => c !== '' && c !== '.');
    let at: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const name = pending.shift() as string;
      if (name === '..') {
        at.pop();
        continue;
      }
      const here = '/' + [...at, name].join('/');
      const e = this.byPath.get(here);
      if (e?.kind === 'symlink') {
        if (++hops > MAX_LINKS) return { kind: 'absent', path: here, links };
        links.push(here);
        const target = e.target.split('/').filter((c) => c !== '' && c !== '.');
        if (e.target.startsWith('/')) at = [];
        pending = [...target, ...pending];
        continue;
      }
      if (e === undefined && !this.impliedDirs.has(here)) return { kind: 'absent', path: here, links };
      if ((e?.kind === 'file' || e?.kind === 'generated') && pending.length > 0) return { kind: 'absent', path: here, links }; // ENOTDIR
      at.push(name);
    }
    const final = '/' + at.join('/');
    const e = this.byPath.get(final);
    if (e?.kind === 'file' || e?.kind === 'generated') return { kind: 'file', path: final, file: e, links };
    return { kind: 'directory', path: final, links };
  }

  isDirectory(path: string): boolean {
    return this.walk(path).kind === 'directory';
  }

  isFile(path: string): boolean {
    return this.walk(path).kind === 'file';
  }
}
