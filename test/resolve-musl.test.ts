/**
 * musl's loader rules, each case built here with musl-gcc and checked against
 * the real musl loader: `/lib/ld-musl-x86_64.so.1 --list prog` (what musl's
 * ldd is; the program's $ORIGIN is then the path as given), a real run where
 * only real execution shows the answer ($ORIGIN through a symlink), and
 * `chroot ROOT /lib/ld-musl-x86_64.so.1 --list` for the system path file,
 * which is read from inside the root. Case numbers (M1...) are those of
 * ldso-rules.md §7.
 */
import { copyFileSync, linkSync, mkdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { Resolver, type ResolveOptions } from '../src/resolve/index.js';
import type { ProgramResolution } from '../src/resolve/types.js';
import { formatLdd } from '../src/cli/format.js';
import { skipOrFail } from './helpers/skip.js';
import { cleanEnv, hasTool, LoaderTally, mkexe, mklib, mustRun, patchBytes, run, traceLines, useFixtures } from './helpers/build.js';

const MUSL_LDSO = '/lib/ld-musl-x86_64.so.1';

/** Comparisons with the real loader, for the summary line. */
const tally = new LoaderTally();
const same = tally.same.bind(tally);

interface LoaderEnv {
  cwd?: string;
  libraryPath?: string;
}

/** musl's error lines without the "(needed by X)" tail, as our resolution predicts them. */
function ourErrors(p: ProgramResolution): string[] {
  return p.missing.map((d) => d.error ?? `Error loading shared library ${d.name}: No such file or directory`);
}

function loaderErrors(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('Error loading shared library'))
    .map((l) => l.replace(/ \(needed by [^)]*\)$/, ''));
}

/** `ld-musl --list prog` against originMode 'ldd': the list, the errors and the exit status. */
/**
 * `errnoUnknown`: compare errors by name only. musl prints strerror(errno) of
 * the last failed call; when a search opens nothing (an empty system path and
 * no other list) errno is whatever an earlier call left, which no static
 * resolver can know (here 0: "No error information").
 */
function vsList(
  prog: string,
  env: LoaderEnv = {},
  opts: { root?: string; ldso?: string; errnoUnknown?: boolean } = {},
): { loader: string[]; errors: string[]; p: ProgramResolution } {
  const ldso = opts.ldso ?? MUSL_LDSO;
  const r = opts.root
    ? run('chroot', [opts.root, ldso, '--list', prog], { env: cleanEnv({ LD_LIBRARY_PATH: env.libraryPath }) })
    : run(ldso, ['--list', prog], { cwd: env.cwd, env: cleanEnv({ LD_LIBRARY_PATH: env.libraryPath }) });
  const loader = traceLines(r.stdout);
  const cut = (e: string): string => (opts.errnoUnknown ? e.replace(/^(Error loading shared library [^:]*):.*$/, '$1') : e);
  const errors = loaderErrors(r.stderr).map(cut);
  const options: ResolveOptions = { cwd: env.cwd ?? (opts.root ? '/' : process.cwd()), libraryPath: env.libraryPath ?? null, originMode: 'ldd' };
  if (opts.root) options.root = opts.root;
  const p = new Resolver(options).resolveOne(prog);
  same(`${ldso} --list ${prog}`, { list: formatLdd(p), errors: ourErrors(p).map(cut), status: p.missing.length ? 127 : 0 }, { list: loader, errors, status: r.status });
  return { loader, errors, p };
}

/** A real run (originMode 'exec'): musl stops at the first error. */
function vsRun(prog: string, env: LoaderEnv = {}): { status: number | null; p: ProgramResolution } {
  const r = run(prog, [], { cwd: env.cwd, env: cleanEnv({ LD_LIBRARY_PATH: env.libraryPath }) });
  const p = new Resolver({ cwd: env.cwd ?? process.cwd(), libraryPath: env.libraryPath ?? null, originMode: 'exec' }).resolveOne(prog);
  same(`${prog} run`, { status: p.missing.length ? 127 : 0, error: ourErrors(p).slice(0, 1) }, { status: r.status, error: loaderErrors(r.stderr) });
  return { status: r.status, p };
}

const canRun = process.platform === 'linux' && process.arch === 'x64' && hasTool('musl-gcc') && hasTool('patchelf');

describe('musl resolver rules against the real musl loader', function () {
  this.timeout(10 * 60 * 1000);
  const fixtures = useFixtures({
    prefix: 'elfdeps-musl-',
    skipReason: canRun ? null : 'needs an x86_64 Linux host with musl-gcc (musl-tools) and patchelf',
    build: buildFixtures,
    summary: () => `musl cases: ${tally.checked} checked against the real loader, ${tally.equal} equal`,
  });

  it('M5: libc/libm/libpthread/libdl names are the loader itself (each family listed once); libcrypt is searched', function () {
    const { dir, exe } = fixtures().m5;
    const { loader } = vsList(exe);
    expect(loader).to.include(`\tlibm.so.6 => ${MUSL_LDSO}`);
    expect(loader).to.include(`\tlibpthread.so.0 => ${MUSL_LDSO}`);
    expect(loader).to.include(`\tlibcrypt.so.1 => ${dir}/lib/libcrypt.so.1`);
    expect(loader.filter((l) => l.startsWith('\tlibc.'))).to.have.length(1);
  });

  it('a musl library in a DT_RPATH directory is found', function () {
    const { dir, exeRpath } = fixtures().basic;
    const { loader } = vsList(exeRpath);
    expect(loader).to.include(`\tlibfoo.so.1 => ${dir}/rp/libfoo.so.1`);
    vsRun(exeRpath);
  });

  it('M1: LD_LIBRARY_PATH comes before DT_RPATH', function () {
    const { dir, exeRpath } = fixtures().basic;
    const { loader } = vsList(exeRpath, { libraryPath: `${dir}/llp` });
    expect(loader).to.include(`\tlibfoo.so.1 => ${dir}/llp/libfoo.so.1`);
  });

  it('M2: DT_RUNPATH is inherited by indirect dependencies (unlike glibc)', function () {
    const { dir, exeRunpath } = fixtures().m2;
    const { loader } = vsList(exeRunpath);
    expect(loader).to.include(`\tlibB.so => ${dir}/d1/libB.so`);
  });

  it('M3: any `$` other than $ORIGIN/${ORIGIN} makes musl ignore the whole rpath', function () {
    const { exeLib } = fixtures().m3;
    const { errors } = vsList(exeLib);
    expect(errors).to.include('Error loading shared library libfoo.so.1: No such file or directory');
    vsRun(exeLib);
  });

  it('M3: $ORIGIN of the program is the path as given under --list, the real directory when run', function () {
    const { dir, link } = fixtures().m3;
    const list = vsList(link);
    expect(list.loader).to.include(`\tlibo.so => ${dir}/link/bin/../lib/libo.so`);
    // The real run finds libo only next to the real program (link/lib has none): it starts.
    const r = vsRun(link);
    expect(r.status).to.equal(0);
    expect(r.p.objects.map((o) => o.path)).to.include(`${dir}/real/bin/../lib/libo.so`);
  });

  it('M3: a program given by a relative path has a relative $ORIGIN under --list', function () {
    const { dir } = fixtures().m3;
    const { loader } = vsList('./real/bin/exe', { cwd: dir });
    expect(loader).to.include('\tlibo.so => ./real/bin/../lib/libo.so');
  });

  it('M4: empty LD_LIBRARY_PATH elements are skipped (no current-directory meaning); "." is the CWD', function () {
    const { cwdDir, exePlain } = fixtures().m4;
    const a = vsList(exePlain, { cwd: cwdDir, libraryPath: ':/nonexistent' });
    expect(a.errors).to.have.length(1);
    const b = vsList(exePlain, { cwd: cwdDir, libraryPath: '.' });
    expect(b.loader).to.include('\tlibm4.so.1 => ./libm4.so.1');
  });

  it('path elements keep a trailing slash: the file is opened as dir//name', function () {
    const { dir, exeSlash } = fixtures().basic;
    const { loader } = vsList(exeSlash);
    expect(loader).to.include(`\tlibfoo.so.1 => ${dir}/rp//libfoo.so.1`);
  });

  it('M7: the first file that opens is used: an i386 library first is an error, not a skip', function () {
    const { exe32 } = fixtures().m7;
    if (!exe32) {
      console.log('      skipped: gcc -m32 (gcc-multilib) is missing');
      this.skip();
    }
    const { errors } = vsList(exe32);
    expect(errors).to.include('Error loading shared library libfoo.so.1: Exec format error');
    vsRun(exe32);
  });

  it('M7: a directory named like the library is an error ("Is a directory")', function () {
    const { exeDir } = fixtures().m7;
    const { errors } = vsList(exeDir);
    expect(errors).to.include('Error loading shared library libfoo.so.1: Is a directory');
  });

  it('an open() error other than ENOENT/ENOTDIR/EACCES/ENAMETOOLONG (a symlink loop) ends the whole search', function () {
    const { exeLoop } = fixtures().m7;
    const { errors } = vsList(exeLoop);
    expect(errors).to.include('Error loading shared library libfoo.so.1: Symbolic link loop');
  });

  it('M7: musl does not check e_machine: an ELF64 patched to another machine is mapped', function () {
    const { dir, exeMachine } = fixtures().m7;
    const { loader } = vsList(exeMachine);
    expect(loader).to.include(`\tlibfoo.so.1 => ${dir}/badm/libfoo.so.1`);
  });

  it('M9: DT_SONAME never satisfies a DT_NEEDED; the name is searched', function () {
    const { exeSoname } = fixtures().m9;
    const { errors, loader } = vsList(exeSoname);
    expect(loader.some((l) => l.startsWith('\tlibbar-dev.so => '))).to.equal(true);
    expect(errors).to.include('Error loading shared library libbar.so.2: No such file or directory');
  });

  it('a DT_NEEDED with a slash is opened as given, relative to the CWD, and $ORIGIN in it is not expanded', function () {
    const { dir, exeRel, exeOrigin } = fixtures().slash;
    const r = run(MUSL_LDSO, ['--list', exeRel], { cwd: dir, env: cleanEnv() });
    expect(traceLines(r.stdout)).to.include('\tsub/libq.so => sub/libq.so');
    const p = new Resolver({ cwd: dir, originMode: 'ldd' }).resolveOne(exeRel);
    same(`${exeRel}: sub/libq.so opened as`, p.objects.find((o) => o.names.includes('sub/libq.so'))?.path, 'sub/libq.so');
    const b = vsList(exeRel, { cwd: '/' });
    expect(b.errors).to.include('Error loading shared library sub/libq.so: No such file or directory');
    const c = vsList(exeOrigin, { cwd: dir });
    expect(c.errors).to.include('Error loading shared library $ORIGIN/sub/libq.so: No such file or directory');
  });

  it('--list prints "NAME => PATH" even when the name is the path', function () {
    // musl's ldd line is always "\t%s => %s (%p)" (name, pathname); dropping
    // "NAME =>" when the two are equal is glibc's rule only.
    const { dir, exeRel } = fixtures().slash;
    vsList(exeRel, { cwd: dir });
  });

  it('one file under two names (hard link, symlink) is one object', function () {
    const { exeHard, exeSym } = fixtures().links;
    for (const exe of [exeHard, exeSym]) {
      const { p } = vsList(exe);
      const libs = p.objects.filter((o) => !o.isInterpreter && o.index !== 0);
      expect(libs).to.have.length(1);
      expect(libs[0]?.aliasPaths).to.have.length(1);
    }
  });

  /**
   * musl has no LD_DEBUG, but strace shows every file it opens: the
   * candidates of --explain (and its `trying file=` lines) must be those
   * opens, in order, after the program's own and but the system path file.
   */
  const vsOpens = (prog: string, env: LoaderEnv = {}): string[] => {
    const out = `${prog}.strace`;
    run('strace', ['-qq', '-e', 'trace=open,openat', '-o', out, MUSL_LDSO, '--list', prog], { cwd: env.cwd, env: cleanEnv({ LD_LIBRARY_PATH: env.libraryPath }) });
    const opens = readFileSync(out, 'utf8')
      .split('\n')
      .map((l) => /^open(?:at)?\((?:AT_FDCWD, )?"((?:[^"\\]|\\.)*)"/.exec(l)?.[1])
      .filter((p): p is string => p !== undefined && !p.endsWith('.path'))
      .slice(1);
    const lines: string[] = [];
    const p = new Resolver({ cwd: env.cwd ?? process.cwd(), libraryPath: env.libraryPath ?? null, originMode: 'ldd', trace: (l) => lines.push(l) }).resolveOne(prog);
    const candidates = p.dependencies.flatMap((d) => (d.candidates ?? []).map((c) => c.path));
    same(`--explain ${prog} against musl's opens (strace)`, candidates, opens);
    // Searched names print their candidates as trying lines, in the same order.
    const trying = lines.filter((l) => l.startsWith('  trying file=')).map((l) => l.slice('  trying file='.length));
    const searched = p.dependencies.filter((d) => !d.name.includes('/')).flatMap((d) => (d.candidates ?? []).map((c) => c.path));
    expect(trying).to.deep.equal(searched);
    return lines;
  };

  it('--explain: the candidates are the files musl opens (strace), in order; lists in the shape of glibc\'s trace', function () {
    if (!hasTool('strace')) skipOrFail(this, 'strace is missing: no oracle for the files musl tries');
    const f = fixtures();
    const rpathTrace = vsOpens(f.basic.exeRpath, { libraryPath: `${f.basic.dir}/nowhere::${f.basic.dir}/llp-missing` });
    expect(rpathTrace).to.include(` search path=${f.basic.dir}/nowhere:${f.basic.dir}/llp-missing\t\t(LD_LIBRARY_PATH)`);
    expect(rpathTrace).to.include(` search path=${f.basic.dir}/rp\t\t(RPATH from file ${f.basic.exeRpath})`);
    expect(rpathTrace[0]).to.equal('find library=libfoo.so.1 [0]; searching');
    const runpathTrace = vsOpens(f.m2.exeRunpath);
    // musl inherits DT_RUNPATH: libA's search for libB goes through the program's list.
    expect(runpathTrace).to.include(` search path=${f.m2.dir}/a:${f.m2.dir}/d1\t\t(RUNPATH from file ${f.m2.exeRunpath})`);
    vsOpens(f.basic.exeSlash);
    vsOpens(f.m3.exeLib);
    vsOpens(f.m4.exePlain, { cwd: f.m4.cwdDir, libraryPath: ':/nonexistent:.' });
    vsOpens(f.m5.exe);
    vsOpens(f.m7.exeMachine);
    vsOpens(f.m7.exeDir);
    vsOpens(f.m7.exeLoop);
    vsOpens(f.m9.exeSoname);
    vsOpens(f.slash.exeRel, { cwd: f.slash.dir });
    vsOpens(f.links.exeHard);
    vsOpens(f.links.exeSym);
  });

  it('M8: the system path comes from <prefix>/etc/ld-musl-x86_64.path inside the root (chroot)', function () {
    const r = fixtures().root;
    if (!r) {
      console.log('      skipped: needs root (chroot)');
      this.skip();
    }
    const { root } = r;
    const pathFile = `${root}/etc/ld-musl-x86_64.path`;
    // Listed directory.
    writeFileSync(pathFile, '/opt/sys\n');
    expect(vsList('/bin/exe', {}, { root }).loader).to.include('\tlibsys.so => /opt/sys/libsys.so');
    // No file: the compiled-in /lib:/usr/local/lib:/usr/lib.
    rmSync(pathFile);
    expect(vsList('/bin/exe', {}, { root }).loader).to.include('\tlibsys.so => /usr/local/lib/libsys.so');
    // An empty file: no system path at all.
    writeFileSync(pathFile, '');
    expect(vsList('/bin/exe', {}, { root, errnoUnknown: true }).errors).to.deep.equal(['Error loading shared library libsys.so']);
    // A loader elsewhere reads the file relative to its own prefix (/opt/musl/lib/.. -> /opt/musl/etc).
    expect(vsList('/bin/exe-opt', {}, { root, ldso: '/opt/musl/lib/ld-musl-x86_64.so.1' }).loader).to.include('\tlibsys.so => /opt/musl/sys/libsys.so');
  });
});

function buildFixtures(D: string) {
  const cc = 'musl-gcc';

  const m5 = (() => {
    const dir = `${D}/m5`;
    const crypt = mklib(`${dir}/lib/libcrypt.so.1`, { cc });
    const exe = mkexe(`${dir}/exe`, { cc, needs: [crypt], rpath: `${dir}/lib` });
    // Names a glibc-built program would carry; patchelf puts each new one first.
    for (const n of ['libdl.so.2', 'libc.so.6', 'libpthread.so.0', 'libm.so.6']) mustRun('patchelf', ['--add-needed', n, exe]);
    return { dir, exe };
  })();

  const basic = (() => {
    const dir = `${D}/basic`;
    const foo = mklib(`${dir}/rp/libfoo.so.1`, { cc });
    mklib(`${dir}/llp/libfoo.so.1`, { cc });
    return {
      dir,
      exeRpath: mkexe(`${dir}/exe_rpath`, { cc, needs: [foo], rpath: `${dir}/rp` }),
      exeSlash: mkexe(`${dir}/exe_slash`, { cc, needs: [foo], rpath: `${dir}/rp/` }),
    };
  })();

  const m2 = (() => {
    const dir = `${D}/m2`;
    const libB = mklib(`${dir}/d1/libB.so`, { cc });
    const libA = mklib(`${dir}/a/libA.so`, { cc, needs: [libB] });
    return { dir, exeRunpath: mkexe(`${dir}/exe_runpath`, { cc, needs: [libA], runpath: `${dir}/a:${dir}/d1` }) };
  })();

  const m3 = (() => {
    const dir = `${D}/m3`;
    const foo = mklib(`${dir}/lib/libfoo.so.1`, { cc });
    const exeLib = mkexe(`${dir}/exe_lib`, { cc, needs: [foo], rpath: `$LIB/x:${dir}/lib` });
    // real/bin/exe (RPATH $ORIGIN/../lib) reached through link/bin/exe; libo exists only in real/lib.
    const o = mklib(`${dir}/real/lib/libo.so`, { cc });
    mkexe(`${dir}/real/bin/exe`, { cc, needs: [o], rpath: '$ORIGIN/../lib' });
    mkdirSync(`${dir}/link/bin`, { recursive: true });
    mkdirSync(`${dir}/link/lib`, { recursive: true });
    copyFileSync(o, `${dir}/link/lib/libo.so`);
    symlinkSync('../../real/bin/exe', `${dir}/link/bin/exe`);
    return { dir, exeLib, link: `${dir}/link/bin/exe` };
  })();

  const m4 = (() => {
    const dir = `${D}/m4`;
    const lib = mklib(`${dir}/cwd/libm4.so.1`, { cc });
    return { dir, cwdDir: `${dir}/cwd`, exePlain: mkexe(`${dir}/exe_plain`, { cc, needs: [lib] }) };
  })();

  const m7 = (() => {
    const dir = `${D}/m7`;
    const good = mklib(`${dir}/good/libfoo.so.1`, { cc });
    let exe32: string | null = null;
    try {
      mklib(`${dir}/bad32/libfoo.so.1`, { m32: true });
      exe32 = mkexe(`${dir}/exe32`, { cc, needs: [good], rpath: `${dir}/bad32:${dir}/good` });
    } catch {
      exe32 = null; // no gcc-multilib
    }
    mkdirSync(`${dir}/dir/libfoo.so.1`, { recursive: true });
    mkdirSync(`${dir}/loop`, { recursive: true });
    symlinkSync('libfoo.so.1', `${dir}/loop/libfoo.so.1`);
    mkdirSync(`${dir}/badm`, { recursive: true });
    copyFileSync(good, `${dir}/badm/libfoo.so.1`);
    patchBytes(`${dir}/badm/libfoo.so.1`, 18, [183, 0]); // e_machine = EM_AARCH64
    return {
      dir,
      exe32,
      exeDir: mkexe(`${dir}/exe_dir`, { cc, needs: [good], rpath: `${dir}/dir:${dir}/good` }),
      exeMachine: mkexe(`${dir}/exe_machine`, { cc, needs: [good], rpath: `${dir}/badm:${dir}/good` }),
      exeLoop: mkexe(`${dir}/exe_loop`, { cc, needs: [good], rpath: `${dir}/loop:${dir}/good` }),
    };
  })();

  const m9 = (() => {
    const dir = `${D}/m9`;
    const bar = mklib(`${dir}/run/libbar-dev.so`, { cc, soname: 'libbar.so.2' });
    const libC = mklib(`${dir}/cdir/libC.so`, { cc, needs: [bar] });
    const exeSoname = mkexe(`${dir}/exe_soname`, { cc, needs: [bar, libC], runpath: `${dir}/run:${dir}/cdir` });
    mustRun('patchelf', ['--replace-needed', 'libbar.so.2', 'libbar-dev.so', exeSoname]);
    return { dir, exeSoname };
  })();

  const links = (() => {
    const dir = `${D}/links`;
    const q1 = mklib(`${dir}/hard/libq1.so`, { cc, soname: null });
    linkSync(q1, `${dir}/hard/libq2.so`);
    const exeHard = mkexe(`${dir}/exe_hard`, { cc, needs: [q1], rpath: `${dir}/hard` });
    mustRun('patchelf', ['--add-needed', 'libq2.so', exeHard]);
    const s1 = mklib(`${dir}/sym/libs1.so`, { cc, soname: null });
    symlinkSync('libs1.so', `${dir}/sym/libs2.so`);
    const exeSym = mkexe(`${dir}/exe_sym`, { cc, needs: [s1], rpath: `${dir}/sym` });
    mustRun('patchelf', ['--add-needed', 'libs2.so', exeSym]);
    return { dir, exeHard, exeSym };
  })();

  const slash = (() => {
    const dir = `${D}/slash`;
    const q = mklib(`${dir}/sub/libq.so`, { cc, soname: null });
    const exeRel = mkexe(`${dir}/exe_rel`, { cc, needs: [q] });
    mustRun('patchelf', ['--replace-needed', 'libq.so', 'sub/libq.so', exeRel]);
    const exeOrigin = mkexe(`${dir}/exe_origin`, { cc, needs: [q] });
    mustRun('patchelf', ['--replace-needed', 'libq.so', '$ORIGIN/sub/libq.so', exeOrigin]);
    return { dir, exeRel, exeOrigin };
  })();

  return { m5, basic, m2, m3, m4, m7, m9, slash, links, root: buildMuslRoot(D) };
}

/**
 * A root with the musl loader at /lib and at /opt/musl/lib, a program needing
 * libsys.so (only in system-path candidates), and one whose PT_INTERP is the
 * /opt/musl copy.
 */
function buildMuslRoot(D: string): { root: string } | null {
  if (process.getuid?.() !== 0 || !hasTool('chroot')) return null;
  const root = `${D}/root`;
  const ldso = realpathSync(MUSL_LDSO);
  for (const d of ['lib', 'opt/musl/lib', 'etc', 'opt/musl/etc']) mkdirSync(`${root}/${d}`, { recursive: true });
  copyFileSync(ldso, `${root}/lib/ld-musl-x86_64.so.1`);
  copyFileSync(ldso, `${root}/opt/musl/lib/ld-musl-x86_64.so.1`);
  const sys = mklib(`${root}/opt/sys/libsys.so`, { cc: 'musl-gcc' });
  mkdirSync(`${root}/usr/local/lib`, { recursive: true });
  copyFileSync(sys, `${root}/usr/local/lib/libsys.so`);
  mkdirSync(`${root}/opt/musl/sys`, { recursive: true });
  copyFileSync(sys, `${root}/opt/musl/sys/libsys.so`);
  writeFileSync(`${root}/opt/musl/etc/ld-musl-x86_64.path`, '/opt/musl/sys\n');
  mkexe(`${root}/bin/exe`, { cc: 'musl-gcc', needs: [sys] });
  const opt = mkexe(`${root}/bin/exe-opt`, { cc: 'musl-gcc', needs: [sys] });
  mustRun('patchelf', ['--set-interpreter', '/opt/musl/lib/ld-musl-x86_64.so.1', opt]);
  return { root };
}
