/**
 * Edge cases of the loader's search rules, each built here with gcc and
 * checked against the real loader on those trusted, self-built files:
 * `LD_TRACE_LOADED_OBJECTS=1 ./prog` (the kernel starts it, so PT_INTERP and
 * $ORIGIN are the real ones), `LD_DEBUG=libs` where the order of the search
 * matters, a real run where the loader must fail, `ldd` for its own $ORIGIN
 * quirk, qemu for i386 and chroot for a root of our own. Experiment numbers
 * (E1...) are those of ldso-rules.md §7.
 */
import { copyFileSync, linkSync, mkdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Resolver, type ResolveOptions } from '../src/resolve/index.js';
import type { ProgramResolution } from '../src/resolve/types.js';
import { formatLdd } from '../src/cli/format.js';
import { elfdepsCommand } from './helpers/cli.js';
import { lookupTrace } from './helpers/explain-oracle.js';
import { cleanEnv, hasTool, LoaderTally, loaderError, mkexe, mklib, mkstatic, mktracer, mustRun, patchBytes, run, traceExec, traceLines, useFixtures, writeText } from './helpers/build.js';

const LDSO = '/lib64/ld-linux-x86-64.so.2';
/** Candidates glibc rejects fatally (ldso-rules.md §1.4, E9). */
const FATAL_KINDS = ['short-text', 'empty', 'linker-script', 'object', 'big-endian', 'osabi-9', 'abi-version-4', 'directory'] as const;
const REPO = fileURLToPath(new URL('..', import.meta.url));

/** Comparisons with the real loader, for the summary line. */
const tally = new LoaderTally();
const same = tally.same.bind(tally);
/** `elfdeps --explain` against LD_DEBUG=libs, counted apart. */
const explainTally = new LoaderTally();
/** Every LD_DEBUG lookup line compared, to check what kinds of line the comparisons met. */
const explainLoaderLines: string[] = [];

interface LoaderEnv {
  cwd?: string;
  libraryPath?: string;
  preload?: string;
}

function resolveLike(prog: string, env: LoaderEnv, extra: ResolveOptions = {}): ProgramResolution {
  return new Resolver({
    cwd: env.cwd ?? process.cwd(),
    libraryPath: env.libraryPath ?? null,
    preload: env.preload ?? null,
    preloadFile: true,
    ...extra,
  }).resolveOne(prog);
}

/** Our ldd lines; nothing when the loader would fail (it prints no list then). */
function oursLdd(p: ProgramResolution): string[] {
  return p.fatal !== null ? [] : formatLdd(p);
}

/** Compares with `LD_TRACE_LOADED_OBJECTS=1 prog` (real exec): originMode 'exec'. */
function vsTrace(prog: string, env: LoaderEnv = {}): { loader: string[]; p: ProgramResolution } {
  const t = traceExec(prog, { cwd: env.cwd, env: { LD_LIBRARY_PATH: env.libraryPath, LD_PRELOAD: env.preload } });
  const p = resolveLike(prog, env, { originMode: 'exec' });
  same(`${prog} traced (stderr: ${t.stderr.trim()})`, oursLdd(p), t.lines);
  return { loader: t.lines, p };
}

/** Compares with `ldd prog` (explicit ld.so invocation): originMode 'ldd'. */
function vsLdd(prog: string, env: LoaderEnv = {}): { loader: string[]; p: ProgramResolution } {
  const r = run('ldd', [prog], { cwd: env.cwd, env: cleanEnv({ LD_LIBRARY_PATH: env.libraryPath }) });
  const lines = traceLines(r.stdout);
  const p = resolveLike(prog, env, { originMode: 'ldd' });
  same(`ldd ${prog}`, oursLdd(p), lines);
  return { loader: lines, p };
}

/** Runs the program for real: the loader either starts it (status 0) or fails with a message we must predict. */
function vsRun(prog: string, env: LoaderEnv = {}): { status: number | null; error: string | null; p: ProgramResolution } {
  const r = run(prog, [], { cwd: env.cwd, env: cleanEnv({ LD_LIBRARY_PATH: env.libraryPath, LD_PRELOAD: env.preload }) });
  const error = loaderError(r.stderr);
  const p = resolveLike(prog, env, { originMode: 'exec' });
  // A missing library is "cannot open shared object file"; a rejected candidate is p.fatal.
  const firstMissing = p.missing[0];
  const ours =
    p.fatal ?? (firstMissing ? firstMissing.error ?? `${firstMissing.name}: cannot open shared object file: No such file or directory` : null);
  const loader = r.status === 0 ? null : error;
  same(`${prog} run (status ${r.status})`, [String(ours)], [String(loader)]);
  return { status: r.status, error, p };
}

/**
 * What LD_DEBUG=libs says ld.so tried for the first search of `name`, without
 * the hwcaps subdirectories (our `tried` lists the plain candidates only): the
 * candidates of each "search path=" whose directory is not a subdirectory of
 * another listed one, and the cache's answer.
 */
function debugTried(prog: string, name: string, env: LoaderEnv = {}): string[] {
  const r = run(prog, [], { cwd: env.cwd, env: cleanEnv({ LD_DEBUG: 'libs', LD_LIBRARY_PATH: env.libraryPath }) });
  const lines = r.stderr.split('\n').map((l) => l.replace(/^\s*\d+:\s?/, ''));
  const start = lines.findIndex((l) => l.startsWith(`find library=${name} `));
  if (start < 0) return [];
  const out: string[] = [];
  let baseDirs = new Set<string>();
  let fromCache = false;
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('find library=') || line === '') break;
    const sp = /^\s*search path=(.*?)\s+\(/.exec(line);
    if (sp) {
      const dirs = (sp[1] as string).split(':');
      baseDirs = new Set(dirs.filter((d) => !dirs.some((o) => o !== d && d.startsWith(`${o}/`))));
      fromCache = false;
      continue;
    }
    if (/^\s*search cache=/.test(line)) {
      fromCache = true;
      continue;
    }
    const t = /^\s*trying file=(.*)$/.exec(line);
    if (t) {
      const file = t[1] as string;
      if (fromCache || baseDirs.has(dirname(file))) out.push(file);
    }
  }
  return out;
}

/** Our candidates for the first request of `name`, plus the file it ended on (LD_DEBUG prints that one too). */
function oursTried(p: ProgramResolution, name: string): string[] {
  const dep = p.dependencies.find((d) => d.name === name);
  if (!dep) return [];
  const found = dep.object !== null && dep.how !== 'loaded' ? p.objects[dep.object]?.path : undefined;
  return found ? [...dep.tried, found] : [...dep.tried];
}

/** The real loader's view of this machine (`ld.so --list-diagnostics`): dl_platform, dl_dst_lib, ... */
function loaderDiagnostics(ldso: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of run(ldso, ['--list-diagnostics'], { env: cleanEnv() }).stdout.split('\n')) {
    const m = /^([a-z_.]+)="?(.*?)"?$/.exec(line);
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

/** Whether the host's glibc (its ld.so's own version string) is older than major.minor. */
function glibcBefore(major: number, minor: number): boolean {
  const m = /release version (\d+)\.(\d+)/.exec(run(LDSO, ['--version'], { env: cleanEnv() }).stdout);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a < major || (a === major && b < minor);
}

function objectAt(p: ProgramResolution, path: string) {
  return p.objects.find((o) => o.path === path);
}

const canRun = process.platform === 'linux' && process.arch === 'x64' && hasTool('gcc') && hasTool('patchelf');

describe('resolver edge cases against the real loader', function () {
  this.timeout(10 * 60 * 1000);
  const fixtures = useFixtures({
    prefix: 'elfdeps-edge-',
    skipReason: canRun ? null : 'needs an x86_64 Linux host with gcc and patchelf',
    build: buildFixtures,
    summary: () =>
      `edge cases: ${tally.checked} checked against the real loader, ${tally.equal} equal; ` +
      `--explain against LD_DEBUG=libs: ${explainTally.equal} equal of ${explainTally.checked} compared`,
  });

  /** The chroot fixture, or a printed skip when this is not root (or ldconfig/chroot are missing). */
  const chrootRoot = (ctx: Mocha.Context): NonNullable<ReturnType<typeof buildFixtures>['root']> => {
    const r = fixtures().root;
    if (!r) {
      console.log('      skipped: needs root (chroot) and ldconfig');
      ctx.skip();
    }
    return r;
  };

  /** The static tracer inside the root sets LD_TRACE_LOADED_OBJECTS (on chroot itself it would trace chroot). */
  const vsChroot = (root: string, exe: string): { loader: string[]; p: ProgramResolution } => {
    const loader = traceLines(run('chroot', [root, '/trace', exe], { env: cleanEnv() }).stdout);
    const p = new Resolver({ root, cwd: '/' }).resolveOne(exe);
    same(`chroot ${root} ${exe}`, oursLdd(p), loader);
    return { loader, p };
  };

  it('E1: DT_RPATH is searched before LD_LIBRARY_PATH, and LD_LIBRARY_PATH before DT_RUNPATH', function () {
    const { dir, exeRpath, exeRunpath } = fixtures().e1;
    const llp = `${dir}/llp`;
    const a = vsTrace(exeRpath, { libraryPath: llp });
    expect(a.loader).to.include(`\tlibfoo.so.1 => ${dir}/rp/libfoo.so.1`);
    const b = vsTrace(exeRunpath, { libraryPath: llp });
    expect(b.loader).to.include(`\tlibfoo.so.1 => ${dir}/llp/libfoo.so.1`);
    const c = vsTrace(exeRunpath);
    expect(c.loader).to.include(`\tlibfoo.so.1 => ${dir}/run/libfoo.so.1`);
    // The order of the whole search (RPATH, LD_LIBRARY_PATH, RUNPATH, cache) for libc.so.6.
    for (const [exe, p] of [
      [exeRpath, a.p],
      [exeRunpath, b.p],
    ] as const) {
      const loaderTried = debugTried(exe, 'libc.so.6', { libraryPath: llp });
      same(`LD_DEBUG search of libc.so.6 by ${exe}`, oursTried(p, 'libc.so.6'), loaderTried);
      expect(loaderTried.length).to.be.greaterThan(2);
    }
  });

  it('E2: DT_RPATH is inherited by indirect dependencies (requester, then its first loaders)', function () {
    const { dir, exeRp } = fixtures().e2;
    const { loader, p } = vsTrace(exeRp);
    expect(loader).to.include(`\tlibB.so => ${dir}/d1/libB.so`);
    const dep = p.dependencies.find((d) => d.name === 'libB.so');
    expect(dep?.how).to.equal('rpath');
    expect(p.objects[p.objects.find((o) => o.path === `${dir}/d1/libB.so`)?.via ?? -1]?.path).to.equal(exeRp);
  });

  it('E2: DT_RPATH inheritance passes through an intermediate object that has DT_RUNPATH', function () {
    const { dir, exeRpA2 } = fixtures().e2;
    const { loader } = vsTrace(exeRpA2);
    expect(loader).to.include(`\tlibC.so => ${dir}/c/libC.so`);
    expect(loader).to.include(`\tlibB.so => ${dir}/d1/libB.so`);
  });

  it('E2: DT_RUNPATH is not inherited', function () {
    const { exeRun } = fixtures().e2;
    const { loader } = vsTrace(exeRun);
    expect(loader).to.include('\tlibB.so => not found');
  });

  it("E2: the requester's own DT_RUNPATH disables the whole DT_RPATH chain", function () {
    const { exeRpArun } = fixtures().e2;
    const { loader } = vsTrace(exeRpArun);
    expect(loader).to.include('\tlibB.so => not found');
  });

  it("E26: an empty DT_RUNPATH still disables the DT_RPATH chain (presence of the tag counts)", function () {
    const { dir, exeEmptyRunpath, exeNoRunpath } = fixtures().e26;
    expect(mustRun('readelf', ['-d', `${dir}/aempty/libA.so`])).to.match(/Library runpath: \[\]/);
    const a = vsTrace(exeEmptyRunpath);
    expect(a.loader).to.include('\tlibB.so => not found');
    const b = vsTrace(exeNoRunpath);
    expect(b.loader).to.include(`\tlibB.so => ${dir}/d1/libB.so`);
  });

  it('E25: RPATH inheritance follows first loaders, so it depends on load order', function () {
    const { dir, exeViaA, exeCFirst } = fixtures().e25;
    const a = vsTrace(exeViaA);
    expect(a.loader).to.include(`\tlibD.so => ${dir}/d/libD.so`);
    const b = vsTrace(exeCFirst);
    expect(b.loader).to.include('\tlibD.so => not found');
  });

  it('E6: $ORIGIN of a program started through a symlink is its real directory; ldd uses the link (glibc <= 2.41)', function () {
    const { dir, link } = fixtures().e6;
    const exec = vsTrace(link);
    expect(exec.loader).to.include(`\tlibo.so => ${dir}/real/bin/../lib/libo.so`);
    // A library's $ORIGIN is its path string, unnormalised.
    expect(exec.loader).to.include(`\tlibdep.so => ${dir}/real/bin/../lib/sub/libdep.so`);
    const ldd = vsLdd(link);
    expect(ldd.loader).to.include(`\tlibo.so => ${dir}/link/bin/../lib/libo.so`);
    expect(ldd.loader).to.include(`\tlibdep.so => ${dir}/link/bin/../lib/sub/libdep.so`);
    // Both answers are true; they differ, and the manifest must use the exec one.
    expect(exec.loader).to.not.deep.equal(ldd.loader);
  });

  it('E6: under ldd a program given by a relative path has $ORIGIN = CWD + that path (not resolved)', function () {
    const { dir } = fixtures().e6;
    const { loader } = vsLdd('./link/bin/exe', { cwd: dir });
    expect(loader).to.include(`\tlibo.so => ${dir}/./link/bin/../lib/libo.so`);
  });

  it('ldd (explicit ld.so invocation, originMode "ldd") agrees on every fixture program without $ORIGIN', function () {
    const f = fixtures();
    const programs = [
      ...[f.e1.exeRpath, f.e1.exeRunpath, f.e2.exeRp, f.e2.exeRun, f.e2.exeRpArun, f.e2.exeRpA2],
      ...[f.e26.exeEmptyRunpath, f.e26.exeNoRunpath, f.e25.exeViaA, f.e25.exeCFirst, f.e6b.exe, f.e5.exe, f.e5.libExe],
      ...[f.e9.exe, f.e10.exeAB, f.e10.exeBA, f.e10.exeSoname, f.cycle.exe, f.missing.exeOne, f.missing.exeTwo],
      ...[f.e20.exeHard, f.e20.exeSym, f.e11.exe, f.e8.exe],
    ];
    for (const prog of programs) vsLdd(prog);
  });

  it('E6b: `..` after a symlinked directory in a search path is applied physically, after the link', function () {
    const { dir, exe } = fixtures().e6b;
    const { loader, p } = vsTrace(exe);
    // The decoy in x/lib2 (what lexical normalisation would pick) needs libmark-x.so.
    expect(loader).to.include(`\tlibmark-y.so => ${dir}/x/linkdir/../lib2/libmark-y.so`);
    expect(objectAt(p, `${dir}/x/linkdir/../lib2/libdep2.so`)?.realPath).to.equal(`${dir}/y/lib2/libdep2.so`);
  });

  it('E7: $LIB and ${PLATFORM} expand; ${ORIGIN}x expands; $ORIGINx, $LIBx and $FOO stay literal; $ORIGIN in LD_LIBRARY_PATH is the program\'s', function () {
    const { exe, dir, platform, lib } = fixtures().e7;
    const { loader } = vsTrace(exe, { libraryPath: '$ORIGIN/../llp' });
    expect(loader).to.include(`\tlibt1.so => ${dir}/L-${lib}/libt1.so`);
    expect(loader).to.include(`\tlibt2.so => ${dir}/P-${platform}/libt2.so`);
    expect(loader).to.include(`\tlibt3.so => ${dir}/binx/libt3.so`);
    expect(loader).to.include(`\tlibt4.so => ${dir}/O2-$ORIGINx/libt4.so`);
    expect(loader).to.include(`\tlibt5.so => ${dir}/F-$FOO/libt5.so`);
    expect(loader).to.include(`\tlibt6.so => ${dir}/L2-$LIBx/libt6.so`);
    expect(loader).to.include(`\tlibt7.so => ${dir}/bin/../llp/libt7.so`);
  });

  it('a relative DT_RPATH element (no $ORIGIN) is relative to the CWD, not to the object', function () {
    const { dir, exeRel } = fixtures().rel;
    const a = vsTrace(exeRel, { cwd: dir });
    expect(a.loader).to.include('\tlibr.so => sub/libr.so');
    const b = vsTrace(exeRel, { cwd: '/' });
    expect(b.loader).to.include('\tlibr.so => not found');
  });

  it("a library's $ORIGIN is the directory of the path it was opened by, even when that path is a symlink to elsewhere", function () {
    const { dir, exe } = fixtures().symlib;
    const { loader, p } = vsTrace(exe);
    expect(loader).to.include(`\tlibsd.so => ${dir}/links/sub/libsd.so`);
    expect(objectAt(p, `${dir}/links/libsl.so`)?.realPath).to.equal(`${dir}/real/libsl.so`);
  });

  it('$LIB and $PLATFORM expand in LD_LIBRARY_PATH too', function () {
    const { dir, exeNoRpath, lib } = fixtures().e7;
    const { loader } = vsTrace(exeNoRpath, { libraryPath: `${dir}/llp2-$LIB:${dir}/llp2-\${PLATFORM}` });
    expect(loader).to.include(`\tlibt1.so => ${dir}/llp2-${lib}/libt1.so`);
    expect(loader.find((l) => l.startsWith('\tlibt2.so => '))).to.match(/llp2-[a-z0-9_]+\/libt2\.so$/);
  });

  it('E5: an executable with DF_1_NODEFLIB gets nothing from the cache or the default directories', function () {
    const { dir, exe } = fixtures().e5;
    expect(mustRun('readelf', ['-d', exe])).to.match(/Flags: .*NODEFLIB/);
    const { loader } = vsTrace(exe);
    // The program's own libc.so.6 request fails; libfoo's (no NODEFLIB) finds it.
    expect(loader).to.include(`\tlibfoo5.so.1 => ${dir}/d/libfoo5.so.1`);
    expect(loader).to.include('\tlibc.so.6 => not found');
    const r = vsRun(exe);
    expect(r.status).to.equal(127);
  });

  it('E5: a library with DF_1_NODEFLIB cannot take a system library from the cache', function () {
    const { libExe } = fixtures().e5;
    const { loader } = vsTrace(libExe);
    expect(loader).to.include('\tlibm.so.6 => not found');
  });

  it('E9: a wrong-class (i386) and a wrong-machine library earlier on the path are skipped', function () {
    const { dir, exe, has32 } = fixtures().e9;
    if (!has32) {
      console.log('      skipped: gcc -m32 (gcc-multilib) is missing');
      this.skip();
    }
    const { loader } = vsTrace(exe);
    expect(loader).to.include(`\tlibfoo.so.1 => ${dir}/good/libfoo.so.1`);
  });

  it('E9: when only files of the other class were seen, the run fails with "wrong ELF class"', function () {
    const { exeOnly32, has32 } = fixtures().e9;
    if (!has32) {
      console.log('      skipped: gcc -m32 (gcc-multilib) is missing');
      this.skip();
    }
    expect(vsTrace(exeOnly32).loader).to.include('\tlibfoo.so.1 => not found');
    const r = vsRun(exeOnly32);
    expect(r.error).to.equal('libfoo.so.1: wrong ELF class: ELFCLASS32');
  });

  for (const kind of FATAL_KINDS) {
    it(`E9: a ${kind} candidate earlier on the path is fatal: the program does not start`, function () {
      const exe = fixtures().e9.fatal[kind];
      const r = vsRun(exe);
      expect(r.status).to.equal(127);
      expect(r.error).to.contain(`${fixtures().e9.dir}/f-${kind}/libfoo.so.1: `);
      expect(r.p.fatal).to.equal(r.error);
      // Trace mode fails the same way and prints no list.
      vsTrace(exe);
    });
  }

  it('E10: the first copy of a SONAME loaded wins for every later requester (both orders)', function () {
    const { dir, exeAB, exeBA } = fixtures().e10;
    const ab = vsTrace(exeAB);
    expect(ab.loader).to.include(`\tlibfoo.so.1 => ${dir}/d1/libfoo.so.1`);
    const ba = vsTrace(exeBA);
    expect(ba.loader).to.include(`\tlibfoo.so.1 => ${dir}/d2/libfoo.so.1`);
  });

  it('E10: a loaded object whose SONAME differs from its file name satisfies a later DT_NEEDED without a search', function () {
    const { dir, exeSoname } = fixtures().e10;
    const { loader, p } = vsTrace(exeSoname);
    expect(loader).to.include(`\tlibbar-dev.so => ${dir}/run/libbar-dev.so`);
    expect(loader.some((l) => l.includes('libbar.so.2'))).to.equal(false);
    const dbg = run(exeSoname, [], { env: cleanEnv({ LD_DEBUG: 'libs' }) }).stderr;
    expect(dbg).to.not.contain('find library=libbar.so.2');
    expect(p.dependencies.find((d) => d.name === 'libbar.so.2')?.how).to.equal('loaded');
  });

  it('a dependency cycle (libA -> libB -> libA) loads each object once', function () {
    const { dir, exe } = fixtures().cycle;
    const { loader } = vsTrace(exe);
    expect(loader.filter((l) => l.includes(`${dir}/libA.so`))).to.have.length(1);
  });

  it('a missing library is `not found`, once per request (placeholders never match)', function () {
    const { exeOne, exeTwo } = fixtures().missing;
    const one = vsTrace(exeOne);
    expect(one.loader).to.include('\tlibmissing.so.1 => not found');
    const two = vsTrace(exeTwo);
    expect(two.loader.filter((l) => l === '\tlibmissing.so.1 => not found')).to.have.length(2);
    vsRun(exeOne);
  });

  it('E12: a DT_NEEDED with a slash is opened as given: absolute always, relative against the CWD', function () {
    const { dir, exeAbs, exeRel } = fixtures().e12;
    const a = vsTrace(exeAbs, { cwd: '/' });
    expect(a.loader).to.include(`\t${dir}/sub/libq.so`);
    const b = vsTrace(exeRel, { cwd: dir });
    expect(b.loader).to.include('\tsub/libq.so');
    const c = vsTrace(exeRel, { cwd: '/', libraryPath: `${dir}/sub` });
    expect(c.loader).to.include('\tsub/libq.so => not found');
  });

  it('E20: hard links and symlinks to one file under two names are one object; the second name is still opened', function () {
    const { dir, exeHard, exeSym } = fixtures().e20;
    for (const [exe, first, second] of [
      [exeHard, `${dir}/hard/libq1.so`, `${dir}/hard/libq2.so`],
      [exeSym, `${dir}/sym/libs1.so`, `${dir}/sym/libs2.so`],
    ] as const) {
      const { loader, p } = vsTrace(exe);
      expect(loader.filter((l) => l.includes(basename(second)))).to.have.length(0);
      const obj = objectAt(p, first);
      expect(obj?.aliasPaths).to.deep.equal([second]);
      expect(p.openedPaths).to.include(second);
      expect(obj?.names).to.deep.equal([basename(first), basename(second)]);
    }
  });

  it('E13: empty search-path elements mean the CWD; LD_LIBRARY_PATH also splits on ";"; "" is unset', function () {
    const { cwdDir, exeRpathEmpty, exePlain } = fixtures().e13;
    const a = vsTrace(exeRpathEmpty, { cwd: cwdDir });
    expect(a.loader).to.include('\tlibfoo13.so.1');
    const b = vsTrace(exePlain, { cwd: cwdDir, libraryPath: ':/nonexistent' });
    expect(b.loader).to.include('\tlibfoo13.so.1');
    const c = vsTrace(exePlain, { cwd: cwdDir, libraryPath: '/nonexistent;.' });
    expect(c.loader).to.include('\tlibfoo13.so.1 => ./libfoo13.so.1');
    const d = vsTrace(exePlain, { cwd: cwdDir, libraryPath: '' });
    expect(d.loader).to.include('\tlibfoo13.so.1 => not found');
  });

  it('E13b: glibc <= 2.38 abandons LD_LIBRARY_PATH at a relative element naming a file (BZ 31035); an absolute one is skipped', function () {
    const { cwdDir, exePlain } = fixtures().e13;
    const a = vsTrace(exePlain, { cwd: cwdDir, libraryPath: './main:.' });
    // The loader decides either way; the rule as stated holds only before 2.39.
    if (glibcBefore(2, 39)) expect(a.loader).to.include('\tlibfoo13.so.1 => not found');
    const b = vsTrace(exePlain, { cwd: cwdDir, libraryPath: `${cwdDir}/main:.` });
    expect(b.loader).to.include('\tlibfoo13.so.1 => ./libfoo13.so.1');
  });

  it('E13: an empty element is expanded into hwcaps subdirectories too, relative to the CWD', function () {
    const { hwcapsCwd, exePlain } = fixtures().e13;
    const { loader } = vsTrace(exePlain, { cwd: hwcapsCwd, libraryPath: ':/nonexistent' });
    expect(loader).to.include('\tlibfoo13.so.1 => tls/libfoo13.so.1');
  });

  it('open errors other than ENOENT/EACCES abandon a list only at the plain candidate of an existing directory', function () {
    const { dir, cwdDir, exePlain } = fixtures().e13;
    // loop1/tls/libfoo13.so.1 is a symlink loop, loop1/libfoo13.so.1 absent: the search goes on.
    const a = vsTrace(exePlain, { libraryPath: `${dir}/loop1:${cwdDir}` });
    expect(a.loader).to.include(`\tlibfoo13.so.1 => ${cwdDir}/libfoo13.so.1`);
    // loop2/libfoo13.so.1 itself is a symlink loop: the rest of LD_LIBRARY_PATH is abandoned.
    const b = vsTrace(exePlain, { libraryPath: `${dir}/loop2:${cwdDir}` });
    expect(b.loader).to.include('\tlibfoo13.so.1 => not found');
  });

  it('E11: LD_PRELOAD objects come right after the vDSO, and their dependencies use the program\'s RPATH', function () {
    const { dir, exe } = fixtures().e11;
    const { loader } = vsTrace(exe, { preload: `${dir}/pre/libP.so libm.so.6` });
    expect(loader.slice(1, 3)).to.deep.equal([`\t${dir}/pre/libP.so`, '\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6']);
    expect(loader).to.include(`\tlibPC.so => ${dir}/libPC.so`);
  });

  it('E11: a preload that cannot be loaded (missing name, missing path, non-ELF file) is reported and ignored', function () {
    const { dir, exe } = fixtures().e11;
    const preload = `libnothere.so ${dir}/nothere/libx.so ${dir}/pre/libtext.so libm.so.6`;
    const { loader, p } = vsTrace(exe, { preload });
    expect(loader.some((l) => l.includes('nothere') || l.includes('libtext'))).to.equal(false);
    expect(loader[1]).to.equal('\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6');
    const r = run(exe, [], { env: cleanEnv({ LD_PRELOAD: preload }) });
    expect(r.status).to.equal(0);
    const ignoredByLoader = r.stderr.split('\n').filter((l) => / from LD_PRELOAD cannot be preloaded .*: ignored\.$/.test(l)).length;
    same(`${exe} run with LD_PRELOAD=${preload}`, [p.missing.length, p.fatal, p.warnings.filter((w) => w.includes('cannot be preloaded')).length], [0, null, ignoredByLoader]);
    expect(ignoredByLoader).to.equal(3);
  });

  it('E11: the walk is breadth-first (exe: A B libc; A: C; B: D; C: E; D: C)', function () {
    const { exe } = fixtures().e11;
    const { loader } = vsTrace(exe);
    const names = loader.map((l) => l.trim().split(' ')[0]);
    expect(names).to.deep.equal(['linux-vdso.so.1', 'libA.so', 'libB.so', 'libc.so.6', 'libC.so', 'libD.so', LDSO, 'libE.so']);
  });

  it('E24: ld.so is listed only when something needs it, where the breadth-first list first reached it', function () {
    const { exeNostd, exeLdFirst, exeInterpName } = fixtures().e24;
    const a = vsTrace(exeNostd);
    expect(a.loader.some((l) => l.includes('ld-linux'))).to.equal(false);
    const b = vsTrace(exeLdFirst);
    expect(b.loader.some((l) => l.includes('ld-linux'))).to.equal(true);
    const c = vsTrace(exeInterpName);
    expect(c.p.dependencies[0]?.how).to.equal('loaded');
  });

  it('E23: a DT_NEEDED with $ORIGIN is expanded with the requester\'s origin and opened as a path', function () {
    const { dir, exe } = fixtures().e23;
    const { loader } = vsTrace(exe);
    expect(loader).to.include(`\t${dir}/bin/../lib/libfoo23.so.1`);
  });

  it('E8: glibc-hwcaps subdirectories of a search directory come first (this CPU\'s best level)', function () {
    const { dir, exe } = fixtures().e8;
    const { loader } = vsTrace(exe);
    const line = loader.find((l) => l.startsWith('\tlibh.so => ')) ?? '';
    expect(line).to.match(new RegExp(`^\\tlibh.so => ${dir}/h/(glibc-hwcaps/x86-64-v2/)?libh.so$`));
  });

  it('E8: glibc 2.36 still searches the legacy tls/, platform and hwcap-name subdirectories, in its order', function () {
    const { dir, exe } = fixtures().e8;
    const { loader } = vsTrace(exe);
    if (!glibcBefore(2, 37)) {
      // vsTrace has compared the resolver with the loader; the legacy paths below cannot occur.
      console.log('      skipped: glibc >= 2.37 has no legacy subdirectories (the agreement with the loader was checked)');
      this.skip();
    }
    expect(loader).to.include(`\tlibl1.so => ${dir}/t1/tls/libl1.so`);
    expect(loader).to.include(`\tlibl2.so => ${dir}/t2/x86_64/libl2.so`);
    // Which combination of platform (x86_64, haswell), avx512_1 and x86_64 wins
    // depends on this CPU; the loader decides, the resolver must agree.
    expect(loader.find((l) => l.startsWith('\tlibl3.so => '))).to.match(/\/t3\/[a-z0-9_]+\/x86_64\/libl3\.so$/);
    expect(loader.find((l) => l.startsWith('\tlibl4.so => '))).to.match(/\/t4\/tls\/[a-z0-9_]+\/libl4\.so$/);
  });

  it('a 32-bit program is resolved with the i386 loader\'s rules (the kernel, or qemu-i386, as the oracle)', function () {
    const m32 = fixtures().m32;
    if (!m32) {
      console.log('      skipped: gcc -m32 (gcc-multilib) or qemu-i386-static is missing');
      this.skip();
    }
    const { dir, exe } = m32;
    // Where this kernel runs i386 programs, the program itself is the oracle (with the vDSO the
    // kernel maps). Otherwise qemu-user starts it as the kernel would (PT_INTERP, /proc/self/exe
    // for $ORIGIN), but maps no vDSO: then the vDSO line is left out of our side too.
    // A kernel without (or with disabled) IA32 emulation refuses the file with ENOEXEC, and
    // execvp(3), which spawnSync uses, then runs it as a /bin/sh script: the trace printed is the
    // shell's x86_64 one. Only a listing that names the i386 loader came from the program itself.
    const native = run(exe, [], { env: cleanEnv({ LD_TRACE_LOADED_OBJECTS: '1' }) });
    const nativeOk = native.status === 0 && traceLines(native.stdout).includes('\t/lib/ld-linux.so.2');
    const r = nativeOk ? native : run('qemu-i386-static', [exe], { env: cleanEnv({ LD_TRACE_LOADED_OBJECTS: '1' }) });
    const loader = traceLines(r.stdout);
    if (r.status !== 0 || loader.length === 0) {
      console.log(`      skipped: qemu-i386-static cannot run the i386 loader here (${r.stderr.trim().split('\n')[0]})`);
      this.skip();
    }
    const p = resolveLike(exe, {});
    same(`${exe} ${nativeOk ? 'run by the kernel' : 'under qemu-i386'}`, nativeOk ? oursLdd(p) : oursLdd(p).filter((l) => l !== '\tlinux-gate.so.1'), loader);
    expect(loader).to.include(`\tlibt32.so => ${dir}/bin/../lib/libt32.so`);
    expect(loader).to.include(`\tlibm.so.6 => /lib32/libm.so.6`);
    expect(loader).to.include(`\tlibs32.so => ${dir}/bin/../lib/sse2/libs32.so`);
  });

  it('static and static-pie programs load nothing; the CLI says so as ldd does', function () {
    const { staticExe, staticPie } = fixtures().statics;
    for (const f of [staticExe, staticPie]) {
      const ldd = run('ldd', [f], { env: cleanEnv() });
      // The shipped CLI, rebuilt first when it is older than src/.
      const [node, bin] = elfdepsCommand();
      const cli = run(node, [bin, '--ldd', f], { cwd: REPO, env: cleanEnv() });
      same(`elfdeps --ldd ${f}`, { stdout: cli.stdout, stderr: cli.stderr.trim(), status: cli.status }, { stdout: ldd.stdout, stderr: ldd.stderr.trim(), status: ldd.status });
      expect(resolveLike(f, {}).objects).to.have.length(1);
    }
  });

  it('E5: a NODEFLIB library still takes a cache entry outside the system directories (chroot with its own ld.so.cache)', function () {
    const { root, exe } = chrootRoot(this);
    const { loader, p } = vsChroot(root, exe);
    expect(loader).to.include('\tlibq.so.1 => /usr/local/lib/edgeq/libq.so.1');
    expect(loader).to.include('\tlibm.so.6 => not found');
    expect(p.dependencies.find((d) => d.name === 'libq.so.1')?.how).to.equal('ld-so-cache');
  });

  it('a cache entry whose file is gone falls through to the default directories (chroot, stale ld.so.cache)', function () {
    const { root, staleExe } = chrootRoot(this);
    const { loader, p } = vsChroot(root, staleExe);
    expect(loader).to.include('\tlibstale.so.1 => /lib/x86_64-linux-gnu/libstale.so.1');
    expect(p.dependencies.find((d) => d.name === 'libstale.so.1')?.tried).to.include('/usr/local/lib/edgeq/libstale.so.1');
  });

  /**
   * `elfdeps --explain` (the shipped CLI) against the loader's own LD_DEBUG=libs
   * trace: the kernel starting the program in trace mode (exec), or ld.so
   * started with the program's path, in trace mode, as ldd runs it (ldd mode,
   * with --ldd-origin; `ld.so --list` differs: there a missing libc.so.6 is
   * fatal). Returns the loader's lines.
   */
  const vsDebug = (prog: string, env: LoaderEnv & { mode?: 'exec' | 'ldd' } = {}): string[] => {
    const cwd = env.cwd ?? process.cwd();
    const loaderEnv = { LD_DEBUG: 'libs', LD_LIBRARY_PATH: env.libraryPath, LD_PRELOAD: env.preload };
    const traced = cleanEnv({ ...loaderEnv, LD_TRACE_LOADED_OBJECTS: '1' });
    const real = env.mode === 'ldd' ? run(LDSO, [prog], { cwd, env: traced }) : run(prog, [], { cwd, env: traced });
    const [node, bin] = elfdepsCommand();
    const args = [bin, '--explain', ...(env.mode === 'ldd' ? ['--ldd-origin'] : [])];
    if (env.libraryPath !== undefined) args.push('--library-path', env.libraryPath);
    if (env.preload !== undefined) args.push('--preload', env.preload);
    const ours = run(node, [...args, prog], { cwd, env: cleanEnv() });
    const loader = lookupTrace(real.stderr);
    explainLoaderLines.push(...loader);
    explainTally.same(`--explain ${env.mode ?? 'exec'} ${prog} ${JSON.stringify(env)}`, lookupTrace(ours.stderr), loader);
    return loader;
  };

  it('--explain prints the lookup lines LD_DEBUG=libs prints, in order, for every fixture case', function () {
    const f = fixtures();
    const { e1, e2, e26, e25, e6, e7, e9, e13, e11 } = f;
    const checkedBefore = explainTally.checked;
    // Each case as the tests above run it (environment, working directory).
    vsDebug(e1.exeRpath, { libraryPath: `${e1.dir}/llp` });
    vsDebug(e1.exeRunpath, { libraryPath: `${e1.dir}/llp` });
    vsDebug(e1.exeRunpath);
    for (const exe of [e2.exeRp, e2.exeRun, e2.exeRpArun, e2.exeRpA2, e26.exeEmptyRunpath, e26.exeNoRunpath, e25.exeViaA, e25.exeCFirst]) vsDebug(exe);
    vsDebug(e6.link);
    vsDebug(e6.link, { mode: 'ldd' });
    vsDebug('./link/bin/exe', { cwd: e6.dir, mode: 'ldd' });
    vsDebug(f.e6b.exe);
    vsDebug(e7.exe, { libraryPath: '$ORIGIN/../llp' });
    vsDebug(e7.exeNoRpath, { libraryPath: `${e7.dir}/llp2-$LIB:${e7.dir}/llp2-\${PLATFORM}` });
    vsDebug(f.rel.exeRel, { cwd: f.rel.dir });
    vsDebug(f.rel.exeRel, { cwd: '/' });
    vsDebug(f.symlib.exe);
    vsDebug(f.e5.exe);
    vsDebug(f.e5.libExe);
    // Wrong class and machine skipped; only the other class; fatal candidates (the trace stops there).
    if (e9.has32) {
      vsDebug(e9.exe);
      vsDebug(e9.exeOnly32);
    } else console.log('      note: gcc -m32 is missing: the wrong-class --explain cases are not compared');
    for (const kind of FATAL_KINDS) vsDebug(e9.fatal[kind]);
    for (const exe of [f.e10.exeAB, f.e10.exeBA, f.e10.exeSoname, f.cycle.exe, f.missing.exeOne, f.missing.exeTwo, f.e20.exeHard, f.e20.exeSym]) vsDebug(exe);
    vsDebug(f.e12.exeAbs, { cwd: '/' });
    vsDebug(f.e12.exeRel, { cwd: f.e12.dir });
    vsDebug(f.e12.exeRel, { cwd: '/', libraryPath: `${f.e12.dir}/sub` });
    vsDebug(e13.exeRpathEmpty, { cwd: e13.cwdDir });
    for (const libraryPath of [':/nonexistent', '/nonexistent;.', '', './main:.', `${e13.cwdDir}/main:.`]) vsDebug(e13.exePlain, { cwd: e13.cwdDir, libraryPath });
    vsDebug(e13.exePlain, { cwd: e13.hwcapsCwd, libraryPath: ':/nonexistent' });
    vsDebug(e13.exePlain, { libraryPath: `${e13.dir}/loop1:${e13.cwdDir}` });
    vsDebug(e13.exePlain, { libraryPath: `${e13.dir}/loop2:${e13.cwdDir}` });
    vsDebug(e11.exe);
    vsDebug(e11.exe, { preload: `${e11.dir}/pre/libP.so libm.so.6` });
    vsDebug(e11.exe, { preload: `libnothere.so ${e11.dir}/nothere/libx.so ${e11.dir}/pre/libtext.so libm.so.6` });
    for (const exe of [f.e24.exeNostd, f.e24.exeLdFirst, f.e24.exeInterpName, f.e23.exe, f.e8.exe, f.statics.staticExe, f.statics.staticPie]) vsDebug(exe);
    // ldd mode (the program's "from file" is its path as given either way: glibc prints argv[0]).
    for (const exe of [e1.exeRpath, e2.exeRp, e2.exeRpA2, e25.exeViaA, f.e5.exe, f.missing.exeTwo, f.e8.exe]) vsDebug(exe, { mode: 'ldd' });
    // The comparisons must have met every kind of line (a trace that printed nothing would agree with an empty one).
    const seen = explainLoaderLines.join('\n');
    for (const kind of ['find library=', '(RPATH from file', '(RUNPATH from file', '(LD_LIBRARY_PATH)', '(system search path)', 'search cache=', '/glibc-hwcaps/', '/tls/']) {
      expect(seen, kind).to.contain(kind);
    }
    expect(explainTally.checked - checkedBefore).to.be.greaterThan(60);
  });

  it('--explain inside a root: the cache and a NODEFLIB library against LD_DEBUG=libs under chroot', function () {
    const { root, exe, staleExe } = chrootRoot(this);
    for (const prog of [exe, staleExe]) {
      const real = run('chroot', [root, '/trace', prog], { env: cleanEnv({ TRACE_LD_DEBUG: 'libs' }) });
      const [node, bin] = elfdepsCommand();
      const ours = run(node, [bin, '--explain', '--root', root, prog], { cwd: '/', env: cleanEnv() });
      const loader = lookupTrace(real.stderr);
      expect(loader.some((l) => l.startsWith(' search cache=')), 'the loader traced the lookups').to.equal(true);
      explainTally.same(`--explain --root ${root} ${prog}`, lookupTrace(ours.stderr), loader);
    }
  });

  it('/etc/ld.so.preload entries (comments, several separators) are preloaded, a missing one ignored (chroot)', function () {
    const { root, staleExe } = chrootRoot(this);
    writeText(`${root}/etc/ld.so.preload`, '# preloads\nlibm.so.6 # the maths\n\t/usr/local/lib/edgeq/libq.so.1:libnothere.so\n');
    try {
      const { loader } = vsChroot(root, staleExe);
      expect(loader.slice(1, 3)).to.deep.equal(['\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6', '\t/usr/local/lib/edgeq/libq.so.1']);
    } finally {
      rmSync(`${root}/etc/ld.so.preload`);
    }
  });
});

/** Builds every fixture once; each case's files live in their own directory under `D`. */
function buildFixtures(D: string) {
  const diag = loaderDiagnostics(LDSO);
  const platform = diag.dl_platform ?? 'x86_64';

  // E1
  const e1 = (() => {
    const dir = `${D}/e1`;
    for (const sub of ['rp', 'llp', 'run']) mklib(`${dir}/${sub}/libfoo.so.1`);
    return {
      dir,
      exeRpath: mkexe(`${dir}/exe_rpath`, { needs: [`${dir}/rp/libfoo.so.1`], rpath: `${dir}/rp` }),
      exeRunpath: mkexe(`${dir}/exe_runpath`, { needs: [`${dir}/run/libfoo.so.1`], runpath: `${dir}/run` }),
    };
  })();

  // E2
  const e2 = (() => {
    const dir = `${D}/e2`;
    const libB = mklib(`${dir}/d1/libB.so`);
    const libA = mklib(`${dir}/a/libA.so`, { needs: [libB] });
    const libAr = mklib(`${dir}/arun/libA.so`, { needs: [libB], runpath: `${dir}/nowhere` });
    const libC = mklib(`${dir}/c/libC.so`, { needs: [libB] });
    const libA2 = mklib(`${dir}/arun2/libA2.so`, { needs: [libC], runpath: `${dir}/c` });
    return {
      dir,
      exeRp: mkexe(`${dir}/exe_rp`, { needs: [libA], rpath: `${dir}/a:${dir}/d1` }),
      exeRun: mkexe(`${dir}/exe_run`, { needs: [libA], runpath: `${dir}/a:${dir}/d1` }),
      exeRpArun: mkexe(`${dir}/exe_rp_arun`, { needs: [libAr], rpath: `${dir}/arun:${dir}/d1` }),
      exeRpA2: mkexe(`${dir}/exe_rp_a2`, { needs: [libA2], rpath: `${dir}/arun2:${dir}/d1` }),
    };
  })();

  // E26
  const e26 = (() => {
    const dir = `${D}/e26`;
    const libB = mklib(`${dir}/d1/libB.so`);
    const empty = mklib(`${dir}/aempty/libA.so`, { needs: [libB], runpath: '/placeholder' });
    mustRun('patchelf', ['--set-rpath', '', empty]);
    const none = mklib(`${dir}/anone/libA.so`, { needs: [libB] });
    return {
      dir,
      exeEmptyRunpath: mkexe(`${dir}/exe_empty`, { needs: [empty], rpath: `${dir}/aempty:${dir}/d1` }),
      exeNoRunpath: mkexe(`${dir}/exe_none`, { needs: [none], rpath: `${dir}/anone:${dir}/d1` }),
    };
  })();

  // E25
  const e25 = (() => {
    const dir = `${D}/e25`;
    const libD = mklib(`${dir}/d/libD.so`);
    const libC = mklib(`${dir}/d/libC.so`, { needs: [libD] });
    const libA = mklib(`${dir}/l/libA.so`, { needs: [libC], rpath: `${dir}/d` });
    return {
      dir,
      exeViaA: mkexe(`${dir}/exe_via_a`, { needs: [libA], runpath: `${dir}/l` }),
      exeCFirst: mkexe(`${dir}/exe_c_first`, { needs: [libC, libA], runpath: `${dir}/l:${dir}/d` }),
    };
  })();

  // E6: real/bin/exe with RPATH $ORIGIN/../lib, reached through link/bin/exe.
  const e6 = (() => {
    const dir = `${D}/e6`;
    for (const side of ['real', 'link']) {
      const dep = mklib(`${dir}/${side}/lib/sub/libdep.so`);
      mklib(`${dir}/${side}/lib/libo.so`, { needs: [dep], rpath: '$ORIGIN/sub' });
    }
    mkexe(`${dir}/real/bin/exe`, { needs: [`${dir}/real/lib/libo.so`], rpath: '$ORIGIN/../lib' });
    mkdirSync(`${dir}/link/bin`, { recursive: true });
    symlinkSync('../../real/bin/exe', `${dir}/link/bin/exe`);
    return { dir, link: `${dir}/link/bin/exe` };
  })();

  // E6b: x/linkdir -> ../y/real; libp's RPATH $ORIGIN/../lib2 must reach y/lib2.
  const e6b = (() => {
    const dir = `${D}/e6b`;
    for (const side of ['x', 'y']) {
      const mark = mklib(`${dir}/${side}/lib2/libmark-${side}.so`);
      mklib(`${dir}/${side}/lib2/libdep2.so`, { needs: [mark], rpath: '$ORIGIN' });
    }
    const libp = mklib(`${dir}/y/real/libp.so`, { needs: [`${dir}/y/lib2/libdep2.so`], rpath: '$ORIGIN/../lib2' });
    symlinkSync('../y/real', `${dir}/x/linkdir`);
    return { dir, exe: mkexe(`${dir}/exe`, { needs: [libp], rpath: `${dir}/x/linkdir` }) };
  })();

  // E7: each token form leads to its own library.
  const e7 = (() => {
    const dir = `${D}/e7`;
    const libs = [
      mklib(`${dir}/L-${diag.dl_dst_lib ?? 'lib'}/libt1.so`),
      mklib(`${dir}/P-${platform}/libt2.so`),
      mklib(`${dir}/binx/libt3.so`),
      mklib(`${dir}/O2-$ORIGINx/libt4.so`),
      mklib(`${dir}/F-$FOO/libt5.so`),
      mklib(`${dir}/L2-$LIBx/libt6.so`),
      mklib(`${dir}/llp/libt7.so`),
    ];
    const llp1 = mklib(`${dir}/llp2-${diag.dl_dst_lib ?? 'lib'}/libt1.so`);
    const llp2 = mklib(`${dir}/llp2-${platform}/libt2.so`);
    const exeNoRpath = mkexe(`${dir}/bin/exe_norpath`, { needs: [llp1, llp2] });
    const rpath = [`${dir}/L-$LIB`, `${dir}/P-\${PLATFORM}`, '${ORIGIN}x', `${dir}/O2-$ORIGINx`, `${dir}/F-$FOO`, `${dir}/L2-$LIBx`].join(':');
    return { dir, platform, lib: diag.dl_dst_lib ?? 'lib', exeNoRpath, exe: mkexe(`${dir}/bin/exe`, { needs: libs, rpath }) };
  })();

  // A relative RPATH element.
  const rel = (() => {
    const dir = `${D}/rel`;
    const r = mklib(`${dir}/sub/libr.so`);
    return { dir, exeRel: mkexe(`${dir}/exe`, { needs: [r], rpath: 'sub' }) };
  })();

  // links/libsl.so -> ../real/libsl.so; libsl's RPATH $ORIGIN/sub must mean links/sub.
  const symlib = (() => {
    const dir = `${D}/symlib`;
    const sd = mklib(`${dir}/links/sub/libsd.so`);
    mklib(`${dir}/real/sub/libsd.so`);
    const sl = mklib(`${dir}/real/libsl.so`, { needs: [sd], rpath: '$ORIGIN/sub' });
    symlinkSync('../real/libsl.so', `${dir}/links/libsl.so`);
    return { dir, exe: mkexe(`${dir}/exe`, { needs: [sl], rpath: `${dir}/links` }) };
  })();

  // E5: NODEFLIB (-z nodefaultlib; GNU ld ignores -z nodeflib).
  const e5 = (() => {
    const dir = `${D}/e5`;
    const foo = mklib(`${dir}/d/libfoo5.so.1`);
    const libn = mklib(`${dir}/d2/libn.so.1`, { args: ['-Wl,-z,nodefaultlib'], libs: ['-lm'] });
    return {
      dir,
      exe: mkexe(`${dir}/exe`, { needs: [foo], rpath: `${dir}/d`, args: ['-Wl,-z,nodefaultlib'] }),
      libExe: mkexe(`${dir}/exe_lib`, { needs: [libn], rpath: `${dir}/d2` }),
    };
  })();

  // E9: candidates that are skipped, and candidates that are fatal.
  const e9 = (() => {
    const dir = `${D}/e9`;
    const good = mklib(`${dir}/good/libfoo.so.1`);
    let has32 = true;
    try {
      mklib(`${dir}/bad32/libfoo.so.1`, { m32: true });
    } catch {
      has32 = false; // no gcc-multilib: the class cases skip
    }
    mkdirSync(`${dir}/badm`, { recursive: true });
    copyFileSync(good, `${dir}/badm/libfoo.so.1`);
    patchBytes(`${dir}/badm/libfoo.so.1`, 18, [183, 0]); // e_machine = EM_AARCH64
    const exe = mkexe(`${dir}/exe`, { needs: [good], rpath: `${dir}/bad32:${dir}/badm:${dir}/good` });
    const exeOnly32 = mkexe(`${dir}/exe_only32`, { needs: [good], rpath: `${dir}/bad32:${dir}/badm` });
    const bad = (kind: string): string => `${dir}/f-${kind}/libfoo.so.1`;
    writeText(bad('short-text'), 'hello world\n');
    writeText(bad('empty'), '');
    writeText(bad('linker-script'), '/* GNU ld script\n   Use the shared library, but some functions are only in\n   the static library.  */\nGROUP ( /lib/libfoo.so.1 )\n');
    mkdirSync(dirname(bad('object')), { recursive: true });
    mustRun('gcc', ['-c', '-fPIC', '-o', bad('object'), `${dir}/good/libfoo.so.1.c`]);
    for (const [kind, offset, byte] of [
      ['big-endian', 5, 2],
      ['osabi-9', 7, 9],
    ] as const) {
      mkdirSync(dirname(bad(kind)), { recursive: true });
      copyFileSync(good, bad(kind));
      patchBytes(bad(kind), offset, [byte]);
    }
    mkdirSync(dirname(bad('abi-version-4')), { recursive: true });
    copyFileSync(good, bad('abi-version-4'));
    patchBytes(bad('abi-version-4'), 7, [3, 4]); // ELFOSABI_GNU with EI_ABIVERSION 4 (= LIBC_ABI_MAX)
    mkdirSync(bad('directory'), { recursive: true });
    const fatal = {} as Record<(typeof FATAL_KINDS)[number], string>;
    for (const kind of FATAL_KINDS) fatal[kind] = mkexe(`${dir}/exe-${kind}`, { needs: [good], rpath: `${dir}/f-${kind}:${dir}/good` });
    return { dir, has32, exe, exeOnly32, fatal };
  })();

  // E10
  const e10 = (() => {
    const dir = `${D}/e10`;
    const foo1 = mklib(`${dir}/d1/libfoo.so.1`);
    mklib(`${dir}/d2/libfoo.so.1`);
    const libA = mklib(`${dir}/libs/libA.so`, { needs: [foo1], rpath: `${dir}/d1` });
    const libB = mklib(`${dir}/libs/libB.so`, { needs: [foo1], runpath: `${dir}/d2` });
    const bar = mklib(`${dir}/run/libbar-dev.so`, { soname: 'libbar.so.2' });
    const libC = mklib(`${dir}/cdir/libC.so`, { needs: [bar] });
    const exeSoname = mkexe(`${dir}/exe_soname`, { needs: [bar, libC], runpath: `${dir}/run:${dir}/cdir` });
    mustRun('patchelf', ['--replace-needed', 'libbar.so.2', 'libbar-dev.so', exeSoname]);
    return {
      dir,
      exeAB: mkexe(`${dir}/exe_ab`, { needs: [libA, libB], rpath: `${dir}/libs` }),
      exeBA: mkexe(`${dir}/exe_ba`, { needs: [libB, libA], rpath: `${dir}/libs` }),
      exeSoname,
    };
  })();

  // A cycle: libA needs libB needs libA.
  const cycle = (() => {
    const dir = `${D}/cycle`;
    const libA = mklib(`${dir}/libA.so`);
    mklib(`${dir}/libB.so`, { needs: [libA] });
    mustRun('patchelf', ['--add-needed', 'libB.so', libA]);
    return { dir, exe: mkexe(`${dir}/exe`, { needs: [libA], rpath: dir }) };
  })();

  // Missing: linked against a library that is then removed.
  const missing = (() => {
    const dir = `${D}/missing`;
    const gone = mklib(`${dir}/gone/libmissing.so.1`);
    const libA = mklib(`${dir}/libA.so`, { needs: [gone] });
    const libB = mklib(`${dir}/libB.so`, { needs: [gone] });
    const exeOne = mkexe(`${dir}/exe_one`, { needs: [gone] });
    const exeTwo = mkexe(`${dir}/exe_two`, { needs: [libA, libB], rpath: dir });
    rmSync(gone);
    return { dir, exeOne, exeTwo };
  })();

  // E12: DT_NEEDED with a slash.
  const e12 = (() => {
    const dir = `${D}/e12`;
    const q = mklib(`${dir}/sub/libq.so`, { soname: null });
    const exeAbs = mkexe(`${dir}/exe_abs`, { needs: [q] });
    mustRun('patchelf', ['--replace-needed', 'libq.so', q, exeAbs]);
    const exeRel = mkexe(`${dir}/exe_rel`, { needs: [q] });
    mustRun('patchelf', ['--replace-needed', 'libq.so', 'sub/libq.so', exeRel]);
    return { dir, exeAbs, exeRel };
  })();

  // E20: one file under two names (hard link; symlink).
  const e20 = (() => {
    const dir = `${D}/e20`;
    const q1 = mklib(`${dir}/hard/libq1.so`, { soname: null });
    linkSync(q1, `${dir}/hard/libq2.so`);
    const exeHard = mkexe(`${dir}/exe_hard`, { needs: [q1], rpath: `${dir}/hard` });
    mustRun('patchelf', ['--add-needed', 'libq2.so', exeHard]);
    const s1 = mklib(`${dir}/sym/libs1.so`, { soname: null });
    symlinkSync('libs1.so', `${dir}/sym/libs2.so`);
    const exeSym = mkexe(`${dir}/exe_sym`, { needs: [s1], rpath: `${dir}/sym` });
    mustRun('patchelf', ['--add-needed', 'libs2.so', exeSym]);
    // patchelf --add-needed puts the new name first; we want libq1/libs1 first.
    for (const [exe, a, b] of [
      [exeHard, 'libq1.so', 'libq2.so'],
      [exeSym, 'libs1.so', 'libs2.so'],
    ] as const) {
      mustRun('patchelf', ['--remove-needed', a, exe]);
      mustRun('patchelf', ['--add-needed', a, exe]);
      const needed = mustRun('readelf', ['-d', exe]).match(/Shared library: \[[^\]]+\]/g) ?? [];
      if (!needed[0]?.includes(a) || !needed[1]?.includes(b)) throw new Error(`E20 fixture: unexpected DT_NEEDED order ${needed.join(' ')}`);
    }
    return { dir, exeHard, exeSym };
  })();

  // E13: empty elements.
  const e13 = (() => {
    const dir = `${D}/e13`;
    const lib = mklib(`${dir}/cwd/libfoo13.so.1`);
    const exeRpathEmpty = mkexe(`${dir}/exe_rpath_empty`, { needs: [lib], rpath: '/placeholder' });
    mustRun('patchelf', ['--force-rpath', '--set-rpath', '/nonexistent1::/nonexistent2', exeRpathEmpty]);
    writeText(`${dir}/cwd/main`, 'a regular file where a directory is expected\n');
    for (const sub of ['hw', 'hw/tls']) {
      mkdirSync(`${dir}/${sub}`, { recursive: true });
      copyFileSync(lib, `${dir}/${sub}/libfoo13.so.1`);
    }
    mkdirSync(`${dir}/loop1/tls`, { recursive: true });
    symlinkSync('libfoo13.so.1', `${dir}/loop1/tls/libfoo13.so.1`);
    mkdirSync(`${dir}/loop2`, { recursive: true });
    symlinkSync('libfoo13.so.1', `${dir}/loop2/libfoo13.so.1`);
    return { dir, cwdDir: `${dir}/cwd`, hwcapsCwd: `${dir}/hw`, exeRpathEmpty, exePlain: mkexe(`${dir}/exe_plain`, { needs: [lib] }) };
  })();

  // E11: BFS order and preloads.
  const e11 = (() => {
    const dir = `${D}/e11`;
    const E = mklib(`${dir}/libE.so`);
    const C = mklib(`${dir}/libC.so`, { needs: [E] });
    const Dl = mklib(`${dir}/libD.so`, { needs: [C] });
    const A = mklib(`${dir}/libA.so`, { needs: [C] });
    const B = mklib(`${dir}/libB.so`, { needs: [Dl] });
    const PC = mklib(`${dir}/libPC.so`);
    mklib(`${dir}/pre/libP.so`, { needs: [PC] });
    writeText(`${dir}/pre/libtext.so`, 'This is not an ELF file, but it is long enough to be read as a header.\n');
    return { dir, exe: mkexe(`${dir}/exe`, { needs: [A, B], rpath: dir }) };
  })();

  // E24: who asks for ld.so, and when.
  const e24 = (() => {
    const dir = `${D}/e24`;
    const nl = mklib(`${dir}/libnl.so`, { args: ['-nostdlib'] });
    const exeNostd = mkexe(`${dir}/exe_nostd`, { needs: [nl], args: ['-nostdlib'], source: 'void _start(void) { for (;;) ; }\n' });
    const exeLdFirst = mkexe(`${dir}/exe_ldfirst`, { needs: [nl], rpath: dir });
    mustRun('patchelf', ['--add-needed', 'ld-linux-x86-64.so.2', exeLdFirst]);
    const exeInterpName = mkexe(`${dir}/exe_interpname`, { needs: [nl], rpath: dir });
    mustRun('patchelf', ['--add-needed', LDSO, exeInterpName]);
    return { dir, exeNostd, exeLdFirst, exeInterpName };
  })();

  // E23: DT_NEEDED $ORIGIN/../lib/libfoo23.so.1.
  const e23 = (() => {
    const dir = `${D}/e23`;
    const lib = mklib(`${dir}/lib/libfoo23.so.1`);
    const exe = mkexe(`${dir}/bin/exe`, { needs: [lib] });
    mustRun('patchelf', ['--replace-needed', 'libfoo23.so.1', '$ORIGIN/../lib/libfoo23.so.1', exe]);
    return { dir, exe };
  })();

  // E8: hwcaps.
  const e8 = (() => {
    const dir = `${D}/e8`;
    const h = mklib(`${dir}/h/libh.so`);
    mkdirSync(`${dir}/h/glibc-hwcaps/x86-64-v2`, { recursive: true });
    copyFileSync(h, `${dir}/h/glibc-hwcaps/x86-64-v2/libh.so`);
    const copies = (name: string, base: string, subs: string[]): string => {
      const lib = mklib(`${base}/${name}`);
      for (const s of subs) {
        mkdirSync(`${base}/${s}`, { recursive: true });
        copyFileSync(lib, `${base}/${s}/${name}`);
      }
      return lib;
    };
    const l1 = copies('libl1.so', `${dir}/t1`, ['tls', 'x86_64']);
    const l2 = copies('libl2.so', `${dir}/t2`, ['x86_64']);
    const l3 = copies('libl3.so', `${dir}/t3`, ['x86_64', 'avx512_1', 'haswell', 'x86_64/x86_64', 'haswell/x86_64', 'avx512_1/x86_64']);
    const l4 = copies('libl4.so', `${dir}/t4`, ['tls', 'tls/x86_64', 'tls/haswell', 'tls/avx512_1']);
    const rpath = ['h', 't1', 't2', 't3', 't4'].map((s) => `${dir}/${s}`).join(':');
    return { dir, exe: mkexe(`${dir}/exe`, { needs: [h, l1, l2, l3, l4], rpath }) };
  })();

  // i386: own library through $ORIGIN, a system library, a legacy hwcap subdirectory.
  const m32 = (() => {
    if (!hasTool('qemu-i386-static')) return null;
    const dir = `${D}/m32`;
    try {
      const t = mklib(`${dir}/lib/libt32.so`, { m32: true });
      const s = mklib(`${dir}/lib/libs32.so`, { m32: true });
      mkdirSync(`${dir}/lib/sse2`, { recursive: true });
      copyFileSync(s, `${dir}/lib/sse2/libs32.so`);
      return { dir, exe: mkexe(`${dir}/bin/exe`, { m32: true, needs: [t, s], rpath: '$ORIGIN/../lib', libs: ['-lm'] }) };
    } catch {
      return null;
    }
  })();

  const statics = {
    staticExe: mkstatic(`${D}/static/exe`, 'static'),
    staticPie: mkstatic(`${D}/static/exe-pie`, 'static-pie'),
  };

  const root = buildNodeflibRoot(D);

  return { e1, e2, e26, e25, e6, e6b, e7, rel, symlib, e5, e9, e10, cycle, missing, e12, e20, e13, e11, e24, e23, e8, m32, statics, root };
}

/**
 * E5's cache sub-case in a root of our own, so the host's /etc/ld.so.cache is
 * never touched: the host's ld.so, libc and libm copied in, ROOT/etc/ld.so.conf
 * naming /usr/local/lib/edgeq, `ldconfig -r ROOT` writing ROOT/etc/ld.so.cache.
 * The program's library libn (NODEFLIB) needs libq (only in the cache, under
 * a non-system prefix) and libm (in the cache, under a system directory).
 */
function buildNodeflibRoot(D: string): { root: string; exe: string; staleExe: string } | null {
  if (process.getuid?.() !== 0 || !hasTool('ldconfig') || !hasTool('chroot')) return null;
  const root = `${D}/root`;
  const libdir = `${root}/lib/x86_64-linux-gnu`;
  mkdirSync(libdir, { recursive: true });
  mkdirSync(`${root}/lib64`, { recursive: true });
  copyFileSync(realpathSync(LDSO), `${root}/lib64/ld-linux-x86-64.so.2`);
  for (const lib of ['libc.so.6', 'libm.so.6']) copyFileSync(realpathSync(`/lib/x86_64-linux-gnu/${lib}`), `${libdir}/${lib}`);
  const q = mklib(`${root}/usr/local/lib/edgeq/libq.so.1`);
  const n = mklib(`${root}/opt/n/libn.so.1`, { needs: [q], args: ['-Wl,-z,nodefaultlib'], libs: ['-lm'] });
  const exe = mkexe(`${root}/bin/exe`, { needs: [n], rpath: '/opt/n' });
  // A stale cache: libstale is cached under /usr/local/lib/edgeq, then moved to a system directory.
  const stale = mklib(`${root}/usr/local/lib/edgeq/libstale.so.1`);
  const staleExe = mkexe(`${root}/bin/exe_stale`, { needs: [stale] });
  mktracer(`${root}/trace`);
  writeText(`${root}/etc/ld.so.conf`, '/usr/local/lib/edgeq\n');
  if (run('ldconfig', ['-r', root], { env: cleanEnv() }).status !== 0) return null;
  copyFileSync(stale, `${libdir}/libstale.so.1`);
  rmSync(stale);
  return { root, exe: exe.slice(root.length), staleExe: staleExe.slice(root.length) };
}
