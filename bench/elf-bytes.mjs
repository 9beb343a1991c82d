/**
 * How much of each file the ELF reader reads: the promise is "headers,
 * program headers, dynamic segment, string table: kilobytes, not the whole
 * file". Walks the host's /usr/bin, /usr/sbin and /usr/lib/x86_64-linux-gnu
 * (regular ELF files only, each inode once) and reads every file with the
 * compiled reader (build first: npx tsc -p tsconfig.build.json).
 *
 *   node bench/elf-bytes.mjs        prints the measurement as JSON
 *   import { measureElfBytes }      for bench/run.mjs
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const DEFAULT_DIRS = [
  { dir: '/usr/bin', recursive: false },
  { dir: '/usr/sbin', recursive: false },
  { dir: '/usr/lib/x86_64-linux-gnu', recursive: true },
];

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

function hasElfMagic(path) {
  let fd;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.equals(ELF_MAGIC);
  } finally {
    closeSync(fd);
  }
}

/** Regular ELF files under `dirs`; symlinks are skipped and hard links counted once (by dev:ino). */
export function listElfFiles(dirs = DEFAULT_DIRS) {
  const seen = new Set();
  const files = [];
  const walk = (dir, recursive) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory() && recursive) walk(p, recursive);
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
      if (st.size >= 16n && hasElfMagic(p)) files.push({ path: p, size: Number(st.size) });
    }
  };
  for (const { dir, recursive } of dirs) walk(dir, recursive);
  return files;
}

/**
 * Reads every regular ELF file of the host directories with readElf.
 * `elapsedMs` covers the reads only (not the directory walk). Files the
 * reader refuses are counted in `failed` and excluded from the averages.
 */
export async function measureElfBytes({ dirs = DEFAULT_DIRS } = {}) {
  const { readElf, ElfdepsError } = await import('../dist/src/index.js');
  const candidates = listElfFiles(dirs);
  let files = 0;
  let failed = 0;
  let totalBytesRead = 0;
  let maxBytesRead = 0;
  let maxBytesReadPath = null;
  let totalFileSize = 0;
  const start = performance.now();
  for (const { path, size } of candidates) {
    let elf;
    try {
      elf = readElf(path);
    } catch (err) {
      if (!(err instanceof ElfdepsError)) throw err;
      failed++;
      continue;
    }
    files++;
    totalBytesRead += elf.bytesRead;
    totalFileSize += size;
    if (elf.bytesRead > maxBytesRead) {
      maxBytesRead = elf.bytesRead;
      maxBytesReadPath = path;
    }
  }
  const elapsedMs = performance.now() - start;
  return {
    files,
    totalBytesRead,
    averageBytesRead: files ? totalBytesRead / files : 0,
    maxBytesRead,
    averageFileSize: files ? totalFileSize / files : 0,
    elapsedMs,
    failed,
    maxBytesReadPath,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const m = await measureElfBytes();
  console.log(JSON.stringify(m, null, 2));
}
