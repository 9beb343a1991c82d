/**
 * The edges a careful user finds (issue 12): one status per verdict whatever
 * the format, one-line messages with one wording per cause, NEWROOT's parent,
 * dry runs that show every conflict, --link checked before writing, terminal
 * safety, the --tree layout and the small conveniences. Every test runs the
 * shipped CLI (the bundle `npm test` builds) and computes its expectation from
 * the system (ldd, node:fs, the kernel), not from elfdeps' own code.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElfdepsError } from '../src/errors.js';
import { main } from '../src/cli/main.js';
import { materialise } from '../src/materialise/index.js';
import { elfdepsCommand, elfdepsCommandCopiedTo } from './helpers/cli.js';
import { PLATFORMS, writeElf } from './helpers/elf-writer.js';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function elfdeps(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Run {
  const [node, bin] = elfdepsCommand();
  const r = spawnSync(node, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ...options.env }, input: options.input, cwd: options.cwd, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exactly one line on stderr, with the one prefix. */
function oneLine(r: Run): string {
  const lines = r.stderr.split('\n');
  expect(lines, r.stderr).to.have.length(2);
  expect(lines[1]).to.equal('');
  expect(lines[0]).to.match(/^elfdeps: /);
  return lines[0] as string;
}

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'elfdeps-edges-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('issue 12: the 32-bit vDSO line (item 1)', function () {
  this.timeout(60000);
  it('an i386 library gets the vDSO line ldd prints for it on this kernel', function () {
    const lib = '/usr/lib32/libm.so.6';
    if (!existsSync(lib) || !existsSync('/usr/bin/ldd')) {
      console.log(`      skipped: ${lib} or ldd is not installed`);
      this.skip();
    }
    // ldd runs the i386 loader here only where the kernel runs i386 programs: its answer is the oracle.
    const ldd = spawnSync('ldd', [lib], { encoding: 'utf8' });
    if (ldd.status !== 0) {
      console.log(`      skipped: this kernel does not run i386 programs (ldd: ${ldd.stderr.trim()})`);
      this.skip();
    }
    const expected = ldd.stdout
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.replace(/ \(0x[0-9a-f]+\)$/, ''));
    const r = elfdeps(['--ldd', lib]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trimEnd().split('\n')).to.deep.equal(expected);
    // /proc/sys/abi/vsyscall32 decides it (arch/x86/entry/vdso/vdso32-setup.c): read here independently.
    const mapped = existsSync('/proc/sys/abi/vsyscall32') && readFileSync('/proc/sys/abi/vsyscall32', 'latin1').trim() === '1';
    expect(expected.includes('\tlinux-gate.so.1'), 'ldd agrees with vsyscall32').to.equal(mapped);
  });
});

describe('issue 12: one exit status per verdict (item 2)', function () {
  this.timeout(60000);
  it('a static FILE exits 1 with --ldd, --tree and --json alike', () => {
    const prog = join(work, 'static');
    writeElf(prog, { ...PLATFORMS.x86_64, type: 'EXEC', noDynamic: true });
    // ldd's own status for a static program, where there is one to compare with.
    if (existsSync('/bin/busybox')) expect(spawnSync('ldd', ['/bin/busybox']).status).to.equal(1);
    const statuses = ['--ldd', '--tree', '--json'].map((f) => elfdeps([f, prog]).status);
    expect(statuses).to.deep.equal([1, 1, 1]);
  });
});

describe('issue 12: copy and NEWROOT (items 3, 4, 5)', function () {
  this.timeout(120000);

  it('creates NEWROOT, but not its missing parents (exit 2, nothing made)', () => {
    const parent = join(work, 'no-such-parent');
    const r = elfdeps(['copy', '/bin/true', join(parent, 'x', 'y')]);
    expect(r.status).to.equal(2);
    expect(oneLine(r)).to.include(`${parent}/x: No such file or directory (ENOENT)`);
    expect(existsSync(parent)).to.equal(false);
    // NEWROOT itself may be created.
    const ok = elfdeps(['copy', '-q', '/bin/true', join(work, 'fresh')]);
    expect(ok.status, ok.stderr).to.equal(0);
    expect(statSync(join(work, 'fresh')).isDirectory()).to.equal(true);
  });

  it('--root= (empty) is a usage error, not the current directory', () => {
    for (const args of [['--root=', '/bin/true'], ['manifest', '--root=', '/bin/true'], ['copy', '--root=', '/bin/true', join(work, 'r')]]) {
      const r = elfdeps(args, { cwd: '/' });
      expect(r.status, args.join(' ')).to.equal(2);
      expect(oneLine(r)).to.include('--root');
      expect(r.stdout).to.equal('');
    }
  });

  it('copy --dry-run with conflicts prints the whole plan, every conflict marked, exit 2', () => {
    const root = join(work, 'root');
    const first = elfdeps(['copy', '-q', '/bin/true', root]);
    expect(first.status, first.stderr).to.equal(0);
    // Two conflicts: the program and the loader's file replaced by other contents.
    const manifest = JSON.parse(elfdeps(['manifest', '/bin/true']).stdout) as { entries: Array<{ kind: string; path: string }> };
    const files = manifest.entries.filter((e) => e.kind === 'file').map((e) => e.path);
    expect(files.length).to.be.at.least(2);
    for (const f of files.slice(0, 2)) writeFileSync(join(root, f), 'not the same\n');
    const r = elfdeps(['copy', '--dry-run', '/bin/true', root]);
    expect(r.status, r.stderr).to.equal(2);
    // The summary lines (what would be written, what each rule added) name the root.
    const plan = r.stdout.trimEnd().split('\n').filter((l) => !l.startsWith(`${root}: `));
    expect(plan).to.have.length(manifest.entries.filter((e) => e.path !== '/').length);
    const conflicts = plan.filter((l) => l.startsWith('conflict '));
    expect(conflicts.map((l) => l.split(/\s+/)[2]).sort()).to.deep.equal(files.slice(0, 2).sort());
    expect(oneLine(r)).to.match(/2 conflict\(s\)/);
    // Nothing was written: the two files still hold what was put there.
    for (const f of files.slice(0, 2)) expect(readFileSync(join(root, f), 'utf8')).to.equal('not the same\n');
  });

  it('--link across filesystems is refused before anything is written', function () {
    const shm = '/dev/shm';
    if (!existsSync(shm) || statSync(shm).dev === statSync('/bin/true').dev) {
      console.log('      skipped: no second filesystem (/dev/shm) here');
      this.skip();
    }
    const shmWork = mkdtempSync(join(shm, 'elfdeps-edges-'));
    try {
      const root = join(shmWork, 'root');
      const r = elfdeps(['copy', '--link', '/bin/true', root]);
      expect(r.status).to.equal(2);
      expect(oneLine(r)).to.match(/--link needs the new root on the same filesystem as .*\(EXDEV\)$/);
      expect(existsSync(root), 'NEWROOT not even created').to.equal(false);
    } finally {
      rmSync(shmWork, { recursive: true, force: true });
    }
  });

  it('--link says how many files it hard-linked, not "written"', () => {
    const root = join(work, 'linked');
    const r = elfdeps(['copy', '--link', '--no-package-metadata', '/bin/true', root]);
    expect(r.status, r.stderr).to.equal(0);
    const manifest = JSON.parse(elfdeps(['manifest', '--no-package-metadata', '/bin/true']).stdout) as { entries: Array<{ kind: string; path: string; source?: string }> };
    const files = manifest.entries.filter((e) => e.kind === 'file');
    const linked = files.filter((e) => statSync(join(root, e.path)).ino === statSync(e.source as string).ino).length;
    expect(linked).to.be.above(0);
    expect(r.stdout).to.include(`0 KiB written, ${linked} file(s) hard-linked`);
  });

  it('a copy aborted on a hash mismatch leaves no directory at a temporary mode', () => {
    const src = join(work, 'payload');
    writeFileSync(src, 'payload\n');
    const root = join(work, 'aborted');
    const manifest = {
      elfdepsManifest: 1,
      root: '/',
      programs: [],
      added: [],
      missing: [],
      warnings: [],
      entries: [
        { kind: 'directory', path: '/etc', mode: '0755' },
        { kind: 'directory', path: '/etc/deep', mode: '0750' },
        { kind: 'file', path: '/etc/deep/x', source: src, mode: '0644', size: 8, sha256: sha('PAYLOAD\n') },
      ],
    };
    expect(() => materialise(manifest, root)).to.throw(ElfdepsError, /changed since the manifest was made/);
    expect(statSync(join(root, 'etc')).mode & 0o7777).to.equal(0o755);
    expect(statSync(join(root, 'etc', 'deep')).mode & 0o7777).to.equal(0o750);
  });
});

describe('issue 12: messages (item 6)', function () {
  this.timeout(60000);

  it('ENOENT and EACCES have one wording, human words first, wherever a file cannot be opened', () => {
    const absent = join(work, 'absent');
    for (const args of [[absent], ['manifest', absent], ['copy', absent, join(work, 'r')]]) {
      const r = elfdeps(args);
      expect(r.status, args.join(' ')).to.equal(2);
      expect(oneLine(r)).to.equal(`elfdeps: ${absent}: No such file or directory (ENOENT)`);
    }
    const json = join(work, 'absent.json');
    expect(oneLine(elfdeps(['copy', json, join(work, 'r')]))).to.equal(`elfdeps: ${json}: cannot open manifest: No such file or directory (ENOENT)`);
  });

  it('EACCES reads "Permission denied (EACCES)" (checked as nobody)', function () {
    if (process.getuid?.() !== 0) {
      console.log('      skipped: needs root to run as nobody');
      this.skip();
    }
    const secret = join(work, 'secret');
    writeFileSync(secret, 'x', { mode: 0o600 });
    execFileSync('chmod', ['755', work]);
    // nobody may not be able to read the checkout (a private clone; .ci/run makes it so): a copy of the bundle in the work directory.
    const [node, bin] = elfdepsCommandCopiedTo(work);
    const r = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', node, bin, secret], { encoding: 'utf8' });
    if (r.error || /setpriv:/.test(r.stderr)) {
      console.log(`      skipped: setpriv cannot run as nobody (${r.stderr.trim() || String(r.error)})`);
      this.skip();
    }
    expect(oneLine({ status: r.status, stdout: r.stdout, stderr: r.stderr })).to.equal(`elfdeps: ${secret}: Permission denied (EACCES)`);
  });

  it('an unknown option: one line, balanced quotes, the help to try', () => {
    for (const [args, help] of [
      [['--frob', '/bin/true'], 'elfdeps --help'],
      [['manifest', '--frob', '/bin/true'], 'elfdeps manifest --help'],
      [['copy', '--frob', '/bin/true', 'x'], 'elfdeps copy --help'],
    ] as const) {
      const r = elfdeps([...args]);
      expect(r.status).to.equal(2);
      expect(oneLine(r)).to.equal(`elfdeps: unknown option '--frob' (try '${help}')`);
    }
  });

  it('a bad manifest: one line', () => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, '{\n  "entries": [\n    x\n');
    const r = elfdeps(['copy', bad, join(work, 'r')]);
    expect(r.status).to.equal(2);
    expect(oneLine(r)).to.match(/bad\.json: not JSON/);
  });

  it('a truncated ELF gives its offset once', () => {
    const trunc = join(work, 'trunc');
    writeFileSync(trunc, readFileSync('/bin/true').subarray(0, 100));
    const line = oneLine(elfdeps([trunc]));
    expect(line.match(/0x40/g) ?? [], line).to.have.length(1);
  });

  it('a #! script says it is a script for its interpreter; short and long text files get one diagnosis', () => {
    const script = join(work, 's.sh');
    writeFileSync(script, '#!/bin/sh -e\necho hi\n', { mode: 0o755 });
    expect(oneLine(elfdeps([script]))).to.equal(`elfdeps: ${script}: a script for /bin/sh (#!), not an ELF file`);
    const short = join(work, 'short');
    const long = join(work, 'long');
    writeFileSync(short, 'hi\n');
    writeFileSync(long, 'hi\n'.repeat(1000));
    const a = oneLine(elfdeps([short])).replace(short, 'FILE');
    const b = oneLine(elfdeps([long])).replace(long, 'FILE');
    expect(a).to.equal(b);
  });

  it('errors of every verb have the one prefix "elfdeps:"', () => {
    const r = elfdeps(['run', join(work, 'none'), '/bin/true']);
    expect(oneLine(r)).to.match(/^elfdeps: .*none/);
    const m = elfdeps(['manifest']);
    expect(oneLine(m)).to.match(/^elfdeps: no FILE given/);
  });
});


describe('issue 12: run pre-checks the command (item 7)', function () {
  this.timeout(120000);
  let root: string;

  before(function () {
    root = mkdtempSync(join(tmpdir(), 'elfdeps-edges-run-'));
    const copied = elfdeps(['copy', '-q', '/usr/bin/env', '/bin/sh', root]);
    expect(copied.status, copied.stderr).to.equal(0);
    // Whether a command can be run in a root here at all: chroot as root, else a user namespace.
    const probe = spawnSync(process.getuid?.() === 0 ? 'chroot' : 'unshare', process.getuid?.() === 0 ? [root, '/usr/bin/env'] : ['--user', '--map-root-user', 'chroot', root, '/usr/bin/env'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.log(`      skipped: cannot run a command in a new root here (${(probe.stderr || String(probe.error)).trim()})`);
      this.skip();
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('an executable that is neither ELF nor #!, or a truncated ELF: 126 and one line of its own', () => {
    writeFileSync(join(root, 'text'), 'just text\n', { mode: 0o755 });
    writeFileSync(join(root, 'trunc'), readFileSync('/usr/bin/env').subarray(0, 100), { mode: 0o755 });
    const text = elfdeps(['run', root, '/text']);
    expect(text.status).to.equal(126);
    expect(oneLine(text)).to.match(/\/text: cannot execute in .*: neither an ELF file nor a #! script/);
    const trunc = elfdeps(['run', root, '/trunc']);
    expect(trunc.status).to.equal(126);
    expect(oneLine(trunc)).to.match(/\/trunc: cannot execute in .*: program header table lies outside the file/);
  });

  it('LANG and LC_* go in only where the root has that locale', () => {
    const env = { LANG: 'en_US.UTF-8', LC_ALL: 'C', LC_TIME: 'de_DE.UTF-8' };
    const before = elfdeps(['run', root, '/usr/bin/env'], { env });
    expect(before.status, before.stderr).to.equal(0);
    const vars = (out: string) => out.split('\n').filter((l) => /^(LANG|LC_[A-Z]+)=/.test(l)).sort();
    expect(vars(before.stdout)).to.deep.equal(['LC_ALL=C']);
    // glibc finds en_US.UTF-8 as /usr/lib/locale/en_US.utf8 (its codeset normalised).
    mkdirSync(join(root, 'usr/lib/locale/en_US.utf8'), { recursive: true });
    const after = elfdeps(['run', root, '/usr/bin/env'], { env });
    expect(vars(after.stdout)).to.deep.equal(['LANG=en_US.UTF-8', 'LC_ALL=C']);
    rmSync(join(root, 'usr/lib/locale'), { recursive: true });
  });

  it('a command that fails on /dev/null in a root without one gets a hint about --dev', async () => {
    expect(existsSync(join(root, 'dev/null'))).to.equal(false);
    // In process, run() captures the command's stderr: the hint follows what the command said.
    const inProcess = async (args: string[]) => {
      let stderr = '';
      const sink = (add: (s: string) => void) => ({ write: (s: string | Uint8Array) => (add(String(s)), true) }) as unknown as NodeJS.WritableStream;
      const code = await main(args, { stdout: sink(() => {}), stderr: sink((s) => (stderr += s)), env: { PATH: process.env.PATH }, cwd: '/' });
      return { code, stderr };
    };
    const r = await inProcess(['run', root, '/bin/sh', '-c', 'exec < /dev/null']);
    expect(r.code).to.be.within(1, 125);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('elfdeps: hint: '))).to.have.length(1);
    expect(r.stderr).to.include('--dev');
    // A failure that has nothing to do with /dev/null gets no hint, nor does success.
    expect((await inProcess(['run', root, '/bin/sh', '-c', 'exit 3'])).stderr).to.equal('');
    expect((await inProcess(['run', root, '/bin/sh', '-c', 'exit 0'])).stderr).to.equal('');
  });
});

describe('issue 12: a preload that cannot be loaded (item 8)', function () {
  this.timeout(60000);
  it('prints the loader\'s own ERROR line on stderr, as ldd shows it, and the list', function () {
    if (!existsSync('/usr/bin/ldd')) {
      console.log('      skipped: ldd is not installed');
      this.skip();
    }
    const missing = join(work, 'libnone.so');
    const ldd = spawnSync('ldd', ['/bin/true'], { encoding: 'utf8', env: { PATH: process.env.PATH, LD_PRELOAD: missing } });
    const expected = ldd.stderr.split('\n').filter((l) => l.startsWith('ERROR: ld.so: '));
    expect(expected).to.have.length(1);
    for (const format of ['--ldd', '--tree']) {
      const r = elfdeps([format, '--preload', missing, '/bin/true']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr.split('\n').filter((l) => l !== '')).to.deep.equal(expected);
      expect(r.stdout).to.include('libc.so.6');
    }
  });
});

describe('issue 12: terminal safety (item 9)', function () {
  this.timeout(60000);
  const ESC_TITLE = '\x1b]0;owned\x07';
  /** No control character but tab and newline, and the escape shown as text. */
  function safe(text: string): void {
    // eslint-disable-next-line no-control-regex
    expect(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(text), JSON.stringify(text)).to.equal(false);
  }

  it('a DT_NEEDED, RPATH and file name with control characters are escaped in --ldd, --tree, --elf, copy --dry-run and errors', () => {
    const prog = join(work, `evil${ESC_TITLE}`);
    writeElf(prog, { ...PLATFORMS.x86_64, type: 'DYN', pie: true, interpreter: '/lib64/ld-linux-x86-64.so.2', needed: [`libx${ESC_TITLE}.so`, 'libc.so.6'], rpath: `/r\n${ESC_TITLE}` });
    const outputs = [elfdeps(['--ldd', prog]), elfdeps(['--tree', prog]), elfdeps(['--elf', prog]), elfdeps(['--ldd', prog, '/bin/true']), elfdeps(['copy', '--dry-run', prog, join(work, 'r')])];
    for (const r of outputs) {
      safe(r.stdout);
      safe(r.stderr);
    }
    // The names are still there, readable.
    expect(outputs[0]?.stdout).to.include('libx\\x1b]0;owned\\x07.so => not found');
    expect(outputs[2]?.stdout).to.include('rpath:       /r\\x0a\\x1b]0;owned\\x07');
    // An error naming the file: one line.
    const absent = join(work, `gone\n${ESC_TITLE}`);
    const err = elfdeps([absent]);
    safe(err.stderr);
    expect(oneLine(err)).to.include('gone\\x0a\\x1b]0;owned\\x07: No such file or directory (ENOENT)');
  });

  it('--json keeps the bytes (JSON escapes them itself)', () => {
    const prog = join(work, 'p');
    writeElf(prog, { ...PLATFORMS.x86_64, type: 'DYN', pie: true, interpreter: '/lib64/ld-linux-x86-64.so.2', needed: [`liby${ESC_TITLE}.so`, 'libc.so.6'] });
    const r = elfdeps(['--json', prog]);
    safe(r.stdout);
    expect(JSON.stringify(JSON.parse(r.stdout))).to.include(JSON.stringify(`liby${ESC_TITLE}.so`).slice(1, -1));
  });
});

describe('issue 12: --tree shows each subtree once, top to bottom (item 10)', function () {
  this.timeout(60000);
  /** The library paths ldd lists for a program (not the vDSO). */
  function lddPaths(program: string): string[] {
    const out = execFileSync('ldd', [program], { encoding: 'utf8' });
    return [...new Set(out.split('\n').flatMap((l) => /(?:=> )?(\/\S+) \(0x/.exec(l)?.[1] ?? []))];
  }
  interface TreeLine {
    depth: number;
    path: string;
    tag: string;
  }
  function parseTree(stdout: string): TreeLine[] {
    return stdout
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => {
        const m = /^((?:│   |    )*)[├└]── (\S+)(?: => (\S+))? \[([^\]]+)\]/.exec(l);
        expect(m, l).to.not.equal(null);
        return { depth: (m?.[1]?.length ?? 0) / 4, path: m?.[3] ?? m?.[2] ?? '', tag: m?.[4] ?? '' };
      });
  }
  const programs = ['/usr/bin/ssh', '/usr/bin/curl', '/bin/ls'].filter((p) => existsSync(p));

  it('every library of ldd is in the tree; its first mention says how it was found and carries its subtree; later ones are "already loaded" and bare', function () {
    if (programs.length === 0 || !existsSync('/usr/bin/ldd')) this.skip();
    for (const program of programs) {
      const lines = parseTree(elfdeps(['--tree', program]).stdout);
      const real = (p: string) => execFileSync('realpath', [p], { encoding: 'utf8' }).trim();
      expect([...new Set(lines.map((l) => real(l.path)))].sort(), program).to.deep.equal([...new Set(lddPaths(program).map(real))].sort());
      const seen = new Set<string>();
      lines.forEach((l, i) => {
        const hasChildren = (lines[i + 1]?.depth ?? -1) > l.depth;
        if (!seen.has(l.path)) {
          expect(l.tag, `${program}: first mention of ${l.path}`).to.not.equal('already loaded');
          seen.add(l.path);
        } else {
          expect(l.tag, `${program}: later mention of ${l.path}`).to.equal('already loaded');
          expect(hasChildren, `${program}: ${l.path} expanded twice`).to.equal(false);
        }
      });
    }
  });

  it('--all expands every mention; several FILEs name each program once', function () {
    if (programs.length === 0) this.skip();
    const program = programs[0] as string;
    const once = parseTree(elfdeps(['--tree', program]).stdout);
    const all = parseTree(elfdeps(['--tree', '--all', program]).stdout);
    const expanded = (lines: TreeLine[], i: number) => (lines[i + 1]?.depth ?? -1) > (lines[i] as TreeLine).depth;
    const withDeps = new Set(once.filter((_, i) => expanded(once, i)).map((l) => l.path));
    // Each mention of a library that has dependencies has them under it in the full tree.
    all.forEach((l, i) => {
      if (withDeps.has(l.path)) expect(expanded(all, i), `${l.path} at line ${i} expanded`).to.equal(true);
    });
    expect(all.length).to.be.above(once.length);
    const two = elfdeps(['--tree', '/bin/true', program]).stdout.split('\n');
    expect(two.filter((l) => l.startsWith('/bin/true')).length).to.equal(1);
    expect(two.filter((l) => l === '/bin/true:' || l === `${program}:`)).to.deep.equal([]);
    expect(two.filter((l) => l.startsWith(`${program} [`)).length).to.equal(1);
  });
});

describe('issue 12: small conveniences (item 11)', function () {
  this.timeout(60000);

  it('--version prints package.json\'s version', () => {
    const version = (JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
    for (const flag of ['--version', '-V']) {
      const r = elfdeps([flag]);
      expect(r.status).to.equal(0);
      expect(r.stdout).to.equal(`elfdeps ${version}\n`);
    }
  });

  it('copy - NEWROOT reads the manifest from standard input, as manifest -o - writes it', () => {
    const manifest = elfdeps(['manifest', '-o', '-', '/bin/true']);
    expect(manifest.status, manifest.stderr).to.equal(0);
    const root = join(work, 'from-stdin');
    const r = elfdeps(['copy', '-', root], { input: manifest.stdout });
    expect(r.status, r.stderr).to.equal(0);
    const entries = (JSON.parse(manifest.stdout) as { entries: Array<{ kind: string; path: string; sha256?: string }> }).entries;
    for (const e of entries.filter((x) => x.kind === 'file')) expect(sha(readFileSync(join(root, e.path))), e.path).to.equal(e.sha256);
    const bad = elfdeps(['copy', '-', join(work, 'bad')], { input: '{"elfdepsManifest": 1' });
    expect(bad.status).to.equal(2);
    expect(oneLine(bad)).to.match(/^elfdeps: standard input: not JSON/);
  });

  it('a mistyped verb that is no file gets "did you mean"; a file of that name is still a FILE', () => {
    const r = elfdeps(['mainfest', '/bin/true'], { cwd: work });
    expect(r.status).to.equal(2);
    expect(oneLine(r)).to.include("did you mean 'manifest'?");
    writeFileSync(join(work, 'mainfest'), 'not ELF\n');
    const asFile = elfdeps(['mainfest'], { cwd: work });
    expect(oneLine(asFile)).to.equal('elfdeps: mainfest: not an ELF file (bad magic)');
  });

  it('--help anywhere among the options prints the help and exits 0, even beside a bad option', () => {
    for (const [args, usage] of [
      [['--bogus', '--help'], 'Usage: elfdeps [options] FILE...'],
      [['/bin/true', '--ldd', '--tree', '-h'], 'Usage: elfdeps [options] FILE...'],
      [['manifest', '/bin/true', '--bogus', '--help'], 'Usage: elfdeps manifest'],
      [['copy', 'a', 'b', '--help'], 'Usage: elfdeps copy'],
      [['run', '--bogus', '--help'], 'Usage: elfdeps run'],
    ] as const) {
      const r = elfdeps([...args]);
      expect(r.status, args.join(' ')).to.equal(0);
      expect(r.stdout.startsWith(usage), args.join(' ')).to.equal(true);
      expect(r.stderr).to.equal('');
    }
    // After NEWROOT, --help belongs to the command run.
    const cmd = elfdeps(['run', join(work, 'none'), '/bin/x', '--help']);
    expect(cmd.status).to.equal(125);
    expect(cmd.stdout).to.equal('');
  });

  it('docs/cli.md names every option of every --help, in that command\'s section', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'cli.md'), 'utf8');
    const sections = doc.split(/^## /m).slice(1);
    for (const [verb, heading] of [
      [[], '`elfdeps [options] FILE...`'],
      [['manifest'], '`elfdeps manifest'],
      [['copy'], '`elfdeps copy'],
      [['run'], '`elfdeps run'],
      [['check'], '`elfdeps check'],
    ] as const) {
      const help = elfdeps([...verb, '--help']).stdout;
      const section = sections.find((s) => s.startsWith(heading));
      expect(section, heading).to.not.equal(undefined);
      // The options of the help: every `--name` at the start of an option line or inside one.
      const options = new Set([...help.matchAll(/(?:^|[\s,(])(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1] as string));
      // copy's and manifest's help refer to the shared options by name; the docs refer to them the same way.
      for (const option of options) {
        const inSection = (section as string).includes(`\`${option}`) || (section as string).includes(`${option}\``) || (section as string).includes(` ${option} `);
        const shared = verb[0] === 'copy' && /the options of 'elfdeps manifest'/.test(help) && (sections.find((s) => s.startsWith('`elfdeps manifest')) ?? '').includes(`\`${option}`);
        const general = doc.split(/^## /m)[0]?.includes(`\`${option}`);
        expect(inSection || shared || general, `${heading}: ${option}`).to.equal(true);
      }
    }
  });
});
