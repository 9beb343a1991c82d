/**
 * `check --jobs` (docs/jobs.md): with two or more threads, a scout thread
 * walks the tree and takes each file's first look while the main thread
 * judges the ELF files. That must change nothing a user sees. The oracle is
 * `--jobs 1`, the single-thread path (itself compared with ldd and the real
 * loader by the conformance tests): stdout, stderr and the exit status of
 * `--jobs 2` and of the default must be the same bytes, over a real foreign
 * root and over a tree made to hold every kind of thing the scout reports
 * (ELF files the reader refuses, separate debug files, dangling library
 * symlinks, long runs of files that are not ELF, a FIFO). That the scout
 * really ran is seen from outside: Node's --cpu-prof writes one profile per
 * thread.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { checkAsync, checkSync } from '../src/api-forms.js';
import { main } from '../src/cli/main.js';
import { Checker } from '../src/check/index.js';
import { checkWithScout } from '../src/check/pipeline.js';
import { walkTree, type WalkEntry } from '../src/check/walk.js';
import { elfdepsCommand } from './helpers/cli.js';
import { skipOrFail } from './helpers/skip.js';

interface Outcome {
  status: number | null;
  stdout: string;
  stderr: string;
}

function elfdeps(args: string[], nodeOptions: string[] = []): Outcome {
  const [node, bin] = elfdepsCommand();
  const r = spawnSync(node, [...nodeOptions, bin, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C' } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same check with --jobs 1, --jobs 2 and the default must give the same bytes and status; returns --jobs 1's. */
function expectSameAcrossJobs(args: string[], what: string): Outcome {
  const one = elfdeps([...args, '--jobs', '1']);
  for (const jobs of [['--jobs', '2'], []]) {
    const other = elfdeps([...args, ...jobs]);
    const how = `${what} ${jobs.join(' ') || '(default --jobs)'}`;
    expect(other.status, `${how}: status`).to.equal(one.status);
    // Not deep-equal on megabytes (an unreadable diff): the first line that differs.
    for (const stream of ['stdout', 'stderr'] as const) {
      if (other[stream] === one[stream]) continue;
      const a = one[stream].split('\n');
      const b = other[stream].split('\n');
      const at = a.findIndex((line, i) => line !== b[i]);
      expect(b[at], `${how}: ${stream} line ${at + 1}`).to.equal(a[at]);
      expect(b.length, `${how}: ${stream} lines`).to.equal(a.length);
    }
  }
  return one;
}

/**
 * A root-like tree holding every kind of item the scout hands over, in an
 * order where they interleave: real host programs, ELF files the reader
 * refuses, a separate debug file, library symlinks (one dangling), 5,000
 * small files that are not ELF in one directory (more than one run), a FIFO.
 */
function makeTree(dir: string): void {
  const ls = readFileSync('/bin/ls');
  const mk = (p: string): string => (mkdirSync(join(dir, p), { recursive: true }), join(dir, p));
  const bin = mk('usr/bin');
  for (const name of ['ls', 'cp', 'sh']) if (existsSync(`/bin/${name}`)) copyFileSync(`/bin/${name}`, join(bin, name));
  writeFileSync(join(bin, 'truncated'), ls.subarray(0, 100), { mode: 0o755 });
  const lying = Buffer.from(ls);
  lying.writeBigUInt64LE(0xffff_ffff_0000n, 32);
  writeFileSync(join(bin, 'lying-phoff'), lying, { mode: 0o755 });
  writeFileSync(join(bin, 'magic-only'), Buffer.from('\x7fELF'), { mode: 0o755 });
  const lib = mk('usr/lib/x86_64-linux-gnu');
  symlinkSync('libgone.so.1.2', join(lib, 'libgone.so.1'));
  symlinkSync('/usr/bin/ls', join(lib, 'libls.so'));
  copyFileSync('/bin/ls', join(mk('usr/lib/debug/.build-id/ab'), 'cdef.debug'));
  const data = mk('usr/share/data');
  for (let i = 0; i < 5000; i++) writeFileSync(join(data, `f${String(i).padStart(4, '0')}.txt`), `${i}\n`);
  copyFileSync('/bin/ls', join(data, 'f2500a-an-elf-among-them'));
  spawnSync('mkfifo', [join(data, 'fifo')]);
}

describe('check --jobs: the scout thread changes nothing of the output', function () {
  let dir: string;
  before(function () {
    if (process.arch !== 'x64' || !existsSync('/bin/ls')) skipOrFail(this, 'needs an x86_64 host with /bin/ls');
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-check-jobs-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('over a foreign Debian root: the same report with --jobs 1, 2 and the default, as text and as JSON', function () {
    const root = '/var/cache/elfdeps-test/arm64-root';
    if (!existsSync(join(root, 'usr/bin'))) skipOrFail(this, `${root} missing (scripts/fetch-*-root.sh builds it)`);
    const text = expectSameAcrossJobs(['check', '--root', root, '/usr'], 'check --root arm64 /usr');
    expect(text.stdout).to.match(/^checked [1-9][0-9]* ELF files/m);
    expectSameAcrossJobs(['check', '--json', '--root', root, '/usr/lib', '/usr/bin/ls'], 'check --json --root arm64 /usr/lib /usr/bin/ls');
  });

  it('over a tree with every kind of entry: the same lines, summary and status, as a root and as host paths; the scout ran', async function () {
    const tree = join(dir, 'tree');
    makeTree(tree);
    const one = expectSameAcrossJobs(['check', '--root', tree], 'check --root tree');
    expect(one.status).to.equal(1);
    // What the single thread says of the tree, so that the comparison above covered each kind of entry.
    expect(one.stdout).to.match(/^\/usr\/bin\/lying-phoff: .+$/m);
    expect(one.stdout).to.match(/^\/usr\/bin\/magic-only: .+$/m);
    expect(one.stdout).to.match(/^\/usr\/lib\/x86_64-linux-gnu\/libgone\.so\.1: dangling symlink to libgone\.so\.1\.2/m);
    expect(one.stdout).to.match(/skipped 500[0-9] not ELF, 1 ELF nothing loads/);
    // Every item from the scout (it takes over before the first entry), in this process: the same report and failures in the same order.
    const failures: string[][] = [[], []];
    const alone = new Checker({ root: tree }).check([], { onFailure: (f) => failures[0]?.push(f.path) });
    const checker = new Checker({ root: tree });
    const scouted = await checkWithScout(checker, checker.startsOf([]), [], { onFailure: (f) => failures[1]?.push(f.path) }, { scoutFirst: true });
    expect(scouted).to.deep.equal(alone);
    expect(failures[1]).to.deep.equal(failures[0]);
    // Host paths, a file start between two directory starts, an overlapping start.
    expectSameAcrossJobs(['check', join(tree, 'usr/share'), '/bin/ls', join(tree, 'usr/bin'), join(tree, 'usr/bin/ls')], 'check host paths');
    // One profile per thread: the main one and the scout.
    const profiles = join(dir, 'profiles');
    elfdeps(['check', '--jobs', '2', '--root', tree], ['--cpu-prof', `--cpu-prof-dir=${profiles}`]);
    expect(readdirSync(profiles).filter((f) => f.endsWith('.cpuprofile')).length).to.equal(2);
  });

  it('a walk that goes on after an entry meets exactly what the whole walk meets after it, for every entry', function () {
    // The handover from the main thread to the scout: the oracle is the whole walk, cut at each position.
    const tree = join(dir, 'nested');
    for (const d of ['a/b/c', 'a/b2', 'a/e', 'b', 'c/d/e/f']) mkdirSync(join(tree, d), { recursive: true });
    for (const f of ['a/1', 'a/b/2', 'a/b/c/3', 'a/b/c/4', 'a/b2/5', 'a/z', 'b/6', 'c/d/e/f/7', 'c/d/8', 'top']) writeFileSync(join(tree, f), f);
    symlinkSync('top', join(tree, 'a/b/link'));
    const walk = (after: string | null): string[] => {
      const met: string[] = [];
      walkTree(tree, '/', (e: WalkEntry) => met.push(`${e.type} ${e.path}`), after);
      return met;
    };
    const whole = walk(null);
    expect(whole).to.have.length(11);
    whole.forEach((entry, i) => expect(walk(entry.slice(entry.indexOf(' ') + 1)), entry).to.deep.equal(whole.slice(i + 1)));
    // Below a start that is not the root, and an `after` that has vanished since: the walk goes on after where it was.
    const under: string[] = [];
    walkTree(tree, '/a', (e) => under.push(e.path), '/a/b/c/gone');
    expect(under).to.deep.equal(['/a/b/link', '/a/b2/5', '/a/z']);
  });

  it('an interrupt ends a run with the scout as it ends one without: killed by SIGINT, nothing left running', async function () {
    const [node, bin] = elfdepsCommand();
    for (const jobs of ['1', '2']) {
      const child = spawn(node, [bin, 'check', '--jobs', jobs, '/usr'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      await new Promise((r) => setTimeout(r, 1000));
      child.kill('SIGINT');
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
      expect([code, signal], `--jobs ${jobs}`).to.deep.equal([null, 'SIGINT']);
      expect(stderr, `--jobs ${jobs}`).to.equal('');
      expect(existsSync(`/proc/${child.pid}`), `--jobs ${jobs}`).to.equal(false);
    }
  });

  it('from the library (the sources, in this process): the scout starts and the output is the same', async function () {
    const runMain = async (args: string[]): Promise<Outcome> => {
      let stdout = '';
      let stderr = '';
      const stream = (append: (s: string) => void) => ({ write: (s: string) => (append(s), true) }) as unknown as NodeJS.WritableStream;
      const status = await main(args, { stdout: stream((s) => (stdout += s)), stderr: stream((s) => (stderr += s)), env: { PATH: '/usr/bin:/bin' }, cwd: '/' });
      return { status, stdout, stderr };
    };
    const one = await runMain(['check', '--jobs', '1', '/usr/bin']);
    expect(one.stdout).to.match(/^checked [1-9][0-9]* ELF files/m);
    expect(await runMain(['check', '--jobs', '2', '/usr/bin'])).to.deep.equal(one);
    // The library's promise form with jobs: 2 gives checkSync's report, failures in the same order through the callback.
    const seen: string[][] = [[], []];
    const sync = checkSync(['/usr/lib/x86_64-linux-gnu', '/usr/bin'], { onFailure: (f) => seen[0]?.push(f.path) });
    const threaded = await checkAsync(['/usr/lib/x86_64-linux-gnu', '/usr/bin'], { jobs: 2, onFailure: (f) => seen[1]?.push(f.path) });
    expect(threaded).to.deep.equal(sync);
    expect(seen[1]).to.deep.equal(seen[0]);
  });

  it('nothing loads node:worker_threads until a scout starts: every other command starts without it', function () {
    // Loading it costs a start a few milliseconds (bench/startup.mjs measures the single shot); the hook reports Node's own list of the builtins loaded.
    const hook = join(dir, 'builtins-hook.cjs');
    writeFileSync(hook, `process.on('exit', () => process.stderr.write('builtins: ' + process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).join(',') + '\\n'));\n`);
    const loadsThreads = (args: string[]): boolean => {
      const r = elfdeps(args, ['--require', hook]);
      const line = r.stderr.split('\n').find((l) => l.startsWith('builtins: '));
      expect(line, args.join(' ')).to.be.a('string');
      return (line as string).split(',').includes('NativeModule worker_threads');
    };
    expect(loadsThreads(['--ldd', '/bin/ls'])).to.equal(false);
    expect(loadsThreads(['check', '--jobs', '2', '/bin/ls'])).to.equal(false);
    expect(loadsThreads(['check', '--jobs', '2', '/usr/bin'])).to.equal(true);
  });

  it('--jobs takes a whole number from 1 to 1024: anything else is a usage error naming it', () => {
    for (const bad of ['0', 'two', '1.5', '1025', '']) {
      const r = elfdeps(['check', '--jobs', bad, '/usr/bin/ls']);
      expect(r.status, bad).to.equal(2);
      expect(r.stderr, bad).to.equal(`elfdeps: --jobs wants a whole number from 1 to 1024, got '${bad}'\n`);
    }
  });
});
