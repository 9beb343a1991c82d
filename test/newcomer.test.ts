/**
 * What a new user met on a first day (issue 21, items 5 to 8): summaries of
 * an edited manifest, a script standing in for a program, the wording of a
 * missing user, and the flood of undefined symbols a missing library brought.
 * Every test runs the shipped CLI; expectations come from the system or from
 * a second, independent way to the same answer (a manifest made fresh with
 * exactly the entries of an edited one), never from the code under test.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfdepsCommand } from './helpers/cli.js';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function elfdeps(args: string[], options: { input?: string; cwd?: string } = {}): Run {
  const [node, bin] = elfdepsCommand();
  const r = spawnSync(node, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH }, input: options.input, cwd: options.cwd, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface ManifestJson {
  entries: Array<{ path: string; kind: string }>;
  rules?: Array<{ rule: string; entries: number }>;
}

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'elfdeps-newcomer-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('issue 21: an edited manifest is summarised as it is (item 6)', function () {
  this.timeout(120000);

  it('copy - of a manifest with entries removed prints the rules line a manifest made with exactly those entries gets', function () {
    // Two zones, then one of them removed by hand (as with jq); the oracle is a manifest made with the other zone only.
    const both = elfdeps(['manifest', '--tz', 'Europe/Paris', '--tz', 'America/New_York', '/usr/bin/date', '-o', '-']);
    expect(both.status, both.stderr).to.equal(0);
    const edited = JSON.parse(both.stdout) as ManifestJson;
    const before = edited.entries.length;
    edited.entries = edited.entries.filter((e) => !e.path.startsWith('/usr/share/zoneinfo/Europe'));
    expect(before - edited.entries.length, 'entries removed').to.be.greaterThan(0);
    const fresh = elfdeps(['manifest', '--tz', 'America/New_York', '/usr/bin/date', '-o', '-']);
    expect(fresh.status, fresh.stderr).to.equal(0);
    // The same entries, reached two ways.
    const paths = (m: ManifestJson): string[] => m.entries.map((e) => e.path).sort();
    expect(paths(edited)).to.deep.equal(paths(JSON.parse(fresh.stdout) as ManifestJson));

    const rulesLine = (r: Run): string => r.stdout.split('\n').find((l) => l.includes(': rules: ')) ?? '';
    const fromEdited = elfdeps(['copy', '-', join(work, 'edited')], { input: JSON.stringify(edited) });
    const fromFresh = elfdeps(['copy', '-', join(work, 'fresh')], { input: fresh.stdout });
    expect(fromEdited.status, fromEdited.stderr).to.equal(0);
    expect(fromFresh.status, fromFresh.stderr).to.equal(0);
    expect(rulesLine(fromFresh)).to.match(/zoneinfo \+\d+/);
    expect(rulesLine(fromEdited).replace(join(work, 'edited'), 'ROOT')).to.equal(rulesLine(fromFresh).replace(join(work, 'fresh'), 'ROOT'));
  });
});

describe('issue 21: a missing library is one line, not one per symbol it would define (item 5)', function () {
  this.timeout(120000);

  it('copy --loader-only --root BROKEN grep: one line for the library not found; undefined symbols where a library was found but lacks them', function () {
    if (process.getuid?.() !== 0) this.skip(); // the oracle is grep's real start in a chroot
    const made = elfdeps(['copy', '--loader-only', '/usr/bin/grep', join(work, 'root')]);
    expect(made.status, made.stderr).to.equal(0);
    const root = join(work, 'root');
    // The library grep needs besides libc, as the manifest's own ldd-like view names it.
    const pcre = elfdeps(['--root', root, '/usr/bin/grep']).stdout.split('\n').find((l) => l.includes('libpcre2-8.so.0 => '));
    expect(pcre, 'grep needs libpcre2-8.so.0').to.be.a('string');
    const libPath = (pcre as string).split(' => ')[1] as string;
    const start = (): string => spawnSync('chroot', [root, '/usr/bin/grep', '--version'], { encoding: 'utf8' }).stderr;

    // 1. The library gone: the loader names it, once; so does elfdeps, and no symbol.
    rmSync(join(root, libPath));
    expect(start()).to.match(/error while loading shared libraries: libpcre2-8\.so\.0: cannot open shared object file/);
    const gone = elfdeps(['copy', '--loader-only', '--root', root, '/usr/bin/grep', join(work, 'out1')]);
    expect(gone.status).to.equal(1);
    const problems = gone.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('elfdeps: warning: '));
    expect(problems, gone.stderr).to.have.length(1);
    expect(problems[0]).to.match(/libpcre2-8\.so\.0: not found \(needed by \/usr\/bin\/grep\)$/);

    // 2. A library of that name that defines none of its symbols (libc's libm under its name): grep is
    //    BIND_NOW, so the loader looks its pcre2 symbols up at start and stops at the first; elfdeps lists them.
    const libm = elfdeps(['--root', root, '/usr/bin/true']).stdout.includes('libm') ? null : '/lib/x86_64-linux-gnu/libm.so.6';
    spawnSync('cp', [libm ?? '/lib/x86_64-linux-gnu/libm.so.6', join(root, libPath)]);
    const refused = /symbol lookup error: .*undefined symbol: (\S+)/.exec(start());
    expect(refused, 'the real start names an undefined symbol').to.not.equal(null);
    const found = elfdeps(['copy', '--loader-only', '--root', root, '/usr/bin/grep', join(work, 'out2')]);
    expect(found.status).to.equal(1);
    const symbols = found.stderr.split('\n').filter((l) => / undefined symbol: /.test(l));
    expect(symbols.length, found.stderr).to.be.greaterThan(1);
    expect(symbols.some((l) => l.includes(`undefined symbol: ${(refused as RegExpExecArray)[1]}`)), found.stderr).to.equal(true);
  });
});

describe('issue 21: a shell script given as the program (item 7)', function () {
  this.timeout(120000);

  it('manifest SCRIPT says once that the root holds the script and its shell, not what it runs; the status is unchanged', function () {
    const shim = join(work, 'python3');
    const envShim = join(work, 'tool');
    const pyScript = join(work, 'hello.py');
    writeFileSync(shim, '#!/bin/sh\nexec /usr/bin/python3 "$@"\n', { mode: 0o755 });
    writeFileSync(envShim, '#!/usr/bin/env bash\nexec /usr/bin/python3 "$@"\n', { mode: 0o755 });
    writeFileSync(pyScript, '#!/usr/bin/python3\nprint("hello")\n', { mode: 0o755 });
    for (const script of [shim, envShim]) {
      const r = elfdeps(['manifest', '--loader-only', script, '-o', join(work, 'm.json')]);
      expect(r.status, r.stderr).to.equal(0);
      const notes = r.stderr.split('\n').filter((l) => l.includes(script));
      expect(notes, r.stderr).to.have.length(1);
      expect(notes[0]).to.match(/is a shell script .*: the root holds the script and its interpreter, not the programs it runs; name the real program/);
    }
    // Twice the same script: still once. A script whose interpreter is the real program: nothing to say.
    const twice = elfdeps(['manifest', '--loader-only', shim, shim, '-o', join(work, 'm.json')]);
    expect(twice.stderr.split('\n').filter((l) => l.includes('is a shell script'))).to.have.length(1);
    const py = elfdeps(['manifest', '--loader-only', pyScript, '-o', join(work, 'm.json')]);
    expect(py.status, py.stderr).to.equal(0);
    expect(py.stderr).to.not.include('shell script');
  });

  it('the real pyenv shim, where this host has one', function () {
    const real = '/root/.pyenv/shims/python3';
    if (!existsSync(real)) this.skip();
    const r = elfdeps(['manifest', '--loader-only', real, '-o', join(work, 'm.json')]);
    expect(r.stderr.split('\n').filter((l) => l.includes(`${real} is a shell script`))).to.have.length(1);
  });
});

describe('issue 21: --user names the file it looked in (item 8)', function () {
  this.timeout(120000);

  it('a user neither the host nor a root has: the root\'s /etc/passwd, named once and correctly', function () {
    const name = 'no-such-user-elfdeps';
    // The oracle that the user is absent: the host's own lookup.
    expect(spawnSync('getent', ['passwd', name]).status).to.equal(2);
    const host = elfdeps(['manifest', '--user', name, '/usr/bin/id', '-o', join(work, 'm.json')]);
    expect(host.status).to.equal(2);
    expect(host.stderr).to.match(new RegExp(`^elfdeps: --user ${name}: no such user in /etc/passwd; the generated /etc/passwd can only hold users that file has\\n$`));
    // In a root: that root's file.
    const root = join(work, 'root');
    const made = elfdeps(['copy', '--loader-only', '--add', '/etc/passwd', '/usr/bin/id', root]);
    expect(made.status, made.stderr).to.equal(0);
    const inRoot = elfdeps(['manifest', '--root', root, '--user', name, '/usr/bin/id', '-o', join(work, 'm.json')]);
    expect(inRoot.status).to.equal(2);
    expect(inRoot.stderr).to.include(`no such user in /etc/passwd of the root ${root};`);
    expect(inRoot.stderr).to.not.include('//');
  });
});
