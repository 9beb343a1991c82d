/**
 * Hostile images (issue 17, item 6): each is refused with one line
 * (IMAGE_SOURCE, exit status 2 at the CLI), the staging directory is gone
 * and nothing was written outside it. The images are written here byte by
 * byte (tar-stream's pack, our own index and manifests), each with honest
 * digests except for the one lie under test, so the refusal is for that lie.
 */
import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ElfdepsError } from '../src/errors.js';
import { choosePlatform, openSourceImage, unpackImage, type UnpackedImage } from '../src/image-source/index.js';
import { layerTar, sha256hex, writeLayout, type LayerEntry, type SyntheticLayer } from './helpers/image-source.js';
import { hasTool } from './helpers/build.js';
import { skipOrFail } from './helpers/skip.js';

describe('image-source: hostile images', function () {
  let work: string;
  let staging: string;
  let outside: string;
  let n = 0;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'elfdeps-imgsrc-hostile-'));
    outside = join(work, 'outside');
    mkdirSync(outside);
  });
  after(() => rmSync(work, { recursive: true, force: true }));
  beforeEach(() => {
    staging = join(work, `staging-${++n}`);
    mkdirSync(staging);
  });

  async function unpack(path: string, maxBytes?: bigint): Promise<UnpackedImage> {
    const image = await openSourceImage(path);
    try {
      return await unpackImage(image, choosePlatform(image, undefined), { tmpDir: staging, ...(maxBytes !== undefined ? { maxBytes } : {}) });
    } finally {
      image.close();
    }
  }

  /** Expects `path` refused with one line matching `message`, nothing left in the staging parent nor outside. */
  async function refused(path: string, message: RegExp, maxBytes?: bigint): Promise<void> {
    let err: unknown;
    try {
      (await unpack(path, maxBytes)).dispose();
    } catch (e) {
      err = e;
    }
    expect(err, 'refused').to.be.instanceOf(ElfdepsError);
    const e = err as ElfdepsError;
    expect(e.code).to.equal('IMAGE_SOURCE');
    expect(e.message).to.not.include('\n');
    expect(e.message, e.message).to.match(message);
    expect(readdirSync(staging), 'staging removed').to.deep.equal([]);
    expect(readdirSync(outside), 'nothing written outside').to.deep.equal([]);
  }

  async function image(layers: Array<LayerEntry[] | SyntheticLayer>, options: Parameters<typeof writeLayout>[2] = {}): Promise<string> {
    const dir = join(work, `image-${++n}`);
    const synthetic: SyntheticLayer[] = [];
    for (const l of layers) synthetic.push(Array.isArray(l) ? { tar: await layerTar(l) } : l);
    writeLayout(dir, synthetic, options);
    return dir;
  }

  const file = (name: string, data = 'x'): LayerEntry => ({ name, data });

  describe('layer entries', () => {
    it('a name with ".." is refused, not clamped', async () => {
      await refused(await image([[file('a/../../outside/x')]]), /layer entry name "a\/\.\.\/\.\.\/outside\/x" contains "\.\."$/);
    });

    it('an absolute name is refused', async () => {
      await refused(await image([[file(`${outside}/x`)]]), /layer entry name ".*\/outside\/x" is absolute$/);
    });

    it('a symlink then a file written through it (same layer, and from a lower layer)', async () => {
      await refused(await image([[{ name: 'l', type: 'symlink', linkname: outside }, file('l/pwned')]]), /layer entry "\/l\/pwned" would be written through the symlink "\/l"$/);
      await refused(await image([[{ name: 'l', type: 'symlink', linkname: '../../../../..' + outside }], [file('l/pwned')]]), /through the symlink "\/l"$/);
      // A directory entry replacing the symlink is no attack (overlayfs replaces it): the file goes into the new directory.
      const u = await unpack(await image([[{ name: 'l', type: 'symlink', linkname: outside }], [{ name: 'l/', type: 'directory' }, file('l/inside')]]));
      try {
        expect(readFileSync(join(u.dir, 'l/inside'), 'utf8')).to.equal('x');
      } finally {
        u.dispose();
      }
      await refused(await image([[{ name: 'd', type: 'symlink', linkname: outside }], [{ name: 'd/.wh.x', data: '' }]]), /through the symlink "\/d"$/);
    });

    it('a hard link to a missing entry, to a later entry, or out of the image', async () => {
      await refused(await image([[{ name: 'h', type: 'link', linkname: 'nothing' }]]), /"\/h" is a hard link to "\/nothing", which is not an earlier entry of the image$/);
      await refused(await image([[{ name: 'h', type: 'link', linkname: 'later' }, file('later')]]), /is a hard link to "\/later", which is not an earlier entry/);
      await refused(await image([[{ name: 'h', type: 'link', linkname: '../../etc/passwd' }]]), /link target "\.\.\/\.\.\/etc\/passwd" contains "\.\."$/);
      await refused(await image([[{ name: 'h', type: 'link', linkname: '/etc/passwd' }]]), /link target "\/etc\/passwd" is absolute$/);
      // Through a symlink of the image: the tree is read literally, the symlink is not followed.
      await refused(await image([[{ name: 'etc', type: 'symlink', linkname: '/etc' }, { name: 'h', type: 'link', linkname: 'etc/passwd' }]]), /not an earlier entry/);
    });

    it('a whiteout of ".." or of "/"', async () => {
      await refused(await image([[file('a/x')], [{ name: 'a/.wh...', data: '' }]]), /is a whiteout of "\.\."$/);
      await refused(await image([[file('a/x')], [{ name: '.wh.', data: '' }]]), /is a whiteout of "\/"$/);
      await refused(await image([[file('a/x')], [{ name: 'a/.wh..', data: '' }]]), /is a whiteout of "\."$/);
    });

    it('two entries for one path in one layer are refused (a directory repeated is not)', async () => {
      await refused(await image([[file('a', 'first'), file('a', 'second')]]), /layer 1 has two entries for "\/a"$/);
      await refused(await image([[file('a'), { name: 'a', type: 'symlink', linkname: 'b' }]]), /two entries for "\/a"$/);
      const u = await unpack(await image([[{ name: 'd', type: 'directory', mode: 0o700 }, { name: 'd/', type: 'directory', mode: 0o750 }, file('d/f')]]));
      try {
        expect(u.attributes.get('/d')!.mode).to.equal(0o750);
      } finally {
        u.dispose();
      }
    });

    it('device nodes and FIFOs are never created, kept as data', async () => {
      const u = await unpack(await image([[{ name: 'dev/', type: 'directory' }, { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 }, { name: 'dev/mem', type: 'character-device', devmajor: 1, devminor: 1, mode: 0o640 }, { name: 'p', type: 'fifo', mode: 0o600, uid: 7 }]]));
      try {
        expect(readdirSync(join(u.dir, 'dev'))).to.deep.equal([]);
        expect(existsSync(join(u.dir, 'p'))).to.equal(false);
        expect(u.specials.map((s) => [s.path, s.type, s.devmajor, s.devminor, s.attributes.mode, s.attributes.uid, s.attributes.gid])).to.deep.equal([
          ['/dev/sda', 'block', 8, 0, 0o660, 0, 6],
          ['/dev/mem', 'char', 1, 1, 0o640, 0, 0],
          ['/p', 'fifo', undefined, undefined, 0o600, 7, 0],
        ]);
      } finally {
        u.dispose();
      }
    });

    it('a header whose size lies (the data ends early), plain and gzip', async () => {
      const whole = await layerTar([file('big', 'y'.repeat(10_000))]);
      const cut = whole.subarray(0, 512 + 4096);
      await refused(await image([{ tar: cut, gzip: false }]), /layer 1 \(sha256:[0-9a-f]{64}\): truncated/);
      await refused(await image([{ tar: cut }]), /layer 1 \(sha256:[0-9a-f]{64}\): truncated/);
      const gz = gzipSync(whole);
      await refused(await image([{ tar: gz.subarray(0, gz.length - 20), gzip: false, diffId: `sha256:${sha256hex(whole)}` }]), /truncated/);
    });

    it('a gzip bomb stops at the byte limit (checked while streaming)', async () => {
      const bomb = await layerTar([{ name: 'zeros', data: Buffer.alloc(64 << 20) }]);
      const path = await image([{ tar: bomb }]);
      const started = process.hrtime.bigint();
      await refused(path, /the layers uncompress to more than 1048576 bytes \(the limit; a gzip bomb\?\)$/, 1n << 20n);
      // The limit counts all layers together.
      await refused(await image([[file('a', 'z'.repeat(3000))], [file('b', 'z'.repeat(3000))]]), /more than 6000 bytes/, 6000n);
      expect(Number(process.hrtime.bigint() - started) / 1e9).to.be.lessThan(30);
    });
  });

  it('zstd layers: a window larger than zstd -d accepts, a frame cut short, corrupt data, a dictionary: one line each', async function () {
    if (!hasTool('zstd')) skipOrFail(this, 'zstd is not installed', '.ci/run installs zstd');
    const tar = await layerTar([file('a', 'zstd content '.repeat(500))]);
    const zstd = (extra: string[] = []) => execFileSync('zstd', ['-q', '-c', ...extra], { input: tar });
    const layer = (bytes: Buffer) => ({ tar: bytes, gzip: false, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', diffId: `sha256:${sha256hex(tar)}` });
    // The real frame unpacks (test/image-source.test.ts compares a whole image with umoci's tree).
    const ok = await unpack(await image([layer(zstd())]));
    expect(readFileSync(join(ok.dir, 'a'), 'utf8')).to.equal('zstd content '.repeat(500));
    ok.dispose();
    // A frame header asking for a 2 GiB window (window descriptor: exponent 21), refused before any decoding.
    const huge = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3, 0x01, 0x00, 0x00]);
    await refused(await image([layer(huge)]), /zstd frame wants a 2147483648-byte window \(more than the 134217728 zstd -d accepts by default\)$/);
    const whole = zstd(['--no-check']);
    await refused(await image([layer(whole.subarray(0, whole.length - 7))]), /zstd data ends inside a frame \(truncated\)$|truncated/);
    const corrupt = Buffer.from(zstd(['-19']));
    corrupt.fill(0xff, 12, 40);
    await refused(await image([layer(corrupt)]), /layer 1 \(sha256:[0-9a-f]{64}\): (zstd|truncated|its uncompressed content)/);
    const dict = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x01, 0x58, 0x07, 0x01, 0x00, 0x00]);
    await refused(await image([layer(dict)]), /zstd frame needs a dictionary/);
  });

  it('an interrupt (the signal aborted) stops the unpack and removes the staging directory', async () => {
    const controller = new AbortController();
    controller.abort(new ElfdepsError('INTERRUPTED', 'interrupted by SIGTERM'));
    const img = await openSourceImage(await image([[file('a'), file('b')]]));
    try {
      let err: unknown;
      await unpackImage(img, img.platforms[0]!, { tmpDir: staging, signal: controller.signal }).catch((e: unknown) => (err = e));
      expect((err as ElfdepsError).code).to.equal('INTERRUPTED');
      expect(readdirSync(staging)).to.deep.equal([]);
    } finally {
      img.close();
    }
  });

  describe('blobs and documents', () => {
    it('a missing layer blob', async () => {
      await refused(await image([{ tar: await layerTar([file('a')]), omit: true }]), /layer 1 \(sha256:[0-9a-f]{64}\) is missing$/);
    });

    it('a layer whose digest, size or diff_id does not match', async () => {
      const tar = await layerTar([file('a')]);
      await refused(await image([{ tar, digest: `sha256:${sha256hex('other')}` }]), /layer 1 \(sha256:[0-9a-f]{64}\) is missing$/);
      // Another valid tar of the same length stored under the layer's name (uncompressed, so it applies to the end).
      const dir = await image([{ tar, gzip: false }]);
      const other = await layerTar([file('a', 'y')]);
      expect(other.length).to.equal(tar.length);
      writeFileSync(join(dir, 'blobs/sha256', sha256hex(tar)), other);
      await refused(dir, /layer 1 \(sha256:[0-9a-f]{64}\) does not match its digest \(sha256 [0-9a-f]{64}\)$/);
      await refused(await image([{ tar, diffId: `sha256:${sha256hex('not this')}` }]), /its uncompressed content does not match the config's diff_id/);
      await refused(await image([{ tar, size: 3 }]), /is longer than its descriptor's 3 bytes$/);
    });

    it('a manifest or config whose content does not match its digest', async () => {
      const dir = await image([[file('a')]]);
      const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
      const manifestFile = join(dir, 'blobs/sha256', index.manifests[0].digest.slice(7));
      const manifest = readFileSync(manifestFile, 'utf8');
      writeFileSync(manifestFile, manifest.replace('"schemaVersion":2', '"schemaVersion":2 '));
      await refused(dir, /is \d+ bytes, its descriptor says \d+$/);
      writeFileSync(manifestFile, manifest.replace('"schemaVersion":2', '"schemaVersion":3'));
      await refused(dir, /manifest sha256:[0-9a-f]{64} does not match its content/);
    });

    it('unknown media types (a layer, an index entry, a config)', async () => {
      await refused(await image([{ tar: await layerTar([file('a')]), mediaType: 'application/x-mystery' }]), /layers\[0\] has unknown media type "application\/x-mystery"$/);
      const dir = await image([[file('a')]], { indexPatch: (index) => ({ ...index, manifests: (index.manifests as object[]).map((m) => ({ ...m, mediaType: 'application/vnd.example+json' })) }) });
      await refused(dir, /manifests\[0\] has unknown media type "application\/vnd.example\+json"$/);
    });

    it('an index that loops is impossible with content addressing: a self-naming index fails its digest, a chain beyond 8 is refused', async () => {
      const chain = await image([[file('a')]], {
        indexPatch: (index, put) => {
          let top = index;
          for (let i = 0; i < 10; i++) top = { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', ...put(JSON.stringify(top)) }] };
          return top;
        },
      });
      await refused(chain, /indexes nest more than 8 deep$/);
      // An index naming itself: only a blob stored under a name that is not its digest can.
      const selfish = await image([[file('a')]]);
      const named = `sha256:${sha256hex('placeholder')}`;
      const loop = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: named, size: 0 }] });
      const withSize = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: named, size: Buffer.byteLength(loop) }] });
      writeFileSync(join(selfish, 'blobs/sha256', named.slice(7)), loop);
      writeFileSync(join(selfish, 'index.json'), withSize);
      await refused(selfish, /index sha256:[0-9a-f]{64} does not match its content/);
    });

    it('a layer count different from the config\'s diff_ids', async () => {
      const tar = await layerTar([file('a')]);
      await refused(await image([{ tar }], { configPatch: { rootfs: { type: 'layers', diff_ids: [`sha256:${sha256hex(tar)}`, `sha256:${sha256hex(tar)}`] } } }), /has 1 layers, its config 2 diff_ids$/);
    });

    it('absurd JSON sizes, an unsupported digest algorithm', async () => {
      const big = await image([[file('a')]], { indexPatch: (index) => ({ ...index, padding: 'p'.repeat(5 << 20) }) });
      await refused(big, /index\.json is \d+ bytes \(more than 4194304\)$/);
      const claims = await image([[file('a')]], { indexPatch: (index) => ({ ...index, manifests: (index.manifests as object[]).map((m) => ({ ...m, size: 1e15 })) }) });
      await refused(claims, /its descriptor says 1000000000000000$/);
      const sha512 = await image([[file('a')]], { indexPatch: (index) => ({ ...index, manifests: (index.manifests as object[]).map((m) => ({ ...m, digest: `sha512:${'0'.repeat(128)}` })) }) });
      await refused(sha512, /digest algorithm "sha512" is not supported \(sha256 only\)$/);
    });

    it('docker-archive: a manifest.json naming a path outside the archive, a member linking out of it', async () => {
      const dir = join(work, 'docker-out');
      mkdirSync(dir);
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: '../c.json', Layers: [] }]));
      const { spawnSync } = await import('node:child_process');
      spawnSync('tar', ['-cf', join(work, 'docker-out.tar'), '-C', dir, '.']);
      await refused(join(work, 'docker-out.tar'), /manifest\.json\[0\] names "\.\.\/c\.json" outside the archive$/);
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: 'c.json', Layers: [] }]));
      const { symlinkSync } = await import('node:fs');
      symlinkSync('../../../etc/passwd', join(dir, 'c.json'));
      spawnSync('tar', ['-cf', join(work, 'docker-link.tar'), '-C', dir, '.']);
      await refused(join(work, 'docker-link.tar'), /archive member "c\.json" links outside the archive$/);
    });

    it('a file that is not an image', async () => {
      copyFileSync('/etc/os-release', join(work, 'not-an-image'));
      await refused(join(work, 'not-an-image'), /not a tar file, or corrupt|not an image archive/);
      await refused(join(work, 'no-such-image'), /cannot read the image: No such file or directory \(ENOENT\)$/);
    });
  });
});
