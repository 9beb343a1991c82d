/**
 * Reading a manifest's sources as the copier trusts them: not at all. Before
 * anything is written, each source is checked with lstat (a regular file,
 * reached without any symlink, of the size the manifest says) and its device
 * and inode recorded. Just before it is read it is checked again (a symlink,
 * FIFO or other file swapped in after the check is refused without being
 * opened), opened with O_NOFOLLOW|O_NONBLOCK and checked with fstat; its
 * bytes are hashed as they are read and compared with the manifest's sha256.
 * `elfdeps copy` and `elfdeps image` both read sources through here.
 */
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readSync, realpathSync, type BigIntStats } from 'node:fs';
import { createHash } from 'node:crypto';
import { ElfdepsError, errnoOf, errnoWords } from '../errors.js';
import { describeFileType } from '../file-type.js';
import type { FileEntry } from '../manifest/types.js';

/** Which file a source path named when it was checked (st_dev, st_ino). */
export interface SourceIdentity {
  dev: bigint;
  ino: bigint;
}

function changed(entry: FileEntry, what: string, err?: unknown): ElfdepsError {
  // Human words first, the errno code after (errnoWords), as every message says it.
  const errno = err === undefined ? undefined : errnoOf(err);
  return new ElfdepsError('SOURCE_CHANGED', `${entry.source}: ${what}${errno ? `: ${errnoWords(errno)}` : ''}`, { path: entry.source, cause: err });
}

/** The source must still be the regular file the manifest describes, reached without symlinks; returns which file it is. */
export function checkSource(entry: FileEntry): SourceIdentity {
  let st: BigIntStats;
  try {
    st = lstatSync(entry.source, { bigint: true });
  } catch (err) {
    throw changed(entry, `source of ${entry.path} is gone`, err);
  }
  if (!st.isFile()) throw changed(entry, `source of ${entry.path} is no longer a regular file`);
  if (st.size !== BigInt(entry.size)) throw changed(entry, `source of ${entry.path} changed size (${st.size} bytes, manifest says ${entry.size})`);
  // A symlinked parent could lead the read anywhere on the host (rsync CVE-2024-12086).
  if (realpathSync.native(entry.source) !== entry.source) throw changed(entry, `source of ${entry.path} is now reached through a symlink`);
  return { dev: st.dev, ino: st.ino };
}

/** `st` (of the source, or of what was read from it) must be the regular file the check recorded. */
export function expectSameSource(st: BigIntStats, entry: FileEntry, expected: SourceIdentity): void {
  if (!st.isFile()) throw changed(entry, `source of ${entry.path} is no longer a regular file (now ${describeFileType(st)})`);
  if (st.dev !== expected.dev || st.ino !== expected.ino) throw changed(entry, `source of ${entry.path} was replaced by another file after it was checked`);
}

/** lstat of the source just before it is opened: a symlink, FIFO or device swapped in is refused without being opened. */
export function recheckSource(entry: FileEntry, expected: SourceIdentity): void {
  let st: BigIntStats;
  try {
    st = lstatSync(entry.source, { bigint: true });
  } catch (err) {
    throw changed(entry, `source of ${entry.path} is gone`, err);
  }
  expectSameSource(st, entry, expected);
}

/** Opens the source without following a symlink or blocking on a FIFO, and checks it is still the checked file. */
export function openSource(entry: FileEntry, expected: SourceIdentity): number {
  let fd: number;
  try {
    fd = openSync(entry.source, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    throw changed(entry, `cannot open source of ${entry.path}`, err);
  }
  try {
    expectSameSource(fstatSync(fd, { bigint: true }), entry, expected);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

const BLOCK = 1024 * 1024;

/**
 * The source's bytes, exactly `entry.size` of them, in fresh buffers of at
 * most 1 MiB (a consumer may keep them: a tar stream queues what it is
 * given). The source is rechecked and opened as above; a source that is
 * shorter or longer than the manifest says stops the read, and after the last
 * chunk its sha256 is compared: a mismatch throws SOURCE_CHANGED, so the
 * consumer must not publish what it wrote until the generator has finished.
 */
export function* sourceChunks(entry: FileEntry, expected: SourceIdentity): Generator<Buffer, void, undefined> {
  recheckSource(entry, expected);
  const fd = openSource(entry, expected);
  try {
    const hash = createHash('sha256');
    let pos = 0;
    for (;;) {
      const want = Math.min(BLOCK, entry.size - pos);
      // One byte past the end tells a file that grew since it was checked.
      const buf = Buffer.allocUnsafe(want === 0 ? 1 : want);
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, pos);
      } catch (err) {
        throw changed(entry, `cannot read source of ${entry.path}`, err);
      }
      if (want === 0) {
        if (n > 0) throw changed(entry, `source of ${entry.path} grew past the ${entry.size} bytes the manifest says`);
        break;
      }
      if (n === 0) throw changed(entry, `source of ${entry.path} shrank to ${pos} bytes, manifest says ${entry.size}`);
      const chunk = buf.subarray(0, n);
      hash.update(chunk);
      pos += n;
      yield chunk;
    }
    const sha256 = hash.digest('hex');
    if (sha256 !== entry.sha256) {
      throw changed(entry, `source of ${entry.path} changed since the manifest was made (sha256 ${sha256}, ${pos} bytes; manifest says ${entry.sha256}, ${entry.size} bytes)`);
    }
  } finally {
    closeSync(fd);
  }
}
