/**
 * The host's own ELF files, for tests that compare with real tools: regular
 * files (symlinks skipped, so each file is seen once) whose first bytes are
 * the ELF magic, under the given directories.
 */
import { closeSync, lstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';

function isElf(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Regular ELF files below `dirs`, sorted; `recursive` descends into subdirectories (not through symlinks). */
export function hostElfFiles(dirs: string[], recursive: boolean): string[] {
  const out: string[] = [];
  const visit = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const p = join(dir, name);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (recursive && depth < 8) visit(p, depth + 1);
      } else if (st.isFile() && st.size >= 64 && isElf(p)) out.push(p);
    }
  };
  for (const d of dirs) visit(d, 0);
  return out;
}
