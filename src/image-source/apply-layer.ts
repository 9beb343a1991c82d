/**
 * One layer's tar entries applied to the staging tree, in order: names made
 * canonical (a leading "./" dropped; absolute names and ".." refused, never
 * clamped: such an entry was made to escape), whiteouts and opaque markers
 * (image-spec layer.md), then each entry by type. A path met twice in one
 * layer is refused unless both are directories: tar keeps the later one,
 * but a scanner reading the first would see another file than the runtime
 * (a known trick against image scanners), and no builder writes them.
 */
import type { Readable } from 'node:stream';
import { throwIfInterrupted } from '../interrupt.js';
import { imageError, quoted } from './fail.js';
import { StagingTree } from './staging-tree.js';
import type { FileAttributes } from './types.js';

/** tar-stream's header, as far as it is read here. */
export interface EntryHeader {
  name: string;
  type: string | null;
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  uname?: string;
  gname?: string;
  linkname?: string | null;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string> | null;
}

export interface TarEntry extends Readable {
  header: EntryHeader;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

function nameParts(image: string, name: string, what: string): string[] {
  if (name === '') throw imageError(image, `layer has an entry with an empty ${what}`);
  if (name.startsWith('/')) throw imageError(image, `layer entry ${what} ${quoted(name)} is absolute`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw imageError(image, `layer entry ${what} ${quoted(name)} contains ".."`);
  return parts;
}

function paxNumber(pax: Record<string, string> | null | undefined, key: string): number | undefined {
  const v = pax?.[key];
  if (v === undefined) return undefined;
  const n = Math.floor(Number(v));
  return Number.isSafeInteger(n) ? n : undefined;
}

function attributesOf(h: EntryHeader): FileAttributes {
  const attrs: FileAttributes = {
    uid: paxNumber(h.pax, 'uid') ?? h.uid ?? 0,
    gid: paxNumber(h.pax, 'gid') ?? h.gid ?? 0,
    mode: (h.mode ?? 0) & 0o7777,
    mtime: paxNumber(h.pax, 'mtime') ?? (h.mtime ? Math.floor(h.mtime.getTime() / 1000) : 0),
  };
  const uname = h.pax?.uname ?? h.uname;
  const gname = h.pax?.gname ?? h.gname;
  if (uname) attrs.uname = uname;
  if (gname) attrs.gname = gname;
  return attrs;
}

export class LayerApplier {
  private readonly seen = new Map<string, boolean /* a directory */>();

  constructor(private readonly image: string, private readonly tree: StagingTree, private readonly layer: number, private readonly signal?: AbortSignal) {}

  /** Applies one entry, consuming its data. */
  async apply(entry: TarEntry): Promise<void> {
    throwIfInterrupted(this.signal);
    const h = entry.header;
    const parts = nameParts(this.image, h.name, 'name');
    const base = parts[parts.length - 1] ?? '';
    const dirParts = parts.slice(0, -1);
    if (base.startsWith(WHITEOUT)) {
      entry.resume();
      if (base === OPAQUE) this.tree.opaque(dirParts, this.layer);
      // Other .wh..wh. names are aufs' own metadata (.wh..wh.plnk): Docker and containerd skip them.
      else if (!base.startsWith(`${WHITEOUT}${WHITEOUT}`)) {
        const name = base.slice(WHITEOUT.length);
        if (name === '' || name === '.' || name === '..') throw imageError(this.image, `layer entry ${quoted(h.name)} is a whiteout of ${quoted(name === '' ? '/' : name)}`);
        this.tree.whiteout(dirParts, name, this.layer);
      }
      return;
    }
    const path = `/${parts.join('/')}`;
    const isDir = h.type === 'directory';
    const before = this.seen.get(path);
    if (before !== undefined && !(before && isDir)) throw imageError(this.image, `layer ${this.layer + 1} has two entries for ${quoted(path)}`);
    this.seen.set(path, isDir);
    const attrs = attributesOf(h);
    switch (h.type) {
      case 'directory':
        entry.resume();
        this.tree.directory(parts, attrs, this.layer);
        return;
      case 'file':
      case 'contiguous-file': {
        const fd = this.tree.file(parts, attrs, this.layer);
        try {
          for await (const chunk of entry) StagingTree.write(fd, chunk as Buffer);
        } finally {
          this.tree.finishFile(fd, attrs);
        }
        return;
      }
      case 'symlink':
        entry.resume();
        if (!h.linkname) throw imageError(this.image, `layer entry ${quoted(path)} is a symlink with an empty target`);
        this.tree.symlink(parts, h.linkname, attrs, this.layer);
        return;
      case 'link':
        entry.resume();
        this.tree.hardLink(parts, nameParts(this.image, h.linkname ?? '', 'link target'), this.layer);
        return;
      case 'character-device':
      case 'block-device':
      case 'fifo':
        entry.resume();
        this.tree.special(parts, { type: h.type === 'fifo' ? 'fifo' : h.type === 'block-device' ? 'block' : 'char', devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0 }, attrs, this.layer);
        return;
      default:
        throw imageError(this.image, `layer entry ${quoted(path)} has an unsupported type (${h.type ?? 'unknown'})`);
    }
  }
}
