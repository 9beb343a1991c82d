/**
 * The scan of dpkg's file lists (src/packages/listing.ts: a filter slot per
 * line's last component, a string only for a line that can match) against
 * dpkg itself: `dpkg-query -L` of every installed package of this host is
 * the oracle of which paths each package lists. For name sets as package
 * lookup builds them (a few thousand) and for every name the lists hold
 * (the filter's table then full), each package's matched paths must be
 * exactly the paths dpkg-query lists with those last components: a slot
 * function that dropped a name, or a line split wrong, shows here.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DpkgDatabase } from '../src/packages/dpkg.js';
import { RootFs } from '../src/resolve/rootfs.js';
import { skipOrFail } from './helpers/skip.js';

/** Every installed package's listed paths, by "name:arch", as dpkg-query -L prints them. */
function dpkgLists(): Map<string, string[]> {
  const installed = spawnSync('dpkg-query', ['-W', '-f=${db:Status-Abbrev} ${Package}:${Architecture}\n'], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter((l) => l.startsWith('ii'))
    .map((l) => l.slice(4));
  const r = spawnSync('dpkg-query', ['-L', ...installed], { encoding: 'utf8', maxBuffer: 1 << 28 });
  // One block per package, in the order asked, blocks separated by an empty line.
  const blocks = r.stdout.replace(/\n$/, '').split('\n\n');
  expect(blocks, 'one dpkg-query -L block per package').to.have.length(installed.length);
  const out = new Map<string, string[]>();
  installed.forEach((pkg, i) => out.set(pkg, (blocks[i] as string).split('\n').filter((l) => l.startsWith('/'))));
  return out;
}

const last = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

describe('dpkg list scan: the paths each package lists with given last components, against dpkg-query -L', function () {
  this.timeout(120_000);
  let lists: Map<string, string[]>;
  let db: DpkgDatabase;
  before(function () {
    if (!existsSync('/var/lib/dpkg/status')) return skipOrFail(this, 'no dpkg database on this host');
    lists = dpkgLists();
    db = DpkgDatabase.read(new RootFs('/')) as DpkgDatabase;
  });

  function compare(names: Set<string>): number {
    const got = new Map<string, string[]>();
    for (const l of db.listedNamed(names)) {
      const key = l.id.slice('dpkg:'.length);
      const list = got.get(key);
      if (list) list.push(l.listed);
      else got.set(key, [l.listed]);
    }
    let matched = 0;
    for (const [pkg, paths] of lists) {
      const want = paths.filter((p) => names.has(last(p))).sort();
      expect((got.get(pkg) ?? []).sort(), pkg).to.deep.equal(want);
      matched += want.length;
    }
    expect([...got.keys()].filter((k) => !lists.has(k)), 'packages dpkg-query does not list').to.deep.equal([]);
    return matched;
  }

  it('a few thousand names, some listed by many packages, some by none', function () {
    const all = [...lists.values()].flat();
    // "/." (every list's first line, the root itself) is no path a package installs: never asked.
    const names = new Set(['copyright', '__init__.py', 'no-such-name-in-any-list', 'lib', ...all.filter((_, i) => i % 41 === 0).map(last)].filter((n) => n !== '.'));
    expect(names.size).to.be.greaterThan(2000);
    expect(compare(names)).to.be.greaterThan(5000);
  });

  it('every name the lists hold', function () {
    const names = new Set([...lists.values()].flat().map(last).filter((n) => n !== '' && n !== '.'));
    expect(names.size).to.be.greaterThan(20_000);
    expect(compare(names)).to.be.greaterThan(100_000);
  });
});

describe('dpkg lists opened in info/: a list that is a symlink still resolves inside the root', function () {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'elfdeps-lists-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('relative and absolute links are followed within the root, never to the host; a FIFO is refused with a warning', function () {
    const dpkg = join(root, 'var/lib/dpkg');
    mkdirSync(join(dpkg, 'info'), { recursive: true });
    const names = ['a', 'b', 'c', 'd', 'e'];
    writeFileSync(join(dpkg, 'status'), names.map((n) => `Package: ${n}\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n`).join('\n'));
    writeFileSync(join(dpkg, 'info', 'a.list'), '/.\n/usr\n/usr/bin\n/usr/bin/a\n');
    writeFileSync(join(dpkg, 'b-real.list'), '/usr/bin/b\n');
    symlinkSync('../b-real.list', join(dpkg, 'info', 'b.list'));
    writeFileSync(join(dpkg, 'c-real.list'), '/usr/bin/c\n');
    // Absolute: the root's /var/lib/dpkg/c-real.list, which the host does not have.
    symlinkSync('/var/lib/dpkg/c-real.list', join(dpkg, 'info', 'c.list'));
    // The host's /etc/shells ("/bin/sh", "/usr/bin/bash", ...) is not the root's (which has none): d lists nothing.
    symlinkSync('/etc/shells', join(dpkg, 'info', 'd.list'));
    expect(spawnSync('mkfifo', [join(dpkg, 'info', 'e.list')]).status).to.equal(0);
    const db = DpkgDatabase.read(new RootFs(root)) as DpkgDatabase;
    const found = db.listedNamed(new Set(['a', 'b', 'c', 'sh', 'bash', 'e'])).map((l) => `${l.id} ${l.listed}`);
    expect(found.sort()).to.deep.equal(['dpkg:a:amd64 /usr/bin/a', 'dpkg:b:amd64 /usr/bin/b', 'dpkg:c:amd64 /usr/bin/c']);
    expect(db.warnings.join('\n')).to.match(/e\.list: not a regular file; the files of e are not known/);
  });
});
