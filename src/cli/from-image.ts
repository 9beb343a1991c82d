/**
 * `--from IMAGE` and `--image-platform`: a container image as the root of a
 * command. The image is unpacked into a private staging directory
 * (src/image-source/: every blob verified, the layers applied as a
 * container runtime would see them, owners and modes kept as data), the
 * command runs with that directory as its `--root` and the image's attribute
 * table, and the directory is removed afterwards, on failure and on an
 * interrupt alike. With `--image-platform all` (for `image` and `check`) the
 * command's work runs once per platform of the image, one at a time.
 */
import { ElfdepsError } from '../errors.js';
import { cleanUpOnInterrupt, whileWriting, yieldToEvents } from '../interrupt.js';
import type { AttributeTable, BaseImage, SourcePlatform } from '../image-source/types.js';

export interface ImageRoot {
  /** The staging directory: the image's file system. */
  dir: string;
  attributes: AttributeTable;
  /** What the source image said (its config, its manifest's digest, its name). */
  base: BaseImage;
  /** OS/ARCH[/VARIANT] of the platform unpacked. */
  platform: string;
  /** The image as named on the command line. */
  image: string;
}

export interface FromValues {
  from?: string;
  'image-platform'?: string;
  root?: string;
}

export function formatSourcePlatform(p: SourcePlatform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/**
 * Runs `work` once without an image root (no --from), or once per platform
 * chosen: `allowAll` lets `--image-platform all` choose every platform of the
 * image. Each image root exists only while its `work` runs.
 */
export async function withImageRoots<T>(v: FromValues, allowAll: boolean, work: (root: ImageRoot | null) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  await withSourceImage(v, allowAll, async (unpackEach) => {
    if (unpackEach === null) results.push(await work(null));
    else await unpackEach(async (root) => void results.push(await work(root)));
  });
  return results;
}

/**
 * Runs `work` with every image root chosen unpacked at once (`image
 * --image-platform all` writes one output from all of them), or with none
 * (no --from). All the staging directories are removed afterwards.
 */
export async function withAllImageRoots<T>(v: FromValues, work: (roots: ImageRoot[] | null) => Promise<T>): Promise<T> {
  let result: T | undefined;
  await withSourceImage(v, true, async (unpackEach) => {
    if (unpackEach === null) {
      result = await work(null);
      return;
    }
    const roots: ImageRoot[] = [];
    const dispose = await unpackEach(async (root) => void roots.push(root), { keep: true });
    try {
      result = await work(roots);
    } finally {
      dispose();
    }
  });
  return result as T;
}

type UnpackEach = (visit: (root: ImageRoot) => Promise<void>, options?: { keep?: boolean }) => Promise<() => void>;

/** Opens --from's image and gives `work` a way to unpack each chosen platform (null without --from). */
async function withSourceImage(v: FromValues, allowAll: boolean, work: (unpackEach: UnpackEach | null) => Promise<void>): Promise<void> {
  if (v.from === undefined) {
    if (v['image-platform'] !== undefined) throw new ElfdepsError('USAGE', '--image-platform chooses a platform of the image --from names; no --from given');
    return work(null);
  }
  const from = v.from;
  if (from === '') throw new ElfdepsError('USAGE', '--from wants an image (an OCI layout directory, an oci-archive or docker-archive tar), got an empty string');
  if (v.root !== undefined) throw new ElfdepsError('USAGE', '--from and --root both name the root: give one');
  const spec = v['image-platform'];
  if (spec === 'all' && !allowAll) throw new ElfdepsError('USAGE', '--image-platform all is for image and check, which handle every platform; choose one OS/ARCH[/VARIANT] here');
  const { openSourceImage, choosePlatform, unpackImage } = await import('../image-source/index.js');
  const image = await openSourceImage(from);
  try {
    const platforms = spec === 'all' ? image.platforms : [choosePlatform(image, spec)];
    await work(async (visit, options = {}) => {
      const kept: Array<() => void> = [];
      const disposeKept = () => {
        for (const dispose of kept.splice(0)) dispose();
      };
      const stopListening = cleanUpOnInterrupt(disposeKept);
      try {
        for (const platform of platforms) {
          const unpacked = await whileWriting((signal) => unpackImage(image, platform, { signal }));
          kept.push(() => unpacked.dispose());
          await visit({ dir: unpacked.dir, attributes: unpacked.attributes, base: unpacked.base, platform: formatSourcePlatform(platform), image: from });
          // The work may have run synchronously for a while (resolving, checking): a signal that came
          // meanwhile is delivered on the next turn of the event loop, while its clean-up still listens.
          await yieldToEvents();
          if (!options.keep) disposeKept();
        }
      } catch (err) {
        disposeKept();
        stopListening();
        throw err;
      }
      if (!options.keep) stopListening();
      return () => {
        disposeKept();
        stopListening();
      };
    });
  } finally {
    image.close();
  }
}
