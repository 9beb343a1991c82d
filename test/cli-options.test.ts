/**
 * Every documented option, exercised through the shipped CLI (issue 12, item
 * 17). Where the real loader has the same knob (LD_LIBRARY_PATH, LD_PRELOAD,
 * ldd's $ORIGIN, /etc/ld.so.preload, a fresh cache, --glibc-hwcaps-mask), the
 * loader run on the same fixture is the expectation; where it has none
 * (--platform, --hwcaps, --legacy-hwcaps, --default-path, --glibc-version),
 * the expectation is the fixture's own layout: which directory holds the
 * library the option says to search first. Fixtures are built with gcc.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { cleanEnv, hasTool, mkexe, mklib, mktracer, run, traceExec, traceLines, writeText } from './helpers/build.js';
import { elfdepsCommand } from './helpers/cli.js';
import { skipOrFail } from './helpers/skip.js';

const HOST_LDSO = '/lib64/ld-linux-x86-64.so.2';

function elfdeps(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string; lines: string[] } {
  const [node, bin] = elfdepsCommand();
  const r = spawnSync(node, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, lines: r.stdout.split('\n').filter((l) => l !== '') };
}

/** The line for NAME in ldd-style lines. */
const lineOf = (lines: string[], name: string) => lines.find((l) => l.startsWith(`\t${name} =>`) || l === `\t${name}`);

const canBuild = process.platform === 'linux' && process.arch === 'x64' && hasTool('gcc') && existsSync(HOST_LDSO);

describe('every loader option through the CLI (issue 12, item 17)', function () {
  this.timeout(120_000);
  let d: string;

  before(function () {
    if (!canBuild) skipOrFail(this, 'needs an x86_64 Linux host with gcc and the host loader');
    d = realpathSync(mkdtempSync(join(tmpdir(), 'elfdeps-options-')));
    mklib(join(d, 'libs/libopt.so'));
    mklib(join(d, 'libs/libpre.so'));
    mkexe(join(d, 'bin/needs-opt'), { needs: [join(d, 'libs/libopt.so')] });
    mkexe(join(d, 'bin/rp'), { needs: [join(d, 'libs/libopt.so')], rpath: join(d, 'libs') });
    mkexe(join(d, 'bin/orig'), { needs: [join(d, 'libs/libopt.so')], runpath: '$ORIGIN/../libs' });
    mkdirSync(join(d, 'deep/x'), { recursive: true });
    symlinkSync('../../bin/orig', join(d, 'deep/x/link'));
  });
  after(() => {
    if (d) rmSync(d, { recursive: true, force: true });
  });

  it('--library-path is LD_LIBRARY_PATH; the environment\'s LD_LIBRARY_PATH applies too, but not with --root', () => {
    const prog = join(d, 'bin/needs-opt');
    const loader = traceExec(prog, { env: { LD_LIBRARY_PATH: join(d, 'libs') } }).lines;
    expect(lineOf(loader, 'libopt.so')).to.equal(`\tlibopt.so => ${d}/libs/libopt.so`);
    expect(elfdeps(['--library-path', join(d, 'libs'), prog]).lines).to.deep.equal(loader);
    expect(elfdeps([prog], { LD_LIBRARY_PATH: join(d, 'libs') }).lines).to.deep.equal(loader);
    // Under --root the caller's environment is not the root's: as the loader without it.
    const without = traceExec(prog).lines;
    expect(lineOf(without, 'libopt.so')).to.equal('\tlibopt.so => not found');
    expect(elfdeps(['--root', '/', prog], { LD_LIBRARY_PATH: join(d, 'libs') }).lines).to.deep.equal(without);
  });

  it('--preload is LD_PRELOAD; the environment\'s applies too, but not with --root', () => {
    const prog = join(d, 'bin/rp');
    const pre = join(d, 'libs/libpre.so');
    const loader = traceExec(prog, { env: { LD_PRELOAD: pre } }).lines;
    expect(loader).to.include(`\t${pre}`);
    expect(elfdeps(['--preload', pre, prog]).lines).to.deep.equal(loader);
    expect(elfdeps([prog], { LD_PRELOAD: pre }).lines).to.deep.equal(loader);
    expect(elfdeps(['--root', '/', prog], { LD_PRELOAD: pre }).lines).to.deep.equal(traceExec(prog).lines);
  });

  it('--ldd-origin takes $ORIGIN from the path as given, as ldd does; by default from the real directory, as the kernel starts it', () => {
    const link = join(d, 'deep/x/link');
    const byLdd = traceLines(run('ldd', [link], { env: cleanEnv() }).stdout);
    const byKernel = traceExec(link).lines;
    // The two differ here: deep/x/../libs does not exist, bin/../libs does.
    expect(byLdd).to.not.deep.equal(byKernel);
    expect(elfdeps(['--ldd-origin', link]).lines).to.deep.equal(byLdd);
    expect(elfdeps([link]).lines).to.deep.equal(byKernel);
  });

  it('--glibc-version decides the legacy subdirectories (<= 2.36); the default is read from the interpreter', () => {
    mklib(join(d, 't/tls/libtl.so'));
    mklib(join(d, 't/libtl.so'));
    const prog = mkexe(join(d, 'bin/tl'), { needs: [join(d, 't/libtl.so')], runpath: join(d, 't') });
    const loader = traceExec(prog).lines;
    const hostVersion = /GLIBC ([0-9]+)\.([0-9]+)/.exec(run('ldd', ['--version']).stdout);
    const legacy = hostVersion !== null && Number(hostVersion[1]) === 2 && Number(hostVersion[2]) <= 36;
    expect(lineOf(loader, 'libtl.so')).to.equal(`\tlibtl.so => ${d}/t/${legacy ? 'tls/' : ''}libtl.so`);
    expect(elfdeps([prog]).lines).to.deep.equal(loader);
    expect(lineOf(elfdeps(['--glibc-version', '2.36', prog]).lines, 'libtl.so')).to.equal(`\tlibtl.so => ${d}/t/tls/libtl.so`);
    expect(lineOf(elfdeps(['--glibc-version', '2.37', prog]).lines, 'libtl.so')).to.equal(`\tlibtl.so => ${d}/t/libtl.so`);
    const bad = elfdeps(['--glibc-version', '2', prog]);
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.match(/--glibc-version wants X\.Y/);
  });

  it('--platform is $PLATFORM (in RUNPATH, and the legacy platform subdirectory); the default is the loader\'s', () => {
    mklib(join(d, 'p/x86_64/libpl.so'));
    mklib(join(d, 'p/haswell/libpl.so'));
    const prog = mkexe(join(d, 'bin/pl'), { needs: [join(d, 'p/x86_64/libpl.so')], runpath: `${d}/p/$PLATFORM` });
    expect(elfdeps([prog]).lines).to.deep.equal(traceExec(prog).lines);
    for (const platform of ['haswell', 'x86_64']) {
      expect(lineOf(elfdeps(['--platform', platform, prog]).lines, 'libpl.so'), platform).to.equal(`\tlibpl.so => ${d}/p/${platform}/libpl.so`);
    }
  });

  it('--hwcaps names the glibc-hwcaps subdirectories searched, as ld.so --glibc-hwcaps-mask restricts them', () => {
    mklib(join(d, 'h/glibc-hwcaps/x86-64-v2/libhw.so'));
    mklib(join(d, 'h/glibc-hwcaps/x86-64-v3/libhw.so'));
    mklib(join(d, 'h/libhw.so'));
    const prog = mkexe(join(d, 'bin/hw'), { needs: [join(d, 'h/libhw.so')], runpath: join(d, 'h') });
    // The CPU decides by default: the loader is the oracle.
    expect(elfdeps([prog]).lines).to.deep.equal(traceExec(prog).lines);
    // A mask naming no subdirectory: the plain directory, for both.
    const none = traceLines(run(HOST_LDSO, ['--glibc-hwcaps-mask', 'x86-64-v9', '--list', prog], { env: cleanEnv() }).stdout);
    expect(lineOf(none, 'libhw.so')).to.equal(`\tlibhw.so => ${d}/h/libhw.so`);
    expect(lineOf(elfdeps(['--hwcaps', 'x86-64-v9', prog]).lines, 'libhw.so')).to.equal(`\tlibhw.so => ${d}/h/libhw.so`);
    // Named ones are searched in the order given, whatever this CPU supports.
    expect(lineOf(elfdeps(['--hwcaps', 'x86-64-v3,x86-64-v2', prog]).lines, 'libhw.so')).to.equal(`\tlibhw.so => ${d}/h/glibc-hwcaps/x86-64-v3/libhw.so`);
    expect(lineOf(elfdeps(['--hwcaps', 'x86-64-v2', prog]).lines, 'libhw.so')).to.equal(`\tlibhw.so => ${d}/h/glibc-hwcaps/x86-64-v2/libhw.so`);
  });

  it('--legacy-hwcaps names the AT_HWCAP subdirectories of glibc <= 2.36', () => {
    mklib(join(d, 'l/avx512_1/libleg.so'));
    mklib(join(d, 'l/libleg.so'));
    const prog = mkexe(join(d, 'bin/leg'), { needs: [join(d, 'l/libleg.so')], runpath: join(d, 'l') });
    expect(elfdeps([prog]).lines).to.deep.equal(traceExec(prog).lines);
    expect(lineOf(elfdeps(['--glibc-version', '2.36', '--legacy-hwcaps', 'avx512_1,x86_64', prog]).lines, 'libleg.so')).to.equal(`\tlibleg.so => ${d}/l/avx512_1/libleg.so`);
    expect(lineOf(elfdeps(['--glibc-version', '2.36', '--legacy-hwcaps', 'x86_64', prog]).lines, 'libleg.so')).to.equal(`\tlibleg.so => ${d}/l/libleg.so`);
  });

  it('--default-path replaces the loader\'s default directories', () => {
    mklib(join(d, 'def/libdef.so'));
    const prog = mkexe(join(d, 'bin/def'), { needs: [join(d, 'def/libdef.so')] });
    expect(lineOf(traceExec(prog).lines, 'libdef.so')).to.equal('\tlibdef.so => not found');
    expect(lineOf(elfdeps([prog]).lines, 'libdef.so')).to.equal('\tlibdef.so => not found');
    const r = elfdeps(['--default-path', `${d}/nothing:${d}/def/`, prog]);
    expect(lineOf(r.lines, 'libdef.so')).to.equal(`\tlibdef.so => ${d}/def/libdef.so`);
    expect(r.status).to.equal(0);
  });

  it('--tree shows every label it documents', function () {
    if (!hasTool('musl-gcc')) skipOrFail(this, 'musl-gcc (musl-tools) is missing: no program for [musl libc]');
    // A program whose edges need every mechanism: rpath, LD_LIBRARY_PATH (via --library-path),
    // the cache (libc), the interpreter (libc's own DT_NEEDED), a direct path, a preload,
    // a missing library, a rejected candidate, and a library already loaded.
    mklib(join(d, 'tr/rp/librp.so'), { needs: [join(d, 'libs/libopt.so')] });
    mklib(join(d, 'tr/env/libenv.so'));
    mklib(join(d, 'tr/direct/libdirect.so'), { soname: null });
    mklib(join(d, 'tr/gone/libmissing.so.9'));
    mklib(join(d, 'tr/gone/libbad.so'));
    const prog = mkexe(join(d, 'bin/tree'), {
      needs: [join(d, 'tr/rp/librp.so'), join(d, 'tr/env/libenv.so'), join(d, 'tr/gone/libmissing.so.9'), join(d, 'tr/gone/libbad.so'), join(d, 'libs/libopt.so')],
      // A library without SONAME named by its path: DT_NEEDED holds the path.
      libs: [join(d, 'tr/direct/libdirect.so')],
      rpath: `${d}/tr/rp:${d}/libs`,
    });
    rmSync(join(d, 'tr/gone'), { recursive: true });
    // The first libbad.so on the path (the RPATH's) is not ELF: the loader rejects it.
    writeFileSync(join(d, 'tr/rp/libbad.so'), 'not an ELF file, but long enough to have an ELF header\n');
    const tree = elfdeps(['--tree', '--library-path', `${d}/tr/env`, '--preload', join(d, 'libs/libpre.so'), prog]).stdout;
    const labels = new Set([...tree.matchAll(/\[([^\]]+)\]$/gm)].map((m) => m[1]?.replace(/ of .*/, ' of')));
    // ld.so.conf and default path: the same program with the cache ignored, and a default path.
    const noCache = elfdeps(['--tree', '--no-cache', '--default-path', `${d}/tr/env`, prog]).stdout;
    for (const m of noCache.matchAll(/\[([^\]]+)\]$/gm)) labels.add(m[1] as string);
    mkdirSync(join(d, 'musl'), { recursive: true });
    const musl = mkexe(join(d, 'musl/hello'), { cc: 'musl-gcc' });
    for (const m of elfdeps(['--tree', musl]).stdout.matchAll(/\[([^\]]+)\]$/gm)) labels.add(m[1] as string);
    for (const label of ['rpath of', 'LD_LIBRARY_PATH', 'ld.so.cache', 'interpreter', 'direct path', 'preload', 'not found', 'already loaded', 'ld.so.conf', 'default path', 'musl libc']) {
      expect(labels.has(label), `[${label}] in:\n${tree}${noCache}`).to.equal(true);
    }
    // A candidate the loader rejects: its message, as the loader gives it (the real loader is the oracle).
    const loaderErr = traceExec(prog, { env: { LD_LIBRARY_PATH: `${d}/tr/env` } });
    const said = `${loaderErr.stdout}${loaderErr.stderr}`;
    const why = /(\/\S*libbad\.so: .*)$/m.exec(said)?.[1];
    expect(why, said).to.be.a('string');
    expect(tree, `${said}\n${tree}`).to.include(`libbad.so [${why}]`);
    // runpath: a program with DT_RUNPATH.
    expect(elfdeps(['--tree', join(d, 'bin/orig')]).stdout).to.match(/libopt\.so => \S+ \[runpath\]/);
  });
});

describe('copy and manifest options through the CLI (issue 12, item 17)', function () {
  this.timeout(120_000);
  let d: string;
  beforeEach(() => {
    d = realpathSync(mkdtempSync(join(tmpdir(), 'elfdeps-copyopts-')));
  });
  afterEach(() => rmSync(d, { recursive: true, force: true }));

  it('copy --keep-setuid keeps setuid/setgid bits, which are dropped by default', function () {
    const src = join(d, 'suid');
    copyFileSync('/bin/true', src);
    chmodSync(src, 0o6755);
    if ((statSync(src).mode & 0o6000) !== 0o6000) skipOrFail(this, 'this filesystem drops setuid bits');
    expect(elfdeps(['copy', '-q', src, join(d, 'a')]).status).to.equal(0);
    expect(statSync(join(d, 'a', src)).mode & 0o7777).to.equal(0o755);
    expect(elfdeps(['copy', '-q', '--keep-setuid', src, join(d, 'b')]).status).to.equal(0);
    expect(statSync(join(d, 'b', src)).mode & 0o7777).to.equal(0o6755);
  });

  it('copy --force replaces a file that differs (refused without it); --link shares the source\'s inode', () => {
    const root = join(d, 'r');
    expect(elfdeps(['copy', '-q', '/bin/true', root]).status).to.equal(0);
    const real = realpathSync('/bin/true');
    writeFileSync(join(root, real), 'changed\n');
    const refused = elfdeps(['copy', '-q', '/bin/true', root]);
    expect(refused.status).to.equal(2);
    expect(refused.stderr).to.match(/use --force to replace it/);
    expect(readFileSync(join(root, real), 'utf8')).to.equal('changed\n');
    expect(elfdeps(['copy', '-q', '--force', '/bin/true', root]).status).to.equal(0);
    expect(readFileSync(join(root, real)).equals(readFileSync(real))).to.equal(true);
    const linked = join(d, 'l');
    expect(elfdeps(['copy', '-q', '--link', '/bin/true', linked]).status).to.equal(0);
    expect(statSync(join(linked, real)).ino).to.equal(statSync(real).ino);
  });

  it('manifest --root and copy --root take everything from the root; manifest -o - writes to stdout', () => {
    const first = join(d, 'first');
    expect(elfdeps(['copy', '-q', '/bin/true', first]).status).to.equal(0);
    const m = elfdeps(['manifest', '--root', first, '-o', '-', '/bin/true']);
    expect(m.status, m.stderr).to.equal(0);
    const manifest = JSON.parse(m.stdout) as { root: string; entries: Array<{ kind: string; path: string; source?: string }> };
    expect(manifest.root).to.equal(first);
    const files = manifest.entries.filter((e) => e.kind === 'file');
    expect(files.length).to.be.above(1);
    for (const f of files) expect(f.source, f.path).to.equal(join(first, f.path));
    const second = join(d, 'second');
    expect(elfdeps(['copy', '-q', '--root', first, '/bin/true', second]).status).to.equal(0);
    for (const f of files) expect(readFileSync(join(second, f.path)).equals(readFileSync(join(first, f.path))), f.path).to.equal(true);
  });

  it('--ld-cache copy brings the source /etc/ld.so.cache when the loader finds a library through it, and not with --no-cache', function () {
    if (!existsSync('/etc/ld.so.cache')) skipOrFail(this, 'this host has no /etc/ld.so.cache');
    // The loader's own account: it searched the cache for libc (LD_DEBUG=libs).
    const debug = run(HOST_LDSO, ['--list', '/bin/true'], { env: cleanEnv({ LD_DEBUG: 'libs' }) }).stderr;
    expect(debug).to.match(/search cache=\/etc\/ld\.so\.cache/);
    const paths = (args: string[]) => (JSON.parse(elfdeps(['manifest', ...args, '/bin/true']).stdout) as { entries: Array<{ path: string }> }).entries.map((e) => e.path);
    expect(paths(['--ld-cache', 'copy'])).to.include('/etc/ld.so.cache');
    expect(paths(['--ld-cache', 'copy', '--no-cache'])).to.not.include('/etc/ld.so.cache');
    // By default the new root gets a cache of its own (test/ldconfig.test.ts), --no-cache or not:
    // its loader does not know about --no-cache, and finds the ld.so.conf directories only through a cache.
    expect(paths(['--no-cache'])).to.include('/etc/ld.so.cache');
  });

  it('a #!/usr/bin/env -S script brings the program env runs', () => {
    const script = writeText(join(d, 's'), '#!/usr/bin/env -S bash -e\necho hi\n', 0o755);
    const m = elfdeps(['manifest', script]);
    expect(m.status, m.stderr).to.equal(0);
    const programs = (JSON.parse(m.stdout) as { programs: Array<{ path: string }> }).programs.map((p) => p.path);
    const bash = spawnSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' }).stdout.trim();
    expect(programs.map((p) => realpathSync(p))).to.include(realpathSync(bash));
    expect(programs).to.include('/usr/bin/env');
  });
});

describe('the loader options on a root, with the root\'s loader in a chroot as the oracle (issue 12, item 17)', function () {
  this.timeout(120_000);
  let r: string;
  /**
   * The program started inside the root with LD_TRACE_LOADED_OBJECTS=1 (by a static tracer,
   * since glibc 2.36's ld.so --list prints nothing when a library is missing): the root's own
   * loader, cache and preload file.
   */
  const inChroot = (prog: string) => traceLines(run('chroot', [r, '/.tracer', prog], { env: cleanEnv() }).stdout);

  before(function () {
    if (!canBuild || !hasTool('ldconfig')) skipOrFail(this, 'needs an x86_64 host with gcc and ldconfig');
    if (process.getuid?.() !== 0) skipOrFail(this, 'the oracle runs the loader in a chroot, which needs root');
    r = realpathSync(mkdtempSync(join(tmpdir(), 'elfdeps-optroot-')));
    const copied = elfdeps(['copy', '-q', '/bin/true', r]);
    expect(copied.status, copied.stderr).to.equal(0);
    mklib(join(r, 'opt/lib/libopt.so'));
    mklib(join(r, 'opt/lib/libpre.so'));
    mkexe(join(r, 'bin/prog'), { needs: [join(r, 'opt/lib/libopt.so')] });
    mktracer(join(r, '.tracer'));
    // A cache made before /opt/lib was configured: the loader does not find libopt.so through it.
    writeText(join(r, 'etc/ld.so.conf'), '');
    expect(run('ldconfig', ['-r', r]).status).to.equal(0);
    writeText(join(r, 'etc/ld.so.conf'), '/opt/lib\n');
  });
  after(() => {
    if (r) rmSync(r, { recursive: true, force: true });
  });

  it('--no-cache searches ld.so.conf\'s directories, as the loader does once ldconfig has run', () => {
    const stale = inChroot('/bin/prog');
    expect(lineOf(stale, 'libopt.so')).to.equal('\tlibopt.so => not found');
    expect(elfdeps(['--root', r, '/bin/prog']).lines).to.deep.equal(stale);
    const ours = elfdeps(['--root', r, '--no-cache', '/bin/prog']).lines;
    const saved = readFileSync(join(r, 'etc/ld.so.cache'));
    try {
      expect(run('ldconfig', ['-r', r]).status).to.equal(0);
      const fresh = inChroot('/bin/prog');
      expect(lineOf(fresh, 'libopt.so')).to.equal('\tlibopt.so => /opt/lib/libopt.so');
      expect(ours).to.deep.equal(fresh);
    } finally {
      writeFileSync(join(r, 'etc/ld.so.cache'), saved);
    }
  });

  it('/etc/ld.so.preload is read inside the root; --no-preload-file ignores it', () => {
    writeText(join(r, 'etc/ld.so.preload'), '/opt/lib/libpre.so\n');
    try {
      const withFile = inChroot('/bin/true');
      expect(withFile).to.include('\t/opt/lib/libpre.so');
      expect(elfdeps(['--root', r, '/bin/true']).lines).to.deep.equal(withFile);
      const ignored = elfdeps(['--root', r, '--no-preload-file', '/bin/true']).lines;
      rmSync(join(r, 'etc/ld.so.preload'));
      expect(ignored).to.deep.equal(inChroot('/bin/true'));
    } finally {
      rmSync(join(r, 'etc/ld.so.preload'), { force: true });
    }
  });
});

