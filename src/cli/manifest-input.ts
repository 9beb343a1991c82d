/**
 * What `elfdeps copy` and `elfdeps image` work from: a manifest file, or
 * programs whose manifest is made on the spot with the options of
 * `elfdeps manifest` (--add, the rule options, --root, the loader options).
 */
import { closeSync, openSync, readSync, constants as fsc } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { createManifest } from '../manifest/create.js';
import type { Manifest } from '../manifest/types.js';
import { ElfdepsError, errnoOf, errnoWords } from '../errors.js';
import { MAX_MANIFEST_BYTES, parseManifest, readManifestFile } from '../manifest/validate.js';
import type { CliIo } from './io.js';
import { MANIFEST_OPTIONS, manifestOptionsFrom, type ManifestOptionValues } from './manifest-command.js';

/** A manifest is named *.json or starts with "{"; an ELF file or a script does not. */
export function looksLikeManifest(path: string): boolean {
  if (path.endsWith('.json')) return true;
  let fd: number | undefined;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
    const buf = Buffer.alloc(64);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return /^\s*\{/.test(buf.subarray(0, n).toString('latin1'));
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The manifest from standard input (`copy - NEWROOT`, as `manifest -o -` writes it), size-capped like a file. */
function readStdin(): string {
  const chunks: Buffer[] = [];
  let total = 0;
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      if (errnoOf(err) === 'EAGAIN') continue; // a non-blocking pipe not yet written to
      if (errnoOf(err) === 'EOF') break;
      throw new ElfdepsError('MANIFEST_INVALID', `standard input: cannot read the manifest: ${errnoWords(err)}`, { cause: err });
    }
    if (n === 0) break;
    total += n;
    if (total > MAX_MANIFEST_BYTES) throw new ElfdepsError('MANIFEST_INVALID', `standard input: manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The manifest named by `sources` (one manifest file, or FILE...), or a usage
 * message when the arguments mix the two. Throws ElfdepsError for an
 * unreadable or invalid manifest or FILE.
 */
export function manifestFromArguments(
  sources: string[],
  values: ManifestOptionValues & Record<string, unknown>,
  io: CliIo,
  options: { stdin?: boolean; ownOptions?: string[] } = {},
): Manifest | { usage: string } {
  const first = sources[0] as string;
  const fromStdin = options.stdin === true && first === '-';
  if (!fromStdin && !looksLikeManifest(resolvePath(io.cwd, first))) return createManifest(sources, manifestOptionsFrom(values, io));
  if (sources.length > 1) return { usage: 'give one manifest, or programs, not both' };
  // ownOptions: the verb's own options that share a name with one of manifest's (image's --user);
  // --from names where a manifest made with --from takes its files again (below).
  const own = [...(options.ownOptions ?? []), 'from', 'image-platform'];
  if (Object.keys(MANIFEST_OPTIONS).some((k) => !own.includes(k) && values[k] !== undefined)) {
    return { usage: '--add, --exclude, the rule options, --root and the loader options apply to FILE..., not to a manifest' };
  }
  const manifest = fromStdin ? parseManifest(readStdin(), 'standard input') : readManifestFile(resolvePath(io.cwd, first));
  return values.imageRoot ? reroot(manifest, values.imageRoot.dir) : manifest;
}

/**
 * A manifest `elfdeps manifest --from IMAGE` wrote names its sources in a
 * staging directory that is gone once that command ended; given again with
 * `--from IMAGE`, they are read from this run's unpack of the image. Each is
 * still checked against its size and sha256 while it is copied, so a
 * manifest of another image is refused as a changed source, never copied
 * from wrong files. Sources outside the manifest's root (--add SRC=DEST: host
 * paths) are left as they are.
 */
function reroot(manifest: Manifest, root: string): Manifest {
  const from = manifest.root === '/' ? '' : manifest.root;
  const move = (source: string) => (from !== '' && (source === from || source.startsWith(`${from}/`)) ? root + source.slice(from.length) : source);
  return {
    ...manifest,
    root,
    entries: manifest.entries.map((e) => ('source' in e && e.source !== undefined ? { ...e, source: move(e.source) } : e)),
  };
}
