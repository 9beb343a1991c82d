/**
 * Foreign root filesystems: aarch64, i386, big-endian ppc64 and musl roots
 * built on this x86_64 host with the test ELF writer, resolved with
 * `resolve(files, { root })` and through the compiled CLI.
 *
 * No loader on this machine can run these binaries, so every expectation is
 * written from the loader's rules (shared/reference/ldso-rules.md, cited by
 * section next to each one), never from what the resolver prints. Where a
 * rule is subtle (when open_path abandons a search list), the host's own
 * glibc confirms it on x86-64 programs built with gcc.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readlinkSync, realpathSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { formatLdd } from '../src/cli/format.js';
import { resolve, type ResolveOptions } from '../src/resolve/index.js';
import type { FoundBy, ProgramResolution } from '../src/resolve/types.js';
import { PLATFORMS, type Platform } from './helpers/elf-writer.js';
import { elfdepsCommand } from './helpers/cli.js';
import { buildRoot, makeTempRoot, program, removeTempRoot, sharedLibrary, type RootSpec } from './helpers/fake-root.js';

const run = promisify(execFile);

const A64 = PLATFORMS.aarch64;
const I386 = PLATFORMS.i386;
const X86_64 = PLATFORMS.x86_64;
const ARMHF = PLATFORMS.armhf;
const PPC64 = PLATFORMS.ppc64;
const PPC64LE = PLATFORMS.ppc64le;
/** x32: ELFCLASS32 with EM_X86_64. */
const X32: Platform = { elfClass: 32, littleEndian: true, machine: X86_64.machine };

/** ld.so.cache entry flags (ldso-rules.md §4.2). */
const FLAGS_AARCH64 = 0x0a03;
const FLAGS_X8664 = 0x0303;
const FLAGS_PPC64 = 0x0503;

// ---------------------------------------------------------------------------------------------
// Helpers

/** [first name, path, realPath, foundBy, via] of every object, in load order. */
type ObjectRow = [string | null, string, string, FoundBy, number | null];

function rows(p: ProgramResolution): ObjectRow[] {
  return p.objects.map((o) => [o.names[0] ?? null, o.path, o.realPath, o.foundBy, o.via]);
}

function objectAt(p: ProgramResolution, path: string) {
  const o = p.objects.find((x) => x.path === path);
  expect(o, `no object with path ${path}; have ${p.objects.map((x) => x.path).join(', ')}`).to.not.equal(undefined);
  return o as NonNullable<typeof o>;
}

function dependency(p: ProgramResolution, name: string) {
  const d = p.dependencies.find((x) => x.name === name);
  expect(d, `no dependency ${name}`).to.not.equal(undefined);
  return d as NonNullable<typeof d>;
}

/** Unique {path,target} pairs (a walk may pass the same symlink twice, e.g. /lib after an absolute target). */
function linkSet(links: Array<{ path: string; target: string }>): string[] {
  return [...new Set(links.map((l) => `${l.path} -> ${l.target}`))].sort();
}

/**
 * Nothing in a resolution may name a host path: every path is in-root and
 * absolute, every realPath is the canonical in-root path of a regular file
 * of the root (realpath on the host gives back the same place), every
 * recorded link is a symlink of the root with that exact target, and the
 * root's host prefix appears nowhere in the result.
 */
function expectInsideRoot(root: string, p: ProgramResolution): void {
  for (const o of p.objects) {
    expect(o.path.startsWith('/'), o.path).to.equal(true);
    const host = root + o.realPath;
    expect(realpathSync(host), `${o.realPath} is not canonical inside the root`).to.equal(host);
    expect(statSync(host).isFile(), `${o.realPath} is not a file of the root`).to.equal(true);
    for (const l of o.links) {
      expect(lstatSync(root + l.path).isSymbolicLink(), `${l.path} is not a symlink of the root`).to.equal(true);
      expect(readlinkSync(root + l.path)).to.equal(l.target);
    }
  }
  for (const path of p.openedPaths) expect(path.startsWith('/'), path).to.equal(true);
  expect(JSON.stringify(p)).to.not.include(root);
}

function resolveIn(root: string, file: string, options: ResolveOptions = {}): ProgramResolution {
  const r = resolve([file], { root, ...options });
  expect(r.root).to.equal(root);
  return r.programs[0] as ProgramResolution;
}

// ---------------------------------------------------------------------------------------------
// Roots

const A64_INTERP = '/lib/ld-linux-aarch64.so.1';
const A64_MA = '/usr/lib/aarch64-linux-gnu';

/**
 * Debian arm64 with merged /usr: /lib -> usr/lib, the interpreter an absolute
 * symlink, libraries in the multiarch directory with SONAME symlinks, an
 * application directory under /opt reached by RPATH, a relative include in
 * ld.so.conf, and decoys that are only harmless if symlinks stay in the root.
 */
function debianArm64(withCache: boolean): RootSpec {
  const lib = (o: Parameters<typeof sharedLibrary>[1]) => sharedLibrary(A64, o);
  return {
    dirs: ['/usr/bin', A64_MA, '/usr/local/lib/aarch64-linux-gnu', '/opt/app/lib', '/opt/x86', '/usr/lib/x86_64-linux-gnu', '/etc/ld.so.conf.d'],
    elves: {
      [`${A64_MA}/ld-linux-aarch64.so.1`]: lib({ soname: 'ld-linux-aarch64.so.1' }),
      [`${A64_MA}/libc.so.6`]: lib({ soname: 'libc.so.6', needed: ['ld-linux-aarch64.so.1'] }),
      [`${A64_MA}/libz.so.1.2.13`]: lib({ soname: 'libz.so.1', needed: ['libc.so.6'] }),
      [`${A64_MA}/libssl.so.3`]: lib({ soname: 'libssl.so.3', needed: ['libcrypto.so.3', 'libc.so.6'] }),
      [`${A64_MA}/libcrypto.so.3`]: lib({ soname: 'libcrypto.so.3', needed: ['libc.so.6'] }),
      [`${A64_MA}/libwrongflags.so.1`]: lib({ soname: 'libwrongflags.so.1' }),
      // Where the x86-64-flagged cache entry points: usable, so only the flags keep it out.
      '/opt/x86/libwrongflags.so.1': lib({ soname: 'libwrongflags.so.1' }),
      '/usr/local/lib/aarch64-linux-gnu/libextra.so.1': lib({ soname: 'libextra.so.1' }),
      '/usr/lib/libgone.so.1': lib({ soname: 'libgone.so.1' }),
      '/opt/app/lib/libapp.so.1': lib({
        soname: 'libapp.so.1',
        needed: ['libssl.so.3', 'libextra.so.1', 'libgone.so.1', 'libwrongflags.so.1', 'libc.so.6'],
      }),
      // In-root target of the absolute symlink libhost.so.1 -> /lib/x86_64-linux-gnu/libc.so.6.
      '/usr/lib/x86_64-linux-gnu/libc.so.6': lib({ soname: 'libhost.so.1' }),
      '/usr/bin/prog': program(A64, A64_INTERP, { rpath: '/opt/app/lib', needed: ['libapp.so.1', 'libz.so.1', 'libc.so.6'] }),
      '/usr/bin/passwd-user': program(A64, A64_INTERP, { needed: ['libpasswd.so.1', 'libhost.so.1', 'libc.so.6'] }),
    },
    files: {
      '/etc/ld.so.conf': 'include ld.so.conf.d/*.conf\n',
      '/etc/ld.so.conf.d/aarch64-linux-gnu.conf': '# Multiarch support\n/usr/local/lib/aarch64-linux-gnu\n/lib/aarch64-linux-gnu\n/usr/lib/aarch64-linux-gnu\n',
      '/etc/ld.so.conf.d/libc.conf': '# libc default configuration\n/usr/local/lib\n',
    },
    symlinks: {
      '/lib': 'usr/lib',
      '/bin': 'usr/bin',
      '/usr/lib/ld-linux-aarch64.so.1': `${A64_MA}/ld-linux-aarch64.so.1`,
      [`${A64_MA}/libz.so.1`]: 'libz.so.1.2.13',
      // Absolute targets name paths of the root: both exist on the host, neither may be used.
      [`${A64_MA}/libpasswd.so.1`]: '/etc/passwd',
      [`${A64_MA}/libhost.so.1`]: '/lib/x86_64-linux-gnu/libc.so.6',
    },
    ...(withCache
      ? {
          ldCache: {
            littleEndian: true,
            entries: [
              { key: 'ld-linux-aarch64.so.1', value: '/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1', flags: FLAGS_AARCH64 },
              { key: 'libc.so.6', value: '/lib/aarch64-linux-gnu/libc.so.6', flags: FLAGS_AARCH64 },
              { key: 'libz.so.1', value: '/lib/aarch64-linux-gnu/libz.so.1', flags: FLAGS_AARCH64 },
              { key: 'libssl.so.3', value: '/lib/aarch64-linux-gnu/libssl.so.3', flags: FLAGS_AARCH64 },
              { key: 'libcrypto.so.3', value: '/lib/aarch64-linux-gnu/libcrypto.so.3', flags: FLAGS_AARCH64 },
              { key: 'libextra.so.1', value: '/usr/local/lib/aarch64-linux-gnu/libextra.so.1', flags: FLAGS_AARCH64 },
              // Stale: the file is gone from there.
              { key: 'libgone.so.1', value: '/lib/aarch64-linux-gnu/libgone.so.1', flags: FLAGS_AARCH64 },
              // Another ABI's entry: an aarch64 ld.so accepts only 0x0a03.
              { key: 'libwrongflags.so.1', value: '/opt/x86/libwrongflags.so.1', flags: FLAGS_X8664 },
            ],
          },
        }
      : {}),
  };
}

// ---------------------------------------------------------------------------------------------

describe('resolving foreign root filesystems', function () {
  const made: string[] = [];
  const newRoot = (prefix: string, spec: RootSpec): string => {
    const dir = makeTempRoot(prefix);
    made.push(dir);
    return buildRoot(dir, spec).root;
  };
  after(function () {
    for (const d of made) removeTempRoot(d);
  });

  describe('a Debian-style aarch64 root (merged /usr, multiarch)', function () {
    for (const withCache of [true, false]) {
      describe(withCache ? 'with an aarch64 ld.so.cache' : 'without a cache (ld.so.conf with a relative include stands in)', function () {
        let root: string;
        before(function () {
          root = newRoot(withCache ? 'a64-cache' : 'a64-conf', debianArm64(withCache));
        });
        // How the cache-or-conf step is labelled in each variant.
        const viaCache: FoundBy = withCache ? 'ld-so-cache' : 'ld-so-conf';
        // Without a cache, the conf dirs are searched in order, and /lib/aarch64-linux-gnu is one of
        // them; with the cache, libwrongflags' only entry has foreign flags (§4.3) and libgone's is
        // stale (§4.3: "if it cannot be opened the search continues with the system dirs").
        const wrongflagsBy: FoundBy = withCache ? 'default' : 'ld-so-conf';

        it('maps every object at its in-root path, found where the rules say', function () {
          const p = resolveIn(root, '/usr/bin/prog');
          expect(p.flavour).to.equal('glibc');
          expect(p.fatal).to.equal(null);
          expect(p.missing).to.deep.equal([]);
          // §1.1: program, interpreter (PT_INTERP string as its name), then BFS (§1.8);
          // §1.2 step 3: RPATH of the program first, then cache (d) or conf stand-in, then system dirs (e);
          // §1.9: Debian arm64 system dirs /lib/aarch64-linux-gnu/, /usr/lib/aarch64-linux-gnu/, /lib/, /usr/lib/.
          expect(rows(p)).to.deep.equal([
            [null, '/usr/bin/prog', '/usr/bin/prog', 'input', null],
            [A64_INTERP, A64_INTERP, `${A64_MA}/ld-linux-aarch64.so.1`, 'interpreter', null],
            ['libapp.so.1', '/opt/app/lib/libapp.so.1', '/opt/app/lib/libapp.so.1', 'rpath', 0],
            ['libz.so.1', '/lib/aarch64-linux-gnu/libz.so.1', `${A64_MA}/libz.so.1.2.13`, viaCache, null],
            ['libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6', `${A64_MA}/libc.so.6`, viaCache, null],
            ['libssl.so.3', '/lib/aarch64-linux-gnu/libssl.so.3', `${A64_MA}/libssl.so.3`, viaCache, null],
            ['libextra.so.1', '/usr/local/lib/aarch64-linux-gnu/libextra.so.1', '/usr/local/lib/aarch64-linux-gnu/libextra.so.1', viaCache, null],
            // Stale cache entry (or no conf dir holding it): the third system dir, /lib/ -> usr/lib.
            ['libgone.so.1', '/lib/libgone.so.1', '/usr/lib/libgone.so.1', 'default', null],
            ['libwrongflags.so.1', '/lib/aarch64-linux-gnu/libwrongflags.so.1', `${A64_MA}/libwrongflags.so.1`, wrongflagsBy, null],
            ['libcrypto.so.3', '/lib/aarch64-linux-gnu/libcrypto.so.3', `${A64_MA}/libcrypto.so.3`, viaCache, null],
          ]);
          // §1.1: the interpreter answers to its PT_INTERP string and its SONAME.
          expect(objectAt(p, A64_INTERP).names).to.deep.equal([A64_INTERP, 'ld-linux-aarch64.so.1']);
          expect(dependency(p, 'ld-linux-aarch64.so.1').how).to.equal('loaded');
          // §1.9: absolute symlink targets resolve inside the root; every link is recorded.
          expect(linkSet(objectAt(p, A64_INTERP).links)).to.deep.equal([
            '/lib -> usr/lib',
            `/usr/lib/ld-linux-aarch64.so.1 -> ${A64_MA}/ld-linux-aarch64.so.1`,
          ]);
          expect(linkSet(objectAt(p, '/lib/aarch64-linux-gnu/libz.so.1').links)).to.deep.equal([
            '/lib -> usr/lib',
            `${A64_MA}/libz.so.1 -> libz.so.1.2.13`,
          ]);
          expectInsideRoot(root, p);
        });

        it('tries the RPATH before the cache or conf directories (§1.2 step 3)', function () {
          const p = resolveIn(root, '/usr/bin/prog');
          const z = dependency(p, 'libz.so.1');
          expect(z.how).to.equal(viaCache);
          // The candidates that failed before the winner (whether `tried` also lists the winner is not a rule).
          const failed = z.tried.filter((t) => t !== '/lib/aarch64-linux-gnu/libz.so.1');
          // §4.1: without a cache the include is read relative to /etc, and the conf order is kept.
          expect(failed).to.deep.equal(withCache ? ['/opt/app/lib/libz.so.1'] : ['/opt/app/lib/libz.so.1', '/usr/local/lib/aarch64-linux-gnu/libz.so.1']);
          // libssl is needed by libapp, which has no RPATH: its first loader's (the program's) RPATH is used (§1.2 a).
          expect(dependency(p, 'libssl.so.3').tried[0]).to.equal('/opt/app/lib/libssl.so.3');
        });

        it('prints ldd lines in BFS order, ld.so where libc asks for it, and no vDSO for a foreign machine', function () {
          const p = resolveIn(root, '/usr/bin/prog');
          // §1.8: link-map order = first-resolution order; ld.so re-inserted when first requested
          // (by libc.so.6, processed third); §1.1 item 3: the vDSO belongs to the running kernel,
          // and an aarch64 program cannot run here.
          expect(p.vdso).to.equal(null);
          expect(formatLdd(p)).to.deep.equal([
            '\tlibapp.so.1 => /opt/app/lib/libapp.so.1',
            '\tlibz.so.1 => /lib/aarch64-linux-gnu/libz.so.1',
            '\tlibc.so.6 => /lib/aarch64-linux-gnu/libc.so.6',
            '\tlibssl.so.3 => /lib/aarch64-linux-gnu/libssl.so.3',
            '\tlibextra.so.1 => /usr/local/lib/aarch64-linux-gnu/libextra.so.1',
            '\tlibgone.so.1 => /lib/libgone.so.1',
            '\tlibwrongflags.so.1 => /lib/aarch64-linux-gnu/libwrongflags.so.1',
            `\t${A64_INTERP}`,
            '\tlibcrypto.so.3 => /lib/aarch64-linux-gnu/libcrypto.so.3',
          ]);
        });

        it('lists every path the loader opens, in load order', function () {
          const p = resolveIn(root, '/usr/bin/prog');
          // §10 item 4/6: program, interpreter, then each opened path string.
          expect(p.openedPaths).to.deep.equal([
            '/usr/bin/prog',
            A64_INTERP,
            '/opt/app/lib/libapp.so.1',
            '/lib/aarch64-linux-gnu/libz.so.1',
            '/lib/aarch64-linux-gnu/libc.so.6',
            '/lib/aarch64-linux-gnu/libssl.so.3',
            '/usr/local/lib/aarch64-linux-gnu/libextra.so.1',
            '/lib/libgone.so.1',
            '/lib/aarch64-linux-gnu/libwrongflags.so.1',
            '/lib/aarch64-linux-gnu/libcrypto.so.3',
          ]);
        });

        it('follows absolute symlinks inside the root, never to the host', function () {
          // The host's own files exist, so an escape would change the answer.
          expect(existsSync('/etc/passwd'), 'host /etc/passwd').to.equal(true);
          const p = resolveIn(root, '/usr/bin/passwd-user');
          // libpasswd.so.1 -> /etc/passwd: ROOT/etc/passwd does not exist, so every candidate is a
          // dangling symlink, skipped (§1.4 first line) -> not found. The host's /etc/passwd would
          // have been fatal instead ("invalid ELF header", §1.4).
          const pw = dependency(p, 'libpasswd.so.1');
          expect(pw.how).to.equal('not-found');
          expect(pw.tried).to.include('/lib/aarch64-linux-gnu/libpasswd.so.1');
          expect(p.fatal).to.equal(null);
          // libhost.so.1 -> /lib/x86_64-linux-gnu/libc.so.6 is, inside the root, an aarch64 library;
          // the host's x86-64 libc would have been skipped for its machine (§1.4).
          const host = objectAt(p, '/lib/aarch64-linux-gnu/libhost.so.1');
          expect(host.realPath).to.equal('/usr/lib/x86_64-linux-gnu/libc.so.6');
          expect(host.foundBy).to.equal(withCache ? 'default' : 'ld-so-conf');
          expect(host.soname).to.equal('libhost.so.1');
          expect(linkSet(host.links)).to.deep.equal([
            '/lib -> usr/lib',
            `${A64_MA}/libhost.so.1 -> /lib/x86_64-linux-gnu/libc.so.6`,
          ]);
          expect(formatLdd(p)).to.deep.equal([
            '\tlibpasswd.so.1 => not found',
            '\tlibhost.so.1 => /lib/aarch64-linux-gnu/libhost.so.1',
            '\tlibc.so.6 => /lib/aarch64-linux-gnu/libc.so.6',
            `\t${A64_INTERP}`,
          ]);
          expect(p.missing.map((m) => m.name)).to.deep.equal(['libpasswd.so.1']);
          expectInsideRoot(root, p);
        });
      });
    }
  });

  describe('an i386 root (ELF32, multiarch, wrong-class and wrong-machine candidates)', function () {
    let root: string;
    before(function () {
      const lib = (o: Parameters<typeof sharedLibrary>[1]) => sharedLibrary(I386, o);
      root = newRoot('i386', {
        dirs: ['/usr/bin', '/lib/i386-linux-gnu', '/usr/lib/i386-linux-gnu', '/opt/x64', '/opt/x32', '/opt/arm', '/opt/i386'],
        elves: {
          '/lib/i386-linux-gnu/ld-linux.so.2': lib({ soname: 'ld-linux.so.2' }),
          '/lib/i386-linux-gnu/libc.so.6': lib({ soname: 'libc.so.6', needed: ['ld-linux.so.2'] }),
          // Earlier on the default path: ELFCLASS64, then ELFCLASS32 for another machine.
          '/lib/i386-linux-gnu/libfoo.so.1': sharedLibrary(X86_64, { soname: 'libfoo.so.1' }),
          '/usr/lib/i386-linux-gnu/libfoo.so.1': sharedLibrary(ARMHF, { soname: 'libfoo.so.1' }),
          '/lib/libfoo.so.1': lib({ soname: 'libfoo.so.1', needed: ['libc.so.6'] }),
          // Earlier on the RPATH: x86-64, x32, ARM.
          '/opt/x64/libbar.so.1': sharedLibrary(X86_64, { soname: 'libbar.so.1' }),
          '/opt/x32/libbar.so.1': sharedLibrary(X32, { soname: 'libbar.so.1' }),
          '/opt/arm/libbar.so.1': sharedLibrary(ARMHF, { soname: 'libbar.so.1' }),
          '/opt/i386/libbar.so.1': lib({ soname: 'libbar.so.1', needed: ['libc.so.6'] }),
          // Only a 64-bit copy exists.
          '/lib/i386-linux-gnu/libonly64.so.1': sharedLibrary(X86_64, { soname: 'libonly64.so.1' }),
          '/usr/bin/prog32': {
            ...program(I386, '/lib/ld-linux.so.2', {
              rpath: '/opt/x64:/opt/x32:/opt/arm:/opt/i386',
              needed: ['libfoo.so.1', 'libbar.so.1', 'libonly64.so.1', 'libc.so.6'],
            }),
            type: 'EXEC',
            pie: false,
          },
        },
        symlinks: { '/lib/ld-linux.so.2': 'i386-linux-gnu/ld-linux.so.2' },
      });
    });

    it('skips other-class and other-machine files and keeps searching (§1.4)', function () {
      const p = resolveIn(root, '/usr/bin/prog32');
      expect(p.objects[0]?.elf.class).to.equal(32);
      expect(p.fatal).to.equal(null);
      // §1.9 (Debian i386 multiarch): /lib/i386-linux-gnu/, /usr/lib/i386-linux-gnu/, /lib/, /usr/lib/.
      expect(rows(p)).to.deep.equal([
        [null, '/usr/bin/prog32', '/usr/bin/prog32', 'input', null],
        ['/lib/ld-linux.so.2', '/lib/ld-linux.so.2', '/lib/i386-linux-gnu/ld-linux.so.2', 'interpreter', null],
        ['libfoo.so.1', '/lib/libfoo.so.1', '/lib/libfoo.so.1', 'default', null],
        ['libbar.so.1', '/opt/i386/libbar.so.1', '/opt/i386/libbar.so.1', 'rpath', 0],
        ['libc.so.6', '/lib/i386-linux-gnu/libc.so.6', '/lib/i386-linux-gnu/libc.so.6', 'default', null],
      ]);
      expect(dependency(p, 'libfoo.so.1').tried).to.include.members(['/lib/i386-linux-gnu/libfoo.so.1', '/usr/lib/i386-linux-gnu/libfoo.so.1']);
      expect(dependency(p, 'libbar.so.1').tried).to.include.members(['/opt/x64/libbar.so.1', '/opt/x32/libbar.so.1', '/opt/arm/libbar.so.1']);
      // §1.2 step 4: only other-class candidates seen -> not found (ldd prints a faked entry).
      expect(p.missing.map((m) => [m.name, m.how])).to.deep.equal([['libonly64.so.1', 'not-found']]);
      expect(p.vdso).to.equal(null);
      expect(formatLdd(p)).to.deep.equal([
        '\tlibfoo.so.1 => /lib/libfoo.so.1',
        '\tlibbar.so.1 => /opt/i386/libbar.so.1',
        '\tlibonly64.so.1 => not found',
        '\tlibc.so.6 => /lib/i386-linux-gnu/libc.so.6',
        '\t/lib/ld-linux.so.2',
      ]);
      expectInsideRoot(root, p);
    });
  });

  describe('a big-endian ppc64 root (Fedora-style /lib64, big-endian ld.so.cache)', function () {
    const lib = (o: Parameters<typeof sharedLibrary>[1]) => sharedLibrary(PPC64, o);
    const fedoraPpc64 = (cache: 'big' | 'little' | 'none'): RootSpec => ({
      dirs: ['/usr/bin', '/usr/lib64', '/usr/lib', '/opt/vendor/lib64', '/opt/le/lib', '/etc/ld.so.conf.d'],
      elves: {
        '/usr/lib64/ld64.so.1': lib({ soname: 'ld64.so.1' }),
        '/usr/lib64/libc.so.6': lib({ soname: 'libc.so.6', needed: ['ld64.so.1'] }),
        '/usr/lib64/libm.so.6': lib({ soname: 'libm.so.6', needed: ['libc.so.6'] }),
        '/usr/lib64/libbad.so.1': lib({ soname: 'libbad.so.1', needed: ['libc.so.6'] }),
        // Only the cache knows this directory: ld.so.conf.d names nothing.
        '/opt/vendor/lib64/libvendor.so.2': lib({ soname: 'libvendor.so.2', needed: ['libc.so.6'] }),
        '/opt/le/lib/libbad.so.1': sharedLibrary(PPC64LE, { soname: 'libbad.so.1' }),
        '/usr/bin/app': program(PPC64, '/lib64/ld64.so.1', { needed: ['libvendor.so.2', 'libm.so.6', 'libc.so.6'] }),
        '/usr/bin/app-le': program(PPC64, '/lib64/ld64.so.1', { rpath: '/opt/le/lib', needed: ['libbad.so.1', 'libc.so.6'] }),
      },
      files: { '/etc/ld.so.conf': 'include ld.so.conf.d/*.conf\n' },
      symlinks: { '/lib64': 'usr/lib64', '/lib': 'usr/lib', '/bin': 'usr/bin' },
      ...(cache === 'none'
        ? {}
        : {
            ldCache: {
              littleEndian: cache === 'little',
              generator: 'ldconfig (GNU libc) stable release version 2.38',
              entries: [
                { key: 'ld64.so.1', value: '/lib64/ld64.so.1', flags: FLAGS_PPC64 },
                { key: 'libc.so.6', value: '/lib64/libc.so.6', flags: FLAGS_PPC64 },
                { key: 'libm.so.6', value: '/lib64/libm.so.6', flags: FLAGS_PPC64 },
                { key: 'libbad.so.1', value: '/lib64/libbad.so.1', flags: FLAGS_PPC64 },
                { key: 'libvendor.so.2', value: '/opt/vendor/lib64/libvendor.so.2', flags: FLAGS_PPC64 },
              ],
            },
          }),
    });
    let root: string;
    before(function () {
      root = newRoot('ppc64', fedoraPpc64('big'));
    });

    it('reads the big-endian cache and follows it to a non-default directory (§4.2, §4.3)', function () {
      const p = resolveIn(root, '/usr/bin/app');
      expect(p.fatal).to.equal(null);
      expect(p.missing).to.deep.equal([]);
      expect(rows(p)).to.deep.equal([
        [null, '/usr/bin/app', '/usr/bin/app', 'input', null],
        ['/lib64/ld64.so.1', '/lib64/ld64.so.1', '/usr/lib64/ld64.so.1', 'interpreter', null],
        ['libvendor.so.2', '/opt/vendor/lib64/libvendor.so.2', '/opt/vendor/lib64/libvendor.so.2', 'ld-so-cache', null],
        ['libm.so.6', '/lib64/libm.so.6', '/usr/lib64/libm.so.6', 'ld-so-cache', null],
        ['libc.so.6', '/lib64/libc.so.6', '/usr/lib64/libc.so.6', 'ld-so-cache', null],
      ]);
      expect(formatLdd(p)).to.deep.equal([
        '\tlibvendor.so.2 => /opt/vendor/lib64/libvendor.so.2',
        '\tlibm.so.6 => /lib64/libm.so.6',
        '\tlibc.so.6 => /lib64/libc.so.6',
        '\t/lib64/ld64.so.1',
      ]);
      expectInsideRoot(root, p);
    });

    it('without the cache, uses the upstream /lib64 system dirs and misses the vendor directory (§1.9)', function () {
      const p = resolveIn(root, '/usr/bin/app', { useCache: false });
      expect(dependency(p, 'libvendor.so.2').how).to.equal('not-found');
      expect(objectAt(p, '/lib64/libc.so.6').foundBy).to.equal('default');
      expect(objectAt(p, '/lib64/libm.so.6').realPath).to.equal('/usr/lib64/libm.so.6');
      expect(dependency(p, 'libvendor.so.2').tried).to.deep.equal(['/lib64/libvendor.so.2', '/usr/lib64/libvendor.so.2']);
    });

    it('treats a little-endian ELF of the same name earlier on the RPATH as fatal (§1.4)', function () {
      const p = resolveIn(root, '/usr/bin/app-le');
      // open_verify: EI_DATA differs -> "ELF file data encoding not big-endian"; no further search.
      const bad = dependency(p, 'libbad.so.1');
      expect(bad.how).to.equal('error');
      expect(bad.error).to.equal('/opt/le/lib/libbad.so.1: ELF file data encoding not big-endian');
      expect(p.fatal).to.equal('/opt/le/lib/libbad.so.1: ELF file data encoding not big-endian');
      expect(p.objects.map((o) => o.path)).to.not.include('/lib64/libbad.so.1');
    });

    it('ignores a cache written in the other byte order, as ld.so does (§4.2)', function () {
      // ld.so (cache_file_new_matches_endian) runs without a cache of the other byte order.
      const wrong = newRoot('ppc64-lecache', fedoraPpc64('little'));
      let p: ProgramResolution | undefined;
      expect(() => {
        p = resolveIn(wrong, '/usr/bin/app');
      }).to.not.throw();
      const q = p as ProgramResolution;
      expect(dependency(q, 'libvendor.so.2').how).to.equal('not-found');
      expect(objectAt(q, '/lib64/libc.so.6').foundBy).to.equal('default');
    });
  });

  describe('a musl aarch64 root', function () {
    const MUSL = '/lib/ld-musl-aarch64.so.1';
    let root: string;
    before(function () {
      const lib = (o: Parameters<typeof sharedLibrary>[1]) => sharedLibrary(A64, o);
      root = newRoot('musl', {
        dirs: ['/usr/bin', '/lib', '/usr/lib/musl-extra', '/opt/m/lib', '/opt/m/wrong'],
        elves: {
          [MUSL]: lib({}),
          '/opt/m/lib/libA.so.1': lib({ soname: 'libA.so.1', needed: ['libB.so.1', 'libm.so.6'] }),
          '/opt/m/lib/libB.so.1': lib({ soname: 'libB.so.1', needed: ['libextra.so.1', 'libc.musl-aarch64.so.1'] }),
          '/usr/lib/musl-extra/libextra.so.1': lib({ soname: 'libextra.so.1', needed: ['libc.so'] }),
          // In the compiled-in default path, which the path file replaces.
          '/usr/lib/libsys.so.1': lib({ soname: 'libsys.so.1' }),
          '/lib/libsys.so.1': lib({ soname: 'libsys.so.1' }),
          '/opt/m/wrong/libq.so.1': sharedLibrary(ARMHF, { soname: 'libq.so.1' }),
          '/opt/m/lib/libq.so.1': lib({ soname: 'libq.so.1' }),
          '/usr/bin/prog': program(A64, MUSL, { runpath: '/opt/m/lib', needed: ['libA.so.1', 'libc.so'] }),
          '/usr/bin/prog-sys': program(A64, MUSL, { needed: ['libsys.so.1', 'libc.so'] }),
          '/usr/bin/prog-wrong': program(A64, MUSL, { runpath: '/opt/m/wrong:/opt/m/lib', needed: ['libq.so.1', 'libc.so'] }),
        },
        symlinks: { '/lib/libc.musl-aarch64.so.1': 'ld-musl-aarch64.so.1' },
        muslPath: { arch: 'aarch64', dirs: ['/usr/lib/musl-extra'] },
      });
    });

    it('inherits RUNPATH, maps reserved names to the loader, and reads the path file (§5)', function () {
      const p = resolveIn(root, '/usr/bin/prog');
      expect(p.flavour).to.equal('musl');
      expect(p.fatal).to.equal(null);
      expect(p.missing).to.deep.equal([]);
      // §5 step 3: libB.so.1 is needed by libA (no paths); musl walks needed_by up to the program,
      // whose RUNPATH it uses (glibc would not). Step 4: the path file lists only musl-extra.
      expect(rows(p)).to.deep.equal([
        [null, '/usr/bin/prog', '/usr/bin/prog', 'input', null],
        [MUSL, MUSL, MUSL, 'interpreter', null],
        ['libA.so.1', '/opt/m/lib/libA.so.1', '/opt/m/lib/libA.so.1', 'runpath', 0],
        ['libB.so.1', '/opt/m/lib/libB.so.1', '/opt/m/lib/libB.so.1', 'runpath', 0],
        ['libextra.so.1', '/usr/lib/musl-extra/libextra.so.1', '/usr/lib/musl-extra/libextra.so.1', 'default', null],
      ]);
      // Reserved names (lib + c./m./...) never search (§5); libc.musl-aarch64.so.1 is in the c. family.
      for (const name of ['libc.so', 'libm.so.6', 'libc.musl-aarch64.so.1']) {
        expect(dependency(p, name).how, name).to.equal('musl-libc');
        expect(dependency(p, name).object, name).to.equal(1);
        expect(dependency(p, name).tried, name).to.deep.equal([]);
      }
      // §5 ldd mode: the loader first, then load order; one line per reserved family.
      expect(formatLdd(p)).to.deep.equal([
        `\t${MUSL}`,
        '\tlibA.so.1 => /opt/m/lib/libA.so.1',
        `\tlibc.so => ${MUSL}`,
        '\tlibB.so.1 => /opt/m/lib/libB.so.1',
        `\tlibm.so.6 => ${MUSL}`,
        '\tlibextra.so.1 => /usr/lib/musl-extra/libextra.so.1',
      ]);
      expect(p.openedPaths).to.deep.equal(['/usr/bin/prog', MUSL, '/opt/m/lib/libA.so.1', '/opt/m/lib/libB.so.1', '/usr/lib/musl-extra/libextra.so.1']);
      expectInsideRoot(root, p);
    });

    it('does not search the default /lib:/usr/local/lib:/usr/lib when the path file exists (§5 step 4)', function () {
      const p = resolveIn(root, '/usr/bin/prog-sys');
      const sys = dependency(p, 'libsys.so.1');
      expect(sys.how).to.equal('not-found');
      expect(sys.tried).to.deep.equal(['/usr/lib/musl-extra/libsys.so.1']);
      // musl records nothing in its list for a failed name.
      expect(formatLdd(p)).to.deep.equal([`\t${MUSL}`, `\tlibc.so => ${MUSL}`]);
    });

    it('fails on a wrong-machine file first on the path instead of skipping it (§5 candidate acceptance)', function () {
      const p = resolveIn(root, '/usr/bin/prog-wrong');
      const q = dependency(p, 'libq.so.1');
      expect(q.how).to.equal('error');
      // musl: "Error loading shared library libq.so.1: Exec format error (needed by ...)".
      expect(q.error).to.match(/libq\.so\.1: Exec format error/);
      expect(p.objects.map((o) => o.path)).to.not.include('/opt/m/lib/libq.so.1');
    });
  });

  describe('symlink hazards inside a root', function () {
    let root: string;
    before(function () {
      const lib = (o: Parameters<typeof sharedLibrary>[1]) => sharedLibrary(A64, o);
      root = newRoot('hazards', {
        dirs: ['/usr/bin', A64_MA, '/opt/loop/lib', '/opt/good/lib', '/opt/up/lib', '/opt/tool/bin', '/opt/tool/lib', '/srv/real', '/srv/lib2', '/srv/deps', '/opt/lib2', '/opt/deps', '/opt/tlsgood/lib/tls'],
        elves: {
          [`${A64_MA}/ld-linux-aarch64.so.1`]: lib({ soname: 'ld-linux-aarch64.so.1' }),
          [`${A64_MA}/libc.so.6`]: lib({ soname: 'libc.so.6', needed: ['ld-linux-aarch64.so.1'] }),
          [`${A64_MA}/libloop.so.1`]: lib({ soname: 'libloop.so.1' }),
          '/opt/good/lib/libloop.so.1': lib({ soname: 'libloop.so.1' }),
          '/usr/bin/loopfile': program(A64, A64_INTERP, { rpath: '/opt/loop/lib:/opt/good/lib', needed: ['libloop.so.1'] }),
          '/usr/bin/loopdir': program(A64, A64_INTERP, { rpath: '/opt/loopdir:/opt/good/lib', needed: ['libloop.so.1'] }),
          '/usr/bin/filedir': program(A64, A64_INTERP, { rpath: '/opt/afile:/opt/good/lib', needed: ['libloop.so.1'] }),
          '/opt/tlsgood/lib/libloop.so.1': lib({ soname: 'libloop.so.1' }),
          '/usr/bin/tlsloop': program(A64, A64_INTERP, { rpath: '/opt/tlsgood/lib', needed: ['libloop.so.1'] }),
          '/opt/up/lib/libup.so.1': lib({ soname: 'libup.so.1' }),
          '/opt/up/lib/libclimbreal.so.1': lib({ soname: 'libclimb.so.1' }),
          '/usr/bin/climb': program(A64, A64_INTERP, { rpath: '/../../../../opt/up/lib', needed: ['libup.so.1', 'libclimb.so.1', 'libescape.so.1'] }),
          '/opt/tool/bin/tool': program(A64, A64_INTERP, { rpath: '$ORIGIN/../lib', needed: ['libtool.so.1'] }),
          '/opt/tool/lib/libtool.so.1': lib({ soname: 'libtool.so.1' }),
          // Where $ORIGIN of the unresolved /usr/bin/tool leads.
          '/usr/lib/libtool.so.1': lib({ soname: 'libtool-decoy.so.1' }),
          '/usr/bin/phys': program(A64, A64_INTERP, { rpath: '/opt/linkdir/../lib2', needed: ['libphys.so.1'] }),
          '/srv/lib2/libphys.so.1': lib({ soname: 'libphys.so.1', rpath: '$ORIGIN/../deps', needed: ['libphysdep.so.1'] }),
          '/srv/deps/libphysdep.so.1': lib({ soname: 'libphysdep.so.1' }),
          // Where lexical '..' folding would lead instead.
          '/opt/lib2/libphys.so.1': lib({ soname: 'libphys-lexical.so.1' }),
          '/opt/deps/libphysdep.so.1': lib({ soname: 'libphysdep-lexical.so.1' }),
        },
        files: { '/opt/afile': 'not a directory\n' },
        symlinks: {
          '/lib': 'usr/lib',
          '/usr/lib/ld-linux-aarch64.so.1': `${A64_MA}/ld-linux-aarch64.so.1`,
          '/opt/loop/lib/libloop.so.1': 'libloop.so.1',
          '/opt/loopdir': 'loopdir',
          '/opt/tlsgood/lib/tls/libloop.so.1': 'libloop.so.1',
          [`${A64_MA}/libclimb.so.1`]: '../../../../../../../../opt/up/lib/libclimbreal.so.1',
          [`${A64_MA}/libescape.so.1`]: '../../../../../../../../../../etc/passwd',
          '/usr/bin/tool': '/opt/tool/bin/tool',
          '/opt/linkdir': '/srv/real',
        },
      });
    });

    it('abandons the RPATH list on a looping candidate file and goes on with the next source (§1.3)', function () {
      // open_path: ELOOP for /opt/loop/lib/libloop.so.1 in an existing directory -> return -1 for the
      // whole RPATH (so /opt/good/lib is never tried); no cache, so the system dirs find it.
      const p = resolveIn(root, '/usr/bin/loopfile');
      const loop = dependency(p, 'libloop.so.1');
      expect(loop.how).to.equal('default');
      expect(loop.tried).to.not.include('/opt/good/lib/libloop.so.1');
      expect(rows(p)[2]).to.deep.equal(['libloop.so.1', '/lib/aarch64-linux-gnu/libloop.so.1', `${A64_MA}/libloop.so.1`, 'default', null]);
      expect(p.fatal).to.equal(null);
      expectInsideRoot(root, p);
    });

    it('skips an RPATH directory that is itself a symlink loop, like a missing one (§1.3, open_path)', function () {
      // After the failed open, glibc's open_path stat()s the directory; stat fails (ELOOP), so the
      // directory is "nonexisting", here_any stays false and the search goes on to /opt/good/lib.
      // Only an error in an *existing* directory abandons the list.
      const p = resolveIn(root, '/usr/bin/loopdir');
      expect(rows(p)[2]).to.deep.equal(['libloop.so.1', '/opt/good/lib/libloop.so.1', '/opt/good/lib/libloop.so.1', 'rpath', 0]);
    });

    it('decides to abandon a directory only after all its subdirectories were tried (glibc 2.36 legacy tls/)', function () {
      // open_path tries every hwcaps/legacy
      // subdirectory of one directory (its loop runs while fd == -1) and only afterwards looks at
      // errno, which is then that of the last attempt, the plain /opt/tlsgood/lib/libloop.so.1,
      // which succeeds. A looping tls/libloop.so.1 (glibc <= 2.36 tries tls/ first, §3.2) therefore
      // does not abandon the list.
      const p = resolveIn(root, '/usr/bin/tlsloop', { profile: { glibcVersion: [2, 36] } });
      expect(rows(p)[2]).to.deep.equal(['libloop.so.1', '/opt/tlsgood/lib/libloop.so.1', '/opt/tlsgood/lib/libloop.so.1', 'rpath', 0]);
    });

    for (const version of [[2, 36], [2, 42]] as Array<[number, number]>) {
      it(`skips an absolute RPATH element that names a file (ENOTDIR), glibc ${version.join('.')} (§1.3, E13b)${version[1] < 39 ? '' : ''}`, function () {
        // BZ 31035 (fixed in 2.39) concerns
        // *relative* elements only, which glibc always counts as existing directories; an absolute
        // element naming a file is "nonexisting" after the stat in open_path, so it is skipped on
        // every version (E13b: `$PWD/main:.` found the library on 2.36).
        const p = resolveIn(root, '/usr/bin/filedir', { profile: { glibcVersion: version } });
        expect(rows(p)[2]).to.deep.equal(['libloop.so.1', '/opt/good/lib/libloop.so.1', '/opt/good/lib/libloop.so.1', 'rpath', 0]);
      });
    }

    it("clamps '..' at the root, for search paths and for relative symlink targets", function () {
      const p = resolveIn(root, '/usr/bin/climb');
      // The kernel stops '..' at the (chroot) root (§10 item 4).
      expect(rows(p).slice(2)).to.deep.equal([
        ['libup.so.1', '/../../../../opt/up/lib/libup.so.1', '/opt/up/lib/libup.so.1', 'rpath', 0],
        ['libclimb.so.1', '/lib/aarch64-linux-gnu/libclimb.so.1', '/opt/up/lib/libclimbreal.so.1', 'default', null],
      ]);
      // libescape.so.1 -> ../(x10)/etc/passwd is ROOT/etc/passwd: absent, so a dangling link, skipped;
      // the host's /etc/passwd would have been fatal ("invalid ELF header", §1.4).
      expect(dependency(p, 'libescape.so.1').how).to.equal('not-found');
      expect(p.fatal).to.equal(null);
      expectInsideRoot(root, p);
    });

    it('expands $ORIGIN of a program reached through an absolute symlink from its real directory (exec) or its path (ldd) (§1.5)', function () {
      const exec = resolveIn(root, '/usr/bin/tool');
      expect(exec.objects[0]?.realPath).to.equal('/opt/tool/bin/tool');
      expect(linkSet(exec.objects[0]?.links ?? [])).to.deep.equal(['/usr/bin/tool -> /opt/tool/bin/tool']);
      // Kernel exec: origin = readlink(/proc/self/exe) = /opt/tool/bin; the path string is not normalised (§1.2 step 6).
      expect(rows(exec)[2]).to.deep.equal(['libtool.so.1', '/opt/tool/bin/../lib/libtool.so.1', '/opt/tool/lib/libtool.so.1', 'rpath', 0]);
      expectInsideRoot(root, exec);
      // glibc <= 2.41 ldd: origin = the path as given, /usr/bin -> /usr/bin/../lib (the decoy).
      const ldd = resolveIn(root, '/usr/bin/tool', { originMode: 'ldd' });
      expect(rows(ldd)[2]).to.deep.equal(['libtool.so.1', '/usr/bin/../lib/libtool.so.1', '/usr/lib/libtool.so.1', 'rpath', 0]);
      expect(ldd.objects[2]?.soname).to.equal('libtool-decoy.so.1');
    });

    it("applies '..' after following symlinks, and library origins stay unnormalised (§1.3, §1.5, E6b)", function () {
      const p = resolveIn(root, '/usr/bin/phys');
      expect(rows(p).slice(2)).to.deep.equal([
        ['libphys.so.1', '/opt/linkdir/../lib2/libphys.so.1', '/srv/lib2/libphys.so.1', 'rpath', 0],
        ['libphysdep.so.1', '/opt/linkdir/../lib2/../deps/libphysdep.so.1', '/srv/deps/libphysdep.so.1', 'rpath', 2],
      ]);
      expectInsideRoot(root, p);
    });
  });

  describe('the same search-list hazards on this host, with the real loader as the oracle', function () {
    // The hazard expectations above come from reading open_path (dl-load.c); here the host's own
    // glibc confirms them on x86-64 programs built with gcc, compared with
    // `LD_TRACE_LOADED_OBJECTS=1 ./prog` (§1.8: kernel exec, real PT_INTERP).
    let dir: string;
    before(function () {
      if (process.arch !== 'x64') {
        console.log(`      skipped: needs an x86-64 host, this is ${process.arch}`);
        this.skip();
      }
      try {
        execFileSync('gcc', ['--version'], { stdio: 'ignore' });
      } catch {
        console.log('      skipped: gcc is not installed');
        this.skip();
      }
      dir = makeTempRoot('host-hazards');
      made.push(dir);
      for (const d of ['good', 'loop/lib', 'tlsgood/tls', 'tlsgood/glibc-hwcaps/x86-64-v2', 'tlsgood/glibc-hwcaps/x86-64-v3', 'tlsgood/glibc-hwcaps/x86-64-v4']) {
        mkdirSync(join(dir, d), { recursive: true });
      }
      writeFileSync(join(dir, 'f.c'), 'int f(void) { return 1; }\n');
      writeFileSync(join(dir, 'm.c'), 'int f(void);\nint main(void) { return f() - 1; }\n');
      writeFileSync(join(dir, 'afile'), 'not a directory\n');
      const gcc = (...args: string[]) => execFileSync('gcc', args, { cwd: dir, stdio: 'pipe' });
      gcc('-shared', '-fPIC', '-Wl,-soname,libloop.so.1', '-o', 'good/libloop.so.1', 'f.c');
      gcc('-shared', '-fPIC', '-Wl,-soname,libloop.so.1', '-o', 'tlsgood/libloop.so.1', 'f.c');
      symlinkSync('libloop.so.1', join(dir, 'good/libloop.so'));
      symlinkSync('loopdir', join(dir, 'loopdir'));
      symlinkSync('libloop.so.1', join(dir, 'loop/lib/libloop.so.1'));
      for (const sub of ['tls', 'glibc-hwcaps/x86-64-v2', 'glibc-hwcaps/x86-64-v3', 'glibc-hwcaps/x86-64-v4']) {
        symlinkSync('libloop.so.1', join(dir, 'tlsgood', sub, 'libloop.so.1'));
      }
      const exe = (name: string, rpath: string) =>
        gcc('-o', name, 'm.c', '-Lgood', '-Wl,--no-as-needed', '-lloop', '-Wl,--disable-new-dtags', `-Wl,-rpath,${rpath}`);
      exe('e_loopfile', `${dir}/loop/lib:${dir}/good`);
      exe('e_loopdir', `${dir}/loopdir:${dir}/good`);
      exe('e_tls', `${dir}/tlsgood`);
      exe('e_afile', `${dir}/afile:${dir}/good`);
    });

    /** What the loader printed for libloop.so.1: its path, or 'not found'. */
    const loaderSays = (exe: string): string => {
      const r = spawnSync(exe, [], { env: { LD_TRACE_LOADED_OBJECTS: '1' }, encoding: 'utf8' });
      const line = r.stdout.split('\n').find((l) => l.trim().startsWith('libloop.so.1 =>'));
      expect(line, r.stdout + r.stderr).to.not.equal(undefined);
      return (line as string).replace(/^\s*libloop\.so\.1 => /, '').replace(/ \(0x[0-9a-f]+\)$/, '');
    };
    const resolverSays = (exe: string): string => {
      const p = resolve([exe], { root: '/' }).programs[0] as ProgramResolution;
      const d = dependency(p, 'libloop.so.1');
      return d.object === null ? 'not found' : (p.objects[d.object]?.path ?? '?');
    };

    it('a looping file in an existing RPATH directory: the list is abandoned (libloop.so.1 not found)', function () {
      const exe = join(dir, 'e_loopfile');
      expect(loaderSays(exe)).to.equal('not found');
      expect(resolverSays(exe)).to.equal('not found');
    });

    for (const [name, what] of [
      ['e_loopdir', 'an RPATH directory that is a symlink loop is skipped'],
      ['e_tls', 'looping copies in glibc-hwcaps/ and tls/ subdirectories do not abandon the directory'],
      ['e_afile', 'an absolute RPATH element naming a file is skipped'],
    ] as const) {
      it(`${what}`, function () {
        const exe = join(dir, name);
        const real = loaderSays(exe);
        expect(real).to.not.equal('not found');
        expect(resolverSays(exe)).to.equal(real);
      });
    }
  });

  describe('the compiled CLI on a root', function () {
    // The package's `bin`, as users run it (built once per test run when older than src/).
    let node: string;
    let bin: string;
    let a64: string;
    let ppc: string;
    let musl: string;
    before(function () {
      this.timeout(300_000); // a first `npm run build` when dist/ is stale
      [node, bin] = elfdepsCommand();
      a64 = newRoot('cli-a64', debianArm64(true));
      const lib = (o: Parameters<typeof sharedLibrary>[1]) => sharedLibrary(PPC64, o);
      ppc = newRoot('cli-ppc64', {
        dirs: ['/usr/bin', '/usr/lib64', '/opt/le/lib'],
        elves: {
          '/usr/lib64/ld64.so.1': lib({ soname: 'ld64.so.1' }),
          '/usr/lib64/libbad.so.1': lib({ soname: 'libbad.so.1' }),
          '/opt/le/lib/libbad.so.1': sharedLibrary(PPC64LE, { soname: 'libbad.so.1' }),
          '/usr/bin/app-le': program(PPC64, '/lib64/ld64.so.1', { rpath: '/opt/le/lib', needed: ['libbad.so.1'] }),
        },
        symlinks: { '/lib64': 'usr/lib64' },
      });
      musl = newRoot('cli-musl', {
        dirs: ['/usr/bin', '/lib', '/usr/lib'],
        elves: {
          '/lib/ld-musl-aarch64.so.1': sharedLibrary(A64, {}),
          '/usr/lib/libfoo.so.1': sharedLibrary(A64, { soname: 'libfoo.so.1', needed: ['libc.so'] }),
          '/usr/bin/prog': program(A64, '/lib/ld-musl-aarch64.so.1', { needed: ['libfoo.so.1', 'libc.so'] }),
        },
      });
    });
    const cli = async (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
      try {
        const { stdout, stderr } = await run(node, [bin, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    };

    it('--ldd prints the loader lines and exits 0 when everything is found', async function () {
      const r = await cli(['--root', a64, '--ldd', '/usr/bin/prog']);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout.split('\n').filter((l) => l !== '')).to.deep.equal([
        '\tlibapp.so.1 => /opt/app/lib/libapp.so.1',
        '\tlibz.so.1 => /lib/aarch64-linux-gnu/libz.so.1',
        '\tlibc.so.6 => /lib/aarch64-linux-gnu/libc.so.6',
        '\tlibssl.so.3 => /lib/aarch64-linux-gnu/libssl.so.3',
        '\tlibextra.so.1 => /usr/local/lib/aarch64-linux-gnu/libextra.so.1',
        '\tlibgone.so.1 => /lib/libgone.so.1',
        '\tlibwrongflags.so.1 => /lib/aarch64-linux-gnu/libwrongflags.so.1',
        `\t${A64_INTERP}`,
        '\tlibcrypto.so.3 => /lib/aarch64-linux-gnu/libcrypto.so.3',
      ]);
      expect(r.stdout).to.not.include(a64);
    });

    it('--ldd exits 1 and prints "not found" when a library is missing', async function () {
      const r = await cli(['--root', a64, '--ldd', '/usr/bin/passwd-user']);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.include('\tlibpasswd.so.1 => not found\n');
      expect(r.stdout).to.include('\tlibhost.so.1 => /lib/aarch64-linux-gnu/libhost.so.1\n');
    });

    it('--tree says how each library was found', async function () {
      const r = await cli(['--root', a64, '--tree', '/usr/bin/prog']);
      expect(r.code, r.stderr).to.equal(0);
      // One edge per DT_NEEDED, read top to bottom: a library's own needs are shown once, at
      // its first appearance, with how the loader found it (libc: through the cache, for
      // libapp's first loader, §1.2 step 6), and its later appearances say "already loaded".
      expect(r.stdout.split('\n').filter((l) => l !== '')).to.deep.equal([
        `/usr/bin/prog [${A64_INTERP}]`,
        '├── libapp.so.1 => /opt/app/lib/libapp.so.1 [rpath of /usr/bin/prog]',
        '│   ├── libssl.so.3 => /lib/aarch64-linux-gnu/libssl.so.3 [ld.so.cache]',
        '│   │   ├── libcrypto.so.3 => /lib/aarch64-linux-gnu/libcrypto.so.3 [ld.so.cache]',
        '│   │   │   └── libc.so.6 => /lib/aarch64-linux-gnu/libc.so.6 [ld.so.cache]',
        `│   │   │       └── ld-linux-aarch64.so.1 => ${A64_INTERP} [interpreter]`,
        '│   │   └── libc.so.6 => /lib/aarch64-linux-gnu/libc.so.6 [already loaded]',
        '│   ├── libextra.so.1 => /usr/local/lib/aarch64-linux-gnu/libextra.so.1 [ld.so.cache]',
        '│   ├── libgone.so.1 => /lib/libgone.so.1 [default path]',
        '│   ├── libwrongflags.so.1 => /lib/aarch64-linux-gnu/libwrongflags.so.1 [default path]',
        '│   └── libc.so.6 => /lib/aarch64-linux-gnu/libc.so.6 [already loaded]',
        '├── libz.so.1 => /lib/aarch64-linux-gnu/libz.so.1 [ld.so.cache]',
        '│   └── libc.so.6 => /lib/aarch64-linux-gnu/libc.so.6 [already loaded]',
        '└── libc.so.6 => /lib/aarch64-linux-gnu/libc.so.6 [already loaded]',
      ]);
      expect(r.stdout).to.not.include('\x1b[');
    });

    it('--json gives the same resolution as the library, with in-root paths', async function () {
      const r = await cli(['--root', a64, '--json', '/usr/bin/prog']);
      expect(r.code, r.stderr).to.equal(0);
      const doc = JSON.parse(r.stdout) as { root: string; programs: Array<ProgramResolution & { verdict?: { starts: boolean } }> };
      expect(doc.root).to.equal(a64);
      const fromLib = resolveIn(a64, '/usr/bin/prog');
      // --json adds the loader's verdict to each resolution; the rest is the library's answer.
      const { verdict, ...resolution } = doc.programs[0] ?? { verdict: undefined };
      expect(verdict?.starts).to.equal(true);
      expect(resolution).to.deep.equal(JSON.parse(JSON.stringify(fromLib)));
      expect(doc.programs[0]?.objects.map((o) => o.realPath)).to.include(`${A64_MA}/libz.so.1.2.13`);
    });

    it('--ldd exits 1 with the loader error for a fatal candidate (wrong byte order)', async function () {
      const r = await cli(['--root', ppc, '--ldd', '/usr/bin/app-le']);
      expect(r.code).to.equal(1);
      // The loader's error line in place of the list, on stdout: ldd merges the loader's stderr into its stdout.
      expect(r.stdout).to.include('/opt/le/lib/libbad.so.1: ELF file data encoding not big-endian');
    });

    it('--ldd on a musl root prints the loader first and the reserved name', async function () {
      const r = await cli(['--root', musl, '--ldd', '/usr/bin/prog']);
      expect(r.code, r.stderr).to.equal(0);
      // Missing path file: the default /lib:/usr/local/lib:/usr/lib (§5 step 4).
      expect(r.stdout.split('\n').filter((l) => l !== '')).to.deep.equal([
        '\t/lib/ld-musl-aarch64.so.1',
        '\tlibfoo.so.1 => /usr/lib/libfoo.so.1',
        '\tlibc.so => /lib/ld-musl-aarch64.so.1',
      ]);
    });

    it('exits 2 for an input that is not in the root', async function () {
      const r = await cli(['--root', a64, '--ldd', '/usr/bin/absent']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.include('/usr/bin/absent');
    });
  });
});
