/**
 * Where an image goes, and how it gets there without ever being half there.
 * Every image is first built as an unpacked OCI layout in a private staging
 * directory (mode 0700): beside the output file, or in the system's
 * temporary directory for standard output. Then
 *  - `-o FILE`: the layout is tarred into a temporary file beside FILE,
 *    renamed over FILE (which must be absent or a regular file);
 *  - `-o -`: the layout is tarred to the stream;
 *  - `--oci-dir DIR`: the staging directory itself is renamed to DIR (which
 *    must be absent or an empty directory).
 * The staging directory is removed in every case, also after a failure. A
 * process killed part-way leaves `.elfdeps-tmp-<pid>-*` names behind, never
 * a partial FILE or DIR.
 */
import { chmodSync, closeSync, constants as fsc, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ElfdepsError, errnoOf } from '../errors.js';
import { throwIfInterrupted } from '../interrupt.js';
import { TEMP_PREFIX } from '../manifest/entry-path.js';
import { checkOutputPath, removeStaleOutputTemps, temporarySibling } from '../output-file.js';
import { LAYOUT_FILES } from './layout.js';
import { TarWriter, type ByteSink } from './tar-writer.js';

export type ImageOutput =
  /** One tar, OCI layout and docker-archive at once. */
  | { kind: 'tar'; path: string }
  /** The same tar, to a stream (standard output). */
  | { kind: 'stream'; stream: NodeJS.WritableStream }
  /** The OCI layout unpacked into a directory. */
  | { kind: 'oci-dir'; path: string };

function failed(path: string, err: unknown): ElfdepsError {
  if (err instanceof ElfdepsError) return err;
  return new ElfdepsError('COPY_FAILED', `${path}: cannot write the image (${errnoOf(err) ?? String(err)})`, { path, cause: err });
}

/** --oci-dir DIR must be absent (in an existing directory) or an empty directory: it is replaced by a rename. */
function checkOciDir(path: string): void {
  let names: string[];
  try {
    const st = lstatSync(path);
    if (!st.isDirectory()) throw new ElfdepsError('TARGET_CONFLICT', `${path}: is not a directory; --oci-dir takes a new or empty directory`, { path });
    names = readdirSync(path);
  } catch (err) {
    if (err instanceof ElfdepsError) throw err;
    if (errnoOf(err) === 'ENOENT') {
      try {
        if (statSync(dirname(path)).isDirectory()) return;
      } catch {
        // reported below
      }
      throw new ElfdepsError('COPY_FAILED', `${path}: cannot write the image (ENOENT: directory ${dirname(path)} does not exist)`, { path });
    }
    throw failed(path, err);
  }
  if (names.length > 0) throw new ElfdepsError('TARGET_CONFLICT', `${path}: directory is not empty; --oci-dir takes a new or empty directory`, { path });
}

/** Checks the output before any work is done. */
export function checkOutput(output: ImageOutput): void {
  if (output.kind === 'tar') checkOutputPath(output.path, 'the image');
  else if (output.kind === 'oci-dir') checkOciDir(output.path);
}

/** The unpacked layout being built. */
export class Staging {
  readonly dir: string;
  readonly blobsDir: string;

  constructor(output: ImageOutput) {
    const near = output.kind === 'stream' ? tmpdir() : dirname(output.path);
    // A run killed before it could clean up (SIGKILL) left its staging here: remove it now.
    removeStaleOutputTemps(near);
    try {
      this.dir = mkdtempSync(join(near, `${TEMP_PREFIX}${process.pid}-`));
      this.blobsDir = join(this.dir, LAYOUT_FILES.blobs);
      mkdirSync(this.blobsDir, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw failed(near, err);
    }
  }

  writeFile(name: string, bytes: Buffer): void {
    try {
      writeFileSync(join(this.dir, name), bytes, { flag: 'wx', mode: 0o644 });
    } catch (err) {
      throw failed(join(this.dir, name), err);
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A file's bytes in chunks (our own staging files: no hostile-source checks needed). */
function* fileChunks(path: string, size: number): Generator<Buffer> {
  const fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  try {
    for (let pos = 0; pos < size; ) {
      const buf = Buffer.allocUnsafe(Math.min(1 << 20, size - pos));
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) throw new ElfdepsError('COPY_FAILED', `${path}: staging file shrank while it was archived`, { path });
      pos += n;
      yield buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/** Tars the staging layout: its own files first, then the blobs in the order given. Every entry gets mtime `epoch`. */
async function tarLayout(staging: Staging, topFiles: string[], blobs: string[], sink: ByteSink, epoch: number, signal: AbortSignal | undefined): Promise<void> {
  const tar = new TarWriter(sink, epoch);
  try {
    for (const name of topFiles) {
      const path = join(staging.dir, name);
      await tar.file(name, 0o644, statSync(path).size, fileChunks(path, statSync(path).size));
    }
    await tar.directory('blobs', 0o755);
    await tar.directory(LAYOUT_FILES.blobs, 0o755);
    for (const name of blobs) {
      throwIfInterrupted(signal);
      const path = join(staging.dir, name);
      const size = statSync(path).size;
      await tar.file(name, 0o644, size, fileChunks(path, size));
    }
    await tar.finish();
  } catch (err) {
    await tar.abort(err);
    throw err;
  }
}

/** A ByteSink writing to a stream, waiting when it is full. */
function streamSink(stream: NodeJS.WritableStream): ByteSink {
  return (chunk) => {
    if (stream.write(chunk)) return;
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        stream.removeListener('error', fail);
        resolve();
      };
      const fail = (err: Error) => {
        stream.removeListener('drain', done);
        reject(err);
      };
      stream.once('drain', done);
      stream.once('error', fail);
    });
  };
}

/**
 * Publishes the finished staging layout to `output`. `topFiles` are the
 * layout's own files, `blobs` the blob paths in archive order. Returns the
 * bytes written (the tar's size, or the layout's for a directory).
 */
export async function publish(staging: Staging, output: ImageOutput, topFiles: string[], blobs: string[], epoch: number, signal?: AbortSignal): Promise<number> {
  if (output.kind === 'oci-dir') {
    checkOciDir(output.path);
    try {
      chmodSync(staging.dir, 0o755);
      renameSync(staging.dir, output.path);
    } catch (err) {
      throw failed(output.path, err);
    }
    return [...topFiles, ...blobs].reduce((sum, name) => sum + statSync(join(output.path, name)).size, 0);
  }
  let written = 0;
  if (output.kind === 'stream') {
    const write = streamSink(output.stream);
    await tarLayout(staging, topFiles, blobs, (chunk) => ((written += chunk.length), write(chunk)), epoch, signal);
    return written;
  }
  const tmp = temporarySibling(output.path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o644);
    const out = fd;
    await tarLayout(
      staging,
      topFiles,
      blobs,
      (chunk) => {
        for (let off = 0; off < chunk.length; ) off += writeSync(out, chunk, off, chunk.length - off);
        written += chunk.length;
      },
      epoch,
      signal,
    );
    closeSync(fd);
    fd = undefined;
    checkOutputPath(output.path, 'the image');
    renameSync(tmp, output.path);
    return written;
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw failed(output.path, err);
  }
}
