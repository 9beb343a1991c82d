/**
 * Issue 17, items 3 and 4 (output side): an image made from an image keeps
 * what the base image's config said, owners of manifest entries reach the
 * layer headers and `elfdeps copy` as root, and several platforms go into
 * one output. The base image here is a hand-made BaseImage (its config as a
 * real image has it); the end-to-end `--from` tests read real base images.
 *
 * Oracles are the consumers: podman (load, image inspect, run of the carried
 * Entrypoint and Cmd as the carried User in the carried WorkingDir), skopeo
 * (the annotations in the raw manifest, each platform of a two-platform
 * output with --override-arch), GNU tar --numeric-owner for the layer
 * headers, stat(1) for the owners a root copy gives.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, buildImageIndex, type ImageReport } from '../src/image/index.js';
import type { BaseImage } from '../src/image-source/types.js';
import { createManifest } from '../src/manifest/create.js';
import { generatedContent, type Manifest, type ManifestEntry } from '../src/manifest/types.js';
import { validateManifest } from '../src/manifest/validate.js';
import { materialise } from '../src/materialise/index.js';
import { Podman, requireTools, sha256, unpackImage } from './helpers/image.js';
import { skipOrFail } from './helpers/skip.js';

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'elfdeps-image-base-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

const HELLO = '#!/bin/bash\necho "hello $1 uid=$UID pwd=$PWD greeting=$GREETING"\n';
const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n';
const GROUP = 'root:x:0:\nwww-data:x:33:\n';

/** The base image's config, as `skopeo inspect --config` shows a real one. */
const BASE: BaseImage = {
  manifestDigest: 'sha256:' + 'ab'.repeat(32),
  name: 'example.org/base/app:1.0',
  platform: { os: 'linux', architecture: 'amd64' },
  config: {
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: 'www-data',
      Env: ['LANG=C.UTF-8', 'PATH=/usr/local/bin:/usr/bin:/bin', 'GREETING=base'],
      Entrypoint: ['hello'],
      Cmd: ['one'],
      WorkingDir: '/srv',
      ExposedPorts: { '8080/tcp': {} },
      Volumes: { '/data': {} },
      Labels: { 'org.example.base': 'yes', shared: 'base' },
      StopSignal: 'SIGINT',
    },
    history: [{ created_by: '/bin/sh -c #(nop) ADD file:1 in /' }],
    rootfs: { type: 'layers', diff_ids: ['sha256:' + 'cd'.repeat(32)] },
  },
};

/** Owners the manifest gives, by path: what the layer headers and a root copy must say. */
const owners = new Map<string, { uid: number; gid: number }>();

/** bash and ls with owners on some entries, a `#!` script in /usr/local/bin and a user database holding www-data. */
function baseManifest(): Manifest {
  const m = createManifest(['/bin/bash', '/bin/ls'], { loaderOnly: true });
  const entries: ManifestEntry[] = m.entries.map((e) => ({ ...e }));
  const own = (e: ManifestEntry, uid: number, gid: number) => {
    e.uid = uid;
    e.gid = gid;
    owners.set(e.path, { uid, gid });
  };
  const ls = entries.find((e) => e.kind === 'file' && e.path.endsWith('/ls'));
  const libc = entries.find((e) => e.kind === 'file' && /\/libc\.so\.6$/.test(e.path));
  const link = entries.find((e) => e.kind === 'symlink');
  if (!ls || !libc || !link) throw new Error('the manifest of bash and ls has no ls, libc.so.6 or symlink entry');
  own(ls, 33, 33);
  own(libc, 300000, 300001); // beyond ustar's six octal digits: a PAX record
  own(link, 7, 8);
  const dir: ManifestEntry = { kind: 'directory', path: '/usr/local/bin', mode: '0755' };
  own(dir, 1000, 1001);
  const hello: ManifestEntry = { kind: 'generated', path: '/usr/local/bin/hello', mode: '0755', ...generatedContent(HELLO) };
  own(hello, 33, 33);
  entries.push(dir, hello);
  entries.push({ kind: 'generated', path: '/etc/passwd', mode: '0644', ...generatedContent(PASSWD) });
  entries.push({ kind: 'generated', path: '/etc/group', mode: '0644', ...generatedContent(GROUP) });
  return validateManifest({ ...m, entries });
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

describe('image made from an image (issue 17)', function () {
  this.timeout(300_000);
  let manifest: Manifest;
  let tar: string;
  let report: ImageReport;

  before(async () => {
    manifest = baseManifest();
    tar = join(work, 'carried.tar');
    report = await buildImage(manifest, { output: { kind: 'tar', path: tar }, tags: ['elfdeps-test/carried:1'], base: BASE, env: ['GREETING=slim'], labels: { shared: 'ours' } });
  });

  it('the same inputs give the same bytes', async () => {
    const again = join(work, 'carried-again.tar');
    await buildImage(baseManifest(), { output: { kind: 'tar', path: again }, tags: ['elfdeps-test/carried:1'], base: BASE, env: ['GREETING=slim'], labels: { shared: 'ours' } });
    expect(sha256(readFileSync(again))).to.equal(sha256(readFileSync(tar)));
    expect(report.warnings).to.deep.equal([]);
  });

  it('GNU tar reads the owners of the manifest entries in the layer headers (a PAX record past 262143), root elsewhere', () => {
    const layout = unpackImage(tar, join(work, 'carried-unpacked'));
    const listing = run('tar', ['-tv', '--numeric-owner', '-f', layout.layerFiles[0] as string]);
    const seen = new Map<string, string>();
    for (const line of listing.split('\n').filter((l) => l !== '')) {
      const m = /^\S+ (\d+)\/(\d+) .*? \d\d:\d\d (.+?)(?: -> .*)?$/.exec(line);
      if (!m) throw new Error(`tar -tv line: ${line}`);
      seen.set('/' + (m[3] as string).replace(/\/$/, ''), `${m[1]}:${m[2]}`);
    }
    for (const [path, o] of owners) expect(seen.get(path), path).to.equal(`${o.uid}:${o.gid}`);
    const others = [...seen].filter(([p]) => !owners.has(p));
    expect(others.length).to.be.greaterThan(5);
    for (const [path, o] of others) expect(o, path).to.equal('0:0');
  });

  it('skopeo: the image manifest names the base image (org.opencontainers.image.base.*); the history says what was kept', function () {
    requireTools(this, 'skopeo');
    const raw = JSON.parse(run('skopeo', ['inspect', '--raw', `oci-archive:${tar}`])) as { annotations?: Record<string, string> };
    expect(raw.annotations).to.deep.equal({ 'org.opencontainers.image.base.digest': BASE.manifestDigest, 'org.opencontainers.image.base.name': BASE.name });
    const config = JSON.parse(run('skopeo', ['inspect', '--config', `docker-archive:${tar}`])) as { history: Array<Record<string, string>> };
    const kept = new Set(manifest.entries.filter((e) => e.kind !== 'generated').map((e) => e.path));
    // The base's own history first, marked empty_layer (its layers are not this image's), then the new layer's.
    expect(config.history).to.have.length(2);
    expect(config.history[0]).to.deep.equal({ ...BASE.config.history?.[0], empty_layer: true });
    expect(config.history[1]?.created_by).to.equal(`elfdeps image --from ${BASE.name}`);
    // Every directory a layer holds is counted once, parents the manifest implies included.
    const count = Number(/kept (\d+) entries of /.exec(config.history[1]?.comment ?? '')?.[1]);
    expect(count).to.be.at.least(kept.size);
  });

  describe('podman', () => {
    let podman: Podman;
    let name: string;
    before(function () {
      requireTools(this, 'podman', 'runc');
      podman = new Podman(join(work, 'podman'));
      name = podman.load(tar);
    });

    it('podman image inspect: Env (the base PATH first, --env replacing its key), User, WorkingDir, ports, volumes, labels merged, StopSignal, Entrypoint and Cmd', () => {
      const info = podman.inspect(name) as unknown as { Config: Record<string, unknown>; Labels: Record<string, string> };
      expect(info?.Config).to.deep.include({
        Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8', 'GREETING=slim'],
        User: 'www-data',
        WorkingDir: '/srv',
        ExposedPorts: { '8080/tcp': {} },
        Volumes: { '/data': {} },
        Entrypoint: ['hello'],
        Cmd: ['one'],
        StopSignal: 'SIGINT',
      });
      expect(info?.Labels).to.deep.equal({ 'org.example.base': 'yes', shared: 'ours' });
    });

    it('podman run starts the carried Entrypoint (a #! script found through the carried PATH) with the carried Cmd, as www-data in /srv', function () {
      const probe = podman.run(name, ['-c', 'exit 0'], '/bin/bash');
      if (probe.status !== 0) return skipOrFail(this, `podman cannot run containers here (${probe.stderr.trim().split('\n').slice(-1)[0]})`);
      const r = podman.run(name, []);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('hello one uid=33 pwd=/srv greeting=slim\n');
      const two = podman.run(name, ['two']);
      expect(two.stdout).to.equal('hello two uid=33 pwd=/srv greeting=slim\n');
      // ls, owned 33:33 by its manifest entry, as the container sees it.
      const ls = podman.run(name, ['-ln', '/usr/local/bin/hello'], '/bin/ls');
      expect(ls.status, ls.stderr).to.equal(0);
      expect(ls.stdout).to.match(/^-rwxr-xr-x 1 33 33 /);
    });
  });

  it('a base Entrypoint that would not start in the new root is not kept: the first program, and a warning saying why; history per layer', async () => {
    const base: BaseImage = { ...BASE, name: undefined, config: { ...BASE.config, config: { ...BASE.config.config, Entrypoint: ['/usr/bin/python3', '-m', 'app'], Cmd: null } } };
    const dir = join(work, 'not-kept');
    const r = await buildImage(manifest, { output: { kind: 'oci-dir', path: dir }, base, layers: true });
    expect(r.warnings).to.have.length(1);
    expect(r.warnings[0]).to.match(/Entrypoint \["\/usr\/bin\/python3","-m","app"\] is not kept: \/usr\/bin\/python3 is not an executable file of the new root/);
    const layout = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    const manifestBlob = JSON.parse(readFileSync(join(dir, 'blobs/sha256', layout.manifests[0].digest.slice(7)), 'utf8'));
    const config = JSON.parse(readFileSync(join(dir, 'blobs/sha256', manifestBlob.config.digest.slice(7)), 'utf8'));
    expect(config.config.Entrypoint).to.deep.equal([manifest.programs[0]?.path]);
    expect(config.config.Cmd).to.equal(undefined);
    // One history entry per layer (--layers: two), the first naming the base by its digest when it has no name.
    expect(config.history.map((h: { created_by: string }) => h.created_by)).to.deep.equal(['/bin/sh -c #(nop) ADD file:1 in /', `elfdeps image --from ${BASE.manifestDigest}`, 'elfdeps image']);
    expect(config.history[1].comment).to.match(new RegExp(`^libraries: kept \\d+ entries of ${BASE.manifestDigest}$`));
    expect(manifestBlob.annotations).to.deep.equal({ 'org.opencontainers.image.base.digest': BASE.manifestDigest });
  });

  it('a base Cmd alone naming an ELF program found through the carried PATH is kept; --entrypoint drops it', async () => {
    const base: BaseImage = { ...BASE, config: { ...BASE.config, config: { ...BASE.config.config, User: '0', Entrypoint: null, Cmd: ['bash', '-c', 'echo hi'] } } };
    const configOf = async (dir: string, extra: object) => {
      const r = await buildImage(manifest, { output: { kind: 'oci-dir', path: dir }, base, ...extra });
      const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
      const m = JSON.parse(readFileSync(join(dir, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
      return { warnings: r.warnings, config: JSON.parse(readFileSync(join(dir, 'blobs/sha256', m.config.digest.slice(7)), 'utf8')).config };
    };
    const kept = await configOf(join(work, 'cmd-kept'), {});
    expect(kept.warnings).to.deep.equal([]);
    expect(kept.config).to.deep.include({ Cmd: ['bash', '-c', 'echo hi'], User: '0' });
    expect(kept.config.Entrypoint).to.equal(undefined);
    const over = await configOf(join(work, 'cmd-over'), { entrypoint: ['/bin/ls'], workdir: '/', user: 'www-data', env: ['PATH=/bin'] });
    expect(over.config).to.deep.include({ Entrypoint: ['/bin/ls'], WorkingDir: '/', User: 'www-data' });
    expect(over.config.Cmd).to.equal(undefined);
    expect(over.config.Env).to.deep.equal(['PATH=/bin', 'LANG=C.UTF-8', 'GREETING=base']);
  });

  it('elfdeps copy as root gives each entry its owner (stat), root elsewhere', function () {
    if (process.geteuid?.() !== 0) return skipOrFail(this, 'copy applies owners only as root');
    const root = join(work, 'copied');
    materialise(manifest, root);
    for (const [path, o] of owners) expect(run('stat', ['-c', '%u:%g', join(root, path)]).trim(), path).to.equal(`${o.uid}:${o.gid}`);
    expect(run('stat', ['-c', '%u:%g', join(root, 'etc/passwd')]).trim()).to.equal('0:0');
    // lchown: the symlink itself, never its target.
    const link = manifest.entries.find((e) => e.kind === 'symlink');
    expect(run('stat', ['-c', '%F', join(root, link?.path ?? '')]).trim()).to.equal('symbolic link');
  });
});

describe('several platforms in one output (buildImageIndex)', function () {
  this.timeout(300_000);
  const armRoot = join(process.env.ELFDEPS_FOREIGN_ROOTS ?? '/var/cache/elfdeps-test', 'arm64-root');

  it('skopeo --override-arch picks each platform of one oci-archive; the docker-archive names each; two builds are byte-identical', async function () {
    requireTools(this, 'skopeo');
    if (!existsSync(join(armRoot, 'usr/bin/ls'))) return skipOrFail(this, `${armRoot} absent (bash scripts/fetch-foreign-root.sh arm64 ${armRoot} builds it)`);
    const parts = () => [
      { manifest: createManifest(['/bin/ls'], { loaderOnly: true }), options: {} },
      { manifest: createManifest(['/usr/bin/ls'], { root: armRoot, loaderOnly: true }), options: { base: { ...BASE, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } } } },
    ];
    const tar = join(work, 'two.tar');
    const report = await buildImageIndex(parts(), { output: { kind: 'tar', path: tar }, tags: ['elfdeps-test/two:1'] });
    expect(report.images.map((i) => i.platform)).to.deep.equal(['linux/amd64', 'linux/arm64/v8']);
    for (const [arch, i] of [['amd64', 0], ['arm64', 1]] as const) {
      const seen = JSON.parse(run('skopeo', ['inspect', '--override-arch', arch, '--override-os', 'linux', `oci-archive:${tar}`])) as { Architecture: string; Digest: string; Layers: string[] };
      expect(seen.Architecture, arch).to.equal(arch);
      // skopeo's Digest is the list's; the layers are the platform's own image's.
      expect(seen.Digest, arch).to.equal(report.indexDigest);
      expect(seen.Layers, arch).to.deep.equal(report.images[i]?.layers.map((l) => l.digest));
    }
    // Each blob once in the tar, the index one more blob.
    const names = run('tar', ['-tf', tar]).split('\n').filter((n) => n !== '');
    expect(new Set(names).size).to.equal(names.length);
    const docker = JSON.parse(run('tar', ['-xOf', tar, 'manifest.json'])) as Array<{ RepoTags: string[] }>;
    expect(docker.map((d) => d.RepoTags)).to.deep.equal([['elfdeps-test/two:1', 'elfdeps-test/two:1-amd64'], ['elfdeps-test/two:1-arm64-v8']]);
    const dockerArm = JSON.parse(run('skopeo', ['inspect', `docker-archive:${tar}:elfdeps-test/two:1-arm64-v8`])) as { Architecture: string };
    expect(dockerArm.Architecture).to.equal('arm64');
    if (process.arch === 'x64' && spawnSync('podman', ['--version']).status === 0) {
      // podman load reads the OCI side: from the index it takes this machine's platform, under the plain tag.
      const podman = new Podman(join(work, 'podman-two'));
      const loaded = podman.load(tar);
      expect(loaded).to.equal('localhost/elfdeps-test/two:1');
      const info = podman.inspect(loaded) as unknown as { Architecture: string; Digest: string };
      expect(info?.Architecture).to.equal('amd64');
    }
    const again = join(work, 'two-again.tar');
    await buildImageIndex(parts(), { output: { kind: 'tar', path: again }, tags: ['elfdeps-test/two:1'] });
    expect(sha256(readFileSync(again))).to.equal(sha256(readFileSync(tar)));
  });
});
