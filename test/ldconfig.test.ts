/**
 * The new root's /etc/ld.so.cache (src/ldconfig/, docs/ldconfig.md) against
 * the only oracle that counts: the real ldconfig run on the same tree.
 *
 * - amd64: roots made by plain `elfdeps copy` (bash and ls; python3; a
 *   root of several programs copied again out of a source root that was
 *   given glibc-hwcaps subdirectories (one library marked x86-64-v3 by the
 *   linker, so its ISA level is recorded), a legacy tls/ subdirectory, an
 *   ld.so.conf.d file naming /opt/lib, a linker's libz.so link and a symlink
 *   not named as its SONAME): the cache equals, byte for byte, what the
 *   host's `ldconfig -r NEWROOT -X` writes (Debian 12's ldconfig: chroot
 *   into NEWROOT, no links made, its ld.so.conf read).
 * - arm64, armhf, ppc64el, s390x: roots copied with `--root` out of the
 *   foreign Debian roots; the cache equals what the root's own
 *   /sbin/ldconfig writes under qemu-user in a chroot of the new root.
 * - ctypes: Python's ctypes.util.find_library in a root made by plain
 *   `elfdeps copy /usr/bin/python3` prints what the host prints for libc and
 *   libssl (both in the root), and None for a library the host's cache lists
 *   but the root does not hold (the host's answer would name a file the root
 *   lacks: the truth in the root is None, which is what a copied host cache
 *   got wrong).
 */
import { expect } from 'chai';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfdepsCommand } from './helpers/cli.js';
import { skipOrFail } from './helpers/skip.js';

const HOST_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';
const ENV = { PATH: HOST_PATH, LANG: 'C.UTF-8' };
const LIBDIR = '/usr/lib/x86_64-linux-gnu';
const FOREIGN = [
  { arch: 'arm64', qemu: 'qemu-aarch64-static' },
  { arch: 'armhf', qemu: 'qemu-arm-static' },
  { arch: 'ppc64el', qemu: 'qemu-ppc64le-static' },
  { arch: 's390x', qemu: 'qemu-s390x-static' },
];

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? ENV, cwd: opts.cwd ?? '/', maxBuffer: 64 << 20 });
}

function elfdeps(...args: string[]): SpawnSyncReturns<string> {
  const [node, bin] = elfdepsCommand();
  return run(node, [bin, ...args]);
}

function copy(...args: string[]): void {
  const r = elfdeps('copy', '-q', ...args);
  expect(r.status, `elfdeps copy ${args.join(' ')}: ${r.stderr}`).to.be.oneOf([0, 1]);
}

function which(name: string): string | null {
  const r = run('sh', ['-c', `command -v ${name}`]);
  const p = r.stdout.trim();
  return r.status === 0 && p.startsWith('/') ? p : null;
}

/** `ldconfig -p` of a cache file, for a readable difference when the bytes differ. */
function listing(cache: string): string {
  return run('/sbin/ldconfig', ['-p', '-C', cache]).stdout;
}

/** Ours (NEWROOT/etc/ld.so.cache) against the oracle's file; on a difference, both listings. */
function expectSameCache(root: string, oracle: string, label: string): number {
  const ours = readFileSync(join(root, 'etc/ld.so.cache'));
  const theirs = readFileSync(oracle);
  if (!ours.equals(theirs)) {
    expect(listing(join(root, 'etc/ld.so.cache')), `${label}: ldconfig -p of ours vs the real ldconfig's`).to.equal(listing(oracle));
    expect.fail(`${label}: same listing but different bytes (${ours.length} vs ${theirs.length})`);
  }
  return ours.readUInt32LE(20);
}

/** The host's ldconfig on NEWROOT (chroot, -X: no links, -i: no aux cache read), writing NEWROOT/etc/ld.so.cache.ldconfig. */
function hostLdconfig(root: string): string {
  const r = run('/sbin/ldconfig', ['-r', root, '-X', '-i', '-C', '/etc/ld.so.cache.ldconfig']);
  expect(r.status, `ldconfig -r ${root}: ${r.stderr}`).to.equal(0);
  return join(root, 'etc/ld.so.cache.ldconfig');
}

describe('ldconfig: the new root gets the cache its own ldconfig would write', function () {
  this.timeout(900_000);
  let dir: string;
  const counts: string[] = [];

  before(function () {
    if (process.getuid?.() !== 0) skipOrFail(this, 'needs root (ldconfig -r and the launcher chroot)');
    if (!existsSync('/sbin/ldconfig') || !/2\.36/.test(run('/sbin/ldconfig', ['--version']).stdout)) skipOrFail(this, "the host's ldconfig is not glibc 2.36's (Debian 12)");
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-ldconfig-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (counts.length) console.log(`      caches compared: ${counts.join('; ')}`);
  });

  it('amd64: byte for byte what ldconfig -r NEWROOT -X writes (bash+ls, python3, many programs, glibc-hwcaps, tls, ld.so.conf.d)', function () {
    if (process.arch !== 'x64') skipOrFail(this, 'the amd64 comparison runs on an x86-64 host');
    const small = join(dir, 'bash-ls');
    copy('/bin/bash', '/bin/ls', small);
    counts.push(`amd64 bash+ls ${expectSameCache(small, hostLdconfig(small), 'bash+ls')} libraries`);

    const py = join(dir, 'python3');
    copy('/usr/bin/python3', py);
    counts.push(`amd64 python3 ${expectSameCache(py, hostLdconfig(py), 'python3')}`);

    // A source root of several programs; its own cache is compared first.
    const programs = ['/bin/bash', '/bin/ls', '/usr/bin/perl', '/usr/bin/openssl', '/usr/bin/curl', '/usr/bin/xz', '/usr/bin/git', '/usr/bin/sqlite3'].filter((p) => existsSync(p));
    const src = join(dir, 'source');
    copy(...programs, src);
    counts.push(`amd64 ${programs.length} programs ${expectSameCache(src, hostLdconfig(src), 'many programs')}`);

    // What the host lacks, made in the source root: glibc-hwcaps subdirectories
    // (a library the linker marks as needing x86-64-v3, and a copy of libz with
    // its SONAME link), a hidden one ldconfig skips, a legacy tls/ directory, a
    // directory from ld.so.conf.d, the linker's libz.so link (a key of its own)
    // and a symlink named neither as its SONAME nor as a linker link.
    const lib = join(src, LIBDIR);
    const hw = join(lib, 'glibc-hwcaps');
    for (const d of ['x86-64-v3', 'x86-64-v2', '.hidden']) mkdirSync(join(hw, d), { recursive: true });
    mkdirSync(join(lib, 'tls'));
    mkdirSync(join(src, 'opt/lib'), { recursive: true });
    const c = join(dir, 'f.c');
    writeFileSync(c, 'int f(void) { return 1; }\n');
    const cc = (out: string, soname: string, ...flags: string[]): void => {
      const r = run('gcc', ['-shared', '-fPIC', '-o', out, `-Wl,-soname,${soname}`, ...flags, c]);
      expect(r.status, `gcc: ${r.stderr}`).to.equal(0);
    };
    if (which('gcc') === null) skipOrFail(this, 'gcc is not installed (it builds the x86-64-v3 library)');
    cc(join(hw, 'x86-64-v3/libelfdepsisa.so.1'), 'libelfdepsisa.so.1', '-Wl,-z,x86-64-v3');
    cc(join(lib, 'libelfdepsisa.so.1'), 'libelfdepsisa.so.1');
    cc(join(src, 'opt/lib/libelfdepsopt.so.2'), 'libelfdepsopt.so.2');
    cc(join(hw, '.hidden/libelfdepshidden.so.1'), 'libelfdepshidden.so.1');
    const libz = readdirSync(lib).find((n) => /^libz\.so\.1\.\d/.test(n));
    expect(libz, 'libz.so.1.* in the copied root').to.be.a('string');
    copyFileSync(join(lib, libz as string), join(hw, 'x86-64-v2', libz as string));
    symlinkSync(libz as string, join(hw, 'x86-64-v2/libz.so.1'));
    copyFileSync(join(lib, libz as string), join(lib, 'tls', libz as string));
    symlinkSync('libz.so.1', join(lib, 'libz.so'));
    symlinkSync('libelfdepsisa.so.1', join(lib, 'libelfdepsother.so.7'));
    writeFileSync(join(src, 'etc/ld.so.conf.d/elfdeps-opt.conf'), '/opt/lib\n');

    const newRoot = join(dir, 'hwcaps');
    const adds = ['glibc-hwcaps', 'tls', 'libz.so', 'libelfdepsisa.so.1', 'libelfdepsother.so.7'].flatMap((n) => ['--add', `${LIBDIR}/${n}`]);
    copy('--root', src, '/bin/bash', '/usr/bin/curl', ...adds, '--add', '/opt/lib', newRoot);
    const n = expectSameCache(newRoot, hostLdconfig(newRoot), 'glibc-hwcaps root');
    counts.push(`amd64 hwcaps root ${n}`);
    // The features are really in the cache, not merely absent from both.
    const p = listing(join(newRoot, 'etc/ld.so.cache'));
    expect(p).to.match(/libelfdepsisa\.so\.1 \(libc6,x86-64, hwcap: "x86-64-v3"\) => \S+glibc-hwcaps\/x86-64-v3\/libelfdepsisa\.so\.1/);
    expect(p).to.match(/libz\.so\.1 \(libc6,x86-64, hwcap: "x86-64-v2"\)/);
    expect(p).to.match(/libz\.so\.1 \(libc6,x86-64, hwcap: 0x8000000000000000\) => \S+\/tls\/libz\.so\.1/);
    expect(p).to.match(/libelfdepsopt\.so\.2 \(libc6,x86-64\) => \/opt\/lib\/libelfdepsopt\.so\.2/);
    expect(p).to.match(/\tlibz\.so \(libc6,x86-64\)/);
    expect(p).not.to.match(/hidden|libelfdepsother/);
    // The ISA level is recorded (bits 32-41 of the hwcap word): 2 for x86-64-v3.
    const cache = readFileSync(join(newRoot, 'etc/ld.so.cache'));
    const hwcaps = Array.from({ length: cache.readUInt32LE(20) }, (_, i) => cache.readBigUInt64LE(48 + 24 * i + 16)).filter((h) => h >> 62n === 1n);
    expect(hwcaps.some((h) => ((h >> 32n) & 0x3ffn) === 2n), 'an entry with ISA level 2').to.equal(true);
  });

  for (const { arch, qemu } of FOREIGN) {
    it(`${arch}: byte for byte what the root's own ldconfig writes under qemu in a chroot`, function () {
      const foreign = `/var/cache/elfdeps-test/${arch}-root`;
      if (!existsSync(join(foreign, 'sbin/ldconfig'))) skipOrFail(this, `no ${arch} root in ${foreign}`, 'scripts/fetch-foreign-root.sh builds it');
      const q = which(qemu);
      if (q === null) skipOrFail(this, `${qemu} is not installed`);
      const programs = ['/bin/bash', '/bin/ls', '/usr/bin/openssl', '/usr/bin/xz', '/usr/bin/man', '/usr/bin/perl'].filter((p) => existsSync(join(foreign, p)));
      const root = join(dir, arch);
      copy('--root', foreign, ...programs, root);
      // The root's own ldconfig (static) and qemu, for the run only; ldconfig writes its aux cache under /var/cache/ldconfig.
      copyFileSync(join(foreign, 'sbin/ldconfig'), join(root, 'ldconfig.oracle'));
      copyFileSync(q as string, join(root, qemu));
      const r = run('chroot', [root, `/${qemu}`, '/ldconfig.oracle', '-X', '-i', '-C', '/etc/ld.so.cache.ldconfig']);
      rmSync(join(root, 'ldconfig.oracle'));
      rmSync(join(root, qemu));
      expect(r.status, `${arch} ldconfig under qemu: ${r.stderr}`).to.equal(0);
      const ours = readFileSync(join(root, 'etc/ld.so.cache'));
      const theirs = readFileSync(join(root, 'etc/ld.so.cache.ldconfig'));
      expect(ours.length, `${arch}: cache size`).to.equal(theirs.length);
      expect(ours.equals(theirs), `${arch}: same bytes`).to.equal(true);
      const le = ours[28] === 2;
      counts.push(`${arch} ${le ? ours.readUInt32LE(20) : ours.readUInt32BE(20)}`);
    });
  }

  it("ctypes.util.find_library in a root made by plain 'elfdeps copy /usr/bin/python3' tells the truth", function () {
    const py = join(dir, 'python3');
    if (!existsSync(join(py, 'etc/ld.so.cache'))) copy('/usr/bin/python3', py);
    // A library the host's cache lists that the root does not hold: the host answers with it, the root must not.
    const hostList = run('/sbin/ldconfig', ['-p']).stdout;
    const absent = [...hostList.matchAll(/^\tlib([A-Za-z0-9_+-]+)\.so\.\d+ \(libc6,x86-64\) => (\S+)$/gm)]
      .map((m) => ({ name: m[1] as string, path: m[2] as string }))
      .find((l) => !['c', 'ssl', 'crypto', 'ffi', 'm', 'z'].includes(l.name) && !existsSync(join(py, l.path)) && !readdirSync(join(py, LIBDIR)).some((f) => f.startsWith(`lib${l.name}.so`)));
    expect(absent, 'a library of the host cache the python3 root lacks').to.not.equal(undefined);
    const names = ['c', 'ssl', absent?.name as string];
    const code = `import ctypes.util\nfor n in ${JSON.stringify(names)}: print(n, ctypes.util.find_library(n))`;
    const host = run('/usr/bin/python3', ['-c', code]);
    expect(host.status, host.stderr).to.equal(0);
    const inRoot = elfdeps('run', '--dev', '--proc', py, '--', '/usr/bin/python3', '-c', code);
    expect(inRoot.status, inRoot.stderr).to.equal(0);
    const hostLines = host.stdout.trim().split('\n');
    const rootLines = inRoot.stdout.trim().split('\n');
    // libc and libssl are in the root: the same answer as on the host (and not None).
    expect(rootLines.slice(0, 2)).to.deep.equal(hostLines.slice(0, 2));
    expect(rootLines[0]).to.match(/^c libc\.so\.6$/);
    expect(rootLines[1]).to.match(/^ssl libssl\.so\.\d+$/);
    // The host names the absent library; in the root the truth is None.
    expect(hostLines[2]).to.not.equal(`${absent?.name} None`);
    expect(rootLines[2]).to.equal(`${absent?.name} None`);
    // ldconfig -p inside the root lists exactly what the cache holds, all of it present in the root.
    const p = elfdeps('run', '--dev', '--proc', py, '--', '/sbin/ldconfig', '-p');
    expect(p.status, p.stderr).to.equal(0);
    const listed = [...p.stdout.matchAll(/ => (\S+)$/gm)].map((m) => m[1] as string);
    expect(listed.length).to.be.greaterThan(10);
    expect(listed.filter((f) => !existsSync(join(py, f))), 'listed but absent').to.deep.equal([]);
  });

  it('the manifest says so: a base64 generated entry (why ldconfig) with the ld.so.conf it read; copy and image write the same bytes; --ld-cache copy and none', function () {
    const manifest = (...args: string[]): { entries: Array<{ path: string; kind: string; encoding?: string; why?: { by: string }; content?: string; source?: string }> } => {
      const r = elfdeps('manifest', '--loader-only', ...args, '/bin/ls');
      expect(r.status, r.stderr).to.equal(0);
      return JSON.parse(r.stdout);
    };
    const gen = manifest().entries;
    const cache = gen.find((e) => e.path === '/etc/ld.so.cache');
    expect(cache).to.include({ kind: 'generated', encoding: 'base64' });
    expect(cache?.why).to.deep.equal({ by: 'ldconfig' });
    expect(gen.find((e) => e.path === '/etc/ld.so.conf')?.why).to.deep.equal({ by: 'ldconfig' });
    // ls's libraries (and only what the root holds): the cache of a --loader-only root lists libselinux and libc.
    const keys = Buffer.from(cache?.content as string, 'base64').toString('latin1');
    expect(keys).to.include('libselinux.so.1').and.to.include('libc.so.6').and.not.to.include('libpython');
    const copied = manifest('--ld-cache', 'copy').entries.find((e) => e.path === '/etc/ld.so.cache');
    expect(copied).to.include({ kind: 'file', source: '/etc/ld.so.cache' });
    expect(manifest('--ld-cache', 'none').entries.some((e) => e.path === '/etc/ld.so.cache' || e.path === '/etc/ld.so.conf')).to.equal(false);
    // copy and image write the same bytes, and they are the real ldconfig's for that root.
    const lsRoot = join(dir, 'ls');
    copy('/bin/ls', lsRoot);
    expectSameCache(lsRoot, hostLdconfig(lsRoot), 'ls');
    const oci = join(dir, 'ls-oci');
    const img = elfdeps('image', '-q', '/bin/ls', '--oci-dir', oci);
    expect(img.status, img.stderr).to.equal(0);
    const blobs = join(oci, 'blobs/sha256');
    const inImage = readdirSync(blobs)
      .map((b) => spawnSync('tar', ['-xzOf', join(blobs, b), 'etc/ld.so.cache'], { maxBuffer: 64 << 20 }))
      .find((r) => r.status === 0 && r.stdout.length > 0)?.stdout;
    expect(inImage?.equals(readFileSync(join(lsRoot, 'etc/ld.so.cache'))), 'the image layer holds the same cache').to.equal(true);
    const bad = elfdeps('manifest', '--ld-cache', 'maybe', '/bin/ls');
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/--ld-cache maybe: expected one of generate, copy, none/);
  });
});
