/**
 * The copier on real host binaries: the new root has the host's layout
 * (symlinks stay symlinks, targets verbatim, the interpreter and SONAME links
 * resolve as on the host), programs run in it under chroot, a second run
 * does nothing, and the options do what they say.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import type { CliIo } from '../src/cli/io.js';
import { ElfdepsError } from '../src/errors.js';
import { createManifest } from '../src/manifest/create.js';
import { serializeManifest } from '../src/manifest/validate.js';
import type { FileEntry, Manifest } from '../src/manifest/types.js';
import { materialise } from '../src/materialise/index.js';
import { elfdepsCommand } from './helpers/cli.js';
import { walkInRoot } from './helpers/walk-in-root.js';

const isRoot = process.getuid?.() === 0;
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The paths ldd names for a program (interpreter and libraries), or null without ldd. */
function lddPaths(program: string): string[] | null {
  const r = spawnSync('ldd', [program], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const paths: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)/.exec(line);
    if (m) paths.push(m[1] as string);
  }
  return paths;
}

function cli(args: string[], cwd = process.cwd()): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) => ({ write: (s: string | Uint8Array) => (add(String(s)), true) }) as unknown as NodeJS.WritableStream;
  const io: CliIo = { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env: {}, cwd };
  return main(args, io).then((code) => ({ code, stdout, stderr }));
}

/** Every file and symlink under `dir`: path -> inode, mtime and link target, to prove a run changed nothing. */
function inodes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      out.set(p, `${st.ino} ${st.mtimeMs} ${st.mode} ${st.isSymbolicLink() ? readlinkSync(p) : ''}`);
      if (st.isDirectory()) visit(p);
    }
  };
  visit(dir);
  return out;
}

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'elfdeps-copy-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('materialise: a root for bash and ls', function () {
  let manifest: Manifest;
  let newRoot: string;
  before(function () {
    if (!existsSync('/bin/bash') || !existsSync('/bin/ls')) {
      console.log('      (skipped: no /bin/bash or /bin/ls on this host)');
      this.skip();
    }
    manifest = createManifest(['/bin/bash', '/bin/ls']);
  });
  beforeEach(() => {
    newRoot = join(work, 'root');
  });

  it('has the host layout: the interpreter, SONAME links and directory links resolve as on the host, symlinks stay symlinks', function () {
    const report = materialise(manifest, newRoot);
    expect(report.created).to.equal(manifest.entries.length);
    const paths = ['/bin/bash', '/bin/ls', '/lib64/ld-linux-x86-64.so.2'];
    const ldd = [...(lddPaths('/bin/bash') ?? []), ...(lddPaths('/bin/ls') ?? [])];
    if (ldd.length === 0) console.log('      (no ldd: checking the programs and the interpreter only)');
    for (const path of [...paths, ...ldd]) {
      // Walked with node:fs (test/helpers/walk-in-root.ts), not with RootFs, which made the manifest.
      const want = walkInRoot('/', path);
      if (want === null) continue; // e.g. /lib64/ld-linux-x86-64.so.2 on a non-x86-64 host
      const got = walkInRoot(newRoot, path);
      expect(got, `${path} resolves inside the new root`).to.not.equal(null);
      if (got === null) continue;
      expect(got.realPath, path).to.equal(want.realPath);
      expect(got.links, `${path}: the same symlinks, with the same targets`).to.deep.equal(want.links);
      expect(got.hostPath.startsWith(newRoot + '/'), `${path} stays inside`).to.equal(true);
      expect(sha(got.hostPath), path).to.equal(sha(want.hostPath));
    }
    // Every symlink the host has on the way is a symlink in the new root, with the target verbatim.
    const links = manifest.entries.filter((e) => e.kind === 'symlink');
    expect(links.length).to.be.greaterThan(0);
    for (const link of links) {
      expect(lstatSync(join(newRoot, link.path)).isSymbolicLink(), link.path).to.equal(true);
      expect(readlinkSync(join(newRoot, link.path))).to.equal(readlinkSync(link.path));
    }
    // The SONAME link of a library is a relative link to the versioned file, as on the host.
    const soname = links.find((l) => /\/libtinfo\.so\.6$/.test(l.path) || /\/libc\.so\.6$/.test(l.path));
    if (soname) expect(readlinkSync(join(newRoot, soname.path))).to.equal(readlinkSync(soname.path));
    for (const f of manifest.entries.filter((e): e is FileEntry => e.kind === 'file')) {
      const st = lstatSync(join(newRoot, f.path));
      expect(st.isFile(), f.path).to.equal(true);
      expect((st.mode & 0o7777).toString(8), f.path).to.equal((parseInt(f.mode, 8) & 0o1777).toString(8));
    }
  });

  it('runs under chroot', function () {
    if (!isRoot) {
      console.log('      (skipped: chroot needs root)');
      this.skip();
    }
    materialise(manifest, newRoot);
    const ls = spawnSync('chroot', [newRoot, '/bin/ls', '/'], { encoding: 'utf8' });
    expect(ls.status, ls.stderr).to.equal(0);
    expect(ls.stdout.split('\n')).to.include.members(['bin', 'lib64', 'usr']);
    const bash = spawnSync('chroot', [newRoot, '/bin/bash', '-c', 'echo "$BASH_VERSION"; ls /usr/bin'], { encoding: 'utf8' });
    expect(bash.status, bash.stderr).to.equal(0);
    expect(bash.stdout).to.match(/^\d+\.\d+/);
    expect(bash.stdout.split('\n')).to.include.members(['bash', 'ls']);
  });

  it('a second run is a no-op: nothing is rewritten', () => {
    materialise(manifest, newRoot);
    const before = inodes(newRoot);
    const again = materialise(manifest, newRoot);
    expect({ created: again.created, replaced: again.replaced, unchanged: again.unchanged }).to.deep.equal({
      created: 0,
      replaced: 0,
      unchanged: manifest.entries.length,
    });
    expect(inodes(newRoot)).to.deep.equal(before);
  });

  it('--dry-run reports the plan and writes nothing', () => {
    const report = materialise(manifest, newRoot, { dryRun: true });
    expect(existsSync(newRoot)).to.equal(false);
    expect(report.dryRun).to.equal(true);
    expect(report.created).to.equal(manifest.entries.length);
    expect(report.actions.map((a) => a.kind)).to.deep.equal(
      ['directory', 'file', 'generated', 'symlink'].flatMap((k) => report.actions.filter((a) => a.kind === k)).map((a) => a.kind),
    );
    materialise(manifest, newRoot);
    const second = materialise(manifest, newRoot, { dryRun: true });
    expect(second.actions.every((a) => a.op === 'unchanged')).to.equal(true);
  });

  it('--link hard-links the files: the new root shares the host inodes', function () {
    const report = materialise(manifest, newRoot, { link: true });
    const files = manifest.entries.filter((e): e is FileEntry => e.kind === 'file');
    const crossDevice = files.some((f) => statSync(f.source).dev !== statSync(work).dev);
    if (crossDevice) {
      console.log('      (skipped: the temporary directory is on another filesystem than the libraries)');
      this.skip();
    }
    expect(report.created).to.equal(manifest.entries.length);
    for (const f of files) expect(lstatSync(join(newRoot, f.path)).ino, f.path).to.equal(lstatSync(f.source).ino);
    // And a copy over a linked root is a no-op: contents are identical.
    expect(materialise(manifest, newRoot).created).to.equal(0);
  });
});

describe('materialise: modes, conflicts and leftovers', () => {
  let src: string;
  let newRoot: string;
  beforeEach(() => {
    src = join(work, 'src');
    newRoot = join(work, 'root');
    mkdirSync(src);
    writeFileSync(join(src, 'suid'), 'pretend setuid program\n');
    chmodSync(join(src, 'suid'), 0o4755);
    writeFileSync(join(src, 'sgid'), 'pretend setgid program\n');
    chmodSync(join(src, 'sgid'), 0o2711);
    writeFileSync(join(src, 'plain'), 'plain\n');
    chmodSync(join(src, 'plain'), 0o640);
    symlinkSync('plain', join(src, 'link'));
  });
  const mode = (p: string) => (lstatSync(p).mode & 0o7777).toString(8);

  it('keeps modes but drops setuid and setgid unless asked', () => {
    const m = createManifest([], { add: [src] });
    expect(m.entries.find((e) => e.path.endsWith('/suid'))).to.include({ mode: '4755' }); // the manifest says what the host has
    materialise(m, newRoot);
    expect(mode(join(newRoot, src, 'suid'))).to.equal('755');
    expect(mode(join(newRoot, src, 'sgid'))).to.equal('711');
    expect(mode(join(newRoot, src, 'plain'))).to.equal('640');
    expect(readlinkSync(join(newRoot, src, 'link'))).to.equal('plain');
    const kept = join(work, 'kept');
    materialise(m, kept, { keepSetuid: true });
    expect(mode(join(kept, src, 'suid'))).to.equal('4755');
    expect(mode(join(kept, src, 'sgid'))).to.equal('2711');
  });

  it('--link copies (never chmods the host file) when a setuid bit must be dropped', () => {
    const m = createManifest([], { add: [src] });
    const report = materialise(m, newRoot, { link: true });
    expect(lstatSync(join(newRoot, src, 'suid')).ino).to.not.equal(lstatSync(join(src, 'suid')).ino);
    expect(lstatSync(join(newRoot, src, 'plain')).ino).to.equal(lstatSync(join(src, 'plain')).ino);
    expect(mode(join(src, 'suid'))).to.equal('4755'); // the host file is untouched
    expect(report.warnings.join('\n')).to.match(/2 file\(s\) copied instead of hard-linked/);
  });

  it('an existing different file or symlink is a conflict; --force replaces it', () => {
    const m = createManifest([], { add: [src] });
    materialise(m, newRoot);
    const target = join(newRoot, src, 'plain');
    writeFileSync(target, 'changed\n');
    expect(() => materialise(m, newRoot)).to.throw(ElfdepsError, /existing file differs \(8 bytes, manifest says 6\) \(use --force/);
    expect(readFileSync(target, 'utf8')).to.equal('changed\n');
    rmSync(join(newRoot, src, 'link'));
    symlinkSync('/etc/passwd', join(newRoot, src, 'link'));
    const report = materialise(m, newRoot, { force: true });
    expect(report.replaced).to.equal(2);
    expect(readFileSync(target, 'utf8')).to.equal('plain\n');
    expect(readlinkSync(join(newRoot, src, 'link'))).to.equal('plain');
  });

  it('a mode-only difference is a conflict for files, and converges for directories', () => {
    const m = createManifest([], { add: [src] });
    materialise(m, newRoot);
    chmodSync(join(newRoot, src, 'plain'), 0o600);
    expect(() => materialise(m, newRoot)).to.throw(ElfdepsError, /mode 0600, manifest says 0640/);
    chmodSync(join(newRoot, src, 'plain'), 0o640);
    chmodSync(join(newRoot, src), 0o700); // what a killed run leaves behind
    const report = materialise(m, newRoot);
    expect(report.replaced).to.equal(1);
    expect(mode(join(newRoot, src))).to.equal(mode(src));
  });

  it('never creates device nodes or FIFOs: --add skips them with a warning', () => {
    execFileSync('mkfifo', [join(src, 'fifo')]);
    const m = createManifest([], { add: [src, '/dev/null'] });
    expect(m.entries.some((e) => e.path.endsWith('/fifo') || e.path === '/dev/null')).to.equal(false);
    expect(m.warnings.join('\n')).to.match(/fifo: skipped/).and.match(/\/dev\/null: skipped/);
    materialise(m, newRoot);
    expect(existsSync(join(newRoot, src, 'fifo'))).to.equal(false);
    expect(existsSync(join(newRoot, 'dev', 'null'))).to.equal(false);
  });

  it('removes temporaries left by a killed run, but not those of a live writer', () => {
    const m = createManifest([], { add: [src] });
    materialise(m, newRoot);
    const dir = join(newRoot, src);
    const sleeper = spawn('sleep', ['30']);
    try {
      const dead = join(dir, '.elfdeps-tmp-999999999-abcdef-plain');
      const live = join(dir, `.elfdeps-tmp-${sleeper.pid}-abcdef-plain`);
      writeFileSync(dead, 'trunc');
      writeFileSync(live, 'being written');
      const report = materialise(m, newRoot);
      expect(report.staleTempsRemoved).to.equal(1);
      expect(existsSync(dead)).to.equal(false);
      expect(existsSync(live)).to.equal(true);
    } finally {
      sleeper.kill();
    }
  });
});

describe('materialise: a full disk', () => {
  it('stops with COPY_FAILED naming the file, removes its temporary, and leaves no partial file', function () {
    const mnt = join(work, 'small');
    mkdirSync(mnt);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt], { encoding: 'utf8' });
    if (mounted.status !== 0) {
      console.log(`      (skipped: cannot mount a small tmpfs: ${(mounted.stderr || String(mounted.error)).trim()})`);
      this.skip();
    }
    try {
      const manifest = createManifest(['/bin/bash']);
      let error: unknown;
      try {
        materialise(manifest, join(mnt, 'root'));
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(ElfdepsError);
      expect((error as ElfdepsError).code).to.equal('COPY_FAILED');
      expect((error as ElfdepsError).message).to.match(/^\/.*: cannot copy from \/.* \(ENOSPC\)$/);
      const left: string[] = [];
      const visit = (d: string) => {
        for (const name of readdirSync(d)) {
          const p = join(d, name);
          if (lstatSync(p).isDirectory()) visit(p);
          else left.push(p);
        }
      };
      visit(mnt);
      expect(left.filter((p) => p.includes('.elfdeps-tmp-')), 'temporaries').to.deep.equal([]);
      for (const f of manifest.entries.filter((e): e is FileEntry => e.kind === 'file')) {
        const p = join(mnt, 'root', f.path);
        if (existsSync(p)) expect(sha(p), `${f.path} is complete or absent`).to.equal(f.sha256);
      }
    } finally {
      spawnSync('umount', [mnt]);
    }
  });
});

describe('elfdeps copy (CLI)', () => {
  it('copies programs in one go, and a written manifest the same way; --dry-run prints the plan', async function () {
    if (!existsSync('/bin/ls')) {
      console.log('      skipped: this host has no /bin/ls to copy');
      this.skip();
    }
    const a = join(work, 'a');
    const r1 = await cli(['copy', '/bin/ls', a]);
    expect(r1.code, r1.stderr).to.equal(0);
    expect(r1.stdout).to.match(/created, 0 replaced, 0 unchanged/);
    expect(lstatSync(join(a, 'bin')).isSymbolicLink()).to.equal(true);

    const mpath = join(work, 'ls.json');
    const r2 = await cli(['manifest', '/bin/ls', '-o', mpath]);
    expect(r2.code, r2.stderr).to.equal(0);
    const b = join(work, 'b');
    const dry = await cli(['copy', '--dry-run', mpath, b]);
    expect(dry.code).to.equal(0);
    expect(dry.stdout).to.match(/^create +symlink +\/bin -> usr\/bin$/m);
    expect(existsSync(b)).to.equal(false);
    const r3 = await cli(['copy', mpath, b]);
    expect(r3.code, r3.stderr).to.equal(0);
    const r4 = await cli(['copy', '--json', mpath, b]);
    expect(JSON.parse(r4.stdout)).to.include({ created: 0, replaced: 0 });
    // A manifest with a copied file changed on disk is a conflict, exit 2 with one line.
    copyFileSync('/bin/true', join(b, 'usr', 'bin', 'ls'));
    const r5 = await cli(['copy', mpath, b]);
    expect(r5.code).to.equal(2);
    expect(r5.stderr).to.match(/^elfdeps: .*\/usr\/bin\/ls: existing file differs .*--force.*\n$/);
  });

  it('rejects usage errors with exit 2', async () => {
    expect((await cli(['copy'])).code).to.equal(2);
    expect((await cli(['copy', '/bin/ls'])).code).to.equal(2);
    const m = join(work, 'm.json');
    writeFileSync(m, '{}');
    expect((await cli(['copy', m, '/bin/ls', join(work, 'r')])).code).to.equal(2);
    expect((await cli(['copy', '--add', '/etc/hostname', m, join(work, 'r')])).code).to.equal(2);
  });
});

describe('elfdeps copy: the progress line (the shipped CLI)', function () {
  this.timeout(300_000);
  const FILES = 2000; // well above the 500 entries that make a copy show progress
  let dir: string; // not `work`: that one is fresh for each test
  let manifestPath: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-progress-'));
    const many = join(dir, 'many');
    mkdirSync(many);
    for (let i = 0; i < FILES; i++) writeFileSync(join(many, `f${i}`), `file ${i}\n`);
    manifestPath = join(dir, 'many.json');
    writeFileSync(manifestPath, serializeManifest(createManifest([], { add: [many] })));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('shows a progress line on a terminal, ending at every entry done', function () {
    if (spawnSync('script', ['--version']).error !== undefined) {
      console.log('      skipped: script(1) (util-linux) is not installed, so there is no terminal to run the CLI on');
      this.skip();
    }
    const [node, bin] = elfdepsCommand();
    const root = join(work, 'tty-root');
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const command = [node, bin, 'copy', manifestPath, root].map(quote).join(' ');
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { PATH: process.env.PATH, TERM: 'xterm' }, maxBuffer: 64 << 20 });
    expect(r.status, r.stdout).to.equal(0);
    const lines = [...r.stdout.matchAll(/(\d+)\/(\d+) entries, [\d.]+ [KM]iB of [\d.]+ [KM]iB \((\d+)%\)/g)];
    expect(lines.length, `progress on the terminal: ${JSON.stringify(r.stdout.slice(0, 300))}`).to.be.at.least(1);
    const last = lines[lines.length - 1] as RegExpMatchArray;
    expect(last[1], 'the last progress line has every entry done').to.equal(last[2]);
    expect(Number(last[2])).to.be.above(FILES);
    expect(last[3]).to.equal('100');
    // Drawn in place (carriage return, clear line), and cleared before the summary line.
    expect(r.stdout).to.include('\r\x1b[K');
    expect(r.stdout).to.match(/\r\x1b\[K[^\r]*: \d+ created, 0 replaced, 0 unchanged/);
    expect(readdirSync(join(root, dir, 'many'))).to.have.length(FILES);
  });

  it('prints no progress line without a terminal', () => {
    const [node, bin] = elfdepsCommand();
    const root = join(work, 'pipe-root');
    const r = spawnSync(node, [bin, 'copy', manifestPath, root], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(r.stdout).not.to.match(/entries,|\r|\x1b/);
    expect(r.stdout).to.match(/^\/\S*: \d+ created, 0 replaced, 0 unchanged .*\n$/);
    expect(readdirSync(join(root, dir, 'many'))).to.have.length(FILES);
  });
});
