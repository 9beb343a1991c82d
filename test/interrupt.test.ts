/**
 * Interrupts and leftovers (issue 21, items 2 and 3), with the shipped CLI and
 * real signals:
 *  - `elfdeps image` stopped by SIGINT, SIGTERM or SIGHUP part-way exits
 *    128+N and leaves nothing beside the output: no staging directory, no
 *    temporary file, no partial image;
 *  - `elfdeps copy` stopped the same way leaves every directory at its final
 *    mode (never the temporary 0700), no temporary file, and only complete
 *    files under final names;
 *  - a run killed with SIGKILL (no chance to clean) leaves its staging
 *    directory, and the next run into the same directory removes it;
 *  - a NEWROOT that is not empty and does not look like a root is refused
 *    (NEWROOT forgotten on the command line), unless --into-existing.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManifest } from '../src/manifest/create.js';
import { TEMP_PREFIX } from '../src/manifest/entry-path.js';
import type { FileEntry } from '../src/manifest/types.js';
import { serializeManifest } from '../src/manifest/validate.js';
import { hashFd } from '../src/manifest/hash.js';
import { writeIncompressibleFiles } from './helpers/big-files.js';
import { elfdepsCommand, ensureBuiltCli } from './helpers/cli.js';

const FILES = 3;
const FILE_MIB = 64;

/** Every path under `dir` (files and directories), relative. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      out.push(rel + e.name);
      if (e.isDirectory()) visit(join(d, e.name), `${rel}${e.name}/`);
    }
  };
  visit(dir, '');
  return out;
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Runs the shipped elfdeps with `args`, sends `signal` once `ready()` says the
 * run is writing (polled every 5 ms), and resolves when it exits.
 */
function runAndSignal(args: string[], cwd: string, ready: (pid: number) => boolean, signal: NodeJS.Signals): Promise<Ended & { signalled: boolean }> {
  const [node, bin] = elfdepsCommand();
  const child = spawn(node, [bin, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  let signalled = false;
  const poll = setInterval(() => {
    if (signalled || child.pid === undefined) return;
    if (ready(child.pid)) {
      signalled = true;
      child.kill(signal);
    }
  }, 5);
  return new Promise((resolve) => {
    child.on('close', (code, sig) => {
      clearInterval(poll);
      resolve({ code, signal: sig, stderr, signalled });
    });
  });
}

describe('interrupts: nothing left behind', function () {
  let work: string;
  let files: FileEntry[];
  let manifestPath: string;

  before(function () {
    ensureBuiltCli();
    work = mkdtempSync(join(tmpdir(), 'elfdeps-interrupt-'));
    chmodSync(work, 0o755);
    const src = join(work, 'src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    chmodSync(src, 0o750);
    chmodSync(join(src, 'sub'), 0o711);
    // Incompressible contents: gzip of the image layer takes seconds, a window to interrupt in.
    writeIncompressibleFiles(join(src, 'sub'), 'big-', FILES, FILE_MIB);
    const manifest = createManifest([], { add: [src], packageMetadata: false });
    files = manifest.entries.filter((e): e is FileEntry => e.kind === 'file');
    expect(files).to.have.length(FILES);
    manifestPath = join(work, 'manifest.json');
    writeFileSync(manifestPath, serializeManifest(manifest));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`image stopped by ${signal} while writing exits ${128 + constants.signals[signal]} and leaves nothing beside the output`, async function () {
      const out = join(work, `out-${signal}`);
      mkdirSync(out);
      // Ready when this run's staging directory exists beside the output.
      const run = await runAndSignal(['image', '-q', '--image-platform', 'linux/amd64', manifestPath, '-o', join(out, 'img.tar')], work, (pid) => readdirSync(out).some((n) => n.startsWith(`${TEMP_PREFIX}${pid}-`)), signal);
      expect(run.signalled, `the run finished before its staging directory was seen: ${run.stderr}`).to.equal(true);
      expect(run.signal, run.stderr).to.equal(null);
      expect(run.code, run.stderr).to.equal(128 + constants.signals[signal]);
      expect(run.stderr.trim().split('\n'), run.stderr).to.have.length(1);
      expect(run.stderr).to.match(new RegExp(`^elfdeps: interrupted by ${signal}`));
      expect(listTree(out), 'nothing left in the output directory').to.deep.equal([]);
    });
  }

  it('copy stopped by SIGTERM leaves final directory modes, no temporary, only complete files', async function () {
    const root = join(work, 'root-term');
    const dirPath = join(root, files[0]!.path, '..');
    const run = await runAndSignal(['copy', '-q', manifestPath, root], work, () => existsSync(dirPath) && readdirSync(dirPath).length > 0, 'SIGTERM');
    expect(run.signalled, `the copy finished before a file appeared: ${run.stderr}`).to.equal(true);
    expect(run.code, run.stderr).to.equal(128 + constants.signals.SIGTERM);
    const tree = listTree(root);
    expect(tree.filter((p) => p.split('/').pop()!.startsWith(TEMP_PREFIX)), 'temporaries').to.deep.equal([]);
    // Every directory has the mode the manifest gives it, none the copier's temporary 0700.
    const manifestDirs = createManifest([], { add: [join(work, 'src')] }).entries.filter((e) => e.kind === 'directory');
    let checked = 0;
    for (const d of manifestDirs) {
      const host = join(root, d.path);
      if (!existsSync(host)) continue;
      expect((statSync(host).mode & 0o7777).toString(8), d.path).to.equal(Number.parseInt(d.mode, 8).toString(8));
      checked++;
    }
    expect(checked, 'directories made before the interrupt').to.be.greaterThan(3);
    for (const f of files) {
      const host = join(root, f.path);
      if (!existsSync(host)) continue;
      const fd = openSync(host, 'r');
      try {
        expect(hashFd(fd).sha256, `${f.path} under its final name is complete`).to.equal(f.sha256);
      } finally {
        closeSync(fd);
      }
    }
    // The copy can be finished by running it again.
    const again = spawnSync(elfdepsCommand()[0], [elfdepsCommand()[1], 'copy', '-q', manifestPath, root], { encoding: 'utf8' });
    expect(again.status, again.stderr).to.equal(0);
  });

  it('a run killed with SIGKILL leaves its staging directory; the next run into the same directory removes it', async function () {
    const out = join(work, 'out-kill');
    mkdirSync(out);
    let pidSeen = 0;
    const killed = await runAndSignal(
      ['image', '-q', '--image-platform', 'linux/amd64', manifestPath, '-o', join(out, 'img.tar')],
      work,
      (pid) => {
        pidSeen = pid;
        return readdirSync(out).some((n) => n.startsWith(`${TEMP_PREFIX}${pid}-`));
      },
      'SIGKILL',
    );
    expect(killed.signal).to.equal('SIGKILL');
    const left = readdirSync(out).filter((n) => n.startsWith(`${TEMP_PREFIX}${pidSeen}-`));
    expect(left, 'SIGKILL leaves the staging directory').to.have.length(1);
    // An unrelated file of a similar name is never touched.
    writeFileSync(join(out, `${TEMP_PREFIX}notes.txt`), 'mine\n');
    const [node, bin] = elfdepsCommand();
    const next = spawnSync(node, [bin, 'image', '-q', '--image-platform', 'linux/amd64', '--compress', 'none', manifestPath, '-o', join(out, 'img.tar')], { encoding: 'utf8' });
    expect(next.status, next.stderr).to.equal(0);
    expect(readdirSync(out).sort()).to.deep.equal([`${TEMP_PREFIX}notes.txt`, 'img.tar']);
  });
});

describe('copy into a NEWROOT that is not empty', function () {
  let work: string;
  before(function () {
    ensureBuiltCli();
    work = mkdtempSync(join(tmpdir(), 'elfdeps-newroot-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  const copy = (...args: string[]) => {
    const [node, bin] = elfdepsCommand();
    return spawnSync(node, [bin, 'copy', '-q', '--loader-only', ...args], { encoding: 'utf8', cwd: work });
  };

  it('NEWROOT forgotten (a directory of programs taken for it) is refused with one line and nothing written', function () {
    // As `elfdeps copy /bin/bash /usr/bin`: a directory holding programs, not a root.
    const bin = join(work, 'bin-dir');
    mkdirSync(bin);
    for (const name of ['ls', 'cat', 'bash', 'grep']) writeFileSync(join(bin, name), 'x');
    const before = listTree(bin);
    const r = copy('/bin/true', bin);
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/is not empty and does not look like a root elfdeps wrote \(it holds 'bash', 'cat', 'grep' and 1 more.*--into-existing/);
    expect(listTree(bin), 'nothing written').to.deep.equal(before);
    const forced = copy('--into-existing', '/bin/true', bin);
    expect(forced.status, forced.stderr).to.equal(0);
    expect(existsSync(join(bin, 'usr'))).to.equal(true);
  });

  it('an earlier copy, of the same or of other programs, is written into without asking', function () {
    const root = join(work, 'root');
    expect(copy('/bin/true', root).status).to.equal(0);
    const again = copy('/bin/true', root);
    expect(again.status, again.stderr).to.equal(0);
    const more = copy('/bin/ls', root);
    expect(more.status, more.stderr).to.equal(0);
    // coreutils' kept-files list now holds both programs' lines, as dpkg's own list has them.
    const dpkgList = '/var/lib/dpkg/info/coreutils.md5sums';
    if (existsSync(dpkgList)) {
      const want = readFileSync(dpkgList, 'utf8').split('\n').filter((l) => / {2}(usr\/)?bin\/(true|ls)$/.test(l));
      expect(want).to.have.length(2);
      const kept = readFileSync(join(root, 'var/lib/dpkg/status.d/coreutils.md5sums'), 'utf8').split('\n');
      for (const line of want) expect(kept, 'status.d/coreutils.md5sums').to.include(line);
    }
    // An empty directory is a new root too.
    const empty = join(work, 'empty');
    mkdirSync(empty);
    expect(copy('/bin/true', empty).status).to.equal(0);
  });
});
