/**
 * The resolve command as a user runs it: the compiled CLI in a subprocess,
 * its outputs (--ldd, --tree, --json validated against the published schema,
 * --elf), colours, and exit codes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { Ajv } from 'ajv';
import { writeElf, PLATFORMS } from './helpers/elf-writer.js';
import { ensureBuiltCli } from './helpers/cli.js';

const repo = join(import.meta.dirname, '..');
/** The program users run: the package's `bin` (the bundled CLI). */
const cli = join(repo, JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).bin.elfdeps);

function elfdeps(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lddLines(file: string): string[] {
  const out = execFileSync('ldd', [file], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.replace(/ \(0x[0-9a-f]+\)$/, ''));
}

describe('elfdeps (resolve command)', function () {
  this.timeout(60000);
  let dir: string;

  before(function () {
    ensureBuiltCli(); // the bundle of this source tree, rebuilt when older than src/
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints ldd lines by default, equal to ldd without addresses', function () {
    if (!existsSync('/usr/bin/ldd')) {
      console.log('      skipped: ldd is not installed');
      this.skip();
    }
    const r = elfdeps(['/bin/bash']);
    expect(r.status).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(r.stdout.trimEnd().split('\n')).to.deep.equal(lddLines('/bin/bash'));
    // Several files get "FILE:" headers, as ldd prints them.
    const two = elfdeps(['--ldd', '/bin/bash', '/bin/ls']);
    expect(two.stdout).to.match(/^\/bin\/bash:\n\t/);
    expect(two.stdout).to.include('\n/bin/ls:\n\t');
  });

  it('exits 1 and prints "not found" for a missing library, 2 for unreadable input', () => {
    const prog = join(dir, 'needs-missing');
    writeElf(prog, { ...PLATFORMS.x86_64, type: 'DYN', pie: true, interpreter: '/lib64/ld-linux-x86-64.so.2', needed: ['libelfdeps-missing.so.7', 'libc.so.6'] });
    const r = elfdeps(['--ldd', prog]);
    expect(r.status).to.equal(1);
    expect(r.stdout).to.include('\tlibelfdeps-missing.so.7 => not found\n');
    expect(r.stdout).to.include('\tlibc.so.6 => ');

    const bad = elfdeps(['--ldd', join(dir, 'no-such-file')]);
    expect(bad.status).to.equal(2);
    expect(bad.stderr.trim().split('\n')).to.have.length(1);
    expect(bad.stderr).to.match(/^elfdeps: .*no-such-file/);
    expect(bad.stderr).not.to.match(/\n\s+at /);

    const text = elfdeps(['--ldd', '/etc/passwd']);
    expect(text.status).to.equal(2);
    expect(text.stderr).to.match(/^elfdeps: \/etc\/passwd: not an ELF file/);

    const usage = elfdeps(['--no-such-option', '/bin/ls']);
    expect(usage.status).to.equal(2);
    expect(usage.stderr).to.match(/^elfdeps: /);
  });

  it('says "not a dynamic executable" for a static program, as ldd does', function () {
    if (!existsSync('/bin/busybox')) {
      console.log('      skipped: busybox-static is not installed');
      this.skip();
    }
    const r = elfdeps(['--ldd', '/bin/busybox']);
    expect(r.status).to.equal(1);
    expect(r.stdout).to.equal('');
    expect(r.stderr).to.equal('\tnot a dynamic executable\n');
  });

  it('writes --json that the published schema accepts and that agrees with --ldd', () => {
    const schema = JSON.parse(readFileSync(join(repo, 'docs', 'resolve-result.schema.json'), 'utf8'));
    const validate = new Ajv({ strict: true }).compile(schema);
    const r = elfdeps(['--json', '/bin/ls', '/bin/bash']);
    expect(r.status).to.equal(0);
    const doc = JSON.parse(r.stdout);
    expect(validate(doc), JSON.stringify(validate.errors)).to.equal(true);
    expect(doc.programs).to.have.length(2);
    const ls = doc.programs[0];
    const ldd = elfdeps(['--ldd', '/bin/ls']).stdout;
    for (const o of ls.objects.slice(1)) expect(ldd).to.include(o.path);
    // The interpreter is needed even though nothing but libc names it.
    expect(ls.openedPaths).to.include('/lib64/ld-linux-x86-64.so.2');
    // A document with a missing field is rejected: the schema is not a rubber stamp.
    delete ls.objects[0].realPath;
    expect(validate(doc)).to.equal(false);
  });

  it('prints a tree saying how each library was found, coloured only on a terminal', function () {
    const plain = elfdeps(['--tree', '/bin/ls']);
    expect(plain.status).to.equal(0);
    const lines = plain.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(/^\/bin\/ls \[\/lib64\/ld-linux-x86-64\.so\.2\]$/);
    expect(plain.stdout).to.match(/[├└]── libselinux\.so\.1 => \S+ \[(ld\.so\.cache|default path)\]/);
    expect(plain.stdout).to.include('[already loaded]');
    expect(plain.stdout).not.to.include('\x1b[');
  });

  it('colours the tree on a terminal, but not with NO_COLOR or TERM=dumb', function () {
    // A pseudo-terminal through script(1) makes stdout a TTY.
    const onTty = (env: NodeJS.ProcessEnv) => spawnSync('script', ['-qec', `${process.execPath} ${cli} --tree /bin/ls`, '/dev/null'], { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
    const script = onTty({ TERM: 'xterm' });
    if (script.error || script.status !== 0) {
      console.log(`      skipped: script(1) cannot give the CLI a terminal here (${String(script.error ?? script.stderr.trim())})`);
      this.skip();
    }
    expect(script.stdout).to.include('\x1b[');
    expect(onTty({ TERM: 'xterm', NO_COLOR: '1' }).stdout).not.to.include('\x1b[');
    const dumb = onTty({ TERM: 'dumb' });
    expect(dumb.status).to.equal(0);
    expect(dumb.stdout).to.include('libc.so.6');
    expect(dumb.stdout).not.to.include('\x1b[');
  });

  it('--elf shows what the reader finds', () => {
    const r = elfdeps(['--elf', '/bin/ls']);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/machine: +x86_64/);
    expect(r.stdout).to.match(/interpreter: \/lib64\/ld-linux-x86-64\.so\.2/);
    expect(r.stdout).to.match(/needed: .*libc\.so\.6/);
    expect(r.stdout).to.match(/bytes read: +\d+ of \d+/);
  });

  it('--help exits 0', () => {
    const r = elfdeps(['--help']);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^Usage: elfdeps/);
  });
});
