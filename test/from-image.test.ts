/**
 * Issue 17 end to end: an image as the root (`--from`), against real
 * consumers. The base images are scripts/build-base-image.sh's (real Debian
 * 12 packages, two layers, whiteouts, an opaque directory, www-data owners,
 * amd64 + arm64 in one index). Oracles:
 *  - podman: the real tasks run in the slim image give what they give in the
 *    full base image, byte for byte; the config podman reads is the base's;
 *    owners and deleted files as a container of the base image sees them;
 *  - umoci: resolving with `--from IMAGE` equals resolving with `--root` of
 *    the same image unpacked by `umoci unpack`, for every ELF file of both
 *    platforms (results and verdicts);
 *  - the arm64 loader under qemu, in a chroot of the unpacked arm64 image:
 *    `check --from --image-platform linux/arm64` fails exactly the files it
 *    refuses; skopeo says the slim arm64 image is arm64.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { EM_AARCH64, EM_X86_64 } from '../src/elf/constants.js';
import { readElf } from '../src/elf/reader.js';
import { BASE_DOCKER_TAG, BASE_TASKS, BaseImageRunner, requireBaseImage, umociUnpack, type BaseArch } from './helpers/base-image.js';
import { cleanEnv, hasTool } from './helpers/build.js';
import { elfdepsCommand, REPO } from './helpers/cli.js';
import { hostElfFiles } from './helpers/host-elves.js';
import { elfdeps, requireTools } from './helpers/image.js';
import { mapPool } from './helpers/map-pool.js';
import { skipOrFail } from './helpers/skip.js';

const sha256File = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** The programs every BASE_TASK runs, once each. */
const TASK_PROGRAMS = [...new Set(BASE_TASKS.flatMap((t) => t.programs))];

/** Prints, for each path, what a container sees there: owner, group and permission bits, or that nothing is there. */
const PROBE_PATHS = ['/srv/www', '/srv/www/index.html', '/srv/www/default.html', '/usr/bin/python3', '/usr/lib/python3.11/json/__init__.py', '/usr/lib/python3.11/concurrent', '/usr/bin/tac'];
const PROBE = [
  '/usr/bin/python3',
  '-c',
  `import os\nfor p in ${JSON.stringify(PROBE_PATHS)}:\n    try:\n        s = os.lstat(p); print(p, s.st_uid, s.st_gid, oct(s.st_mode))\n    except FileNotFoundError:\n        print(p, 'absent')`,
];

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = elfdeps(args, { env });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('elfdeps image --from the base image: the slim image works as the base does (podman)', function () {
  this.timeout(30 * 60 * 1000);
  let work = '';
  let runner: BaseImageRunner | undefined;
  let baseId = '';
  let slimId = '';
  let slimTar = '';

  before(function () {
    const base = requireBaseImage(this);
    requireTools(this, 'podman', 'runc', 'skopeo');
    work = mkdtempSync(join(tmpdir(), 'elfdeps-from-image-'));
    slimTar = join(work, 'slim.tar');
    // The programs of every task, and the page curl fetches.
    const r = run(['image', '--from', base.amd64DockerArchive, ...TASK_PROGRAMS, '--add', '/srv/www', '-o', slimTar]);
    expect(r.status, r.stderr).to.equal(0);
    runner = new BaseImageRunner();
    baseId = runner.loadImage(base.amd64DockerArchive);
    slimId = runner.loadImage(slimTar);
    const size = (id: string) => Number((runner as BaseImageRunner).podman.inspect(id).Size);
    console.log(`      podman image size: base ${size(baseId)} bytes, slim ${size(slimId)} bytes; ${r.stdout.trim()}`);
  });
  after(() => {
    runner?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('runs every real task exactly as the full base image does', function () {
    const r = runner as BaseImageRunner;
    for (const task of BASE_TASKS) {
      const want = r.runTask(baseId, task.argv, task.user ? { user: task.user } : {});
      const got = r.runTask(slimId, task.argv, task.user ? { user: task.user } : {});
      expect(want.status, `${task.name} in the base image: ${want.stderr}`).to.equal(0);
      expect(want.stdout, task.name).to.match(task.expect);
      expect({ status: got.status, stdout: got.stdout }, `${task.name} in the slim image: ${got.stderr}`).to.deep.equal({ status: 0, stdout: want.stdout });
    }
    // The image's own Entrypoint and Cmd, carried.
    const want = r.runDefault(baseId);
    expect(want.stdout).to.equal('hello from base\n');
    expect(r.runDefault(slimId).stdout).to.equal(want.stdout);
  });

  it('keeps the base image\'s owners, modes and deletions as its containers see them', function () {
    const r = runner as BaseImageRunner;
    const want = r.runTask(baseId, PROBE);
    const got = r.runTask(slimId, PROBE);
    expect(want.status, want.stderr).to.equal(0);
    // What makes the comparison mean something: www-data's files, a stdlib module the slim image
    // keeps, and the directory the upper layer deleted, which the python rule would otherwise keep.
    expect(want.stdout).to.include('/srv/www/index.html 33 33 0o100644');
    expect(want.stdout).to.include('/usr/lib/python3.11/json/__init__.py 0 0');
    expect(want.stdout).to.include('/usr/lib/python3.11/concurrent absent');
    expect(got.stdout).to.equal(want.stdout);
  });

  it('carries the config podman reads, and names the base image in its annotations', function () {
    const r = runner as BaseImageRunner;
    type Inspected = { Config: Record<string, unknown>; Annotations?: Record<string, string> };
    const base = r.podman.inspect(baseId) as unknown as Inspected;
    const slim = r.podman.inspect(slimId) as unknown as Inspected;
    for (const key of ['Env', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'StopSignal', 'Entrypoint', 'Cmd']) {
      expect(slim.Config[key], key).to.deep.equal(base.Config[key]);
    }
    expect(slim.Config.Labels).to.include(base.Config.Labels as Record<string, string>);
    const raw = spawnSync('skopeo', ['inspect', '--raw', `oci-archive:${slimTar}`], { encoding: 'utf8' });
    expect(raw.status, raw.stderr).to.equal(0);
    const annotations = (JSON.parse(raw.stdout) as { annotations: Record<string, string> }).annotations;
    // A docker-archive has no manifest: its config's digest (podman's image id) names the image.
    expect(annotations['org.opencontainers.image.base.digest']).to.equal(`sha256:${baseId.replace(/^sha256:/, '')}`);
    expect(annotations['org.opencontainers.image.base.name']).to.equal(BASE_DOCKER_TAG);
    // The history: the base's, as podman reads it, each entry now without a layer, then what elfdeps kept.
    const baseHistory = (r.podman.inspect(baseId) as unknown as { History: Array<{ created_by?: string }> }).History;
    const config = JSON.parse(spawnSync('skopeo', ['inspect', '--config', `oci-archive:${slimTar}`], { encoding: 'utf8' }).stdout) as { history: Array<{ created_by?: string; empty_layer?: boolean }> };
    expect(config.history.slice(0, baseHistory.length).map((h) => [h.created_by, h.empty_layer])).to.deep.equal(baseHistory.map((h) => [h.created_by, true]));
    expect(config.history.slice(baseHistory.length).map((h) => h.created_by)).to.deep.equal([`elfdeps image --from ${BASE_DOCKER_TAG}`]);
  });

  it('gives the same bytes again, and refuses a file the upper layer deleted with one line', function () {
    const base = requireBaseImage(this);
    const again = join(work, 'again.tar');
    const r = run(['image', '--from', base.amd64DockerArchive, ...TASK_PROGRAMS, '--add', '/srv/www', '-o', again]);
    expect(r.status, r.stderr).to.equal(0);
    expect(sha256File(again)).to.equal(sha256File(slimTar));
    // A manifest made with --from, given again with --from: its files are read from this run's unpack.
    const manifestPath = join(work, 'slim.json');
    const m = run(['manifest', '--from', base.amd64DockerArchive, ...TASK_PROGRAMS, '--add', '/srv/www', '-o', manifestPath]);
    expect(m.status, m.stderr).to.equal(0);
    const fromManifest = join(work, 'from-manifest.tar');
    const i = run(['image', '--from', base.amd64DockerArchive, manifestPath, '-o', fromManifest]);
    expect(i.status, i.stderr).to.equal(0);
    expect(sha256File(fromManifest)).to.equal(sha256File(slimTar));
    const gone = run(['image', '--from', base.amd64DockerArchive, '/usr/bin/tac', '-o', join(work, 'tac.tar')]);
    expect(gone.status).to.equal(2);
    expect(gone.stderr.trim().split('\n')).to.have.length(1);
    expect(gone.stderr).to.match(/\/usr\/bin\/tac/);
  });
});

describe('--from IMAGE resolves exactly as --root of the same image unpacked by umoci', function () {
  this.timeout(20 * 60 * 1000);
  for (const arch of ['amd64', 'arm64'] as BaseArch[]) {
    it(`every ELF file of the ${arch} image: the same resolution and verdict (--json), and the same check`, function () {
      const base = requireBaseImage(this);
      requireTools(this, 'umoci');
      const rootfs = umociUnpack(this, arch);
      const files = hostElfFiles([{ dir: rootfs, recursive: true }]).map((f) => f.slice(rootfs.length));
      expect(files.length).to.be.greaterThan(500);
      const platform = arch === 'amd64' ? 'linux/amd64' : 'linux/arm64';
      const viaRoot = run(['--json', '--root', rootfs, ...files]);
      const viaFrom = run(['--json', '--from', base.oci, '--image-platform', platform, ...files]);
      expect(viaFrom.stderr).to.equal(viaRoot.stderr);
      expect(viaFrom.status).to.equal(viaRoot.status);
      const strip = (text: string) => ({ ...(JSON.parse(text) as Record<string, unknown>), root: null });
      expect(strip(viaFrom.stdout)).to.deep.equal(strip(viaRoot.stdout));
      const checkRoot = run(['check', '--json', '--root', rootfs]);
      const checkFrom = run(['check', '--json', '--from', base.allOciArchive, '--image-platform', platform]);
      expect(checkFrom.status).to.equal(checkRoot.status);
      expect(strip(checkFrom.stdout)).to.deep.equal(strip(checkRoot.stdout));
      console.log(`      ${arch}: ${files.length} ELF files, ${(JSON.parse(checkFrom.stdout) as { failing: number }).failing} failing check`);
    });
  }
});

describe('--from as an unprivileged user', function () {
  this.timeout(10 * 60 * 1000);
  it('nobody (uid 65534) unpacks and checks the image as root does: nothing of it needs root', function () {
    const base = requireBaseImage(this);
    if (process.getuid?.() !== 0) skipOrFail(this, 'dropping to nobody needs root');
    elfdepsCommand(); // dist/ built
    const tmp = mkdtempSync(join(tmpdir(), 'elfdeps-from-nobody-'));
    try {
      spawnSync('chmod', ['1777', tmp]);
      // The library, loaded while still root (the checkout may be private: a clone under /root),
      // then the same work with or without dropping to nobody first.
      const script = (drop: boolean) => `
        import { checkAsync, choosePlatform, openSourceImage, unpackImage } from ${JSON.stringify(join(REPO, 'dist', 'src', 'index.js'))};
        ${drop ? 'process.setgroups([]); process.setgid(65534); process.setuid(65534);' : ''}
        const image = await openSourceImage(${JSON.stringify(base.amd64OciArchive)});
        const u = await unpackImage(image, choosePlatform(image, undefined), { tmpDir: ${JSON.stringify(tmp)} });
        try {
          const r = await checkAsync(['/'], { root: u.dir, rootAttributes: u.attributes });
          console.log(JSON.stringify({ uid: process.getuid(), counts: r.counts, failures: r.failures, www: u.attributes.get('/srv/www/index.html') }));
        } finally {
          u.dispose();
          image.close();
        }`;
      const runAs = (drop: boolean) => {
        const r = spawnSync(process.execPath, ['--input-type=module', '-e', script(drop)], { encoding: 'utf8', env: cleanEnv(), maxBuffer: 1 << 26 });
        expect(r.status, r.stderr).to.equal(0);
        return JSON.parse(r.stdout) as { uid: number; counts: unknown; failures: Array<{ path: string }>; www: { uid: number } };
      };
      const asRoot = runAs(false);
      const asNobody = runAs(true);
      expect(asNobody.uid).to.equal(65534);
      expect({ ...asNobody, uid: 0 }).to.deep.equal(asRoot);
      expect(asRoot.failures.map((f) => f.path)).to.deep.equal(['/usr/sbin/useradd', '/usr/sbin/userdel', '/usr/sbin/usermod']);
      expect(asNobody.www.uid).to.equal(33);
      expect(readdirSync(tmp)).to.deep.equal([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('check --from the arm64 image, against the arm64 loader under qemu; image --image-platform all', function () {
  this.timeout(30 * 60 * 1000);
  let work = '';
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('fails exactly the files the arm64 loader refuses', async function () {
    const base = requireBaseImage(this);
    if (process.getuid?.() !== 0 || !hasTool('chroot') || !hasTool('qemu-aarch64-static')) skipOrFail(this, 'the oracle runs the image\'s loader under qemu-aarch64-static in a chroot, which needs root');
    const rootfs = umociUnpack(this, 'arm64');
    work = mkdtempSync(join(tmpdir(), 'elfdeps-from-arm64-'));
    // A hard-linked copy of umoci's tree with qemu in it: the cached tree stays as umoci made it.
    const copy = join(work, 'root');
    const cp = spawnSync('cp', ['-al', rootfs, copy], { encoding: 'utf8' });
    expect(cp.status, cp.stderr).to.equal(0);
    const qemuInRoot = '/.elfdeps-qemu-static';
    copyFileSync((spawnSync('sh', ['-c', 'command -v qemu-aarch64-static'], { encoding: 'utf8' }).stdout as string).trim(), join(copy, qemuInRoot));

    const r = run(['check', '--json', '--from', base.oci, '--image-platform', 'linux/arm64']);
    const doc = JSON.parse(r.stdout) as { failures: Array<{ path: string }> };
    expect(r.status).to.equal(doc.failures.length > 0 ? 1 : 0);
    const failing = new Set(doc.failures.map((f) => f.path));
    const files = hostElfFiles([{ dir: copy, recursive: true }])
      .filter((f) => {
        const elf = readElf(f);
        return elf.dynamic !== null && elf.header.machine === EM_AARCH64 && (elf.kind === 'executable' || elf.kind === 'pie-executable' || elf.kind === 'shared-library');
      })
      .map((f) => f.slice(copy.length));
    const refusals = await mapPool(files, 2, (f) =>
      promisify(execFile)('chroot', [copy, qemuInRoot, '/lib/ld-linux-aarch64.so.1', '--list', f], { env: cleanEnv() }).then(
        (out) => / not found/.test(out.stdout + out.stderr) && !/weak version/.test(out.stdout + out.stderr),
        () => true,
      ),
    );
    const refused = files.filter((_, i) => refusals[i]);
    console.log(`      ${files.length} aarch64 files asked of the image's loader: ${refused.length} refused; check fails ${failing.size}`);
    // The upper layer deleted libsemanage.so.2: useradd, userdel and usermod cannot start.
    expect(refused).to.include('/usr/sbin/useradd');
    expect(files.filter((f) => failing.has(f))).to.deep.equal(refused);
    expect([...failing].filter((f) => !files.includes(f))).to.deep.equal([]);
  });

  it('slims every platform into one output: skopeo reads each platform\'s image, podman runs this machine\'s', function () {
    const base = requireBaseImage(this);
    requireTools(this, 'skopeo', 'podman', 'runc');
    work ||= mkdtempSync(join(tmpdir(), 'elfdeps-from-arm64-'));
    const out = join(work, 'all.tar');
    const r = run(['image', '--from', base.allOciArchive, '--image-platform', 'all', '/usr/bin/python3', '--tag', 'slim:all', '-o', out]);
    expect(r.status, r.stderr).to.equal(0);
    for (const [arch, machine] of [['arm64', EM_AARCH64], ['amd64', EM_X86_64]] as const) {
      const inspected = spawnSync('skopeo', ['inspect', '--override-os', 'linux', '--override-arch', arch, `oci-archive:${out}`], { encoding: 'utf8' });
      expect(inspected.status, inspected.stderr).to.equal(0);
      expect((JSON.parse(inspected.stdout) as { Architecture: string }).Architecture).to.equal(arch);
      // The platform's own python3 is in its image.
      const dir = join(work, `unpack-${arch}`);
      const copied = spawnSync('skopeo', ['copy', '--override-os', 'linux', '--override-arch', arch, `oci-archive:${out}`, `oci:${dir}:x`], { encoding: 'utf8' });
      expect(copied.status, copied.stderr).to.equal(0);
      const unpack = spawnSync('umoci', ['unpack', '--image', `${dir}:x`, join(dir, 'bundle')], { encoding: 'utf8' });
      expect(unpack.status, unpack.stderr).to.equal(0);
      expect(readElf(join(dir, 'bundle', 'rootfs', 'usr', 'bin', 'python3.11')).header.machine).to.equal(machine);
    }
    const runner = new BaseImageRunner();
    try {
      const id = runner.loadImage(out);
      const task = BASE_TASKS[0]!;
      expect(runner.runTask(id, task.argv).stdout).to.match(task.expect);
    } finally {
      runner.close();
    }
  });
});

describe('--from: a broken image is one line, and an interrupt leaves no staging directory', function () {
  this.timeout(10 * 60 * 1000);
  let work = '';
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a layer whose bytes do not match its digest: exit 2, one line, nothing left in TMPDIR', function () {
    const base = requireBaseImage(this);
    work = mkdtempSync(join(tmpdir(), 'elfdeps-from-broken-'));
    const layout = join(work, 'oci');
    expect(spawnSync('cp', ['-r', base.oci, layout]).status).to.equal(0);
    // Flip one byte in the middle of the amd64 upper layer's blob.
    const blob = base.layerBlob('amd64', 2).replace(base.oci, layout);
    const bytes = readFileSync(blob);
    const at = bytes.length >> 1;
    bytes[at] = (bytes[at] as number) ^ 0xff;
    writeFileSync(blob, bytes);
    const tmp = join(work, 'tmp');
    spawnSync('mkdir', [tmp]);
    const r = run(['--from', layout, '--image-platform', 'linux/amd64', '/usr/bin/python3'], { TMPDIR: tmp });
    expect(r.status).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/digest/);
    expect(readdirSync(tmp)).to.deep.equal([]);
  });

  for (const when of ['while unpacking', 'while checking'] as const) {
    it(`SIGINT ${when}: exit 130, nothing left in TMPDIR`, async function () {
      const base = requireBaseImage(this);
      work ||= mkdtempSync(join(tmpdir(), 'elfdeps-from-broken-'));
      const tmp = mkdtempSync(join(work, 'tmp-'));
      const [node, bin] = elfdepsCommand();
      const child = spawn(node, [bin, 'check', '--from', base.allOciArchive, '--image-platform', 'all'], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await new Promise<void>((resolve) => {
        const poll = setInterval(() => {
          // Unpacking: the staging directory exists; checking: the first failure line is out.
          if (when === 'while unpacking' ? readdirSync(tmp).length > 0 : stdout.includes('\n')) {
            clearInterval(poll);
            resolve();
          }
        }, 20);
        child.stdout.on('data', (d) => (stdout += d));
      });
      child.kill('SIGINT');
      const code = await exited;
      expect(code, stderr).to.equal(130);
      expect(readdirSync(tmp)).to.deep.equal([]);
    });
  }
});
