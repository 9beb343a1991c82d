/**
 * `--add SRC=DEST` (issue 19, item 5): host files and directories placed at
 * in-root paths, as a Dockerfile's COPY places them. Oracles: the host's own
 * bytes and modes for what is placed, the program's output on the host for a
 * program built here that finds its library through $ORIGIN, and ldd for the
 * libraries an ELF file among the added ones needs. Hostile DEST values are
 * refused with one line and exit 2, and nothing is written.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfdepsCommand } from './helpers/cli.js';
import { hasTool } from './helpers/build.js';
import { skipOrFail } from './helpers/skip.js';

const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', LANG: 'C.UTF-8' };

function elfdeps(args: string[], cwd: string) {
  const [node, bin] = elfdepsCommand();
  return spawnSync(node, [bin, ...args], { cwd, encoding: 'utf8', env: ENV, maxBuffer: 1 << 28 });
}

describe('--add SRC=DEST places host files in the new root (issue 19, item 5)', function () {
  this.timeout(300_000);
  let work: string;
  /** An ELF of the host with libraries ldd lists, copied among the added files. */
  const hostElf = ['/usr/bin/curl', '/usr/bin/openssl', '/bin/ls'].find(existsSync) as string;

  before(function () {
    if (!hasTool('gcc')) skipOrFail(this, 'gcc absent');
    work = mkdtempSync(join(tmpdir(), 'elfdeps-add-'));
    mkdirSync(join(work, 'app/bin'), { recursive: true });
    mkdirSync(join(work, 'app/lib'));
    mkdirSync(join(work, 'tools'));
    mkdirSync(join(work, 'etc'));
    writeFileSync(join(work, 'greet.c'), 'const char *greet(void) { return "hello from libgreet"; }\n');
    writeFileSync(join(work, 'main.c'), '#include <stdio.h>\nconst char *greet(void);\nint main(void) { puts(greet()); return 0; }\n');
    const cc = (args: string[]) => {
      const r = spawnSync('gcc', args, { cwd: work, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`gcc ${args.join(' ')}: ${r.stderr}`);
    };
    cc(['-shared', '-fPIC', '-o', 'app/lib/libgreet.so', 'greet.c']);
    cc(['-o', 'app/bin/hello', 'main.c', '-Lapp/lib', '-lgreet', '-Wl,-rpath,$ORIGIN/../lib']);
    copyFileSync(hostElf, join(work, 'tools', 'tool'));
    chmodSync(join(work, 'tools', 'tool'), 0o755);
    writeFileSync(join(work, 'data.txt'), 'some data\n');
    chmodSync(join(work, 'data.txt'), 0o640);
    writeFileSync(join(work, 'etc', 'myapp.conf'), 'key = value\n');
    writeFileSync(join(work, 'a=b'), 'a file with = in its name\n');
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('a directory, a file and a merged directory land at DEST with their bytes and modes; the program runs there as on the host; ELF files among them bring their libraries', () => {
    const root = join(work, 'root');
    const r = elfdeps(
      ['copy', '/app/bin/hello', '--add', './app=/app', '--add', './data.txt=/etc/myapp/data.txt', '--add', './tools=/opt/tools', '--add', './etc=/etc', '--add', `${work}/a\\=b`, root],
      work,
    );
    expect(r.status, r.stderr).to.equal(0);
    for (const [src, dest] of [
      ['app/bin/hello', 'app/bin/hello'],
      ['app/lib/libgreet.so', 'app/lib/libgreet.so'],
      ['data.txt', 'etc/myapp/data.txt'],
      ['tools/tool', 'opt/tools/tool'],
      ['etc/myapp.conf', 'etc/myapp.conf'],
      ['a=b', `${work.slice(1)}/a=b`],
    ] as const) {
      const host = join(work, src);
      const placed = join(root, dest);
      expect(readFileSync(placed).equals(readFileSync(host)), dest).to.equal(true);
      expect(statSync(placed).mode & 0o7777, dest).to.equal(statSync(host).mode & 0o7777);
    }
    // Merged into /etc: the root's other files are not taken (the generated user database is the rules').
    expect(existsSync(join(root, 'etc/shadow'))).to.equal(false);
    // The program at DEST finds libgreet through $ORIGIN there, and prints what it prints on the host.
    const host = spawnSync(join(work, 'app/bin/hello'), [], { encoding: 'utf8' });
    const inRoot = elfdeps(['run', '--dev', '--proc', root, '/app/bin/hello'], work);
    expect(inRoot.stderr).to.equal('');
    expect({ status: inRoot.status, stdout: inRoot.stdout }).to.deep.equal({ status: host.status, stdout: host.stdout });
    // The added ELF's libraries, as ldd lists them for the same file on the host.
    const ldd = spawnSync('ldd', [hostElf], { encoding: 'utf8' }).stdout;
    const libs = [...ldd.matchAll(/=>\s+(\/\S+)\s+\(0x/g)].map((m) => realpathSync(m[1] as string));
    expect(libs.length).to.be.greaterThan(0);
    for (const lib of libs) expect(existsSync(join(root, lib)), lib).to.equal(true);

    // The reasons name SRC and DEST; no host path of the fixture is an in-root path but the plain --add's.
    const m = elfdeps(['manifest', '/app/bin/hello', '--add', './app=/app', '--add', './data.txt=/etc/myapp/data.txt', '-o', '-'], work);
    expect(m.status, m.stderr).to.equal(0);
    const manifest = JSON.parse(m.stdout) as { added: string[]; entries: Array<{ path: string; why?: unknown; source?: string }> };
    expect(manifest.added).to.deep.equal(['/app', '/etc/myapp/data.txt']);
    expect(manifest.entries.find((e) => e.path === '/etc/myapp/data.txt')?.why).to.deep.equal({ by: 'add', path: join(realpathSync(work), 'data.txt'), dest: '/etc/myapp/data.txt' });
    expect(manifest.entries.find((e) => e.path === '/app/lib/libgreet.so')?.why).to.deep.include({ by: 'loader', program: '/app/bin/hello', neededBy: '/app/bin/hello' });
    expect(manifest.entries.filter((e) => e.path.startsWith(realpathSync(work)))).to.deep.equal([]);
  });

  it('hostile DEST values: one line, exit 2, nothing written', () => {
    const root = join(work, 'hostile');
    const cases: Array<[string, RegExp]> = [
      ['./data.txt=/etc/../x', /DEST "\/etc\/\.\.\/x" has a "\.\." component/],
      ['./data.txt=etc/x', /DEST "etc\/x" is not absolute/],
      ['./data.txt=/', /DEST is the root itself/],
      ['./data.txt=/x/', /has an empty component/],
      // merged /usr: /lib is a symlink on Debian; a DEST through it would be written through a link.
      ['./data.txt=/lib/x/data.txt', /DEST passes through \/lib, a symlink in the root/],
      ['./data.txt=/usr/bin', /\/usr\/bin is a directory in the root; refusing to place a file/],
      ['./app=/etc/passwd', /\/etc\/passwd is a file in the root; refusing to place a directory/],
      ['./data.txt=/etc/passwd/x', /DEST passes through \/etc\/passwd, a file in the root/],
      ['./missing=/x', /cannot read SRC \.\/missing/],
    ];
    if (!lstatSync('/lib', { throwIfNoEntry: false })?.isSymbolicLink()) cases.splice(4, 1); // not a merged-/usr host
    for (const [arg, message] of cases) {
      const r = elfdeps(['copy', '/bin/true', '--add', arg, root], work);
      expect(r.status, arg).to.equal(2);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines, arg).to.have.length(1);
      expect(lines[0], arg).to.match(/^elfdeps: --add /);
      expect(lines[0], arg).to.match(message);
      expect(existsSync(root), arg).to.equal(false);
    }
    const twice = elfdeps(['copy', '/bin/true', '--add', './data.txt=/x', '--add', './app/lib/libgreet.so=/x', root], work);
    expect([twice.status, twice.stderr.trim()]).to.deep.equal([2, 'elfdeps: --add ./app/lib/libgreet.so=/x: DEST /x is given twice']);
    expect(existsSync(root)).to.equal(false);
  });
});
