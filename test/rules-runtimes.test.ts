/**
 * Rules for runtimes and plugin hosts (docs/rules.md: jdk, openssl-builtin,
 * tcl, imagemagick) judged by real work: each task of RUNTIME_TASKS runs in
 * its own root made by plain `elfdeps copy PROGRAMS NEWROOT` and
 * `elfdeps run --dev --proc`, with the host's output and exit status as
 * the oracle (test/helpers/task-runner.ts).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfdepsCommand } from './helpers/cli.js';
import { RUNTIME_TASKS } from './helpers/real-tasks.js';
import { skipOrFail } from './helpers/skip.js';
import { HOST_PATH, launcherProblem, spawnAsync, which } from './helpers/root-run.js';
import { report, runTasks } from './helpers/task-runner.js';

describe('runtime-file rules: runtimes and plugin hosts in roots made by elfdeps copy', function () {
  this.timeout(1_800_000);
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-runtimes-'));
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${RUNTIME_TASKS.length} tasks of java, node, tclsh and ImageMagick give the host's output and exit status`, async function () {
    const problem = await launcherProblem(dir);
    if (problem !== null) skipOrFail(this, problem);
    const outcomes = await runTasks(RUNTIME_TASKS, dir);
    const { ran, failed } = report(outcomes);
    expect(failed, failed.join('\n')).to.deep.equal([]);
    const skipped = outcomes.filter((o) => o.skipped !== undefined);
    if (skipped.length > 0) skipOrFail(this, `not installed: ${[...new Set(skipped.map((o) => o.skipped))].join('; ')}`, '.ci/run installs default-jre-headless, tcl and imagemagick');
    expect(ran.length).to.equal(RUNTIME_TASKS.length);
  });
});

/**
 * Python laid out as the official images have it (/usr/local/bin/python3.X
 * linking /usr/local/lib/libpython3.X.so.1.0, the standard library in
 * /usr/local/lib/python3.X) and in a versioned prefix
 * (/opt/python-3.X/bin/python3.X): the python rule must find the library by
 * the interpreter's own prefix, as getpath does from the executable's
 * directory. No /usr/local Python exists here, so a faithful one is built
 * in a source root: the host's libpython and standard library moved under
 * /usr/local, and a program that is CPython's own main (Programs/python.c:
 * Py_BytesMain) linked against it with RUNPATH $ORIGIN/../lib; the versioned
 * prefix gets the host's interpreter binary. The oracle is that source root
 * itself: the same command run in it, where the interpreter finds its
 * library by its landmark (lib/python3.X/os.py), must print the same in the
 * root `elfdeps copy --root SRC PROGRAM NEWROOT` builds.
 */
describe('runtime-file rules: Python under /usr/local and a versioned prefix', function () {
  this.timeout(600_000);
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-pyprefix-'));
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('copy finds the standard library by the prefix of /usr/local/bin/python3.X and /opt/python-3.X/bin/python3.X, and the programs work', async function () {
    const problem = await launcherProblem(dir);
    if (problem !== null) skipOrFail(this, problem);
    const python = realpathSync('/usr/bin/python3');
    const version = /python(3\.[0-9]+)$/.exec(python)?.[1];
    if (version === undefined) return skipOrFail(this, `${python}: not a python3.X interpreter`);
    const libpython = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib'].map((d) => `${d}/libpython${version}.so.1.0`).find((p) => existsSync(p));
    if (libpython === undefined) return skipOrFail(this, `libpython${version}.so.1.0 is not installed`, '.ci/run installs libpython3-dev');
    if (which('gcc') === null) return skipOrFail(this, 'gcc is not installed');
    const [node, bin] = elfdepsCommand();
    const env = { PATH: HOST_PATH, LANG: 'C.UTF-8' };
    const cli = (...args: string[]) => spawnAsync(node, [bin, ...args], env);
    const src = join(dir, 'src');
    const made = await cli('copy', '/bin/sh', python, src);
    expect(made.status, made.stderr).to.equal(0);
    // The official layout: everything of Python under /usr/local, nothing under /usr/lib/python3.X.
    const stdlib = `lib/python${version}`;
    for (const d of ['usr/local/bin', 'usr/local/lib']) mkdirSync(join(src, d), { recursive: true });
    renameSync(join(src, 'usr', stdlib), join(src, 'usr/local', stdlib));
    copyFileSync(libpython, join(src, `usr/local/lib/libpython${version}.so.1.0`));
    writeFileSync(join(dir, 'python.c'), 'int Py_BytesMain(int, char **);\nint main(int argc, char **argv) { return Py_BytesMain(argc, argv); }\n');
    const cc = spawnSync('gcc', ['-o', join(src, `usr/local/bin/python${version}`), join(dir, 'python.c'), libpython, '-Wl,-rpath,$ORIGIN/../lib'], { encoding: 'utf8' });
    expect(cc.status, cc.stderr).to.equal(0);
    // A versioned prefix: the interpreter binary with its library beside it (hard links: same tree).
    const opt = `opt/python-${version}`;
    for (const d of ['bin', 'lib']) mkdirSync(join(src, opt, d), { recursive: true });
    renameSync(join(src, python), join(src, opt, `bin/python${version}`));
    expect(spawnSync('cp', ['-al', join(src, 'usr/local', stdlib), join(src, opt, 'lib')]).status).to.equal(0);
    for (const p of ['usr/bin/python3', `usr/bin/python${version}`]) rmSync(join(src, p), { force: true });

    const task = `import sys, ssl, sqlite3, json, decimal; print(sys.prefix, sys.exec_prefix, ssl.OPENSSL_VERSION.split()[0], sqlite3.connect(":memory:").execute("select 6*7").fetchone(), json.dumps({"a": decimal.Decimal(1) / 8}, default=str))`;
    for (const program of [`/usr/local/bin/python${version}`, `/${opt}/bin/python${version}`]) {
      const oracle = await cli('run', '--dev', '--proc', src, program, '-c', task);
      expect(oracle.status, `${program} in the source root: ${oracle.stderr}`).to.equal(0);
      expect(oracle.stdout).to.match(new RegExp(`^${program.replace(`/bin/python${version}`, '')} `));
      const root = join(dir, 'new');
      const copy = await cli('copy', '--root', src, '/bin/sh', program, root);
      expect(copy.status, copy.stderr).to.equal(0);
      const prefix = program.replace(`/bin/python${version}`, '');
      expect(existsSync(join(root, prefix, stdlib, 'os.py')), `${prefix}/${stdlib}/os.py in the new root`).to.equal(true);
      expect(existsSync(join(root, 'usr', stdlib)), `/usr/${stdlib} in the new root`).to.equal(false);
      const got = await cli('run', '--dev', '--proc', root, program, '-c', task);
      expect({ status: got.status, stdout: got.stdout }, got.stderr).to.deep.equal({ status: oracle.status, stdout: oracle.stdout });
      console.log(`      ${program}: ${got.stdout.trim()}`);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
