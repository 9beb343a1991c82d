import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readLdSoConf } from '../src/resolve/ldconf.js';
import { RootFs } from '../src/resolve/rootfs.js';

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'latin1', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const haveLdconfig = (): boolean => run('sh', ['-c', 'command -v ldconfig']).status === 0;

/** Directories `ldconfig -v` lists as read from configuration files, in scan order (system dirs left out). */
function ldconfigDirs(args: string[]): string[] {
  const out = run('ldconfig', [...args, '-v', '-N', '-X']);
  const dirs: string[] = [];
  for (const line of out.stdout.split('\n')) {
    const m = /^(\/.*): \(from (.*)\)$/.exec(line);
    if (m && !(m[2] as string).startsWith('<builtin>')) dirs.push(m[1] as string);
  }
  return dirs;
}

class TempRoot {
  readonly path = mkdtempSync(join(tmpdir(), 'elfdeps-ldconf-'));
  file(rel: string, content: string | Buffer): this {
    mkdirSync(dirname(join(this.path, rel)), { recursive: true });
    writeFileSync(join(this.path, rel), content);
    return this;
  }
  dir(...rels: string[]): this {
    for (const rel of rels) mkdirSync(join(this.path, rel), { recursive: true });
    return this;
  }
  link(rel: string, target: string): this {
    mkdirSync(dirname(join(this.path, rel)), { recursive: true });
    symlinkSync(target, join(this.path, rel));
    return this;
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

describe('ld.so.conf', function () {
  describe('a root with includes, symlinks and every syntax rule', function () {
    let root: TempRoot;

    before(function () {
      root = new TempRoot()
        .file(
          'etc/ld.so.conf',
          [
            '# top-level comment',
            'include ld.so.conf.d/*.conf',
            '/opt/one///   # trailing slashes, then a comment',
            '   \t/opt/two',
            'hwcap 0 nosegneg',
            'HWCAP 1 foo',
            '/opt/missing',
            '/opt/one',
            '/opt/three=libc6',
            '/opt/four=weird',
            'include /etc/extra/*.conf /etc/nomatch/*.conf   /etc/q?.conf',
            'include\t/etc/{a,b}.conf',
            '/opt/linkdir',
            '/opt/hostlib',
            '/',
            '/opt/five/',
            '',
          ].join('\n'),
        )
        // An absolute symlink for the include directory: it must resolve inside the root.
        .link('etc/ld.so.conf.d', '/etc/real-conf.d')
        .file('etc/real-conf.d/10-a.conf', '/opt/a\ninclude sub/*.conf\n')
        .file('etc/real-conf.d/sub/x.conf', '/opt/sub\n')
        .file('etc/real-conf.d/20-b.conf', '/opt/b\n/opt/a\n')
        .file('etc/real-conf.d/.hidden.conf', '/opt/hidden\n')
        .file('etc/real-conf.d/30-c.confx', '/opt/notread\n')
        .link('etc/real-conf.d/40-abs.conf', '/etc/target.conf')
        .file('etc/target.conf', '/opt/abs\n')
        .file('etc/extra/1.conf', '/opt/extra1\n')
        .file('etc/extra/0.conf', '/opt/extra0\n')
        .file('etc/q1.conf', '/opt/q1\n')
        .file('etc/{a,b}.conf', '/opt/brace\n')
        .dir('opt/one', 'opt/two', 'opt/three', 'opt/four', 'opt/five', 'opt/a', 'opt/b', 'opt/sub', 'opt/abs')
        .dir('opt/extra0', 'opt/extra1', 'opt/q1', 'opt/brace', 'opt/hidden', 'opt/notread')
        .link('opt/linkdir', '/opt/two')
        // Exists on a Debian host, not in this root: must be dropped.
        .link('opt/hostlib', '/usr/lib/x86_64-linux-gnu');
    });

    after(function () {
      root?.remove();
    });

    const expectedDirs = [
      '/opt/a',
      '/opt/sub',
      '/opt/b',
      '/opt/abs',
      '/opt/one',
      '/opt/two',
      '/opt/three',
      '/opt/four',
      '/opt/extra0',
      '/opt/extra1',
      '/opt/q1',
      '/opt/brace',
      '/opt/five',
    ];

    it('lists the directories in scan order, files in read order, and says what it ignored', function () {
      const conf = readLdSoConf(new RootFs(root.path));
      expect(conf.dirs).to.deep.equal(expectedDirs);
      expect(conf.files).to.deep.equal([
        '/etc/ld.so.conf',
        '/etc/ld.so.conf.d/10-a.conf',
        '/etc/ld.so.conf.d/sub/x.conf',
        '/etc/ld.so.conf.d/20-b.conf',
        '/etc/ld.so.conf.d/40-abs.conf',
        '/etc/extra/0.conf',
        '/etc/extra/1.conf',
        '/etc/q1.conf',
        '/etc/{a,b}.conf',
      ]);
      expect(conf.warnings).to.deep.equal([
        '/etc/ld.so.conf:5: hwcap directive ignored',
        '/etc/ld.so.conf:6: hwcap directive ignored',
        '/etc/ld.so.conf:10: weird is not a known library type',
      ]);
    });

    it('gives the same list as ldconfig -r ROOT -v', function () {
      if (process.getuid?.() !== 0 || !haveLdconfig()) {
        console.log('    skipped: needs root and ldconfig (ldconfig -r chroots into the root)');
        this.skip();
      }
      expect(ldconfigDirs(['-r', root.path])).to.deep.equal(expectedDirs);
    });
  });

  it('cuts include cycles and bounds the nesting depth', function () {
    const root = new TempRoot()
      .file('etc/ld.so.conf', '/opt/a\ninclude /etc/loop.conf\n')
      .file('etc/loop.conf', '/opt/b\ninclude /etc/ld.so.conf\ninclude loop.conf\n')
      .dir('opt/a', 'opt/b');
    try {
      const conf = readLdSoConf(new RootFs(root.path));
      expect(conf.dirs).to.deep.equal(['/opt/a', '/opt/b']);
      expect(conf.files).to.deep.equal(['/etc/ld.so.conf', '/etc/loop.conf']);
      expect(conf.warnings).to.deep.equal([
        '/etc/loop.conf:2: include cycle: /etc/ld.so.conf is already being read; ignored',
        '/etc/loop.conf:3: include cycle: /etc/loop.conf is already being read; ignored',
      ]);
    } finally {
      root.remove();
    }

    const deep = new TempRoot();
    try {
      for (let i = 0; i < 40; i++) deep.file(i === 0 ? 'etc/ld.so.conf' : `etc/c${i}.conf`, `/opt/d${i}\ninclude c${i + 1}.conf\n`).dir(`opt/d${i}`);
      const conf = readLdSoConf(new RootFs(deep.path));
      expect(conf.dirs).to.have.length(33);
      expect(conf.dirs[32]).to.equal('/opt/d32');
      expect(conf.warnings).to.have.length(1);
      expect(conf.warnings[0]).to.match(/^\/etc\/c32\.conf:2: includes nested deeper than 32 levels/);
    } finally {
      deep.remove();
    }
  });

  it('handles odd lines like ldconfig: NUL, CR, no blank after include, relative and non-directory entries', function () {
    const root = new TempRoot()
      .file('etc/ld.so.conf', Buffer.from('/opt/nul\0/opt/ignored\n/opt/crlf\r\nincludeme\nopt/rel\n/opt/file\n/opt/sp /\n', 'latin1'))
      .dir('opt/nul', 'opt/crlf', 'opt/rel', 'opt/sp')
      .file('opt/file', 'not a directory\n');
    try {
      const conf = readLdSoConf(new RootFs(root.path));
      // "/opt/sp /": trailing whitespace is removed before trailing slashes, so "/opt/sp " stays (and does not exist).
      expect(conf.dirs).to.deep.equal(['/opt/nul', '/opt/crlf', '/opt/rel']);
      expect(conf.warnings).to.deep.equal([
        // "includeme" is not an include: the keyword needs a blank after it.
        '/etc/ld.so.conf:3: relative directory includeme taken as /includeme',
        '/etc/ld.so.conf:4: relative directory opt/rel taken as /opt/rel',
        '/etc/ld.so.conf:5: /opt/file is not a directory',
      ]);
      expect(readLdSoConf(new RootFs(root.path), '/etc/absent.conf')).to.deep.equal({ dirs: [], files: [], warnings: [] });
    } finally {
      root.remove();
    }
  });

  it("reads the host's /etc/ld.so.conf as ldconfig -v does", function () {
    if (!existsSync('/etc/ld.so.conf') || !haveLdconfig()) {
      console.log('    skipped: no /etc/ld.so.conf or no ldconfig on this host');
      this.skip();
    }
    const conf = readLdSoConf(new RootFs('/'));
    expect(conf.files[0]).to.equal('/etc/ld.so.conf');
    expect(conf.dirs).to.deep.equal(ldconfigDirs([]));
  });
});
