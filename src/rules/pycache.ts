/**
 * Python's byte-code caches, kept where Python would use them. A `.py` file
 * imported by CPython is compiled unless `__pycache__/NAME.TAG[.opt-N].pyc`
 * is valid for it (importlib/_bootstrap_external.py, SourceLoader.get_code;
 * PEP 3147 for the names, PEP 552 for the header):
 *
 *   bytes 0-3   the interpreter's MAGIC_NUMBER
 *   bytes 4-7   flags (little-endian): 0 timestamp-based; bit 0 hash-based,
 *               bit 1 check_source; any other bit is an ImportError
 *   bytes 8-15  timestamp pyc: the source's int(st_mtime) & 0xFFFFFFFF, then
 *               its st_size & 0xFFFFFFFF (_validate_timestamp_pyc);
 *               hash pyc: _imp.source_hash(_RAW_MAGIC_NUMBER, source), which
 *               Python checks only when check_source is set
 *               (--check-hash-based-pycs default)
 *
 * Only pycs valid for the sources kept are taken, and each source with a
 * timestamp pyc records its mtime (the entry's `mtime`): `copy` and `image`
 * write it, so the pyc still matches in the new root and Python neither
 * recompiles nor writes anything at its first start.
 */
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';
import { posix } from 'node:path';
import type { EntryCollector } from '../manifest/collect.js';
import { MAX_ENTRY_MTIME, type FileEntry } from '../manifest/types.js';
import type { RootFs } from '../resolve/rootfs.js';
import { sourceHash } from './siphash.js';

const HEADER_BYTES = 16;
/** importlib reads a source whole to hash it; a stdlib file is far smaller. */
const MAX_HASHED_SOURCE = 64 * 1024 * 1024;
const MAX_BOOTSTRAP_BYTES = 1 << 20;
/** Optimisation levels a pyc name may carry (PEP 488): none, -O, -OO. */
const OPT_SUFFIXES = ['', '.opt-1', '.opt-2'];

/** What the stdlib at `stdlib` (/usr/lib/python3.11) says about its interpreter's pycs, or a reason it cannot tell. */
export interface PycFormat {
  /** sys.implementation.cache_tag: "cpython-311". */
  tag: string;
  /** importlib's MAGIC_NUMBER (4 bytes). */
  magic: Buffer;
  /** Minor version: 3.11 and later hash sources with SipHash-1-3, 3.7 to 3.10 with SipHash-2-4 (Python/pyhash.c, _Py_KeyedHash). */
  minor: number;
}

/**
 * The cache tag from the stdlib directory's name and the magic number from
 * its importlib/_bootstrap_external.py ("MAGIC_NUMBER = (3495).to_bytes(2,
 * 'little') + b'\r\n'", the form of 3.5 to 3.13). A stdlib that spells it
 * otherwise (3.14 takes it from C) gets no pycs: a wrong guess would be
 * worse than a recompile.
 */
export function pycFormat(fs: RootFs, stdlib: string): PycFormat | string {
  const m = /^python3\.(\d+)$/.exec(posix.basename(stdlib));
  if (!m) return `${stdlib}: not a CPython 3 standard library directory (python3.N)`;
  const minor = Number(m[1]);
  if (minor < 7) return `${stdlib}: Python before 3.7 has no PEP 552 pycs; none kept`;
  const bootstrap = `${stdlib}/importlib/_bootstrap_external.py`;
  let text: string;
  try {
    text = fs.readFile(bootstrap, MAX_BOOTSTRAP_BYTES)?.toString('utf8') ?? '';
  } catch {
    text = '';
  }
  const n = /^MAGIC_NUMBER = \((\d{1,5})\)\.to_bytes\(2, 'little'\) \+ b'\\r\\n'$/m.exec(text);
  if (!n) return `${bootstrap}: no MAGIC_NUMBER line elfdeps can read; __pycache__ left out`;
  const value = Number(n[1]);
  if (value > 0xffff) return `${bootstrap}: MAGIC_NUMBER out of range; __pycache__ left out`;
  return { tag: `cpython-3${minor}`, magic: Buffer.from([value & 0xff, value >> 8, 0x0d, 0x0a]), minor };
}

function readHeader(hostPath: string): Buffer | null {
  let fd: number | undefined;
  try {
    fd = openSync(hostPath, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    if (!fstatSync(fd).isFile()) return null;
    const buf = Buffer.alloc(HEADER_BYTES);
    const n = readSync(fd, buf, 0, HEADER_BYTES, 0);
    return n === HEADER_BYTES ? buf : null;
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The source's st_mtime as Python's int() sees it (whole seconds), or null when elfdeps cannot keep it (negative, past 2038, unreadable). */
function sourceSeconds(hostPath: string): number | null {
  try {
    const fd = openSync(hostPath, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    try {
      const ns = fstatSync(fd, { bigint: true }).mtimeNs;
      const s = Number(ns / 1_000_000_000n); // truncates toward zero, as int() does
      return ns >= 0n && s <= MAX_ENTRY_MTIME ? s : null;
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
}

function readWhole(hostPath: string, size: number): Buffer | null {
  if (size > MAX_HASHED_SOURCE) return null;
  let fd: number | undefined;
  try {
    fd = openSync(hostPath, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
    const buf = Buffer.alloc(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) return null;
      got += n;
    }
    return buf;
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether a pyc header is valid for `source` (its manifest entry); `mtime` receives the seconds a timestamp pyc needs the source to keep. */
export function pycMatches(header: Buffer, format: PycFormat, source: FileEntry, hostSource: string, bigEndian: boolean): { ok: false } | { ok: true; mtime?: number } {
  if (!header.subarray(0, 4).equals(format.magic)) return { ok: false };
  const flags = header.readUInt32LE(4);
  if ((flags & ~0b11) !== 0) return { ok: false }; // "invalid flags" ImportError
  if ((flags & 0b1) === 0) {
    const seconds = sourceSeconds(hostSource);
    if (seconds === null) return { ok: false };
    if (header.readUInt32LE(8) !== seconds % 2 ** 32 || header.readUInt32LE(12) !== source.size % 2 ** 32) return { ok: false };
    return { ok: true, mtime: seconds };
  }
  if ((flags & 0b10) === 0) return { ok: true }; // unchecked: used as it is
  const bytes = readWhole(hostSource, source.size);
  if (bytes === null) return { ok: false };
  const key = BigInt(format.magic.readUInt32LE(0));
  return { ok: header.subarray(8, 16).equals(sourceHash(key, bytes, format.minor >= 11 ? 1 : 2, bigEndian)) };
}

/**
 * Adds, for every `.py` file of the collector under `tree`, the pycs of its
 * `__pycache__` valid for it (with the collector's current reason), and
 * records the mtime timestamp pycs check on the source's entry. Returns the
 * number of pycs kept; `note` receives why none could be.
 */
export function keepPycache(fs: RootFs, collector: EntryCollector, tree: string, stdlib: string, bigEndian: boolean, note: (text: string) => void): number {
  const format = pycFormat(fs, stdlib);
  if (typeof format === 'string') {
    note(format);
    return 0;
  }
  const prefix = tree === '/' ? '/' : `${tree}/`;
  const sources = [...collector.entries.values()].filter((e) => e.path.startsWith(prefix) && e.path.endsWith('.py') && (e.kind === 'file' || e.kind === 'symlink'));
  let kept = 0;
  for (const s of sources) {
    // Python stats the path it imports by (a symlink's target) and looks for the pyc beside that path.
    const walk = fs.walk(s.path);
    const entry = walk.ok ? collector.entries.get(walk.realPath) : undefined;
    if (entry?.kind !== 'file') continue;
    const dir = posix.dirname(s.path);
    const stem = posix.basename(s.path).slice(0, -'.py'.length);
    for (const opt of OPT_SUFFIXES) {
      const pyc = `${dir}/__pycache__/${stem}.${format.tag}${opt}.pyc`;
      const w = fs.walk(pyc);
      if (!w.ok || w.kind !== 'file') continue;
      const header = readHeader(w.hostPath);
      if (header === null) continue;
      const verdict = pycMatches(header, format, entry, walk.hostPath, bigEndian);
      if (!verdict.ok) continue;
      if (verdict.mtime !== undefined) {
        // Two pycs of one source record the same mtime (both matched its stat).
        entry.mtime = verdict.mtime;
      }
      collector.addOpened(pyc, '/');
      kept++;
    }
  }
  return kept;
}
