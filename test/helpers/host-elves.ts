/**
 * The host's own ELF files, for tests that compare with real tools: regular
 * files whose first bytes are the ELF magic, symlinks skipped and hard links
 * counted once (by st_dev:st_ino), in sorted order.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startsWithElfMagic } from '../../src/file-type.js';

export interface HostDir {
  dir: string;
  /** Descend into subdirectories (never through symlinks). */
  recursive: boolean;
}

export function hostElfFiles(dirs: ReadonlyArray<HostDir>): string[] {
  const seen = new Set<string>();
  const files: string[] = [];
  const walk = (dir: string, recursive: boolean, depth: number): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory() && recursive && depth < 8) walk(p, recursive, depth + 1);
      if (!e.isFile()) continue;
      let st;
      try {
        st = statSync(p, { bigint: true });
      } catch {
        continue;
      }
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) continue;
      seen.add(id);
      if (st.size >= 16n && startsWithElfMagic(p)) files.push(p);
    }
  };
  for (const { dir, recursive } of dirs) walk(dir, recursive, 0);
  return files;
}
