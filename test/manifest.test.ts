/**
 * createManifest() and the manifest format: what the host's loader opens
 * (checked against ldd), as the host has it (symlink chains, directory links,
 * modes, hashes); scripts bring their interpreters; --add; --root for a
 * foreign-architecture image; the schema, shipped and enforced.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.js';
import type { CliIo } from '../src/cli/io.js';
import { ElfdepsError } from '../src/errors.js';
import { createManifest, manifestSchema, serializeManifest, validateManifest, type Manifest } from '../src/manifest/index.js';
import { materialise } from '../src/materialise/index.js';
import { RootFs } from '../src/resolve/rootfs.js';
import { elfdepsCommand } from './helpers/cli.js';
import { walkInRoot, type InRootPath } from './helpers/walk-in-root.js';
import { INTERPRETERS, PLATFORMS, writeElf } from './helpers/elf-writer.js';

const projectDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function lddPaths(program: string): string[] | null {
  const r = spawnSync('ldd', [program], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  const paths: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)/.exec(line);
    if (m) paths.push(m[1] as string);
  }
  return paths;
}

async function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) => ({ write: (s: string | Uint8Array) => (add(String(s)), true) }) as unknown as NodeJS.WritableStream;
  const io: CliIo = { stdout: sink((s) => (stdout += s)), stderr: sink((s) => (stderr += s)), env: {}, cwd };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** Checks that `path`, opened in the manifest's root, is in the manifest exactly as that root has it (walked with node:fs, not RootFs). */
function expectAsOnHost(m: Manifest, path: string): void {
  const byPath = new Map(m.entries.map((e) => [e.path, e]));
  const w = walkInRoot(m.root, path);
  expect(w, `${path} exists in ${m.root}`).to.not.equal(null);
  if (w === null) return;
  for (const link of w.links) expect(byPath.get(link.path), `symlink ${link.path} for ${path}`).to.deep.include({ kind: 'symlink', target: link.target });
  const file = byPath.get(w.realPath);
  expect(file, `${w.realPath} for ${path}`).to.deep.include({ kind: 'file', source: w.hostPath, size: statSync(w.hostPath).size, sha256: sha(w.hostPath) });
  expect(file && 'mode' in file && file.mode).to.equal((statSync(w.hostPath).mode & 0o7777).toString(8).padStart(4, '0'));
  for (let d = dirname(w.realPath); d !== '/'; d = dirname(d)) expect(byPath.get(d)?.kind, `directory ${d}`).to.equal('directory');
}

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'elfdeps-manifest-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('createManifest on the host', () => {
  it('lists what ldd lists for bash and ls, with every symlink and directory on the way', function () {
    const programs = ['/bin/bash', '/bin/ls'];
    const ldd = programs.map(lddPaths);
    if (ldd.some((l) => l === null)) {
      console.log('      (skipped: ldd cannot list /bin/bash and /bin/ls here)');
      this.skip();
    }
    const m = createManifest(programs);
    expect(m.programs.map((p) => [p.path, p.type])).to.deep.equal([
      ['/bin/bash', 'elf'],
      ['/bin/ls', 'elf'],
    ]);
    expect(m.missing).to.deep.equal([]);
    for (const path of [...programs, ...ldd.flat()] as string[]) expectAsOnHost(m, path);
    // Merged /usr: /lib64 is a directory link, kept as one.
    if (lstatSync('/lib64', { throwIfNoEntry: false })?.isSymbolicLink()) {
      expect(m.entries.find((e) => e.path === '/lib64')).to.deep.include({ kind: 'symlink', target: execFileSync('readlink', ['/lib64'], { encoding: 'utf8' }).trim() });
    }
  });

  it('is deterministic: sorted, directories before their contents, independent of input order', () => {
    const a = createManifest(['/bin/ls', '/bin/bash']);
    const b = createManifest(['/bin/bash', '/bin/ls']);
    // The same entries; only their reasons name whichever program needed them first.
    const withoutWhy = (m: typeof a) => m.entries.map(({ why: _why, ...e }) => e);
    expect(withoutWhy(a)).to.deep.equal(withoutWhy(b));
    expect(serializeManifest(a)).to.equal(serializeManifest(createManifest(['/bin/ls', '/bin/bash'])));
    const seen = new Set<string>();
    for (const e of a.entries) {
      for (let d = dirname(e.path); d !== '/'; d = dirname(d)) expect(seen.has(d), `${d} listed before ${e.path}`).to.equal(true);
      seen.add(e.path);
    }
  });

  it('records libraries that cannot be found, and still makes the manifest (CLI: exit 1, manifest written)', async () => {
    const prog = join(work, 'needs-nope');
    writeElf(prog, { ...PLATFORMS.x86_64, type: 'DYN', pie: true, interpreter: INTERPRETERS.x86_64, needed: ['libnope.so.9', 'libc.so.6'] });
    chmodSync(prog, 0o755);
    const m = createManifest([prog]);
    expect(m.missing).to.deep.equal([{ program: prog, name: 'libnope.so.9', neededBy: prog, reason: 'not found' }]);
    expect(m.entries.some((e) => e.path === prog)).to.equal(true);
    const out = join(work, 'm.json');
    const r = await cli(['manifest', prog, '-o', out], work);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('libnope.so.9: not found');
    expect(validateManifest(JSON.parse(readFileSync(out, 'utf8'))).missing).to.have.length(1);
  });

  it('a #! script brings its interpreter, nested interpreters and the program of "env NAME"', () => {
    const s1 = join(work, 's1');
    const s2 = join(work, 's2');
    const s3 = join(work, 's3');
    writeFileSync(s1, '#!/bin/sh -e\necho hi\n', { mode: 0o755 });
    writeFileSync(s2, `#! ${s1}\n`, { mode: 0o755 });
    writeFileSync(s3, '#!/usr/bin/env bash\necho hi\n', { mode: 0o755 });
    const m = createManifest([s2, s3]);
    expect(m.programs.map((p) => [p.path, p.type, p.interpreter])).to.deep.include.members([
      [s2, 'script', s1],
      [s1, 'script', '/bin/sh'],
      [s3, 'script', '/usr/bin/env'],
    ]);
    expect(m.missing).to.deep.equal([]);
    for (const path of [s1, s2, s3, '/bin/sh', '/usr/bin/env']) expectAsOnHost(m, path);
    expect(m.programs.some((p) => p.type === 'elf' && realpathSync(p.path) === realpathSync('/bin/bash'))).to.equal(true);
    for (const lib of lddPaths('/bin/sh') ?? []) expectAsOnHost(m, lib);
  });

  it('more than 4 levels of #! interpreters, or an env NAME not in PATH, is missing', () => {
    let previous = '/bin/sh';
    for (let i = 0; i < 6; i++) {
      const s = join(work, `level${i}`);
      writeFileSync(s, `#!${previous}\n`, { mode: 0o755 });
      previous = s;
    }
    const deep = createManifest([previous]);
    expect(deep.missing.map((x) => x.reason)).to.deep.equal(['more than 4 levels of #! interpreters (ELOOP)']);
    const envScript = join(work, 'env-script');
    writeFileSync(envScript, '#!/usr/bin/env no-such-program-elfdeps\n', { mode: 0o755 });
    const m = createManifest([envScript]);
    expect(m.missing).to.have.length(1);
    expect(m.missing[0]).to.include({ name: 'no-such-program-elfdeps', program: envScript });
    expect(m.missing[0]?.reason).to.match(/not found in PATH/);
  });

  it('an unreadable input throws instead of producing a partial manifest', () => {
    expect(() => createManifest([join(work, 'nothing-here')])).to.throw(ElfdepsError, /nothing-here: No such file or directory \(ENOENT\)/);
    writeFileSync(join(work, 'text'), 'just text\n');
    expect(() => createManifest([join(work, 'text')])).to.throw(ElfdepsError);
  });

  it('--add takes files and directories recursively: symlinks kept (and their files brought), FIFOs skipped', () => {
    const tree = join(work, 'tree');
    const elsewhere = join(work, 'elsewhere');
    mkdirSync(join(tree, 'sub', 'deeper'), { recursive: true });
    mkdirSync(elsewhere);
    writeFileSync(join(tree, 'a.conf'), 'a\n');
    writeFileSync(join(tree, 'sub', 'deeper', 'b'), 'b\n');
    writeFileSync(join(elsewhere, 'target'), 'target\n');
    symlinkSync(join(elsewhere, 'target'), join(tree, 'to-file'));
    symlinkSync(elsewhere, join(tree, 'to-dir'));
    symlinkSync('no-such-file', join(tree, 'dangling'));
    execFileSync('mkfifo', [join(tree, 'fifo')]);
    const m = createManifest([], { add: [tree] });
    const kinds = Object.fromEntries(m.entries.filter((e) => e.path.startsWith(work + '/')).map((e) => [e.path.slice(work.length), e.kind]));
    expect(kinds).to.deep.equal({
      '/elsewhere': 'directory',
      '/elsewhere/target': 'file',
      '/tree': 'directory',
      '/tree/a.conf': 'file',
      '/tree/dangling': 'symlink',
      '/tree/sub': 'directory',
      '/tree/sub/deeper': 'directory',
      '/tree/sub/deeper/b': 'file',
      '/tree/to-dir': 'symlink',
      '/tree/to-file': 'symlink',
    });
    expect(m.added).to.deep.equal([tree]);
    expect(m.warnings).to.deep.equal([`${tree}/fifo: skipped (device node, FIFO or socket)`]);
  });
});

describe('RootFs.walk: directories looked up on the way', () => {
  it('names every directory the walk looks up, including ones a later ".." leaves', () => {
    const root = mkdtempSync(join(tmpdir(), 'elfdeps-walkdirs-'));
    try {
      for (const d of ['opt/app/bin', 'opt/app/lib', 'usr/lib/x86_64-linux-gnu', 'usr/lib64', 'usr/lib/x', 'work/bin']) mkdirSync(join(root, d), { recursive: true });
      for (const f of ['opt/app/lib/libx.so', 'usr/lib/x86_64-linux-gnu/libc.so.6', 'usr/lib/x/ld.so', 'work/bin/tool']) writeFileSync(join(root, f), '');
      symlinkSync('usr/lib', join(root, 'lib'));
      symlinkSync('usr/lib64', join(root, 'lib64'));
      symlinkSync('/lib/x/ld.so', join(root, 'usr/lib64/ld.so'));
      const fs = new RootFs(root);
      expect(fs.walk('/opt/app/bin/../lib/libx.so').dirs).to.deep.equal(['/opt', '/opt/app', '/opt/app/bin', '/opt/app/lib']);
      expect(fs.walk('/lib/x86_64-linux-gnu/libc.so.6').dirs).to.deep.equal(['/usr', '/usr/lib', '/usr/lib/x86_64-linux-gnu']);
      const ld = fs.walk('/lib64/ld.so');
      expect(ld.links).to.deep.equal([
        { path: '/lib64', target: 'usr/lib64' },
        { path: '/usr/lib64/ld.so', target: '/lib/x/ld.so' },
        { path: '/lib', target: 'usr/lib' },
      ]);
      expect(ld.dirs).to.deep.equal(['/usr', '/usr/lib64', '/usr/lib', '/usr/lib/x']);
      expect(fs.walk('bin/tool', '/work').dirs).to.deep.equal(['/work', '/work/bin']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('createManifest --root: a root for another architecture', () => {
  it('takes everything from the image, keeps its links verbatim, and materialises to the same layout', () => {
    const image = join(work, 'image');
    const p = PLATFORMS.aarch64;
    const A = 'usr/lib/aarch64-linux-gnu';
    for (const d of ['usr/bin', A]) mkdirSync(join(image, d), { recursive: true });
    symlinkSync('usr/bin', join(image, 'bin'));
    symlinkSync('usr/lib', join(image, 'lib'));
    writeElf(join(image, A, 'ld-linux-aarch64.so.1'), { ...p, type: 'DYN', soname: 'ld-linux-aarch64.so.1' });
    // Absolute, as Debian ships it: resolves inside the image, never to the host's /lib.
    symlinkSync('/lib/aarch64-linux-gnu/ld-linux-aarch64.so.1', join(image, 'usr/lib/ld-linux-aarch64.so.1'));
    writeElf(join(image, A, 'libc.so.6'), { ...p, type: 'DYN', soname: 'libc.so.6', interpreter: INTERPRETERS.aarch64 });
    writeElf(join(image, A, 'libfoo.so.1.2.3'), { ...p, type: 'DYN', soname: 'libfoo.so.1', needed: ['libc.so.6'] });
    symlinkSync('libfoo.so.1.2.3', join(image, A, 'libfoo.so.1'));
    writeElf(join(image, 'usr/bin/prog'), { ...p, type: 'DYN', pie: true, interpreter: INTERPRETERS.aarch64, needed: ['libfoo.so.1', 'libc.so.6'] });

    const m = createManifest(['/bin/prog'], { root: image });
    expect(m.root).to.equal(image);
    expect(m.missing).to.deep.equal([]);
    expect(m.programs).to.deep.equal([{ input: '/bin/prog', path: '/bin/prog', type: 'elf', interpreter: '/lib/ld-linux-aarch64.so.1' }]);
    for (const e of m.entries) if (e.kind === 'file') expect(e.source.startsWith(image + '/'), e.source).to.equal(true);
    for (const path of ['/bin/prog', '/lib/ld-linux-aarch64.so.1', '/lib/aarch64-linux-gnu/libfoo.so.1', '/lib/aarch64-linux-gnu/libc.so.6']) expectAsOnHost(m, path);

    const newRoot = join(work, 'newroot');
    materialise(m, newRoot);
    for (const path of ['/bin/prog', '/lib/ld-linux-aarch64.so.1', '/lib/aarch64-linux-gnu/libfoo.so.1']) {
      const want = walkInRoot(image, path);
      const got = walkInRoot(newRoot, path);
      expect(got && { realPath: got.realPath, links: got.links }, path).to.deep.equal(want && { realPath: want.realPath, links: want.links });
      expect(sha((got as InRootPath).hostPath)).to.equal(sha((want as InRootPath).hostPath));
    }
  });
});

describe('the manifest schema', () => {
  it('ships as a file the package exports, and other validators accept what we write', () => {
    const pkg = JSON.parse(readFileSync(join(projectDir, 'package.json'), 'utf8'));
    const exported = pkg.exports['./manifest.schema.json'] as string;
    expect(exported).to.equal('./dist/src/manifest/manifest.schema.json');
    const source = join(projectDir, exported.replace('./dist/', ''));
    expect(JSON.parse(readFileSync(source, 'utf8'))).to.deep.equal(manifestSchema);
    // A consumer's own ajv, with default options, compiles the schema and accepts a real manifest.
    const require = createRequire(import.meta.url);
    const { Ajv2020 } = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js');
    const validate = new Ajv2020({ strict: false }).compile(manifestSchema);
    const m = JSON.parse(serializeManifest(createManifest(['/bin/ls'])));
    expect(validate(m), JSON.stringify(validate.errors)).to.equal(true);
    expect(validate({ ...m, extra: 1 })).to.equal(false);
  });

  it('is validated on write too: a manifest built in code with a bad entry cannot be serialised', () => {
    const m = createManifest(['/bin/ls']);
    const bad = { ...m, entries: [...m.entries, { kind: 'symlink', path: '/x/../y', target: 'z' }] } as Manifest;
    expect(() => serializeManifest(bad)).to.throw(ElfdepsError, /"\.\." component/);
  });

  it('ajv is loaded only when a manifest is validated, never by importing the library', () => {
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(${JSON.stringify(join(projectDir, 'x.js'))});
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/ajv/'));
      const manifest = await import(${JSON.stringify(join(projectDir, 'src/manifest/index.ts'))});
      await import(${JSON.stringify(join(projectDir, 'src/materialise/index.ts'))});
      const before = loaded();
      try { manifest.validateManifest({}); } catch {}
      console.log(JSON.stringify({ before, after: loaded() }));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: projectDir, encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ before: false, after: true });
  });
});

describe('elfdeps manifest (CLI)', () => {
  it('writes the manifest to stdout or -o, and rejects usage errors', async () => {
    const r = await cli(['manifest', '/bin/ls'], work);
    expect(r.code, r.stderr).to.equal(0);
    const m = validateManifest(JSON.parse(r.stdout));
    expect(m.programs[0]?.path).to.equal('/bin/ls');
    const r2 = await cli(['manifest', '/bin/ls', '--add', '/etc/hostname', '-o', 'out.json'], work);
    expect(r2.code, r2.stderr).to.equal(0);
    const written = validateManifest(JSON.parse(readFileSync(join(work, 'out.json'), 'utf8')));
    if (existsSync('/etc/hostname')) expect(written.added).to.deep.equal(['/etc/hostname']);
    expect((await cli(['manifest'], work)).code).to.equal(2);
    expect((await cli(['manifest', '--bogus', '/bin/ls'], work)).code).to.equal(2);
    const missing = await cli(['manifest', join(work, 'absent')], work);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.match(/^elfdeps: .*absent: No such file or directory \(ENOENT\)\n$/);
  });
});

describe('elfdeps manifest -o FILE (the shipped CLI)', () => {
  /** Runs the package's bin; `elfdeps manifest /bin/ls -o OUT`. */
  function writeTo(out: string): { status: number | null; stdout: string; stderr: string } {
    const [node, bin] = elfdepsCommand();
    const r = spawnSync(node, [bin, 'manifest', '/bin/ls', '-o', out], { cwd: work, encoding: 'utf8', env: { PATH: process.env.PATH } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  /** Exit 2 and exactly one line, naming OUT and never the temporary name. */
  function expectRefused(r: { status: number | null; stdout: string; stderr: string }, out: string, what: RegExp): void {
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stdout).to.equal('');
    expect(r.stderr.split('\n')).to.have.length(2); // one line and its newline
    expect(r.stderr.startsWith(`elfdeps: ${out}: `), r.stderr).to.equal(true);
    expect(r.stderr).to.match(what);
    expect(r.stderr).not.to.include('elfdeps-tmp');
  }
  const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.includes('elfdeps-tmp'));

  it('replaces a regular file atomically and leaves no temporary', () => {
    const out = join(work, 'm.json');
    writeFileSync(out, 'old contents\n');
    const r = writeTo(out);
    expect(r.status, r.stderr).to.equal(0);
    expect(validateManifest(JSON.parse(readFileSync(out, 'utf8'))).programs[0]?.path).to.equal('/bin/ls');
    expect(leftovers(work)).to.deep.equal([]);
  });

  it('writes into a FIFO (a reader gets the manifest) and leaves it a FIFO', () => {
    const out = join(work, 'fifo');
    const got = join(work, 'from-fifo.json');
    execFileSync('mkfifo', [out]);
    // A shell reads the FIFO while the CLI writes it; both are children, so nothing blocks this process.
    const [node, bin] = elfdepsCommand();
    const r = spawnSync('sh', ['-c', 'cat "$1" > "$2" & "$3" "$4" manifest /bin/ls -o "$1"; s=$?; wait; exit $s', 'sh', out, got, node, bin], { encoding: 'utf8', timeout: 60000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(validateManifest(JSON.parse(readFileSync(got, 'utf8'))).programs[0]?.path).to.equal('/bin/ls');
    expect(lstatSync(out).isFIFO()).to.equal(true);
    expect(leftovers(work)).to.deep.equal([]);
  });

  it('writes to /dev/null directly (no temporary beside it), status 0', () => {
    const r = writeTo('/dev/null');
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(statSync('/dev/null').isCharacterDevice()).to.equal(true);
    expect(readdirSync('/dev').filter((n) => n.includes('elfdeps-tmp'))).to.deep.equal([]);
  });

  it('refuses a symlink and leaves it pointing where it did, its target untouched', () => {
    const target = join(work, 'real.json');
    writeFileSync(target, 'keep\n');
    const out = join(work, 'link.json');
    symlinkSync(target, out);
    expectRefused(writeTo(out), out, /is a symlink \(-> .*real\.json\); refusing/);
    expect(lstatSync(out).isSymbolicLink()).to.equal(true);
    expect(readlinkSync(out)).to.equal(target);
    expect(readFileSync(target, 'utf8')).to.equal('keep\n');
    expect(leftovers(work)).to.deep.equal([]);
  });

  it('refuses a directory, and writes nothing into it', () => {
    const out = join(work, 'dir');
    mkdirSync(out);
    expectRefused(writeTo(out), out, /is a directory; refusing/);
    expect(readdirSync(out)).to.deep.equal([]);
    expect(leftovers(work)).to.deep.equal([]);
  });

  it('writes to a character device without replacing it (as root; -o /dev/null must never replace the host\'s)', function () {
    const out = join(work, 'null');
    const made = spawnSync('mknod', [out, 'c', '1', '3'], { encoding: 'utf8' });
    if (made.status !== 0) {
      console.log(`      skipped: cannot make a device node here (${(made.stderr || String(made.error)).trim()})`);
      this.skip();
    }
    const r = writeTo(out);
    expect(r.status, r.stderr).to.equal(0);
    expect(lstatSync(out).isCharacterDevice()).to.equal(true);
    expect(leftovers(work)).to.deep.equal([]);
  });

  it('a missing parent directory is one line naming FILE, not the temporary', () => {
    const out = join(work, 'no', 'such', 'dir', 'x.json');
    expectRefused(writeTo(out), out, /cannot write the manifest: directory .*\/no\/such\/dir: No such file or directory \(ENOENT\)$/m);
    expect(existsSync(join(work, 'no'))).to.equal(false);
  });
});
