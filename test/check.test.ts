/**
 * `elfdeps check` on roots whose truth is known: a root made by `elfdeps copy`
 * and then broken on purpose (a library removed, an older library lacking a
 * version, a library of another architecture, one of the other byte order, a
 * program whose interpreter is missing, one whose data symbol the root's
 * library lacks, a dangling library symlink, a truncated ELF file) must be
 * reported for exactly those, with their causes; the programs' verdict is
 * checked against the root's own loader, each program started for real in a
 * chroot (they are this test's own `return 0` programs). A root made by
 * `elfdeps copy` of real host programs reports nothing.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { expect } from 'chai';
import { cleanEnv, hasTool, mkexe, mklib, run, writeText } from './helpers/build.js';
import { elfdepsCommand, elfdepsCommandCopiedTo, REPO } from './helpers/cli.js';
import { writeElf } from './helpers/elf-writer.js';
import { skipOrFail } from './helpers/skip.js';

const canBuild = process.arch === 'x64' && hasTool('gcc');

interface Failure {
  path: string;
  type: string;
  problems: Array<{ cause: string; message: string }>;
}
interface CheckDoc {
  root: string;
  paths: string[];
  counts: { elf: number; symlinks: number; notElf: number; notLoadable: number; noLoader: number };
  failing: number;
  failures: Failure[];
  byCause: Record<string, number>;
}

function elfdeps(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const [node, bin] = elfdepsCommand();
  return run(node, [bin, ...args], { env: cleanEnv() });
}

function checkJson(args: string[]): { status: number | null; doc: CheckDoc } {
  const r = elfdeps(['check', '--json', ...args]);
  expect(r.stderr).to.equal('');
  return { status: r.status, doc: JSON.parse(r.stdout) as CheckDoc };
}

const validate = new Ajv({ strict: true }).compile(JSON.parse(readFileSync(join(REPO, 'docs', 'check-result.schema.json'), 'utf8')));

describe('elfdeps check on a root broken on purpose', function () {
  this.timeout(180_000);
  let dir = '';
  let root = '';
  /** In-root directory of the test's programs and libraries (the host path they were built at). */
  let T = '';

  before(function () {
    if (!canBuild) skipOrFail(this, 'needs an x86_64 host with gcc');
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'elfdeps-check-')));
    T = join(dir, 'src/opt/t');
    const lib = (name: string, o: Parameters<typeof mklib>[1] = {}): string => mklib(`${T}/lib/${name}`, o);
    // Absolute: the in-root path is the build path. ($ORIGIN would be dropped in a chroot without /proc.)
    const rpath = { rpath: `${T}/lib` };
    const libok = lib('libok.so.1');
    const libgone = lib('libgone.so.1');
    const libusesgone = lib('libusesgone.so.1', { needs: [libgone], runpath: `${T}/lib` });
    const mapNew = writeText(`${dir}/new.map`, 'VERS_1 { global: foo1; local: *; };\nVERS_2 { global: foo2; } VERS_1;\n');
    const mapOld = writeText(`${dir}/old.map`, 'VERS_1 { global: foo1; local: *; };\n');
    const libv = lib('libv.so.1', { source: 'int foo1(void) { return 1; }\nint foo2(void) { return 2; }\n', args: [`-Wl,--version-script=${mapNew}`] });
    mklib(`${dir}/old/libv.so.1`, { source: 'int foo1(void) { return 1; }\n', args: [`-Wl,--version-script=${mapOld}`] });
    const libsym = lib('libsym.so.1', { source: 'int counter = 7;\nint other(void) { return 1; }\n' });
    mklib(`${dir}/old/libsym.so.1`, { source: 'int other(void) { return 1; }\n' });
    const libarm = lib('libarm.so.1');
    const libbe = lib('libbe.so.1');
    const uses = (decl: string, use: string) => `${decl}\nint main(int argc, char **argv) { (void)argv; if (argc > 5) return ${use}; return 0; }\n`;
    mkexe(`${T}/bin/ok`, { needs: [libok], ...rpath });
    mkexe(`${T}/bin/removed`, { needs: [libgone], ...rpath });
    mkexe(`${T}/bin/version`, { source: uses('int foo2(void);', 'foo2()'), needs: [libv], ...rpath });
    mkexe(`${T}/bin/symbol`, { source: uses('extern int counter;', 'counter'), needs: [libsym], ...rpath });
    mkexe(`${T}/bin/arch`, { needs: [libarm], ...rpath });
    mkexe(`${T}/bin/endian`, { needs: [libbe], ...rpath });
    // Two problems each, of which the loader reports one: the fatal candidate (not the name not found
    // before it), and the missing library (not the symbol it would have defined).
    mkexe(`${T}/bin/gone-then-endian`, { needs: [libgone, libbe], ...rpath });
    mkexe(`${T}/bin/symbol-and-gone`, { source: uses('extern int counter;', 'counter'), needs: [libsym, libgone], ...rpath });
    mkexe(`${dir}/nointerp`, { args: ['-Wl,--dynamic-linker=/lib64/ld-nowhere.so.2'] });

    // A healthy root first: everything the programs need, as elfdeps copy makes it.
    root = join(dir, 'root');
    const programs = ['ok', 'removed', 'version', 'symbol', 'arch', 'endian', 'gone-then-endian', 'symbol-and-gone'].map((p) => `${T}/bin/${p}`);
    const copied = elfdeps(['copy', '-q', '--loader-only', '--add', libusesgone, ...programs, root]);
    expect(copied.status, copied.stderr).to.equal(0);
    const inRoot = (p: string): string => join(root, p);
    const before = checkJson(['--root', root]);
    expect(before.status, JSON.stringify(before.doc.failures)).to.equal(0);

    // Then broken.
    rmSync(inRoot(libgone));
    copyFileSync(`${dir}/old/libv.so.1`, inRoot(libv));
    copyFileSync(`${dir}/old/libsym.so.1`, inRoot(libsym));
    rmSync(inRoot(libarm));
    writeElf(inRoot(libarm), { elfClass: 64, littleEndian: true, machine: 'aarch64', type: 'DYN', soname: 'libarm.so.1' });
    rmSync(inRoot(libbe));
    writeElf(inRoot(libbe), { elfClass: 64, littleEndian: false, machine: 's390', type: 'DYN', soname: 'libbe.so.1' });
    copyFileSync(`${dir}/nointerp`, inRoot(`${T}/bin/nointerp`));
    symlinkSync('libdangle.so.1.0.0', inRoot(`${T}/lib/libdangle.so.1`));
    writeFileSync(inRoot(`${T}/lib/libtrunc.so.1`), Buffer.from('\x7fELF\x02\x01\x01', 'latin1'));
    // What must pass quietly: a good library link, a dangling link not named like a library,
    // a link to a directory (never followed), files that are not ELF.
    symlinkSync('libok.so.1', inRoot(`${T}/lib/libok.so`));
    symlinkSync('nowhere', inRoot(`${T}/README`));
    symlinkSync('/', inRoot(`${T}/everything`));
    writeFileSync(inRoot(`${T}/notes.txt`), 'not ELF\n');
    writeFileSync(inRoot(`${T}/lib/x.so.2`), 'ab');
    mkdirSync(inRoot(`${T}/empty`));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const expected = (): Record<string, string[]> => ({
    [`${T}/bin/arch`]: ['library-not-found'],
    [`${T}/bin/endian`]: ['bad-library'],
    [`${T}/bin/gone-then-endian`]: ['bad-library'],
    [`${T}/bin/nointerp`]: ['interpreter'],
    [`${T}/bin/removed`]: ['library-not-found'],
    [`${T}/bin/symbol`]: ['undefined-symbol'],
    [`${T}/bin/symbol-and-gone`]: ['library-not-found'],
    [`${T}/bin/version`]: ['version-not-found'],
    [`${T}/lib/libdangle.so.1`]: ['dangling-symlink'],
    [`${T}/lib/libtrunc.so.1`]: ['malformed'],
    [`${T}/lib/libusesgone.so.1`]: ['library-not-found'],
  });
  const causesOf = (doc: CheckDoc): Record<string, string[]> => Object.fromEntries(doc.failures.map((f) => [f.path, [...new Set(f.problems.map((p) => p.cause))]]));

  it('names exactly the broken files, with their causes, in text and in --json (schema-valid)', () => {
    const { status, doc } = checkJson(['--root', root]);
    expect(validate(doc), JSON.stringify(validate.errors)).to.equal(true);
    expect(status).to.equal(1);
    expect(causesOf(doc)).to.deep.equal(expected());
    // The aarch64 and s390x libraries have no loader in this root: not judged, counted.
    expect(doc.counts.noLoader).to.equal(2);
    expect(doc.failing).to.equal(doc.failures.length);
    expect(doc.byCause).to.deep.equal({ 'library-not-found': 4, 'bad-library': 2, interpreter: 1, 'version-not-found': 1, 'undefined-symbol': 1, 'dangling-symlink': 1, malformed: 1 });
    const msg = (p: string): string => (doc.failures.find((f) => f.path === p)?.problems ?? []).map((x) => x.message).join('; ');
    expect(msg(`${T}/bin/removed`)).to.equal(`libgone.so.1: not found (needed by ${T}/bin/removed)`);
    expect(msg(`${T}/bin/arch`)).to.equal(`libarm.so.1: not found (needed by ${T}/bin/arch)`);
    expect(msg(`${T}/bin/version`)).to.equal(`${T}/lib/libv.so.1: version \`VERS_2' not found (required by ${T}/bin/version)`);
    expect(msg(`${T}/bin/endian`)).to.equal(`${T}/lib/libbe.so.1: ELF file data encoding not little-endian (needed by ${T}/bin/endian)`);
    expect(msg(`${T}/bin/symbol`)).to.equal(`undefined symbol: counter (${T}/bin/symbol)`);
    expect(msg(`${T}/bin/gone-then-endian`)).to.equal(`${T}/lib/libbe.so.1: ELF file data encoding not little-endian (needed by ${T}/bin/gone-then-endian)`);
    expect(msg(`${T}/bin/symbol-and-gone`)).to.equal(`libgone.so.1: not found (needed by ${T}/bin/symbol-and-gone)`);
    expect(msg(`${T}/lib/libdangle.so.1`)).to.equal('dangling symlink to libdangle.so.1.0.0: No such file or directory (ENOENT)');

    // The text: one line per failing entry, in the same order, then the summary.
    const text = elfdeps(['check', '--root', root]);
    expect(text.status).to.equal(1);
    expect(text.stderr).to.equal('');
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines.slice(0, -1)).to.deep.equal(doc.failures.map((f) => `${f.path}: ${f.problems.map((p) => p.message).join('; ')}`));
    expect(lines[lines.length - 1]).to.equal(
      `checked ${doc.counts.elf} ELF files and ${doc.counts.symlinks} library symlinks under / in ${root}: 11 failing ` +
        `(library not found 4, library the loader stops at 2, interpreter missing or unusable 1, version not found 1, symbol undefined at start 1, dangling library symlink 1, malformed ELF 1); ` +
        `skipped ${doc.counts.notElf} not ELF, 2 libraries of a machine without a loader in the root`,
    );
  });

  it('agrees with the root\'s own loader, starting each program in a chroot', function () {
    if (process.getuid?.() !== 0 || !hasTool('chroot')) skipOrFail(this, 'starting the programs in the root needs root and chroot(8)');
    const { doc } = checkJson(['--root', root, `${T}/bin`]);
    const failing = new Set(doc.failures.map((f) => f.path));
    const programs = ['ok', 'removed', 'version', 'symbol', 'arch', 'endian', 'gone-then-endian', 'symbol-and-gone', 'nointerp'].map((p) => `${T}/bin/${p}`);
    const refused = programs.filter((p) => {
      const r = run('chroot', [root, p], { env: cleanEnv() });
      // A loader refusal is status 127 with its message; the kernel's ENOENT for the interpreter is chroot's 127 too.
      if (r.status !== 0) expect(r.stderr, p).to.match(/error while loading shared libraries|symbol lookup error|version `[^']*' not found|No such file or directory/);
      return r.status !== 0;
    });
    expect(refused).to.have.length(8);
    expect(programs.filter((p) => failing.has(p))).to.deep.equal(refused);
  });

  it('walks only the PATHs given, reports a dangling library link given as PATH, and never follows a symlink', () => {
    const bin = checkJson(['--root', root, `${T}/bin`]).doc;
    expect(Object.keys(causesOf(bin))).to.deep.equal(Object.keys(expected()).filter((p) => p.startsWith(`${T}/bin/`)));
    const link = checkJson(['--root', root, `${T}/lib/libdangle.so.1`, `${T}/bin/ok`]);
    expect(link.status).to.equal(1);
    expect(causesOf(link.doc)).to.deep.equal({ [`${T}/lib/libdangle.so.1`]: ['dangling-symlink'] });
    expect(link.doc.counts).to.deep.include({ elf: 1, symlinks: 1 });
    // The link to / was not walked: nothing was seen twice (the whole root holds each file once).
    const all = checkJson(['--root', root]).doc;
    const again = checkJson(['--root', root, '/', `${T}/everything/`]).doc;
    expect(again.counts).to.deep.equal(all.counts);
    expect(again.failures.every((f) => !f.path.startsWith(`${T}/everything`))).to.equal(true);
  });

  it('exits 2 for bad usage and a PATH that does not exist, with one line', () => {
    const missing = elfdeps(['check', '--root', root, '/no/such/dir']);
    expect(missing.status).to.equal(2);
    expect(missing.stderr).to.equal(`elfdeps: /no/such/dir inside ${root}: No such file or directory (ENOENT)\n`);
    const bad = elfdeps(['check', '--frobnicate']);
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.equal(`elfdeps: unknown option '--frobnicate' (try 'elfdeps check --help')\n`);
    const emptyRoot = elfdeps(['check', '--root=']);
    expect(emptyRoot.status).to.equal(2);
    expect(elfdeps(['check', '--help']).stdout).to.match(/^Usage: elfdeps check /);
  });
});

describe('elfdeps check on files it cannot read', function () {
  let work = '';
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('reports an unreadable file and an unlistable directory (checked as nobody), and skips what is not ELF', function () {
    if (process.getuid?.() !== 0 || !hasTool('setpriv')) skipOrFail(this, 'needs root and setpriv to run as nobody');
    work = realpathSync(mkdtempSync(join(tmpdir(), 'elfdeps-check-eacces-')));
    chmodSync(work, 0o755);
    const root = join(work, 'root');
    mkdirSync(root, { mode: 0o755 });
    mkdirSync(join(root, 'private'));
    chmodSync(join(root, 'private'), 0o700);
    writeFileSync(join(root, 'private', 'inside'), 'x');
    writeFileSync(join(root, 'secret'), 'x', { mode: 0o600 });
    writeFileSync(join(root, 'readme.txt'), 'not ELF\n', { mode: 0o644 });
    // nobody may not be able to read the checkout: a copy of the bundle in the work directory.
    const [node, bin] = elfdepsCommandCopiedTo(work);
    const r = run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', node, bin, 'check', '--json', '--root', root], { env: cleanEnv() });
    if (/setpriv:/.test(r.stderr)) skipOrFail(this, `setpriv cannot run as nobody (${r.stderr.trim()})`);
    expect(r.status, r.stderr).to.equal(1);
    const doc = JSON.parse(r.stdout) as CheckDoc;
    expect(validate(doc), JSON.stringify(validate.errors)).to.equal(true);
    expect(doc.failures.map((f) => [f.path, f.type, f.problems.map((p) => p.cause)])).to.deep.equal([
      ['/private', 'directory', ['unreadable']],
      ['/secret', 'file', ['unreadable']],
    ]);
    for (const f of doc.failures) expect(f.problems[0]?.message).to.match(/Permission denied \(EACCES\)$/);
    expect(doc.counts).to.deep.equal({ elf: 0, symlinks: 0, notElf: 1, notLoadable: 0, noLoader: 0 });
  });
});

describe('elfdeps check on a terminal', function () {
  this.timeout(180_000);

  it('shows a progress line on standard error, updated in place and cleared at the end', function () {
    const dir = '/usr/lib/x86_64-linux-gnu';
    if (!hasTool('script') || !existsSync(dir)) skipOrFail(this, `needs script(1) for a terminal and ${dir} for a long enough run`);
    const [node, bin] = elfdepsCommand();
    const work = mkdtempSync(join(tmpdir(), 'elfdeps-check-tty-'));
    try {
      const out = join(work, 'stdout');
      // script(1) gives the command a terminal; standard output goes to a file, standard error stays on the terminal.
      const quote = (x: string): string => `'${x.replace(/'/g, "'\\''")}'`;
      const r = run('script', ['-qec', `${[node, bin, 'check', dir].map(quote).join(' ')} > ${quote(out)}`, '/dev/null'], { env: cleanEnv({ TERM: 'xterm' }) });
      const terminal = r.stdout;
      expect(terminal, JSON.stringify(terminal.slice(0, 300))).to.match(/\r\x1b\[K\d+ checked, \d+ failing: \/usr\/lib\/x86_64-linux-gnu\//);
      expect(terminal.endsWith('\r\x1b[K'), JSON.stringify(terminal.slice(-100))).to.equal(true);
      // Standard output has the report alone.
      expect(readFileSync(out, 'utf8')).to.match(/^(\/.*\n)*checked \d+ ELF files and \d+ library symlinks under \/usr\/lib\/x86_64-linux-gnu: \d+ failing/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('elfdeps check on a root made by elfdeps copy', function () {
  this.timeout(180_000);
  let root = '';
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('reports nothing for real programs copied with their runtime files, and exits 0', function () {
    const programs = ['/bin/bash', '/bin/ls', '/usr/bin/perl', '/usr/bin/python3', '/usr/bin/ssh'].filter((p) => run('test', ['-x', p]).status === 0);
    if (programs.length < 3) skipOrFail(this, `this host lacks most of the programs to copy (has ${programs.join(', ') || 'none'})`);
    root = join(realpathSync(mkdtempSync(join(tmpdir(), 'elfdeps-check-copy-'))), 'root');
    const copied = elfdeps(['copy', '-q', ...programs, root]);
    expect(copied.status, copied.stderr).to.equal(0);
    const text = elfdeps(['check', '--root', root]);
    expect(text.stderr).to.equal('');
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines, text.stdout).to.have.length(1);
    expect(lines[0]).to.match(/^checked \d+ ELF files and \d+ library symlinks under \/ in .*: 0 failing; skipped /);
    expect(text.status).to.equal(0);
    const { doc } = checkJson(['--root', root]);
    expect(validate(doc), JSON.stringify(validate.errors)).to.equal(true);
    // Python's extension modules and Perl's XS modules are libraries: there are many more ELF files than programs.
    expect(doc.counts.elf).to.be.greaterThan(programs.length * 10);
    console.log(`      ${programs.length} programs copied: ${doc.counts.elf} ELF files and ${doc.counts.symlinks} library symlinks checked, ${doc.counts.notElf} other files skipped`);
  });
});
