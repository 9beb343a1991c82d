/**
 * zstd-compressed layers (`application/vnd.oci.image.layer.v1.tar+zstd`, what
 * `podman push --compression-format zstd` and Docker 25+ can write). Node
 * 20's zlib has no zstd, so the decoding is fzstd's (a small pure-JS decoder
 * by the author of fflate: no native code, no dependencies). What fzstd does
 * not bound, this module does before a byte reaches it: it walks the frames
 * as RFC 8878 lays them out (frame header, blocks, checksum; skippable frames)
 * and refuses a frame whose window is larger than the reference decoder
 * accepts by default (ZSTD_WINDOWLOG_LIMIT_DEFAULT, 2^27 = 128 MiB: `zstd -d`
 * wants --long=31 or --memory for more), since the decoder allocates the
 * window up front. Dictionaries are refused (images never use one).
 */
import { Transform, type TransformCallback } from 'node:stream';
import { Decompress } from 'fzstd';

/** RFC 8878 3.1.1.1.2: the largest window `zstd -d` accepts without --long or --memory. */
export const MAX_ZSTD_WINDOW = 1 << 27;

const FRAME_MAGIC = 0xfd2fb528;
/** Skippable frames: magic 0x184D2A50 to 0x184D2A5F (RFC 8878 3.1.2). */
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

type State =
  /** Gathering a frame's magic number and header (`need` bytes). */
  | { at: 'header'; need: number }
  /** Gathering a block header (3 bytes). */
  | { at: 'block' }
  /** Passing `left` bytes of block or skippable content. */
  | { at: 'content'; left: number; then: 'block' | 'checksum' | 'frame' }
  /** Passing the 4-byte content checksum. */
  | { at: 'checksum'; left: number };

/** A Transform from zstd frames to their content; `fail` words an error about the layer. */
export class ZstdDecoder extends Transform {
  private state: State = { at: 'header', need: 4 };
  private pending = Buffer.alloc(0);
  private checksum = false;
  private readonly decoder: Decompress;
  /** Zero or more frames seen completely: the stream may end here. */
  private atFrameEnd = true;

  constructor(private readonly fail: (why: string) => Error) {
    super({ highWaterMark: 1 << 20 });
    this.decoder = new Decompress((chunk) => {
      if (chunk.length > 0) this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
    });
  }

  /** The errors this module words itself (fzstd's are worded as corrupt data). */
  private readonly own = new WeakSet<Error>();

  private refuse(why: string): Error {
    const err = this.fail(why);
    this.own.add(err);
    return err;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      // The whole chunk's frame headers are checked before the decoder sees any of it.
      this.walk(chunk);
      this.decoder.push(chunk);
      done();
    } catch (err) {
      done(err instanceof Error && this.own.has(err) ? err : this.fail(`zstd data is corrupt (${err instanceof Error ? err.message : String(err)})`));
    }
  }

  override _flush(done: TransformCallback): void {
    if (!this.atFrameEnd) return done(this.refuse('zstd data ends inside a frame (truncated)'));
    try {
      this.decoder.push(new Uint8Array(0), true);
      done();
    } catch (err) {
      done(this.fail(`zstd data is corrupt (${err instanceof Error ? err.message : String(err)})`));
    }
  }

  /** Follows the frame structure through `chunk`, checking each frame header as it completes. */
  private walk(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const s = this.state;
      if (s.at === 'content' || s.at === 'checksum') {
        const n = Math.min(s.left, chunk.length - at);
        at += n;
        s.left -= n;
        if (s.left === 0) this.next(s.at === 'checksum' ? 'frame' : s.then);
        continue;
      }
      const want = s.at === 'block' ? 3 : s.need;
      const take = Math.min(want - this.pending.length, chunk.length - at);
      this.pending = Buffer.concat([this.pending, chunk.subarray(at, at + take)]);
      at += take;
      if (this.pending.length < want) continue;
      if (s.at === 'block') this.block(this.pending);
      else this.header(this.pending);
    }
  }

  private next(to: 'block' | 'checksum' | 'frame'): void {
    this.pending = Buffer.alloc(0);
    if (to === 'block') this.state = { at: 'block' };
    else if (to === 'checksum') this.state = { at: 'checksum', left: 4 };
    else {
      this.state = { at: 'header', need: 4 };
      this.atFrameEnd = true;
    }
  }

  /** A frame's start: magic, then (RFC 8878 3.1.1.1) the header, whose length its descriptor byte gives. */
  private header(bytes: Buffer): void {
    this.atFrameEnd = false;
    const magic = bytes.readUInt32LE(0);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (bytes.length < 8) return void (this.state = { at: 'header', need: 8 });
      const size = bytes.readUInt32LE(4);
      this.pending = Buffer.alloc(0);
      if (size === 0) return this.next('frame');
      this.state = { at: 'content', left: size, then: 'frame' };
      return;
    }
    if (magic !== FRAME_MAGIC) throw this.refuse('zstd data has no frame magic number where a frame starts');
    if (bytes.length < 5) return void (this.state = { at: 'header', need: 5 });
    const descriptor = bytes[4] as number;
    const fcsFlag = descriptor >> 6;
    const singleSegment = (descriptor & 0x20) !== 0;
    const didFlag = descriptor & 3;
    if ((descriptor & 0x08) !== 0) throw this.refuse('zstd frame header has its reserved bit set');
    const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag] as number;
    const didBytes = [0, 1, 2, 4][didFlag] as number;
    const length = 5 + (singleSegment ? 0 : 1) + didBytes + fcsBytes;
    if (bytes.length < length) return void (this.state = { at: 'header', need: length });
    if (didFlag !== 0 && bytes.readUIntLE(5 + (singleSegment ? 0 : 1), didBytes) !== 0) throw this.refuse('zstd frame needs a dictionary (images never use one)');
    let window: number;
    if (singleSegment) {
      // The window is the whole content (RFC 8878 3.1.1.1.2).
      const at = 5 + didBytes;
      window = fcsBytes === 1 ? (bytes[at] as number) : fcsBytes === 2 ? bytes.readUInt16LE(at) + 256 : fcsBytes === 4 ? bytes.readUInt32LE(at) : Number(bytes.readBigUInt64LE(at));
    } else {
      const wd = bytes[5] as number;
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
    if (window > MAX_ZSTD_WINDOW) throw this.refuse(`zstd frame wants a ${window}-byte window (more than the ${MAX_ZSTD_WINDOW} zstd -d accepts by default)`);
    this.checksum = (descriptor & 0x04) !== 0;
    this.next('block');
  }

  /** A block header (RFC 8878 3.1.1.2): last flag, type, size. */
  private block(bytes: Buffer): void {
    const h = bytes.readUIntLE(0, 3);
    const last = (h & 1) !== 0;
    const type = (h >> 1) & 3;
    const size = h >> 3;
    if (type === 3) throw this.refuse('zstd block of the reserved type');
    const then = last ? (this.checksum ? 'checksum' : 'frame') : 'block';
    const left = type === 1 ? 1 : size;
    this.pending = Buffer.alloc(0);
    if (left === 0) return this.next(then);
    this.state = { at: 'content', left, then };
  }
}
