/**
 * Test helpers for src/image-source/: a file system tree read as the
 * oracle's `lstat` sees it (umoci unpack's rootfs), the same tree read from
 * an UnpackedImage (staging directory + attribute table + specials), and
 * small OCI layouts written byte by byte for the hostile cases.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import type { UnpackedImage } from '../../src/image-source/index.js';

export interface TreeEntry {
  type: 'dir' | 'file' | 'symlink' | 'char' | 'block' | 'fifo' | 'other';
  mode: number;
  uid: number;
  gid: number;
  mtime?: number;
  target?: string;
  sha256?: string;
  /** Paths sharing this entry's inode (hard links), sorted; absent when it has one name. */
  links?: string[];
}

function typeOf(st: Stats): TreeEntry['type'] {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'other';
}

function walk(root: string, visit: (path: string, host: string) => void): void {
  const rec = (path: string) => {
    const host = path === '/' ? root : join(root, path);
    visit(path, host);
    if (lstatSync(host).isDirectory()) for (const name of readdirSync(host).sort()) rec(path === '/' ? `/${name}` : `${path}/${name}`);
  };
  rec('/');
}

/** Walks `root`, each path's entry made by `entryOf` (contents, targets and hard links from the disk), plus `extra` entries. */
function readTree(root: string, withMtime: (e: TreeEntry) => boolean, entryOf: (path: string, st: Stats) => TreeEntry, extra: TreeEntry[] = [], extraPaths: string[] = []): Map<string, TreeEntry> {
  const tree = new Map<string, TreeEntry>();
  const inodes = new Map<string, string[]>();
  walk(root, (path, host) => {
    const st = lstatSync(host);
    const e = entryOf(path, st);
    if (e.type === 'symlink') e.target = readlinkSync(host);
    if (e.type === 'file') e.sha256 = createHash('sha256').update(readFileSync(host)).digest('hex');
    tree.set(path, e);
    if (e.type !== 'dir') inodes.set(`${st.dev}:${st.ino}`, [...(inodes.get(`${st.dev}:${st.ino}`) ?? []), path]);
  });
  extra.forEach((e, i) => tree.set(extraPaths[i]!, e));
  for (const names of inodes.values()) if (names.length > 1) for (const n of names) tree.get(n)!.links = [...names].sort();
  for (const e of tree.values()) if (!withMtime(e)) delete e.mtime;
  return new Map([...tree].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A rootfs as lstat sees it: the oracle's side (owners, modes, devices are real there). */
export function hostTree(root: string, withMtime: (e: TreeEntry) => boolean): Map<string, TreeEntry> {
  return readTree(root, withMtime, (_path, st) => ({ type: typeOf(st), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) }));
}

/** The same view of an unpacked image: types and contents from the staging directory, the rest from the attribute table; specials from the list. */
export function unpackedTree(u: UnpackedImage, withMtime: (e: TreeEntry) => boolean): Map<string, TreeEntry> {
  const entryOf = (path: string, st: Stats): TreeEntry => {
    const a = u.attributes.get(path);
    if (a === undefined) throw new Error(`${path} is in the staging directory but has no attributes`);
    return { type: typeOf(st), mode: a.mode, uid: a.uid, gid: a.gid, mtime: a.mtime };
  };
  const specials = u.specials.map((s): TreeEntry => ({ type: s.type, mode: s.attributes.mode, uid: s.attributes.uid, gid: s.attributes.gid, mtime: s.attributes.mtime }));
  return readTree(u.dir, withMtime, entryOf, specials, u.specials.map((s) => s.path));
}

export const sha256hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** One entry of a synthetic layer: a tar-stream header and its data. */
export interface LayerEntry extends Partial<Header> {
  name: string;
  data?: string | Buffer;
}

/** A layer tar made with tar-stream's pack (headers exactly as given). */
export async function layerTar(entries: LayerEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const { data, ...header } of entries) {
    await new Promise<void>((resolve, reject) => {
      p.entry({ mode: header.type === 'directory' ? 0o755 : 0o644, mtime: new Date(1_700_000_000_000), ...header }, data ?? '', (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

export interface SyntheticLayer { tar: Buffer; gzip?: boolean; mediaType?: string; diffId?: string; digest?: string; size?: number; omit?: boolean }

/** Writes an OCI layout holding one image of `layers`; the fields of a layer override what is computed, to make a lie. */
export function writeLayout(dir: string, layers: SyntheticLayer[], options: { architecture?: string; configPatch?: Record<string, unknown>; indexPatch?: (index: Record<string, unknown>, put: (b: Buffer | string) => { digest: string; size: number }) => Record<string, unknown> } = {}): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer | string) => {
    const digest = `sha256:${sha256hex(b)}`;
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), b);
    return { digest, size: Buffer.byteLength(b) };
  };
  const descs = layers.map((l) => {
    const blob = l.gzip === false ? l.tar : gzipSync(l.tar);
    const d = l.omit ? { digest: `sha256:${sha256hex(blob)}`, size: blob.length } : put(blob);
    return {
      desc: { mediaType: l.mediaType ?? (l.gzip === false ? 'application/vnd.oci.image.layer.v1.tar' : 'application/vnd.oci.image.layer.v1.tar+gzip'), digest: l.digest ?? d.digest, size: l.size ?? d.size },
      diffId: l.diffId ?? `sha256:${sha256hex(l.tar)}`,
    };
  });
  const config = put(JSON.stringify({ architecture: options.architecture ?? 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: descs.map((d) => d.diffId) }, ...options.configPatch }));
  const manifest = put(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: descs.map((d) => d.desc) }));
  let index: Record<string, unknown> = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'test' } }] };
  if (options.indexPatch) index = options.indexPatch(index, put);
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}
