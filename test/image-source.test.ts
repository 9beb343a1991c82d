/**
 * Reading an image as a root (src/image-source/), against `umoci unpack`
 * (run as root, so owners, modes and device nodes are real) as the oracle:
 * a real two-layer image built here with umoci from host files (a symlink, a
 * hard link, setuid, files owned by www-data and uid 1000, a FIFO, a device
 * node), its second layer a GNU tar of our own added with `umoci raw
 * add-layer` (a whiteout, an opaque directory, a file replacing a
 * directory, a directory replacing a symlink, a GNU long name). The staging
 * tree plus the attribute table must equal umoci's rootfs; the same image
 * copied by skopeo into an oci-archive and a docker-archive, and rewritten
 * by hand into Docker's older manifest.json/repositories form and Docker 25's
 * index-plus-manifest.json form, must give the same tree.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ElfdepsError } from '../src/errors.js';
import { choosePlatform, openSourceImage, unpackImage, type SourceImage, type UnpackedImage } from '../src/image-source/index.js';
import { hasTool } from './helpers/build.js';
import { hostTree, layerTar, sha256hex, unpackedTree, writeLayout, type TreeEntry } from './helpers/image-source.js';
import { skipOrFail } from './helpers/skip.js';

function sh(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** umoci sets every mtime but a symlink's and a directory's (their mtimes change as entries are added). */
const compareMtime = (e: TreeEntry) => e.type === 'file';

describe('image-source: an image read as a root, against umoci unpack', function () {
  let work: string;
  let layout: string;
  let oracle: Map<string, TreeEntry>;
  let deviceNode = false;
  const opened: SourceImage[] = [];
  const unpacked: UnpackedImage[] = [];

  before(function () {
    if (process.getuid?.() !== 0) skipOrFail(this, 'umoci unpack needs root to be the oracle of owners and device nodes');
    for (const tool of ['umoci', 'skopeo', 'tar']) if (!hasTool(tool)) skipOrFail(this, `${tool} is not installed`);
    work = mkdtempSync(join(tmpdir(), 'elfdeps-imgsrc-'));
    layout = join(work, 'oci');
    sh('umoci', ['init', '--layout', layout]);
    sh('umoci', ['new', '--image', `${layout}:t`]);
    const bundle = join(work, 'bundle');
    sh('umoci', ['unpack', '--image', `${layout}:t`, bundle]);
    const r = join(bundle, 'rootfs');
    // Layer 1: host files, links, owners, a setuid file, a FIFO, a device node.
    for (const d of ['usr/bin', 'usr/lib', 'etc/opq/sub', 'gone', 'repl', 'var/www', 'run', 'dev']) mkdirSync(join(r, d), { recursive: true });
    copyFileSync('/bin/ls', join(r, 'usr/bin/ls'));
    chmodSync(join(r, 'usr/bin/ls'), 0o755);
    linkSync(join(r, 'usr/bin/ls'), join(r, 'usr/bin/vdir'));
    symlinkSync('ls', join(r, 'usr/bin/dir'));
    copyFileSync('/bin/ls', join(r, 'usr/bin/suid'));
    chmodSync(join(r, 'usr/bin/suid'), 0o4755);
    copyFileSync('/etc/os-release', join(r, 'etc/os-release'));
    symlinkSync('/etc/os-release', join(r, 'abs-link'));
    const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6'].find(existsSync);
    if (libc) copyFileSync(libc, join(r, 'usr/lib/libc.so.6'));
    writeFileSync(join(r, 'etc/opq/old'), 'old\n');
    writeFileSync(join(r, 'etc/opq/sub/deeper'), 'deeper\n');
    writeFileSync(join(r, 'gone/f'), 'gone\n');
    writeFileSync(join(r, 'repl/child'), 'child\n');
    writeFileSync(join(r, 'var/www/index.html'), '<p>one</p>\n');
    chmodSync(join(r, 'var/www'), 0o750);
    chmodSync(join(r, 'var/www/index.html'), 0o640);
    chownSync(join(r, 'var/www'), 33, 33);
    chownSync(join(r, 'var/www/index.html'), 33, 33);
    chownSync(join(r, 'etc/opq/old'), 1000, 1000);
    chmodSync(join(r, 'run'), 0o1777);
    sh('mkfifo', ['-m', '0620', join(r, 'run/fifo')]);
    const mknod = spawnSync('mknod', ['-m', '0666', join(r, 'dev/null'), 'c', '1', '3']);
    deviceNode = mknod.status === 0;
    if (!deviceNode) console.log('      (mknod not permitted here: no device node in the fixture)');
    sh('umoci', ['repack', '--image', `${layout}:t`, bundle]);
    // Layer 2: written by GNU tar from a tree holding the whiteout files themselves.
    const l2 = join(work, 'l2');
    for (const d of ['etc/opq', 'usr/bin', 'var/www', 'abs-link', 'd'.repeat(60) + '/' + 'e'.repeat(60)]) mkdirSync(join(l2, d), { recursive: true });
    writeFileSync(join(l2, '.wh.gone'), '');
    writeFileSync(join(l2, 'etc/opq/.wh..wh..opq'), '');
    writeFileSync(join(l2, 'etc/opq/new'), 'new\n');
    writeFileSync(join(l2, 'usr/bin/.wh.dir'), '');
    writeFileSync(join(l2, 'var/www/index.html'), '<p>two</p>\n');
    chownSync(join(l2, 'var/www/index.html'), 33, 33);
    chmodSync(join(l2, 'var/www'), 0o750);
    chownSync(join(l2, 'var/www'), 33, 33);
    writeFileSync(join(l2, 'repl'), 'now a file\n');
    writeFileSync(join(l2, 'abs-link/inside'), 'a directory replaced the symlink\n');
    writeFileSync(join(l2, 'd'.repeat(60), 'e'.repeat(60), 'long-name'), 'GNU long name\n');
    chownSync(join(l2, 'etc/opq/new'), 1000, 1000);
    sh('tar', ['--format=gnu', '--numeric-owner', '--sort=name', '-cf', join(work, 'layer2.tar'), '-C', l2, '.']);
    sh('umoci', ['raw', 'add-layer', '--image', `${layout}:t`, join(work, 'layer2.tar')]);
    sh('umoci', ['unpack', '--image', `${layout}:t`, join(work, 'oracle')]);
    oracle = hostTree(join(work, 'oracle', 'rootfs'), compareMtime);
  });

  after(() => {
    for (const u of unpacked) u.dispose();
    for (const i of opened) i.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function unpackedFrom(path: string, format: string): Promise<UnpackedImage> {
    const image = await openSourceImage(path);
    opened.push(image);
    expect(image.format).to.equal(format);
    expect(image.platforms).to.have.length(1);
    const u = await unpackImage(image, choosePlatform(image, undefined), { tmpDir: work });
    unpacked.push(u);
    return u;
  }

  function expectSameTree(u: UnpackedImage): void {
    const ours = unpackedTree(u, compareMtime);
    // Compared path by path first, so a difference names its path.
    for (const [path, want] of oracle) expect(ours.get(path), path).to.deep.equal(want);
    expect([...ours.keys()]).to.deep.equal([...oracle.keys()]);
  }

  it('an OCI layout: the staging tree and attribute table equal umoci\'s rootfs (types, modes incl. setuid, owners, targets, contents, hard links, FIFO)', async function () {
    const u = await unpackedFrom(layout, 'oci-layout');
    expectSameTree(u);
    // The fixture is what it claims (a test that cannot fail is a defect): the oracle holds each case.
    expect(oracle.has('/gone')).to.equal(false);
    expect(oracle.has('/etc/opq/old') || oracle.has('/etc/opq/sub')).to.equal(false);
    expect(oracle.get('/etc/opq/new')).to.include({ uid: 1000, type: 'file' });
    expect(oracle.get('/usr/bin/suid')!.mode).to.equal(0o4755);
    expect(oracle.get('/usr/bin/ls')!.links).to.deep.equal(['/usr/bin/ls', '/usr/bin/vdir']);
    expect(oracle.get('/repl')!.type).to.equal('file');
    expect(oracle.get('/abs-link')!.type).to.equal('dir');
    expect(oracle.get('/var/www')).to.include({ uid: 33, mode: 0o750 });
    expect(oracle.get('/run/fifo')!.type).to.equal('fifo');
    // Nothing special exists on disk; staging files are never setuid.
    expect(existsSync(join(u.dir, 'run/fifo'))).to.equal(false);
    expect(spawnSync('find', [u.dir, '-perm', '/7000'], { encoding: 'utf8' }).stdout).to.equal('');
    if (deviceNode) expect(oracle.get('/dev/null')).to.include({ type: 'char', mode: 0o666 });
    expect(u.specials.find((s) => s.path === '/dev/null')?.devmajor).to.equal(deviceNode ? 1 : undefined);
    // What the image says about itself, read from umoci's own documents.
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(readFileSync(join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    const config = JSON.parse(readFileSync(join(layout, 'blobs/sha256', manifest.config.digest.slice(7)), 'utf8'));
    expect(u.base).to.deep.include({ manifestDigest: index.manifests[0].digest, name: 't', platform: { os: config.os, architecture: config.architecture } });
    expect(u.base.config.rootfs.diff_ids).to.deep.equal(config.rootfs.diff_ids).and.have.length(2);
  });

  it('the same image as skopeo\'s oci-archive and docker-archive gives the same tree', async function () {
    sh('skopeo', ['copy', '-q', `oci:${layout}:t`, `oci-archive:${join(work, 'oci.tar')}:t`]);
    sh('skopeo', ['copy', '-q', `oci:${layout}:t`, `docker-archive:${join(work, 'docker.tar')}:example/t:1`]);
    expectSameTree(await unpackedFrom(join(work, 'oci.tar'), 'oci-archive'));
    const d = await unpackedFrom(join(work, 'docker.tar'), 'docker-archive');
    expectSameTree(d);
    expect(d.base.name).to.equal('docker.io/example/t:1');
  });

  it('the same image with zstd layers (skopeo --dest-compress-format zstd) gives the same tree', async function () {
    const zstdLayout = join(work, 'zstd');
    sh('skopeo', ['copy', '-q', '--dest-compress-format', 'zstd', `oci:${layout}:t`, `oci:${zstdLayout}:t`]);
    const index = JSON.parse(readFileSync(join(zstdLayout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    const manifest = JSON.parse(readFileSync(join(zstdLayout, 'blobs', 'sha256', (index.manifests[0] as { digest: string }).digest.slice(7)), 'utf8')) as { layers: Array<{ mediaType: string }> };
    // What makes the comparison mean something: skopeo did write zstd layers.
    expect(manifest.layers.map((l) => l.mediaType)).to.deep.equal(manifest.layers.map(() => 'application/vnd.oci.image.layer.v1.tar+zstd'));
    expectSameTree(await unpackedFrom(zstdLayout, 'oci-layout'));
  });

  it('Docker\'s older form (<hex>.json, <id>/layer.tar, repositories) and Docker 25\'s (index.json + manifest.json) give the same tree', async function () {
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const blob = (d: string) => join(layout, 'blobs/sha256', d.slice(7));
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
    const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
    // Old form: each layer uncompressed into <id>/layer.tar, the config as <hex>.json.
    const old = join(work, 'old');
    mkdirSync(old);
    const configHex = manifest.config.digest.slice(7);
    copyFileSync(blob(manifest.config.digest), join(old, `${configHex}.json`));
    const layers = manifest.layers.map((l: { digest: string }, i: number) => {
      const id = sha256hex(`${i}:${l.digest}`);
      mkdirSync(join(old, id));
      const tar = gunzipSync(readFileSync(blob(l.digest)));
      // The second layer as docker save links a repeated layer: <id>/layer.tar a symlink to another member.
      if (i === 0) writeFileSync(join(old, id, 'layer.tar'), tar);
      else {
        writeFileSync(join(old, `${sha256hex(tar)}.tar`), tar);
        symlinkSync(`../${sha256hex(tar)}.tar`, join(old, id, 'layer.tar'));
      }
      writeFileSync(join(old, id, 'VERSION'), '1.0');
      return `${id}/layer.tar`;
    });
    expect(config.rootfs.diff_ids).to.have.length(layers.length);
    writeFileSync(join(old, 'manifest.json'), JSON.stringify([{ Config: `${configHex}.json`, RepoTags: ['old:form'], Layers: layers }]));
    writeFileSync(join(old, 'repositories'), JSON.stringify({ old: { form: layers[layers.length - 1].split('/')[0] } }));
    sh('tar', ['-cf', join(work, 'old.tar'), '-C', old, '.']);
    const o = await unpackedFrom(join(work, 'old.tar'), 'docker-archive');
    expectSameTree(o);
    expect(o.base.name).to.equal('old:form');
    // Docker 25: an OCI layout plus manifest.json naming blobs; the index is read.
    const d25 = join(work, 'd25');
    sh('cp', ['-a', layout, d25]);
    writeFileSync(join(d25, 'manifest.json'), JSON.stringify([{ Config: `blobs/sha256/${configHex}`, RepoTags: ['d25:latest'], Layers: manifest.layers.map((l: { digest: string }) => `blobs/sha256/${l.digest.slice(7)}`) }]));
    sh('tar', ['-cf', join(work, 'd25.tar'), '-C', d25, '.']);
    const n = await unpackedFrom(join(work, 'd25.tar'), 'docker-archive');
    expectSameTree(n);
    expect(n.base.manifestDigest).to.equal(index.manifests[0].digest);
  });
});

describe('image-source: whiteouts and replacements within a layer, against umoci unpack', function () {
  it('a same-layer entry stays whatever the order of the whiteout or opaque marker; a directory and a file replace each other', async function () {
    if (process.getuid?.() !== 0 || !hasTool('umoci')) skipOrFail(this, 'umoci unpack (as root) is the oracle');
    const work = mkdtempSync(join(tmpdir(), 'elfdeps-imgsrc-'));
    try {
      const f = (name: string, data = 'x') => ({ name, data });
      const layout = join(work, 'oci');
      writeLayout(layout, [
        { tar: await layerTar([f('a/old'), f('b/old'), f('c/old'), f('d/old'), f('e'), { name: 'g/', type: 'directory' }, f('g/old'), { name: 'h', type: 'symlink', linkname: 'e' }]) },
        {
          tar: await layerTar([
            f('a/new'), { name: '.wh.a', data: '' },
            { name: '.wh.b', data: '' }, f('b/new'),
            f('c/new'), { name: 'c/.wh..wh..opq', data: '' },
            { name: 'd/.wh..wh..opq', data: '' }, f('d/new'),
            { name: 'e/', type: 'directory', mode: 0o711 }, f('e/x'),
            f('g', 'file now'),
            { name: 'h/', type: 'directory' }, f('h/in'),
            { name: 'link', type: 'link', linkname: 'g' },
          ]),
        },
      ]);
      sh('umoci', ['unpack', '--image', `${layout}:test`, join(work, 'oracle')]);
      const oracle = hostTree(join(work, 'oracle', 'rootfs'), compareMtime);
      const image = await openSourceImage(layout);
      const u = await unpackImage(image, choosePlatform(image, undefined), { tmpDir: work });
      try {
        expect([...oracle.keys()]).to.deep.equal(['/', '/a', '/a/new', '/b', '/b/new', '/c', '/c/new', '/d', '/d/new', '/e', '/e/x', '/g', '/h', '/h/in', '/link']);
        expect(unpackedTree(u, compareMtime)).to.deep.equal(oracle);
      } finally {
        u.dispose();
        image.close();
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('image-source: choosing a platform of a multi-platform index', function () {
  let work: string;
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'elfdeps-imgsrc-'));
    const tar = await layerTar([{ name: 'f', data: 'x' }]);
    // Two images in one layout, the arm64 one behind a nested index (as Docker 25 and buildx write).
    const arm = join(work, 'arm');
    writeLayout(arm, [{ tar }], { architecture: 'arm64', configPatch: { variant: 'v8' } });
    writeLayout(join(work, 'multi'), [{ tar }], {
      architecture: 'amd64',
      indexPatch: (index, put) => {
        const armIndex = readFileSync(join(arm, 'index.json'));
        for (const f of readdirSync(join(arm, 'blobs/sha256'))) put(readFileSync(join(arm, 'blobs/sha256', f)));
        const amd = (index.manifests as Array<Record<string, unknown>>)[0]!;
        const nested = put(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: JSON.parse(armIndex.toString()).manifests.map((m: object) => ({ ...m, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } })) }));
        return {
          schemaVersion: 2,
          manifests: [
            { ...amd, platform: { os: 'linux', architecture: 'amd64' } },
            { mediaType: 'application/vnd.oci.image.index.v1+json', ...nested },
            // An attestation, as buildkit adds: not a platform.
            { ...amd, platform: { os: 'unknown', architecture: 'unknown' } },
          ],
        };
      },
    });
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('lists both platforms, picks by spec (arm64 = arm64/v8), defaults to this machine, names the choices when none fits', async () => {
    const image = await openSourceImage(join(work, 'multi'));
    try {
      expect(image.platforms).to.deep.equal([{ os: 'linux', architecture: 'amd64' }, { os: 'linux', architecture: 'arm64', variant: 'v8' }]);
      expect(choosePlatform(image, 'linux/arm64').architecture).to.equal('arm64');
      expect(choosePlatform(image, 'linux/arm64/v8').architecture).to.equal('arm64');
      const host = process.arch === 'x64' ? 'amd64' : process.arch;
      expect(choosePlatform(image, undefined).architecture).to.equal(host);
      let err: unknown;
      try {
        choosePlatform(image, 'linux/s390x');
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ElfdepsError);
      expect((err as ElfdepsError).code).to.equal('IMAGE_PLATFORM');
      expect((err as ElfdepsError).message).to.match(/has no linux\/s390x image \(it holds linux\/amd64, linux\/arm64\/v8\)$/);
      const u = await unpackImage(image, choosePlatform(image, 'linux/arm64'), { tmpDir: work });
      try {
        expect(u.base.config.architecture).to.equal('arm64');
        expect(readFileSync(join(u.dir, 'f'), 'utf8')).to.equal('x');
      } finally {
        u.dispose();
      }
    } finally {
      image.close();
    }
  });
});
