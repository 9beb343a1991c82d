/**
 * End to end, through the CLI: `elfdeps copy` materialises what the resolver
 * says a program needs, and `elfdeps run` runs the program in that root and
 * nothing else. The loader inside the root is the judge: it must never report
 * a missing library.
 *  - the classic exercise: copy bash and ls, then list the new root from
 *    inside with bash and ls, and run `bash --version`;
 *  - many real programs: dynamically linked programs of /usr/bin that answer
 *    --version or --help on the host, each copied into its own fresh root and
 *    run there with --dev.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElf } from '../src/elf/reader.js';
import { launchUnavailable } from './helpers/launch-probe.js';
import { hasTool, mkexe, mklib } from './helpers/build.js';
import { elfdepsCommand } from './helpers/cli.js';

const ENV = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
const LOADER_ERROR = 'error while loading shared libraries';

/** How many programs are tried at most, and how many must run. */
const MAX_PROGRAMS = 80;
const MIN_PROGRAMS = 50;
const PARALLEL = 2;

interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `elfdeps ARGS` asynchronously (so that two can run at once). */
function elfdeps(args: string[], timeoutMs = 60_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const [node, bin] = elfdepsCommand();
    const child = spawn(node, [bin, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.once('error', reject);
    child.once('close', (status, signal) => {
      resolve({ status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** `ls -R` of a host directory, as {directory: sorted entries}, with the directories named as seen from inside. */
function listTree(hostRoot: string): Record<string, string[]> {
  const tree: Record<string, string[]> = {};
  const visit = (inRoot: string) => {
    const names = readdirSync(join(hostRoot, inRoot)).sort();
    tree[inRoot] = names;
    for (const name of names) {
      const child = inRoot === '/' ? `/${name}` : `${inRoot}/${name}`;
      // ls -R does not descend through symlinks.
      if (lstatSync(join(hostRoot, child)).isDirectory()) visit(child);
    }
  };
  visit('/');
  return tree;
}

/** Parses `ls -R` output ("DIR:" then one name per line, blocks separated by blank lines). */
function parseLsR(output: string): Record<string, string[]> {
  const tree: Record<string, string[]> = {};
  for (const block of output.trim().split(/\n\n/)) {
    const [header, ...names] = block.split('\n');
    tree[(header ?? '').replace(/:$/, '')] = names.filter(Boolean).sort();
  }
  return tree;
}

describe('elfdeps copy + run, end to end', function () {
  let work: string;

  before(function () {
    const why = launchUnavailable();
    if (why !== null) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    work = mkdtempSync(join(tmpdir(), 'elfdeps-e2e-'));
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the classic exercise: copy bash and ls, list the new root from inside, run bash --version', async () => {
    const root = join(work, 'bash-ls');
    const copy = await elfdeps(['copy', '/bin/bash', '/bin/ls', root]);
    expect(copy.status, copy.stderr).to.equal(0);

    const listing = await elfdeps(['run', root, '/bin/bash', '-c', 'ls -R /']);
    expect(listing.stderr).not.to.include(LOADER_ERROR);
    expect(listing.status, listing.stderr).to.equal(0);
    // Exactly what is on disk in NEWROOT, seen from inside: the loader, the libraries, bash and ls.
    expect(parseLsR(listing.stdout)).to.deep.equal(listTree(root));
    expect(listing.stdout).to.match(/^ld-linux[-\w.]*\.so\.\d$/m);
    expect(listing.stdout).to.match(/^bash$/m);
    expect(listing.stdout).to.match(/^libc\.so\.6$/m);

    const version = await elfdeps(['run', root, '/bin/bash', '--version']);
    expect(version.status, version.stderr).to.equal(0);
    const host = spawnSync('/bin/bash', ['--version'], { encoding: 'utf8' });
    expect(version.stdout.split('\n')[0]).to.equal(host.stdout.split('\n')[0]);
    expect(version.stdout).to.match(/^GNU bash, version /);

    // PATH inside names the root's own bin directories: ls is found by name.
    const byName = await elfdeps(['run', root, 'bash', '-c', 'ls /usr/bin']);
    expect(byName.status, byName.stderr).to.equal(0);
    expect(byName.stdout.split('\n').filter(Boolean)).to.include.members(['bash', 'ls']);
  });

  it("a program whose own RUNPATH uses $ORIGIN needs /proc in its root: the library is not found without --proc, and is with it", async function () {
    // glibc computes the main program's $ORIGIN from readlink("/proc/self/exe"); a root
    // without /proc makes it drop the element (as for /usr/bin/java and its libjli.so).
    if (!hasTool('gcc')) {
      console.log('      skipped: gcc is not installed (needed to build the $ORIGIN program)');
      this.skip();
    }
    const app = join(realpathSync(work), 'origin-app');
    const lib = mklib(join(app, 'lib', 'libhello.so'), { source: 'int hello(void) { return 42; }\n' });
    const prog = mkexe(join(app, 'bin', 'prog'), {
      runpath: '$ORIGIN/../lib',
      needs: [lib],
      source: '#include <stdio.h>\nint hello(void);\nint main(void) { printf("hello %d\\n", hello()); return 0; }\n',
    });
    const root = join(work, 'origin-root');
    const copy = await elfdeps(['copy', prog, root]);
    expect(copy.status, copy.stderr).to.equal(0);
    // The resolver's warning reaches the manifest, and elfdeps copy prints it.
    expect(copy.stderr).to.match(/^elfdeps: warning: .*\$ORIGIN.*\/proc/m);

    const without = await elfdeps(['run', root, prog]);
    expect(without.stderr, 'without /proc the loader drops $ORIGIN/../lib').to.include(LOADER_ERROR);
    expect(without.stderr).to.include('libhello.so');
    expect(without.status).to.equal(127);

    const why = launchUnavailable({ mounts: true });
    if (why !== null) {
      console.log(`      skipped the --proc half: ${why}`);
      this.skip();
    }
    const withProc = await elfdeps(['run', '--proc', root, prog]);
    expect(withProc.stderr).not.to.include(LOADER_ERROR);
    expect(withProc.status, withProc.stderr).to.equal(0);
    expect(withProc.stdout).to.equal('hello 42\n');
  });

  it(`runs at least ${MIN_PROGRAMS} dynamically linked programs of /usr/bin, each in its own root`, async function () {
    this.timeout(15 * 60_000);
    const why = launchUnavailable({ mounts: true });
    if (why !== null) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    const programs = pickPrograms(work);
    expect(programs.length, 'programs that answer --version or --help on this host').to.be.at.least(MIN_PROGRAMS);

    const outcomes: string[] = [];
    const differing: string[] = [];
    let ran = 0;
    const queue = [...programs];
    const worker = async () => {
      for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
        const root = mkdtempSync(join(work, 'prog-'));
        try {
          const copy = await elfdeps(['copy', p.path, root]);
          expect(copy.status, `elfdeps copy ${p.path}: ${copy.stderr}`).to.equal(0);
          const r = await elfdeps(['run', '--dev', root, p.path, p.flag], 30_000);
          // The one thing that must never happen: the loader inside the root misses a library.
          expect(r.stderr, `${p.path} ${p.flag} inside its root`).not.to.include(LOADER_ERROR);
          expect(r.status, `${p.path}: the launcher failed: ${r.stderr}`).not.to.be.oneOf([125, 126, 127]);
          if (r.status === p.status) ran += 1;
          else differing.push(`${p.path} ${p.flag}: ${r.status ?? r.signal} inside, ${p.status} on the host: ${r.stderr.split('\n')[0]}`);
          outcomes.push(p.path);
        } finally {
          rmSync(root, { recursive: true, force: true });
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    console.log(`      ${ran} programs ran inside their own root (of ${programs.length} tried)`);
    for (const d of differing) console.log(`        differs: ${d}`);
    expect(outcomes.length).to.equal(programs.length);
    expect(ran).to.be.at.least(MIN_PROGRAMS);
  });
});

interface Program {
  path: string;
  flag: '--version' | '--help';
  /** Its exit status on the host with that flag. */
  status: number;
}

/**
 * Dynamically linked, executable, non-setuid regular files of /usr/bin,
 * sampled evenly in sorted order, kept when they answer --version (or else
 * --help) on the host with output and status 0 or 1, without a terminal.
 * Running trusted host programs with these flags is harmless; the probe runs
 * in a scratch directory with stdin from /dev/null and a time limit anyway.
 */
function pickPrograms(work: string): Program[] {
  const dir = '/usr/bin';
  const candidates = readdirSync(dir)
    .sort()
    .map((name) => join(dir, name))
    .filter((path) => {
      const st = lstatSync(path);
      if (!st.isFile() || (st.mode & 0o111) === 0 || (st.mode & 0o6000) !== 0) return false;
      try {
        return readElf(path).interpreter !== null;
      } catch {
        return false; // scripts and anything else that is not ELF
      }
    });
  const scratch = mkdtempSync(join(work, 'probe-'));
  const step = Math.max(1, Math.floor(candidates.length / (MAX_PROGRAMS * 1.5)));
  const picked: Program[] = [];
  for (let i = 0; i < candidates.length && picked.length < MAX_PROGRAMS; i += step) {
    const path = candidates[i] as string;
    for (const flag of ['--version', '--help'] as const) {
      const r = spawnSync(path, [flag], { cwd: scratch, env: ENV, stdio: ['ignore', 'pipe', 'pipe'], timeout: 5_000, encoding: 'utf8' });
      const answered = r.error === undefined && (r.status === 0 || r.status === 1) && (r.stdout + r.stderr).trim() !== '';
      if (answered && !r.stderr.includes(LOADER_ERROR)) {
        picked.push({ path, flag, status: r.status as number });
        break;
      }
    }
  }
  return picked;
}
