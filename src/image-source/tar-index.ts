/**
 * The members of an archive (oci-archive, docker-archive) indexed from their
 * headers alone, so a member is read in place, never extracted: ustar and
 * GNU headers, pax extended headers (`path`, `linkpath`, `size`), GNU long
 * names (`L`, `K`). Every header's checksum is verified and every member's
 * data must lie inside the file; symlinks and hard links between members
 * (docker save links a repeated layer to its first copy) are resolved inside
 * the archive, never outside it.
 */
import { fstatSync, readSync } from 'node:fs';
import { posix } from 'node:path';
import { imageError, quoted } from './fail.js';

const BLOCK = 512;
/** An image archive's own members are few (a blob per layer and document); a million means a hostile file. */
const MAX_MEMBERS = 1_000_000;
/** pax and GNU long-name records are at most a path's length. */
const MAX_EXTENDED = 1 << 20;

export interface TarMember { offset: number; size: number }

interface RawMember { type: string; size: number; offset: number; linkname: string }

function octal(buf: Buffer, off: number, len: number): number {
  // GNU base-256 for large values: the high bit of the first byte.
  if ((buf[off]! & 0x80) !== 0) {
    let v = buf[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + buf[off + i]!;
    return v;
  }
  const text = buf.toString('latin1', off, off + len).replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return NaN;
  return parseInt(text, 8);
}

function cString(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end === -1 || end > off + len ? off + len : end);
}

function checksumOk(h: Buffer): boolean {
  const want = octal(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === want;
}

/** pax records "LEN key=value\n" (POSIX pax, extended header). */
function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < data.length) {
    const space = data.indexOf(0x20, off);
    if (space === -1) break;
    const len = parseInt(data.toString('latin1', off, space), 10);
    if (!(len > 0) || off + len > data.length) break;
    const record = data.toString('utf8', space + 1, off + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out.set(record.slice(0, eq), record.slice(eq + 1));
    off += len;
  }
  return out;
}

/** A member name as the archive's documents name it: no "./", no leading "/". */
export function memberName(name: string): string {
  return posix.normalize(`/${name}`).slice(1).replace(/\/$/, '');
}

export class TarIndex {
  private readonly members = new Map<string, RawMember>();

  constructor(private readonly path: string, private readonly fd: number) {
    const fileSize = fstatSync(fd).size;
    const header = Buffer.alloc(BLOCK);
    let offset = 0;
    let longName: string | undefined;
    let longLink: string | undefined;
    let pax: Map<string, string> | undefined;
    while (offset + BLOCK <= fileSize) {
      if (readSync(fd, header, 0, BLOCK, offset) !== BLOCK) break;
      if (header.every((b) => b === 0)) break;
      if (!checksumOk(header)) throw imageError(path, `archive header at offset ${offset} has a bad checksum (not a tar file, or corrupt)`);
      const type = String.fromCharCode(header[156]!) === '\0' ? '0' : String.fromCharCode(header[156]!);
      let size = octal(header, 124, 12);
      if (pax?.has('size')) size = Number(pax.get('size'));
      if (!Number.isSafeInteger(size) || size < 0) throw imageError(path, `archive header at offset ${offset} has an invalid size`);
      const dataOffset = offset + BLOCK;
      if (dataOffset + size > fileSize) throw imageError(path, `archive member at offset ${offset} claims ${size} bytes past the end of the file (truncated)`);
      const next = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        if (size > MAX_EXTENDED) throw imageError(path, `archive extended header at offset ${offset} is ${size} bytes`);
        const data = Buffer.alloc(size);
        readSync(fd, data, 0, size, dataOffset);
        if (type === 'x') pax = paxRecords(data);
        else if (type === 'L') longName = cString(data, 0, size);
        else if (type === 'K') longLink = cString(data, 0, size);
        // 'g' (global pax) carries nothing an image archive needs.
        offset = next;
        continue;
      }
      const prefix = header.toString('latin1', 257, 263).startsWith('ustar') ? cString(header, 345, 155) : '';
      const rawName = pax?.get('path') ?? longName ?? (prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100));
      const linkname = pax?.get('linkpath') ?? longLink ?? cString(header, 157, 100);
      pax = longName = longLink = undefined;
      if (this.members.size >= MAX_MEMBERS) throw imageError(path, `archive has more than ${MAX_MEMBERS} members`);
      const name = memberName(rawName);
      if (type === '0' || type === '7' || type === '1' || type === '2') this.members.set(name, { type, size, offset: dataOffset, linkname });
      offset = next;
    }
  }

  /** The regular member named `name`, through the archive's own links (bounded, inside the archive), or undefined. */
  get(name: string): TarMember | undefined {
    let current = memberName(name);
    for (let hops = 0; hops < 16; hops++) {
      const m = this.members.get(current);
      if (m === undefined) return undefined;
      if (m.type === '0' || m.type === '7') return { offset: m.offset, size: m.size };
      const joined = posix.normalize(m.type === '1' ? m.linkname : posix.join(posix.dirname(current), m.linkname));
      // A link leaving the archive's tree is refused, not clamped: it names nothing of the image.
      if (m.linkname.startsWith('/') || joined === '..' || joined.startsWith('../')) {
        throw imageError(this.path, `archive member ${quoted(current)} links outside the archive`);
      }
      current = memberName(joined);
    }
    throw imageError(this.path, `archive member ${quoted(name)}: too many links`);
  }
}
