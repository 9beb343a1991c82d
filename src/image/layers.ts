/**
 * The image's layers: exactly the manifest's entries, as `elfdeps copy`
 * would create them (every directory before its contents, with its mode and
 * owner, a 0755 root-owned directory for a parent the manifest does not
 * list, symlinks verbatim, setuid/setgid dropped unless kept), written as
 * tar into a blob.
 *
 * With `split`, the programs (each program's file and the symlinks its path
 * passes) go into a layer of their own above everything else (interpreter,
 * libraries, added files): two images of programs that need the same
 * libraries from the same root then have the same lower layer, byte for
 * byte, so a registry or a container store keeps it once.
 */
import { ElfdepsError } from '../errors.js';
import { throwIfInterrupted } from '../interrupt.js';
import { ancestorsOf, withParentDirectories } from '../manifest/entry-path.js';
import { entryOwner, generatedBytes, type Manifest, type ManifestEntry } from '../manifest/types.js';
import { writtenMode } from '../materialise/plan.js';
import { sourceChunks, type SourceIdentity } from '../materialise/source.js';
import { LayerBlobWriter, type Compression, type LayerBlob } from './blob.js';
import type { RootView } from './root-view.js';
import { TarWriter } from './tar-writer.js';

export interface LayerPlan {
  /** What the layer holds, for the config's history ("libraries", "programs", "root"). */
  comment: string;
  /** Sorted by path: every directory before its contents. */
  entries: ManifestEntry[];
}

/** Programs need a world-writable, sticky /tmp (mkstemp and friends); the manifest's own mode is kept everywhere else. */
const TMP_MODE = 0o1777;

/** The layers to write, lowest first. */
export function planLayers(manifest: Manifest, view: RootView, split: boolean): LayerPlan[] {
  const all = withParentDirectories(manifest.entries).map((e) => e.entry);
  if (!split) return [{ comment: 'root', entries: all }];
  const programOwned = new Set<string>();
  for (const program of manifest.programs) {
    const walk = view.walk(program.path);
    if (walk.kind !== 'file') continue;
    programOwned.add(walk.path);
    for (const link of walk.links) programOwned.add(link);
  }
  const lowerAncestors = new Set<string>();
  const upperAncestors = new Set<string>();
  for (const e of all) {
    if (e.kind === 'directory') continue;
    for (const dir of ancestorsOf(e.path)) (programOwned.has(e.path) ? upperAncestors : lowerAncestors).add(dir);
  }
  const lower: ManifestEntry[] = [];
  const upper: ManifestEntry[] = [];
  for (const e of all) {
    if (e.kind !== 'directory') (programOwned.has(e.path) ? upper : lower).push(e);
    else {
      // A directory goes wherever its contents are; an empty one (/tmp) with the libraries.
      if (lowerAncestors.has(e.path) || !upperAncestors.has(e.path)) lower.push(e);
      if (upperAncestors.has(e.path)) upper.push(e);
    }
  }
  const layers: LayerPlan[] = [];
  if (lower.length > 0) layers.push({ comment: 'libraries', entries: lower });
  if (upper.length > 0) layers.push({ comment: 'programs', entries: upper });
  return layers;
}

export interface LayerWriteOptions {
  compression: Compression;
  /** Every entry's mtime (SOURCE_DATE_EPOCH), but a file's own `mtime` (an input, as its content is): a Python source keeps what its pyc checks. */
  mtimeSeconds: number;
  keepSetuid: boolean;
  /** By in-root path: the source file each file entry was checked to be. */
  sources: Map<string, SourceIdentity>;
  /** Called after each entry is in the layer. */
  onEntry?: (path: string) => void;
  /** Checked before each entry and between a file's chunks: a large file does not delay an interrupt. */
  signal?: AbortSignal;
}

/** A file's chunks, stopping between two of them once `signal` is aborted. */
function* interruptible(chunks: Iterable<Buffer>, signal: AbortSignal | undefined): Generator<Buffer> {
  for (const chunk of chunks) {
    throwIfInterrupted(signal);
    yield chunk;
  }
}

export interface WrittenLayer extends LayerBlob {
  comment: string;
  entries: number;
  /** Bytes of file content. */
  fileBytes: number;
}

/** Writes one layer into `blobsDir`; on any failure nothing of it is left there. */
export async function writeLayer(plan: LayerPlan, blobsDir: string, options: LayerWriteOptions): Promise<WrittenLayer> {
  const out = new LayerBlobWriter(blobsDir, options.compression);
  const tar = new TarWriter(out.write, options.mtimeSeconds);
  let fileBytes = 0;
  try {
    for (const e of plan.entries) {
      throwIfInterrupted(options.signal);
      const name = e.path.slice(1);
      const owner = entryOwner(e);
      if (e.kind === 'directory') {
        await tar.directory(name, e.path === '/tmp' ? TMP_MODE : writtenMode(e, options), owner);
      } else if (e.kind === 'symlink') {
        await tar.symlink(name, e.target, owner);
      } else if (e.kind === 'generated') {
        await tar.file(name, writtenMode(e, options), e.size, generatedBytes(e), undefined, owner);
        fileBytes += e.size;
      } else {
        const checked = options.sources.get(e.path);
        if (checked === undefined) throw new ElfdepsError('INTERNAL', `${e.path}: its source was not checked first`, { path: e.path });
        await tar.file(name, writtenMode(e, options), e.size, interruptible(sourceChunks(e, checked), options.signal), e.mtime, owner);
        fileBytes += e.size;
      }
      options.onEntry?.(e.path);
    }
    await tar.finish();
    const blob = await out.finish();
    return { ...blob, comment: plan.comment, entries: plan.entries.length, fileBytes };
  } catch (err) {
    await tar.abort(err);
    out.discard();
    throw err;
  }
}
