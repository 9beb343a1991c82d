/**
 * unpackImage(): one platform's layers applied in order into a private
 * staging directory (mkdtemp, 0700) beside an attribute table. Each layer is
 * streamed from the image (an archive's member read in place), hashed as
 * stored and as uncompressed while its entries are applied; the digests are
 * compared when it ends, and any failure (a digest, a hostile entry, the
 * byte limit, an interrupt) removes the staging directory before the error
 * goes up: an UnpackedImage exists only when every layer verified.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { ElfdepsError, errnoWords } from '../errors.js';
import { throwIfInterrupted } from '../interrupt.js';
import { LayerApplier, type TarEntry } from './apply-layer.js';
import { imageError } from './fail.js';
import { layerStream, verifyStoredBlob, type ByteBudget } from './layer-stream.js';
import { OpenedImage, type ImageEntry } from './open.js';
import { StagingTree } from './staging-tree.js';
import type { SourceImage, SourcePlatform, UnpackedImage, UnpackOptions } from './types.js';

/** The default limit on all layers' uncompressed bytes together: 16 GiB, well above real images (a few GiB at most). */
export const DEFAULT_MAX_BYTES = 16n << 30n;

/** One layer's entries applied; its digests verified once it ended. */
async function applyLayer(image: OpenedImage, tree: StagingTree, entry: ImageEntry, index: number, diffId: string, budget: ByteBudget, signal: AbortSignal | undefined): Promise<void> {
  const ref = entry.layers[index]!;
  const what = `layer ${index + 1} (${ref.digest ?? ref.name})`;
  if (image.store.size(ref.name) === undefined) throw imageError(image.path, `${what} is missing`);
  await verifyStoredBlob(image.path, image.store, ref, what, diffId);
  const stream = layerStream(image.path, image.store, ref, what, diffId, budget);
  const tar = extract();
  const flowing = pipeline([...stream.stages, tar as unknown as NodeJS.WritableStream]);
  // The loop below reports the first failure; this only keeps a second from going unhandled.
  flowing.catch(() => {});
  const applier = new LayerApplier(image.path, tree, index, signal);
  try {
    for await (const e of tar) await applier.apply(e as unknown as TarEntry);
    await flowing;
  } catch (err) {
    for (const s of stream.stages) (s as unknown as { destroy?: () => void }).destroy?.();
    tar.destroy();
    if (err instanceof ElfdepsError) throw err;
    throw imageError(image.path, `${what}: ${describe(err)}`, err);
  }
  stream.verify();
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/Unexpected end of data|unexpected end of file/i.test(message)) return `truncated (${message})`;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return errnoWords(err);
  return message.split('\n')[0] ?? message;
}

export async function unpackImage(image: SourceImage, platform: SourcePlatform, options: UnpackOptions = {}): Promise<UnpackedImage> {
  if (!(image instanceof OpenedImage)) throw new ElfdepsError('INTERNAL', 'unpackImage: not an image from openSourceImage');
  const entry = image.entry(platform);
  const limit = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const budget: ByteBudget = { left: Number(limit), limit };
  const dir = mkdtempSync(join(options.tmpDir ?? tmpdir(), 'elfdeps-image-'));
  let disposed = false;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const tree = new StagingTree(image.path, dir);
    for (const [i, diffId] of entry.config.rootfs.diff_ids.entries()) {
      throwIfInterrupted(options.signal);
      await applyLayer(image, tree, entry, i, diffId, budget, options.signal);
    }
    const { attributes, specials } = tree.finish();
    return {
      dir,
      attributes: { get: (path) => attributes.get(path) },
      base: { manifestDigest: entry.manifestDigest, ...(entry.name !== undefined ? { name: entry.name } : {}), platform: entry.platform, config: entry.config },
      specials,
      dispose,
    };
  } catch (err) {
    dispose();
    throw err;
  }
}
