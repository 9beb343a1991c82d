/**
 * `--explain` as users run it (the shipped CLI): the trace goes to stderr,
 * each line behind the process's id as glibc prefixes LD_DEBUG lines, and
 * nothing else changes (stdout, exit status) with any output format, with
 * `manifest` and `copy`. Rejected candidates are followed by why, in a root
 * of synthetic files (our ELF writer: another class, another machine, a text
 * file). Whether the lines are the loader's own is tested against
 * LD_DEBUG=libs in resolve-edge.test.ts and explain-conformance.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { expect } from 'chai';
import { elfdepsCommand, REPO } from './helpers/cli.js';
import { buildRoot, makeTempRoot, program, removeTempRoot, sharedLibrary } from './helpers/fake-root.js';
import { PLATFORMS, INTERPRETERS } from './helpers/elf-writer.js';
import { cleanEnv } from './helpers/build.js';
import { lookupTrace, tracePids } from './helpers/explain-oracle.js';
import type { Dependency } from '../src/resolve/types.js';

interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  pid: number;
}

function elfdeps(args: string[], cwd = '/'): CliRun {
  const [node, bin] = elfdepsCommand();
  const r = spawnSync(node, [bin, ...args], { cwd, env: cleanEnv(), encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, pid: r.pid ?? -1 };
}

/** The lines after the "PID:\t" prefix. */
function traceLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => /^ *\d+:\t/.test(l))
    .map((l) => l.replace(/^ *\d+:\t/, ''));
}

const x64 = PLATFORMS.x86_64;
const LDSO = INTERPRETERS.x86_64;

describe('elfdeps --explain (CLI)', function () {
  this.timeout(5 * 60 * 1000);
  let root: string;
  const lsHere = existsSync('/bin/ls') && process.arch === 'x64';

  before(function () {
    root = makeTempRoot('explain');
    const text = 'Not an ELF file, but long enough to be read as an ELF header by the loader.\n';
    buildRoot(root, {
      elves: {
        [LDSO]: sharedLibrary(x64, { soname: 'ld-linux-x86-64.so.2' }),
        '/lib/libc.so.6': sharedLibrary(x64, { soname: 'libc.so.6' }),
        '/a/libfoo.so.1': sharedLibrary(PLATFORMS.i386, { soname: 'libfoo.so.1' }),
        '/b/libfoo.so.1': sharedLibrary(PLATFORMS.aarch64, { soname: 'libfoo.so.1' }),
        '/c/libfoo.so.1': sharedLibrary(x64, { soname: 'libfoo.so.1', needed: ['libc.so.6'] }),
        '/bin/skips': program(x64, LDSO, { needed: ['libfoo.so.1', 'libc.so.6'], rpath: '/a:/b:/c' }),
        '/bin/fatal': program(x64, LDSO, { needed: ['libfoo.so.1', 'libc.so.6'], rpath: '/t:/c' }),
        '/bin/missing': program(x64, LDSO, { needed: ['libnothere.so.1', 'libc.so.6'] }),
        '/bin/hostile': program(x64, LDSO, { needed: ['lib\x1b[2Jevil.so', 'libc.so.6'], rpath: '/x\x07y' }),
      },
      files: { '/t/libfoo.so.1': text },
    });
  });
  after(function () {
    removeTempRoot(root);
  });

  // The fake root's loader is no real ld.so: its default directories and hwcaps are given.
  const inRoot = (...args: string[]): string[] => ['--root', root, '--default-path', '/lib', '--hwcaps', 'x86-64-v2', '--legacy-hwcaps', '', '--platform', 'x86_64', ...args];

  it('changes nothing but stderr, with every output format; every trace line carries this process id as glibc prints it', function () {
    for (const format of [[], ['--ldd'], ['--tree'], ['--tree', '--all']]) {
      for (const prog of ['/bin/skips', '/bin/fatal', '/bin/missing']) {
        const plain = elfdeps(inRoot(...format, prog));
        const explained = elfdeps(inRoot(...format, '--explain', prog));
        expect(explained.stdout, `${format.join(' ')} ${prog}`).to.equal(plain.stdout);
        expect(explained.status, `${format.join(' ')} ${prog}`).to.equal(plain.status);
        // The other stderr lines stay, after the trace.
        expect(explained.stderr.split('\n').filter((l) => !/^ *\d+:\t/.test(l))).to.deep.equal(plain.stderr.split('\n'));
        const pids = tracePids(explained.stderr);
        expect(pids.length).to.be.greaterThan(2);
        // _dl_debug_printf: the pid right-aligned in 10 columns, ':', a tab.
        for (const p of pids) expect(p).to.equal(`${String(explained.pid).padStart(10)}:\t`);
      }
    }
  });

  it('says why a candidate that exists is not used: another ELF class, another machine (the search goes on)', function () {
    const lines = traceLines(elfdeps(inRoot('--explain', '/bin/skips')).stderr);
    const after = (path: string): string | undefined => lines[lines.indexOf(`  trying file=${path}`) + 1];
    expect(lines[0]).to.equal('find library=libfoo.so.1 [0]; searching');
    expect(lines[1]).to.equal(
      ` search path=/a/glibc-hwcaps/x86-64-v2:/a:/b/glibc-hwcaps/x86-64-v2:/b:/c/glibc-hwcaps/x86-64-v2:/c\t\t(RPATH from file /bin/skips)`,
    );
    expect(after('/a/libfoo.so.1')).to.equal('   rejected: wrong ELF class: ELFCLASS32');
    expect(after('/b/libfoo.so.1')).to.equal('   rejected: wrong machine: aarch64 (e_machine 183), not x86_64 (e_machine 62)');
    expect(after('/c/libfoo.so.1')).to.equal('');
    // glibc prints no such lines: a comparison with LD_DEBUG leaves them out, and nothing else.
    expect(lookupTrace(elfdeps(inRoot('--explain', '/bin/skips')).stderr)).to.deep.equal(lines.filter((l) => !l.startsWith('   rejected: ')));
    // libc.so.6: /a, /b and /c again, their missing subdirectories no more (glibc knows them missing).
    const libc = lines.slice(lines.indexOf('find library=libc.so.6 [0]; searching'));
    expect(libc.slice(0, 6)).to.deep.equal([
      'find library=libc.so.6 [0]; searching',
      ' search path=/a:/b:/c\t\t(RPATH from file /bin/skips)',
      '  trying file=/a/libc.so.6',
      '  trying file=/b/libc.so.6',
      '  trying file=/c/libc.so.6',
      ' search path=/lib/glibc-hwcaps/x86-64-v2:/lib\t\t(system search path)',
    ]);
  });

  it('a fatal candidate ends the trace where the loader stops, with glibc\'s words for it', function () {
    const lines = traceLines(elfdeps(inRoot('--explain', '/bin/fatal')).stderr);
    expect(lines.slice(-2)).to.deep.equal(['  trying file=/t/libfoo.so.1', '   fatal: invalid ELF header']);
  });

  it('--json gains the candidates each lookup tried, with their outcome, and stays valid', function () {
    const schema = JSON.parse(readFileSync(join(REPO, 'docs', 'resolve-result.schema.json'), 'utf8'));
    const validate = new Ajv({ strict: true }).compile(schema);
    const plain = elfdeps(inRoot('--json', '/bin/skips'));
    const r = elfdeps(inRoot('--json', '--explain', '/bin/skips'));
    expect(r.status).to.equal(plain.status);
    const doc = JSON.parse(r.stdout);
    expect(validate(doc), JSON.stringify(validate.errors)).to.equal(true);
    const deps = doc.programs[0].dependencies as Dependency[];
    const foo = deps.find((d) => d.name === 'libfoo.so.1');
    expect(foo?.candidates?.map((c) => [c.path, c.outcome, c.list])).to.deep.equal([
      ['/a/glibc-hwcaps/x86-64-v2/libfoo.so.1', 'absent', 'rpath'],
      ['/a/libfoo.so.1', 'rejected', 'rpath'],
      ['/b/glibc-hwcaps/x86-64-v2/libfoo.so.1', 'absent', 'rpath'],
      ['/b/libfoo.so.1', 'rejected', 'rpath'],
      ['/c/glibc-hwcaps/x86-64-v2/libfoo.so.1', 'absent', 'rpath'],
      ['/c/libfoo.so.1', 'found', 'rpath'],
    ]);
    expect(foo?.candidates?.[1]?.reason).to.equal('wrong ELF class: ELFCLASS32');
    // The trying lines on stderr are the candidates, in order.
    const trying = traceLines(r.stderr).filter((l) => l.startsWith('  trying file=')).map((l) => l.slice('  trying file='.length));
    expect(trying).to.deep.equal(deps.flatMap((d) => (d.candidates ?? []).map((c) => c.path)));
    // Without --explain the document is what it was: no candidates.
    const before = JSON.parse(plain.stdout);
    expect(before.programs[0].dependencies.some((d: Dependency) => 'candidates' in d)).to.equal(false);
    // A candidate without its outcome is refused: the schema is not a rubber stamp.
    delete (doc.programs[0].dependencies[0].candidates[0] as Partial<{ outcome: string }>).outcome;
    expect(validate(doc)).to.equal(false);
  });

  it('works with manifest and copy: the same manifest, the same copy, the trace on stderr', function () {
    const plain = elfdeps(['manifest', '--loader-only', ...inRoot('/bin/skips')]);
    const r = elfdeps(['manifest', '--explain', '--loader-only', ...inRoot('/bin/skips')]);
    expect(r.status).to.equal(plain.status);
    expect(r.stdout).to.equal(plain.stdout);
    expect(traceLines(r.stderr)).to.include('   rejected: wrong ELF class: ELFCLASS32');
    const out = mkdtempSync(join(tmpdir(), 'elfdeps-explain-copy-'));
    try {
      const c = elfdeps(['copy', '--explain', '--loader-only', ...inRoot('/bin/skips', join(out, 'new'))]);
      expect(c.status, c.stderr).to.equal(0);
      expect(traceLines(c.stderr)[0]).to.equal('find library=libfoo.so.1 [0]; searching');
      expect(existsSync(join(out, 'new', 'c', 'libfoo.so.1'))).to.equal(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('escapes control characters that names in the files carry: one line per trace line, the terminal untouched', function () {
    const r = elfdeps(inRoot('--explain', '/bin/hostile'));
    expect(r.stderr).to.not.match(/[\x1b\x07]/);
    const lines = traceLines(r.stderr);
    expect(lines[0]).to.equal('find library=lib\\x1b[2Jevil.so [0]; searching');
    expect(lines).to.include('  trying file=/x\\x07y/lib\\x1b[2Jevil.so');
  });

  it('on this host: /bin/ls with --explain prints what it prints without, and a trace', function () {
    if (!lsHere) {
      console.log('      skipped: needs an x86_64 host with /bin/ls');
      this.skip();
    }
    const plain = elfdeps(['/bin/ls']);
    const r = elfdeps(['--explain', '/bin/ls']);
    expect(r.stdout).to.equal(plain.stdout);
    expect(r.status).to.equal(plain.status);
    expect(traceLines(r.stderr)).to.include('find library=libc.so.6 [0]; searching');
  });
});
