/**
 * `elfdeps image` on real host programs, through the shipped CLI: the layer
 * holds exactly the manifest's entries (order, modes, symlink targets,
 * owners 0, one mtime), every digest and diff_id is the sha256 of what it
 * names, the config says what the options say, and the same inputs give the
 * same bytes, also after the sources' mtimes change. The real consumers
 * (skopeo, podman, umoci) are in image-consumers.test.ts.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { platformOfHeader } from '../src/image/platform.js';
import { createManifest } from '../src/manifest/create.js';
import { withParentDirectories } from '../src/manifest/entry-path.js';
import { serializeManifest } from '../src/manifest/validate.js';
import type { ElfHeader } from '../src/elf/reader.js';
import type { Manifest } from '../src/manifest/types.js';
import { REPO } from './helpers/cli.js';
import { elfdeps, image, layerTar, listLayer, sha256, unpackImage } from './helpers/image.js';
import { manifestOf, sha } from './helpers/hostile-manifests.js';

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'elfdeps-image-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

/** Writes `manifest` as JSON into the work directory and returns its path. */
function manifestFile(manifest: unknown, name = 'm.json'): string {
  const path = join(work, name);
  writeFileSync(path, typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  return path;
}

/** Every file under `dir`, relative, with its sha256 (what a directory holds, to compare two layouts). */
function contents(dir: string, at = ''): string[] {
  return readdirSync(join(dir, at), { withFileTypes: true }).flatMap((e) => {
    const rel = at === '' ? e.name : `${at}/${e.name}`;
    return e.isDirectory() ? [`${rel}/`, ...contents(dir, rel)] : [`${rel} ${sha256(readFileSync(join(dir, rel)))}`];
  });
}

describe('elfdeps image: layer and config of a bash+ls image', function () {
  this.timeout(120_000);

  it('the layer is exactly the manifest: order, modes, symlink targets, owners 0/0, mtime SOURCE_DATE_EPOCH', () => {
    const manifest = createManifest(['/bin/bash', '/bin/ls']);
    image([manifestFile(serializeManifest(manifest)), '-o', join(work, 'img.tar')], { SOURCE_DATE_EPOCH: '1700000000' });
    const layout = unpackImage(join(work, 'img.tar'), join(work, 'x'));
    expect(layout.layerFiles).to.have.length(1);
    const listed = listLayer(layout.layerFiles[0] as string);
    const expected = withParentDirectories(manifest.entries).map((e) => e.entry);
    expect(listed).to.have.length(expected.length);
    listed.forEach((line, i) => {
      const e = expected[i] as Manifest['entries'][number];
      const [perm, owner, size, date, time, name, arrow, target] = line.split(/\s+/);
      expect(owner, line).to.equal('0/0');
      expect(`${date} ${time}`, line).to.equal('2023-11-14 22:13:20');
      expect(name, line).to.equal(e.path.slice(1) + (e.kind === 'directory' ? '/' : ''));
      if (e.kind === 'symlink') expect([perm?.[0], arrow, target], line).to.deep.equal(['l', '->', e.target]);
      else {
        const bits = parseInt(e.mode, 8) & 0o777;
        let rwx = [6, 3, 0].map((sh) => ['r', 'w', 'x'].map((c, k) => ((bits >> (sh + 2 - k)) & 1 ? c : '-')).join('')).join('');
        // The sticky bit (/tmp, 1777) shows in the others' x column, as ls and tar print it.
        if ((parseInt(e.mode, 8) & 0o1000) !== 0) rwx = rwx.slice(0, 8) + (rwx.endsWith('x') ? 't' : 'T');
        expect(perm, line).to.equal((e.kind === 'directory' ? 'd' : '-') + rwx);
      }
      if (e.kind === 'file') expect(Number(size), line).to.equal(e.size);
    });
    // File contents are the sources' bytes: extract the layer and hash each file.
    const rootfs = join(work, 'rootfs');
    mkdirSync(rootfs);
    expect(spawnSync('tar', ['-xf', layout.layerFiles[0] as string, '-C', rootfs]).status).to.equal(0);
    for (const e of manifest.entries) if (e.kind === 'file') expect(sha256(readFileSync(join(rootfs, e.path))), e.path).to.equal(e.sha256);
  });

  it('digests, sizes and diff_ids are those of the bytes they name; the config says the platform, entrypoint, PATH and created', () => {
    image(['/bin/bash', '/bin/ls', '-o', join(work, 'img.tar')], { SOURCE_DATE_EPOCH: '86400' });
    const layout = unpackImage(join(work, 'img.tar'), join(work, 'x'));
    const blobs = readdirSync(join(layout.dir, 'blobs', 'sha256'));
    for (const hex of blobs) expect(sha256(readFileSync(join(layout.dir, 'blobs', 'sha256', hex))), hex).to.equal(hex);
    const desc = layout.index.manifests[0];
    expect(desc?.annotations).to.deep.equal({ 'io.containerd.image.name': 'bash:latest', 'org.opencontainers.image.ref.name': 'latest' });
    expect(statSync(join(layout.dir, 'blobs', 'sha256', (desc?.digest ?? '').slice(7))).size).to.equal(desc?.size);
    const layer = layout.manifest.layers[0];
    expect(layer?.mediaType).to.equal('application/vnd.oci.image.layer.v1.tar+gzip');
    expect(statSync(layout.layerFiles[0] as string).size).to.equal(layer?.size);
    expect(layout.config.rootfs.diff_ids).to.deep.equal([`sha256:${sha256(layerTar(layout.layerFiles[0] as string))}`]);
    expect(layout.dockerManifest).to.deep.equal([{ Config: `blobs/sha256/${layout.manifest.config.digest.slice(7)}`, RepoTags: ['bash:latest'], Layers: [`blobs/sha256/${layer?.digest.slice(7)}`] }]);
    expect(readFileSync(join(layout.dir, 'oci-layout'), 'utf8')).to.equal('{"imageLayoutVersion":"1.0.0"}');
    expect(layout.config).to.include({ architecture: 'amd64', os: 'linux', created: '1970-01-02T00:00:00Z' });
    expect(layout.config.config).to.deep.equal({ Entrypoint: ['/bin/bash'], Env: ['PATH=/usr/bin:/bin'] });
  });

  it('options: --tag, --entrypoint, --cmd, --env, --workdir, --user, --label, --compress none', () => {
    const out = join(work, 'img.tar');
    image(['/bin/ls', '--tag', 'localhost/tools/lister:1.0', '--tag', 'lister', '--entrypoint', '/bin/ls', '--entrypoint=-l', '--cmd', '/', '--env', 'LANG=C.UTF-8', '--env', 'PATH=/bin', '--workdir', '/tmp', '--user', '1000:1000', '--label', 'b=2', '--label', 'a=1', '--compress', 'none', '-o', out]);
    const layout = unpackImage(out, join(work, 'x'));
    expect(layout.config.config).to.deep.equal({ Entrypoint: ['/bin/ls', '-l'], Cmd: ['/'], Env: ['PATH=/bin', 'LANG=C.UTF-8'], WorkingDir: '/tmp', User: '1000:1000', Labels: { a: '1', b: '2' } });
    expect(layout.dockerManifest[0]?.RepoTags).to.deep.equal(['localhost/tools/lister:1.0', 'lister:latest']);
    expect(layout.index.manifests.map((m) => m.annotations['org.opencontainers.image.ref.name'])).to.deep.equal(['1.0', 'latest']);
    const layer = layout.manifest.layers[0];
    expect(layer?.mediaType).to.equal('application/vnd.oci.image.layer.v1.tar');
    expect(layout.config.rootfs.diff_ids[0], 'uncompressed: blob digest = diff_id').to.equal(layer?.digest);
  });

  it('refuses, in one line with exit 2: a user name without a user database, a bad tag, a bad SOURCE_DATE_EPOCH; a name the image holds is kept', () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, RegExp]> = [
      [['--user', 'daemon'], {}, /--user daemon: the image has no \/etc\/passwd/],
      [['--tag', 'Upper/Case'], {}, /--tag "Upper\/Case": "Upper" is not a valid name component/],
      [['--tag', 'x:bad tag'], {}, /tag "bad tag"/],
      [[], { SOURCE_DATE_EPOCH: 'yesterday' }, /SOURCE_DATE_EPOCH="yesterday"/],
      [['--compress', 'xz'], {}, /--compress xz: expected gzip or none/],
    ];
    for (const [args, env, message] of cases) {
      const r = elfdeps(['image', '/bin/true', ...args, '-o', join(work, 'no.tar')], { env });
      const err = r.stderr.toString();
      expect(r.status, err).to.equal(2);
      expect(err).to.match(message);
      expect(err.trim().split('\n').filter((l) => !l.startsWith('Try ')), err).to.have.length(1);
    }
    image(['/bin/true', '--add', '/etc/passwd', '--user', 'daemon', '-o', join(work, 'ok.tar')]);
    expect(unpackImage(join(work, 'ok.tar'), join(work, 'ok')).config.config.User).to.equal('daemon');
    expect(readdirSync(work).sort()).to.deep.equal(['ok', 'ok.tar']);
  });
});

describe('elfdeps image: reproducible', function () {
  this.timeout(120_000);

  it('two builds are byte-identical, also after every source mtime changed; -o - and --oci-dir give the same bytes', () => {
    // The sources in a root of our own, so their mtimes can be changed.
    const root = join(work, 'root');
    const copied = elfdeps(['copy', '-q', '/bin/bash', '/bin/ls', root]);
    expect(copied.status, copied.stderr.toString()).to.equal(0);
    const build = (name: string) => {
      image(['--root', root, '/usr/bin/bash', '/usr/bin/ls', '-o', join(work, name)]);
      return readFileSync(join(work, name));
    };
    const first = build('a.tar');
    expect(build('b.tar').equals(first), 'second build').to.equal(true);
    const visit = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) visit(p);
        if (e.isFile() || e.isDirectory()) utimesSync(p, new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
      }
    };
    visit(root);
    expect(build('c.tar').equals(first), 'after touching every source').to.equal(true);
    const streamed = elfdeps(['image', '--root', root, '/usr/bin/bash', '/usr/bin/ls', '-o', '-']);
    expect(streamed.status, streamed.stderr.toString()).to.equal(0);
    expect(streamed.stdout.equals(first), '-o -').to.equal(true);
    image(['--root', root, '/usr/bin/bash', '/usr/bin/ls', '--oci-dir', join(work, 'oci')]);
    unpackImage(join(work, 'a.tar'), join(work, 'unpacked'));
    expect(contents(join(work, 'oci'))).to.deep.equal(contents(join(work, 'unpacked')));
    // Another SOURCE_DATE_EPOCH: another image, with that time on every entry.
    image(['--root', root, '/usr/bin/bash', '-o', join(work, 'd.tar')], { SOURCE_DATE_EPOCH: '1234567890' });
    for (const line of listLayer(join(work, 'd.tar'))) expect(line).to.match(/ 0\/0 +\d+ 2009-02-13 23:31:30 /);
  });
});

describe('elfdeps image: faithful entries', function () {
  this.timeout(60_000);

  /** A hand-made manifest over files in the work directory. */
  function handMade(): { manifest: Record<string, unknown>; tmpMode: string } {
    const src = join(work, 'src');
    mkdirSync(src);
    const file = (name: string, text: string, mode: number) => {
      writeFileSync(join(src, name), text);
      chmodSync(join(src, name), mode);
      return { source: join(src, name), size: Buffer.byteLength(text), sha256: sha(text), mode: mode.toString(8).padStart(4, '0') };
    };
    const long = `/opt/${'d'.repeat(90)}/${'f'.repeat(60)}`;
    return {
      tmpMode: '0700',
      manifest: manifestOf([
        { kind: 'directory', path: '/tmp', mode: '0700' },
        { kind: 'file', path: '/usr/bin/su', ...file('su', 'setuid program\n', 0o4755) },
        { kind: 'file', path: long, ...file('long', 'a long name\n', 0o644) },
        { kind: 'file', path: '/opt/caf\u00e9', ...file('cafe', 'not ascii\n', 0o600) },
        { kind: 'symlink', path: '/opt/link', target: `..${long.slice(4)}` },
        { kind: 'symlink', path: '/opt/abs', target: '/usr/bin/su' },
      ]),
    };
  }

  it('setuid/setgid dropped (kept with --keep-setuid), /tmp 1777, parents 0755, PAX names and links, symlinks verbatim', () => {
    const { manifest } = handMade();
    const m = manifestFile(manifest);
    image([m, '--image-platform', 'linux/amd64', '-o', join(work, 'a.tar')]);
    image([m, '--image-platform', 'linux/amd64', '--keep-setuid', '-o', join(work, 'b.tar')]);
    const lines = (tarName: string, dir: string) => listLayer(unpackImage(join(work, tarName), join(work, dir)).layerFiles[0] as string);
    const a = lines('a.tar', 'xa');
    const byName = (list: string[], name: string) => list.find((l) => l.split(/\s+/)[5] === name) ?? `(no ${name})`;
    expect(byName(a, 'tmp/')).to.match(/^drwxrwxrwt /);
    expect(byName(a, 'usr/')).to.match(/^drwxr-xr-x /);
    expect(byName(a, 'usr/bin/su')).to.match(/^-rwxr-xr-x /);
    expect(byName(lines('b.tar', 'xb'), 'usr/bin/su')).to.match(/^-rwsr-xr-x /);
    expect(byName(a, 'opt/caf\u00e9')).to.match(/^-rw------- /);
    expect(byName(a, 'opt/abs')).to.match(/-> \/usr\/bin\/su$/);
    expect(byName(a, 'opt/link')).to.match(new RegExp(`-> \\.\\./${'d'.repeat(90)}/${'f'.repeat(60)}$`));
    expect(a.some((l) => l.includes(`opt/${'d'.repeat(90)}/${'f'.repeat(60)}`)), 'long name listed whole').to.equal(true);
    const raw = layerTar(unpackImage(join(work, 'a.tar'), join(work, 'xa')).layerFiles[0] as string).toString('latin1');
    expect(raw, 'long name in a PAX record').to.include(` path=opt/${'d'.repeat(90)}/${'f'.repeat(60)}\n`);
    expect(raw, 'long link target in a PAX record').to.include(` linkpath=../${'d'.repeat(90)}`);
    expect(raw, 'no atime/ctime records').to.not.match(/ (atime|ctime)=/);
  });

  it('--layers: programs above the libraries; images of programs with the same libraries share the lower layer blob', () => {
    image(['--layers', '--no-package-metadata', '/usr/bin/true', '-o', join(work, 't.tar')]);
    image(['--layers', '--no-package-metadata', '/usr/bin/false', '-o', join(work, 'f.tar')]);
    image(['--no-package-metadata', '/usr/bin/true', '-o', join(work, 'one.tar')]);
    const t = unpackImage(join(work, 't.tar'), join(work, 't'));
    const f = unpackImage(join(work, 'f.tar'), join(work, 'f'));
    expect(t.manifest.layers).to.have.length(2);
    expect(t.manifest.layers[0]?.digest, 'shared library layer').to.equal(f.manifest.layers[0]?.digest);
    expect(t.manifest.layers[1]?.digest).to.not.equal(f.manifest.layers[1]?.digest);
    const names = (path: string) => listLayer(path).map((l) => l.split(/\s+/)[5] as string);
    const upper = names(t.layerFiles[1] as string);
    expect(upper).to.include('usr/bin/true');
    expect(upper.filter((n) => !n.endsWith('/')).every((n) => n === 'usr/bin/true' || n === 'bin'), upper.join(' ')).to.equal(true);
    // Together the two layers hold exactly what the single layer holds.
    const single = new Set(names(unpackImage(join(work, 'one.tar'), join(work, 'one')).layerFiles[0] as string));
    expect(new Set([...names(t.layerFiles[0] as string), ...upper])).to.deep.equal(single);
  });

  it('a static program is an image of that file alone (plus its symlinks and --add)', function () {
    if (!existsSync('/bin/busybox')) {
      console.log('      skipped: /bin/busybox absent (busybox-static, which .ci/run installs)');
      this.skip();
    }
    image(['/bin/busybox', '--no-package-metadata', '--add', '/etc/hostname', '-o', join(work, 'bb.tar')]);
    const names = listLayer(unpackImage(join(work, 'bb.tar'), join(work, 'bb')).layerFiles[0] as string).map((l) => l.split(/\s+/)[5]);
    expect(names).to.deep.equal(['bin', 'etc/', 'etc/hostname', 'usr/', 'usr/bin/', 'usr/bin/busybox']);
  });
});

describe('elfdeps image: platform', function () {
  this.timeout(60_000);

  const header = (over: Partial<ElfHeader>): ElfHeader => ({
    elfClass: 64,
    littleEndian: true,
    identVersion: 1,
    osAbi: 0,
    abiVersion: 0,
    identPadIsZero: true,
    type: 3,
    machine: 62,
    version: 1,
    flags: 0,
    phoff: 64n,
    phentsize: 56,
    phnum: 0,
    ...over,
  });
  it('maps ELF machines, classes, byte orders and ARM float ABIs to OCI names', () => {
    const cases: Array<[Partial<ElfHeader>, unknown]> = [
      [{ machine: 62 }, { os: 'linux', architecture: 'amd64' }],
      [{ machine: 3, elfClass: 32 }, { os: 'linux', architecture: '386' }],
      [{ machine: 183 }, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
      [{ machine: 40, elfClass: 32, flags: 0x05000400 }, { os: 'linux', architecture: 'arm', variant: 'v7' }],
      [{ machine: 40, elfClass: 32, flags: 0x05000200 }, { os: 'linux', architecture: 'arm', variant: 'v5' }],
      [{ machine: 21 }, { os: 'linux', architecture: 'ppc64le' }],
      [{ machine: 22, littleEndian: false }, { os: 'linux', architecture: 's390x' }],
      [{ machine: 8 }, { os: 'linux', architecture: 'mips64le' }],
      [{ machine: 243 }, { os: 'linux', architecture: 'riscv64' }],
      [{ machine: 62, elfClass: 32 }, 'machine x32 has no OCI architecture name'],
      [{ machine: 62, osAbi: 9 }, /OS ABI .* is not Linux/],
    ];
    for (const [over, want] of cases) {
      const got = platformOfHeader(header(over));
      if (want instanceof RegExp) expect(got).to.match(want);
      else expect(got, JSON.stringify(over)).to.deep.equal(want);
    }
  });

  it('programs of two machines in one manifest are refused in one line', function () {
    const arm = '/var/cache/elfdeps-test/arm64-root/usr/bin/true';
    if (!existsSync(arm)) {
      if (process.env.CI) throw new Error(`CI: ${arm} missing (scripts/fetch-foreign-root.sh arm64)`);
      console.log(`      skipped: ${arm} absent (scripts/fetch-foreign-root.sh arm64 builds it)`);
      this.skip();
    }
    const entry = (path: string, source: string) => {
      const bytes = readFileSync(source);
      return { kind: 'file', path, source, mode: '0755', size: bytes.length, sha256: sha256(bytes) };
    };
    const program = (path: string) => ({ input: path, path, type: 'elf', interpreter: null });
    const m = manifestFile(manifestOf([entry('/host-true', '/usr/bin/true'), entry('/arm-true', arm)], { programs: [program('/host-true'), program('/arm-true')] }));
    const r = elfdeps(['image', m, '-o', join(work, 'mixed.tar')]);
    expect(r.status).to.equal(2);
    expect(r.stderr.toString()).to.match(/^elfdeps: \/arm-true is linux\/arm64\/v8 but \/host-true is linux\/amd64: one image holds programs of one machine\n$/);
    expect(existsSync(join(work, 'mixed.tar'))).to.equal(false);
  });
});

describe('elfdeps image: --help and docs/cli.md', () => {
  it('name the same options', () => {
    const options = (text: string) => new Set([...text.matchAll(/(?<![\w-])(-o|-q|--[a-z][a-z-]*)/g)].map((m) => m[1]));
    const help = elfdeps(['image', '--help']);
    expect(help.status).to.equal(0);
    // The options of its own, before "With FILE...: the options of 'elfdeps manifest'".
    const own = help.stdout.toString().split('With FILE...')[0] as string;
    const doc = readFileSync(join(REPO, 'docs', 'cli.md'), 'utf8');
    const section = doc.slice(doc.indexOf('## `elfdeps image'), doc.indexOf('## `elfdeps run')).split('With FILE...')[0] as string;
    expect([...options(section)].sort()).to.deep.equal([...options(own)].filter((o) => o !== '--help').sort());
  });
});
