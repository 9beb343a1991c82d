/**
 * Conformance on real foreign roots: Debian packages of another architecture
 * unpacked into a directory (scripts/fetch-foreign-root.sh, run by .ci/run),
 * resolved by elfdeps on this host with `root` set to that directory, must
 * give exactly the lines the real glibc loader of that architecture prints
 * for `ld.so --list`, run under qemu-user inside a chroot of the same root.
 *
 * The chroot matters: qemu's -L prefix falls back to the host's file for any
 * path missing under the prefix (the host's /etc/ld.so.cache, /usr/lib/...),
 * so only a chroot guarantees the loader sees nothing but the root.
 * Each root is compared twice: with its ld.so.cache (built by the target's
 * own ldconfig: the host's skips foreign machines) and without any cache or
 * ld.so.conf, where the loader searches only its default directories.
 *
 * Roots live in $ELFDEPS_FOREIGN_ROOTS/<debian-arch>-root (default
 * /var/cache/elfdeps-test); a missing root skips its tests with the command
 * that builds it, and fails them under CI (test/helpers/skip.ts). This test
 * downloads nothing.
 */
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { readElf } from '../src/elf/reader.js';
import { EM_AARCH64, EM_ARM, EM_PPC64, EM_S390 } from '../src/elf/constants.js';
import { Resolver } from '../src/resolve/index.js';
import { formatLdd } from '../src/cli/format.js';
import { hostElfFiles } from './helpers/host-elves.js';
import { elfdepsCommand } from './helpers/cli.js';
import { skipOrFail } from './helpers/skip.js';

const run = promisify(execFile);
const ROOTS = process.env.ELFDEPS_FOREIGN_ROOTS ?? '/var/cache/elfdeps-test';
/** Where the static qemu binary goes inside the oracle's copy of a root. */
const QEMU_IN_ROOT = '/.elfdeps-qemu-static';
/** How CI provides a foreign root (skipOrFail: missing under CI is a failure). */
const FOREIGN_ROOT_FIX = '.ci/run builds the roots with scripts/fetch-foreign-root.sh';

interface Target {
  /** Debian architecture (the root is ROOTS/<arch>-root). */
  arch: string;
  /** Machine name for the messages. */
  name: string;
  machine: number;
  elfClass: 32 | 64;
  triplet: string;
  qemu: string;
  loader: string;
  /** qemu's CPU model for the hwcaps check (AT_PLATFORM and AT_HWCAP follow it), and the subdirectories whose use it fixes. */
  hwcapsCpu: string | null;
  hwcapsSubdirs: string[];
}

/** arm64 is the one .ci/run must build; the others add 32-bit ARM and a big-endian cache. */
const TARGETS: Target[] = [
  // A CPU without LSE atomics: the legacy subdirectories are then tls/ and the platform's.
  { arch: 'arm64', name: 'aarch64', machine: EM_AARCH64, elfClass: 64, triplet: 'aarch64-linux-gnu', qemu: 'qemu-aarch64-static', loader: '/lib/ld-linux-aarch64.so.1', hwcapsCpu: 'cortex-a72', hwcapsSubdirs: ['tls', 'aarch64', 'tls/aarch64'] },
  // An ARMv7 CPU: platform v7l, with NEON and VFP.
  { arch: 'armhf', name: 'arm hard-float', machine: EM_ARM, elfClass: 32, triplet: 'arm-linux-gnueabihf', qemu: 'qemu-arm-static', loader: '/lib/ld-linux-armhf.so.3', hwcapsCpu: 'cortex-a15', hwcapsSubdirs: ['tls', 'vfp', 'neon/vfp', 'v7l', 'v7l/neon/vfp', 'tls/v7l/neon'] },
  // POWER and Z report the CPU model and its features: only tls/ is the same on every CPU.
  { arch: 's390x', name: 's390x', machine: EM_S390, elfClass: 64, triplet: 's390x-linux-gnu', qemu: 'qemu-s390x-static', loader: '/lib/ld64.so.1', hwcapsCpu: null, hwcapsSubdirs: ['tls'] },
  { arch: 'ppc64el', name: 'ppc64le', machine: EM_PPC64, elfClass: 64, triplet: 'powerpc64le-linux-gnu', qemu: 'qemu-ppc64le-static', loader: '/lib64/ld64.so.2', hwcapsCpu: null, hwcapsSubdirs: ['tls'] },
];

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** A copy of root to chroot into: hard links when on the same file system (no data copied), else a real copy. */
async function copyRoot(root: string, dst: string): Promise<void> {
  try {
    await run('cp', ['-al', root, dst]);
  } catch {
    rmSync(dst, { recursive: true, force: true });
    await run('cp', ['-a', root, dst]);
  }
}

/** The loader's trace lines: load addresses removed, the vDSO line dropped (see oracle()). */
function listLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.replace(/ \(0x[0-9a-f]+\)$/, ''))
    .filter((l) => l.includes(' => ') || l.includes('/') || l === '\tstatically linked');
}

/**
 * What the real loader prints for one in-root path: its stdout lines with the
 * load addresses removed and the vDSO line dropped (qemu's vDSO, nameless
 * under glibc 2.36 on aarch64; elfdeps prints none for a machine not the
 * host's). The vDSO is the only line that is neither "NAME => ...", a path,
 * nor "statically linked".
 */
async function oracle(chroot: string, chrootDir: string, loader: string, path: string, cpu: string | null = null): Promise<{ lines: string[]; stderr: string }> {
  const { stdout, stderr } = await run(chroot, [chrootDir, QEMU_IN_ROOT, ...(cpu ? ['-cpu', cpu] : []), loader, '--list', path], {
    // No LD_* or QEMU_* variable of ours may reach the guest.
    env: {},
    timeout: 60_000,
    maxBuffer: 1 << 20,
  }).catch((err: { stdout?: string; stderr?: string; message?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr || (err.message ?? '') }));
  return { lines: listLines(stdout), stderr: stderr.trim() };
}

/**
 * The program's own start under qemu with LD_TRACE_LOADED_OBJECTS=1 (set by qemu -E for the
 * guest only; chroot itself is a host program). Unlike ld.so --list, which in glibc 2.36 exits
 * 127 with nothing on stdout when a library is missing, this lists every missing library as
 * "NAME => not found" (the kernel starts the program, as a user would). Same filtering as oracle().
 */
async function startOracle(chroot: string, chrootDir: string, path: string): Promise<{ lines: string[]; stderr: string }> {
  const { stdout, stderr } = await run(chroot, [chrootDir, QEMU_IN_ROOT, '-E', 'LD_TRACE_LOADED_OBJECTS=1', path], { env: {}, timeout: 60_000, maxBuffer: 1 << 20 }).catch(
    (err: { stdout?: string; stderr?: string; message?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr || (err.message ?? '') }),
  );
  return { lines: listLines(stdout), stderr: stderr.trim() };
}

/** The loader's own account of its legacy and glibc-hwcaps subdirectories on this CPU (ld.so --help, glibc >= 2.33). */
async function loaderSubdirs(chroot: string, chrootDir: string, loader: string): Promise<{ platform: string | null; legacy: string[]; hwcaps: string[] }> {
  const { stdout } = await run(chroot, [chrootDir, QEMU_IN_ROOT, loader, '--help'], { env: {}, timeout: 60_000 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const section = (title: RegExp) => {
    const start = stdout.split('\n').findIndex((l) => title.test(l));
    if (start < 0) return [];
    const rest = stdout.split('\n').slice(start + 1);
    const end = rest.findIndex((l) => !l.startsWith('  '));
    return (end < 0 ? rest : rest.slice(0, end)).map((l) => l.trim());
  };
  const legacyLines = section(/^Legacy HWCAP subdirectories/).filter((l) => /supported, searched\)$/.test(l));
  const platform = legacyLines.find((l) => l.includes('(AT_PLATFORM;'))?.split(' ')[0] ?? null;
  const legacy = legacyLines.filter((l) => !l.includes('(AT_PLATFORM;')).map((l) => l.split(' ')[0] as string).filter((n) => n !== 'tls');
  const hwcaps = section(/^Subdirectories of glibc-hwcaps directories/).filter((l) => /searched\)$/.test(l)).map((l) => l.split(' ')[0] as string);
  return { platform, legacy, hwcaps };
}

interface Outcome {
  compared: number;
  equal: number;
  nonEmpty: number;
  mismatches: string[];
  oracleOf: Map<string, string[]>;
}

/** Resolves every file in chrootDir with elfdeps and with the loader, two qemu runs at a time (two cores). */
async function compareAll(chroot: string, chrootDir: string, loader: string, files: string[]): Promise<Outcome> {
  const resolver = new Resolver({ root: chrootDir, cwd: '/', originMode: 'ldd' });
  const out: Outcome = { compared: 0, equal: 0, nonEmpty: 0, mismatches: [], oracleOf: new Map() };
  const parallel = 2;
  for (let i = 0; i < files.length; i += parallel) {
    const batch = files.slice(i, i + parallel);
    const wants = await Promise.all(batch.map((f) => oracle(chroot, chrootDir, loader, f)));
    batch.forEach((f, j) => {
      const want = wants[j]?.lines ?? [];
      const p = resolver.resolveOne(f);
      // When the loader fails outright it prints nothing useful; neither do we.
      const got = p.fatal !== null ? [] : formatLdd(p);
      out.compared++;
      if (want.length > 0) out.nonEmpty++;
      out.oracleOf.set(f, want);
      if (JSON.stringify(got) === JSON.stringify(want)) out.equal++;
      else {
        const why = want.length ? '' : ` (stderr: ${wants[j]?.stderr ?? ''})`;
        out.mismatches.push(`${f}\n  ld.so:   ${want.join(' | ')}${why}\n  elfdeps: ${got.join(' | ')}`);
      }
    });
  }
  return out;
}

for (const t of TARGETS) {
  describe(`conformance with the real ${t.name} loader on a Debian ${t.arch} root (qemu-user)`, function () {
    this.timeout(30 * 60 * 1000);
    const root = join(ROOTS, `${t.arch}-root`);

    let work: string | null = null;
    let withCache = '';
    let withoutCache = '';
    let chroot = '';
    /** In-root paths of the dynamically linked ELF files of the target machine. */
    const files: string[] = [];
    let skipReason: string | null = null;

    before(async function () {
      const qemu = findOnPath(t.qemu);
      // Found here because the loader runs with an empty environment, PATH included.
      chroot = findOnPath('chroot') ?? '/usr/sbin/chroot';
      if (!existsSync(join(root, '.elfdeps-foreign-root'))) skipReason = `no ${t.arch} root at ${root} (build it with scripts/fetch-foreign-root.sh ${t.arch} ${root})`;
      else if (!qemu) skipReason = `${t.qemu} is not installed (Debian package qemu-user-static)`;
      else if (process.getuid?.() !== 0) skipReason = 'the oracle runs the loader in a chroot, which needs root';
      else if (!existsSync(join(root, 'etc/ld.so.cache'))) skipReason = `${root} has no etc/ld.so.cache (rebuild it with scripts/fetch-foreign-root.sh)`;
      if (skipReason || !qemu) return;

      const candidates = hostElfFiles([
        { dir: join(root, 'usr/bin'), recursive: false },
        { dir: join(root, 'usr/sbin'), recursive: false },
        { dir: join(root, 'usr/lib'), recursive: true },
        { dir: join(root, 'usr/libexec'), recursive: true },
      ]);
      for (const f of candidates) {
        const elf = readElf(f);
        const dynamic = elf.dynamic !== null && ['executable', 'pie-executable', 'shared-library', 'static-pie'].includes(elf.kind);
        if (elf.header.machine === t.machine && elf.header.elfClass === t.elfClass && dynamic) files.push(f.slice(root.length));
      }

      work = mkdtempSync(join(tmpdir(), `elfdeps-foreign-${t.arch}-`));
      withCache = join(work, 'with-cache');
      withoutCache = join(work, 'without-cache');
      for (const dir of [withCache, withoutCache]) {
        await copyRoot(root, dir);
        copyFileSync(qemu, join(dir, QEMU_IN_ROOT));
        chmodSync(join(dir, QEMU_IN_ROOT), 0o755);
      }
      // Without a cache ld.so searches only its default directories; elfdeps
      // would let ld.so.conf's directories stand in for the missing cache, so
      // the second copy has neither (removing a hard link leaves the root intact).
      for (const f of ['etc/ld.so.cache', 'etc/ld.so.conf', 'etc/ld.so.conf.d']) rmSync(join(withoutCache, f), { recursive: true, force: true });
    });

    after(function () {
      if (work) rmSync(work, { recursive: true, force: true });
    });

    for (const variant of ['with ld.so.cache', 'without ld.so.cache or ld.so.conf'] as const) {
      it(`gives the loader's --list output for every dynamically linked ${t.name} file, ${variant}`, async function () {
        if (skipReason) skipOrFail(this, skipReason, FOREIGN_ROOT_FIX);
        const dir = variant === 'with ld.so.cache' ? withCache : withoutCache;
        const r = await compareAll(chroot, dir, t.loader, files);
        console.log(`      foreign conformance (${t.name}, ${variant}): ${r.compared} compared, ${r.equal} equal`);
        if (r.mismatches.length) console.log(r.mismatches.slice(0, 20).join('\n'));
        expect(r.compared).to.be.greaterThan(300);
        // Guards against a silent oracle: no output at all would still "match" fatal resolutions.
        expect(r.nonEmpty, 'files the loader printed lines for').to.equal(r.compared);
        // The RUNPATH case really reaches man-db's private directory, and libc comes from the multiarch directory.
        // (any man-db version: no Debian package version is pinned here)
        expect(r.oracleOf.get('/usr/bin/man')?.some((l) => /^\tlibmandb-[0-9.]+\.so => \/usr\/lib\/man-db\/libmandb-[0-9.]+\.so$/.test(l)), 'man finds libmandb through its RUNPATH').to.equal(true);
        expect(r.oracleOf.get('/usr/bin/ls')).to.include(`\tlibc.so.6 => /lib/${t.triplet}/libc.so.6`);
        expect(r.mismatches, `${r.mismatches.length} files differ`).to.deep.equal([]);
      });
    }

    it(`shows "not found" as the ${t.name} loader does when the program itself starts (direct and indirect, with and without the cache)`, async function () {
      if (skipReason) skipOrFail(this, skipReason, FOREIGN_ROOT_FIX);
      if (!findOnPath('patchelf')) skipOrFail(this, 'patchelf is not installed (Debian package patchelf): no program with a missing library to compare');
      const libdir = `/lib/${t.triplet}`;
      let compared = 0;
      for (const dir of [withCache, withoutCache]) {
        // ls needing a library nowhere; and ls whose RUNPATH finds a copy of libselinux that needs one.
        copyFileSync(join(dir, 'usr/bin/ls'), join(dir, 'usr/bin/ls-missing'));
        await run('patchelf', ['--add-needed', 'libelfdeps-missing.so.1', join(dir, 'usr/bin/ls-missing')]);
        mkdirSync(join(dir, 'opt/elfdeps'), { recursive: true });
        copyFileSync(join(dir, libdir, 'libselinux.so.1'), join(dir, 'opt/elfdeps/libselinux.so.1'));
        await run('patchelf', ['--add-needed', 'libelfdeps-gone.so.2', join(dir, 'opt/elfdeps/libselinux.so.1')]);
        copyFileSync(join(dir, 'usr/bin/ls'), join(dir, 'usr/bin/ls-indirect'));
        await run('patchelf', ['--set-rpath', '/opt/elfdeps', join(dir, 'usr/bin/ls-indirect')]);
        try {
          for (const [prog, missing] of [
            ['/usr/bin/ls-missing', 'libelfdeps-missing.so.1'],
            ['/usr/bin/ls-indirect', 'libelfdeps-gone.so.2'],
          ] as const) {
            const want = await startOracle(chroot, dir, prog);
            expect(want.lines, `${prog}: the loader lists the missing library (stderr: ${want.stderr})`).to.include(`\t${missing} => not found`);
            const got = formatLdd(new Resolver({ root: dir, cwd: '/' }).resolveOne(prog));
            expect(got, `${prog} in ${dir}`).to.deep.equal(want.lines);
            compared++;
          }
        } finally {
          for (const f of ['usr/bin/ls-missing', 'usr/bin/ls-indirect', 'opt/elfdeps']) rmSync(join(dir, f), { recursive: true, force: true });
        }
      }
      console.log(`      missing libraries (${t.name}): ${compared} programs compared with their own start under qemu`);
    });

    it(`agrees with the ${t.name} loader under qemu's default CPU, given --platform, --legacy-hwcaps and --hwcaps from the loader's own --help`, async function () {
      if (skipReason) skipOrFail(this, skipReason, FOREIGN_ROOT_FIX);
      const { platform, legacy, hwcaps } = await loaderSubdirs(chroot, withoutCache, t.loader);
      const libdir = join(withoutCache, 'usr/lib', t.triplet);
      const lib = 'libselinux.so.1';
      // Each subdirectory the loader says it searches, one at a time (the default CPU's, not a chosen model).
      const subdirs = [...(platform ? [platform, `tls/${platform}`] : []), 'tls', ...legacy, ...legacy.map((h) => `${platform ?? ''}/${h}`.replace(/^\//, '')), ...hwcaps.map((h) => `glibc-hwcaps/${h}`)];
      const options = ['--root', withoutCache, ...(platform ? ['--platform', platform] : []), '--legacy-hwcaps', legacy.join(','), '--hwcaps', hwcaps.join(',')];
      const [node, bin] = elfdepsCommand();
      let used = 0;
      for (const sub of subdirs) {
        mkdirSync(join(libdir, sub), { recursive: true });
        copyFileSync(join(libdir, lib), join(libdir, sub, lib));
        try {
          const want = (await oracle(chroot, withoutCache, t.loader, '/usr/bin/ls')).lines;
          const { stdout } = await run(node, [bin, ...options, '--ldd', '/usr/bin/ls'], { env: { PATH: process.env.PATH ?? '' } });
          const line = want.find((l) => l.startsWith(`\t${lib} => `)) ?? '';
          if (line.includes(`/${sub}/${lib}`)) used++;
          expect(stdout.split('\n').filter((l) => l !== ''), `${sub} (${options.slice(2).join(' ')})`).to.deep.equal(want);
        } finally {
          rmSync(join(libdir, sub.split('/')[0] as string), { recursive: true, force: true });
        }
      }
      console.log(`      default CPU (${t.name}): platform ${platform ?? '-'}, legacy hwcaps ${legacy.join(',') || '-'}, glibc-hwcaps ${hwcaps.join(',') || '-'}; ${subdirs.length} subdirectories, ${used} used by the loader`);
      expect(used, 'the loader used each subdirectory its --help names').to.equal(subdirs.length);
    });

    it(`searches the legacy hwcap subdirectories the ${t.name} loader searches (glibc 2.36)`, async function () {
      if (skipReason) skipOrFail(this, skipReason, FOREIGN_ROOT_FIX);
      // One copy of a library /usr/bin/ls needs, in one subdirectory at a
      // time, in the cache-less copy: the loader must find it there, or not,
      // exactly as elfdeps says.
      const libdir = join(withoutCache, 'usr/lib', t.triplet);
      const lib = 'libselinux.so.1';
      let equal = 0;
      let intoSubdir = 0;
      const diffs: string[] = [];
      for (const sub of t.hwcapsSubdirs) {
        const dir = join(libdir, sub);
        mkdirSync(dir, { recursive: true });
        copyFileSync(join(libdir, lib), join(dir, lib));
        try {
          const want = (await oracle(chroot, withoutCache, t.loader, '/usr/bin/ls', t.hwcapsCpu)).lines;
          const got = formatLdd(new Resolver({ root: withoutCache, cwd: '/', originMode: 'ldd' }).resolveOne('/usr/bin/ls'));
          const line = want.find((l) => l.startsWith(`\t${lib} => `));
          expect(line, `the loader resolves ${lib}`).to.be.a('string');
          if (line?.includes(`/${sub}/${lib}`)) intoSubdir++;
          if (JSON.stringify(got) === JSON.stringify(want)) equal++;
          else diffs.push(`${sub}: ld.so ${line} / elfdeps ${got.find((l) => l.startsWith(`\t${lib} => `))}`);
        } finally {
          rmSync(join(libdir, sub.split('/')[0] as string), { recursive: true, force: true });
        }
      }
      console.log(
        `      hwcap subdirectories (${t.name}${t.hwcapsCpu ? `, qemu -cpu ${t.hwcapsCpu}` : ''}): ${t.hwcapsSubdirs.length} checked, ${equal} equal, ${intoSubdir} used by the loader`,
      );
      expect(diffs).to.deep.equal([]);
      // Every subdirectory listed is one the loader really searches on that CPU.
      expect(intoSubdir).to.equal(t.hwcapsSubdirs.length);
    });
  });
}
