/**
 * The runtime-file rules beside the real-task test (rules-tasks.test.ts):
 * the table against its schema, --loader-only against ldd, a static program,
 * the generated user database, user rule files (and hostile ones), dlopen
 * notes from a program gcc built, --why, and a real foreign root.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElf } from '../src/elf/reader.js';
import { readDlopenNotes } from '../src/elf/notes.js';
import { ElfImage } from '../src/elf/image.js';
import { createManifest } from '../src/manifest/create.js';
import type { Manifest } from '../src/manifest/types.js';
import { builtinRules, loadRules, rulesSchema } from '../src/rules/load.js';
import { dlopenNote, hasTool, mkexe, mklib } from './helpers/build.js';
import { elfdepsCommand } from './helpers/cli.js';

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const [node, bin] = elfdepsCommand();
  const r = spawnSync(node, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const files = (m: Manifest): string[] => m.entries.filter((e) => e.kind === 'file').map((e) => e.path).sort();

describe('runtime-file rules', function () {
  this.timeout(300_000);
  let work: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'elfdeps-rules-'));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('the built-in table matches its schema, names are unique, and every rule has a trigger', async () => {
    const { Ajv2020 } = await import('ajv/dist/2020.js');
    const validate = new Ajv2020({ strict: true, allowUnionTypes: true }).compile(rulesSchema());
    const table: unknown = JSON.parse(readFileSync(new URL('../src/rules/rules.json', import.meta.url), 'utf8'));
    expect(validate(table), JSON.stringify(validate.errors)).to.equal(true);
    const rules = builtinRules().rules;
    expect(new Set(rules.map((r) => r.name)).size).to.equal(rules.length);
    for (const r of rules) expect(Object.keys(r.when), r.name).to.not.be.empty;
  });

  it('--loader-only --ld-cache copy gives what the loader opens: the program, and the real files of every library ldd lists, and the cache', () => {
    for (const prog of ['/usr/bin/ls', '/usr/bin/python3', '/usr/bin/curl', '/usr/bin/perl'].filter(existsSync)) {
      const ldd = spawnSync('ldd', [prog], { encoding: 'utf8' }).stdout;
      const expected = new Set([realpathSync(prog), '/etc/ld.so.cache']);
      for (const line of ldd.split('\n')) {
        const m = /(?:=>\s+)?(\/\S+)\s+\(0x/.exec(line);
        if (m) expected.add(realpathSync(m[1] as string));
      }
      // --ld-cache copy: the source's cache file, which the loader opens (the default generates one, with the ld.so.conf it is made from).
      const m = createManifest([prog], { loaderOnly: true, ldCache: 'copy', packageMetadata: false });
      expect(files(m), prog).to.deep.equal([...expected].sort());
      expect(m.rules, prog).to.deep.equal([]);
      expect(m.entries.some((e) => e.kind === 'generated'), prog).to.equal(false);
    }
  });

  it('a static program gets no rules: busybox alone', function () {
    if (!existsSync('/bin/busybox') || readElf('/bin/busybox').interpreter !== null) {
      console.log('      skipped: no static /bin/busybox (Debian package busybox-static)');
      this.skip();
    }
    const m = createManifest(['/bin/busybox'], { packageMetadata: false });
    expect(m.rules).to.deep.equal([]);
    expect(files(m)).to.deep.equal([realpathSync('/bin/busybox')]);
  });

  it('the user database is generated: only uid/gid 0 and 65534 and --user, lines as the root has them, the same every time, no shadow', () => {
    const hostPasswd = readFileSync('/etc/passwd', 'utf8').split('\n');
    const hostGroup = readFileSync('/etc/group', 'utf8').split('\n');
    const extra = hostPasswd.map((l) => l.split(':')).find((f) => f[2] !== '0' && f[2] !== '65534' && f.length >= 7);
    const users = extra ? [extra[0] as string] : [];
    const a = createManifest(['/usr/bin/id'], { users });
    const b = createManifest(['/usr/bin/id'], { users });
    const gen = (m: Manifest, p: string) => m.entries.find((e) => e.path === p && e.kind === 'generated');
    const passwd = gen(a, '/etc/passwd');
    const group = gen(a, '/etc/group');
    if (passwd?.kind !== 'generated' || group?.kind !== 'generated') throw new Error('no generated user database');
    expect(gen(b, '/etc/passwd')).to.deep.equal(passwd);
    const lines = passwd.content.split('\n').filter((l) => l !== '');
    for (const l of lines) expect(hostPasswd, l).to.include(l);
    const uids = lines.map((l) => l.split(':')[2]);
    const wanted = new Set(['0', '65534', ...(extra ? [extra[2] as string] : [])]);
    expect(uids.every((u) => wanted.has(u as string)), uids.join()).to.equal(true);
    expect(uids).to.include('0');
    const kept = new Set(lines.map((l) => l.split(':')[0]));
    for (const l of group.content.split('\n').filter((x) => x !== '')) {
      const f = l.split(':');
      const host = hostGroup.find((h) => h.split(':')[2] === f[2]);
      expect(host, l).to.not.equal(undefined);
      expect(f.slice(0, 3)).to.deep.equal(host?.split(':').slice(0, 3));
      for (const member of (f[3] as string).split(',').filter((x) => x !== '')) expect(kept.has(member), `${member} in ${l}`).to.equal(true);
    }
    for (const m of [a, b]) expect(m.entries.some((e) => /shadow/.test(e.path))).to.equal(false);
    expect(() => createManifest(['/usr/bin/id'], { users: ['no-such-user-here'] })).to.throw(/no such user/);
  });

  it('--with, --without, --why, and a user rules file', () => {
    const rulesFile = join(work, 'mine.json');
    writeFileSync(rulesFile, JSON.stringify({ elfdepsRules: 1, rules: [{ name: 'hostname', why: 'the host name file', when: { imports: ['getpwuid'] }, add: [{ path: '/etc/hostname', optional: true }] }] }));
    const m = createManifest(['/usr/bin/whoami'], { rulesFiles: [rulesFile], without: ['zoneinfo'] });
    if (existsSync('/etc/hostname')) expect(m.entries.find((e) => e.path === '/etc/hostname')?.why).to.deep.equal({ by: 'rule', rule: 'hostname', trigger: 'getpwuid imported by /usr/bin/whoami' });
    expect(m.entries.some((e) => e.path.startsWith('/usr/share/zoneinfo'))).to.equal(false);
    const forced = createManifest(['/usr/bin/true'], { with: ['magic'] });
    expect(forced.rules?.map((r) => r.rule)).to.include('magic');
    expect(forced.rules?.find((r) => r.rule === 'magic')?.trigger).to.equal('--with');
    const why = cli(['manifest', '/usr/bin/whoami', '--why', '/etc/passwd']);
    expect(why.status, why.stderr).to.equal(0);
    expect(why.stdout).to.equal('/etc/passwd (generated): rule user-database, because getpwuid imported by /usr/bin/whoami; no package owns it\n');
    const lib = cli(['manifest', '/usr/bin/whoami', '--why', realpathSync('/lib64/ld-linux-x86-64.so.2')]);
    expect(lib.stdout).to.match(/opened by the loader for \/usr\/bin\/whoami, named by \/usr\/bin\/whoami/);
    expect(cli(['manifest', '/usr/bin/whoami', '--why', '/nowhere']).status).to.equal(1);
  });

  it('hostile or broken rules files are refused with one line naming the file (exit 2)', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['not-json.json', '{"elfdepsRules": 1,', /not-json\.json: rules file is not JSON/],
      ['wrong-version.json', '{"elfdepsRules": 2, "rules": []}', /wrong-version\.json: not a valid elfdeps rules file/],
      ['extra-field.json', '{"elfdepsRules": 1, "rules": [{"name": "x", "why": "y", "when": {}, "add": [{"path": "/a"}], "exec": "rm -rf /"}]}', /extra-field\.json: not a valid elfdeps rules file/],
      ['relative.json', '{"elfdepsRules": 1, "rules": [{"name": "x", "why": "y", "when": {}, "add": [{"path": "etc/shadow"}]}]}', /relative\.json: not a valid elfdeps rules file/],
      ['twice.json', '{"elfdepsRules": 1, "rules": [{"name": "x", "why": "y", "when": {}, "add": [{"path": "/a"}]}, {"name": "x", "why": "y", "when": {}, "add": [{"path": "/b"}]}]}', /twice\.json: rule x is defined twice/],
    ];
    for (const [name, text, message] of cases) {
      const f = join(work, name);
      writeFileSync(f, text);
      const r = cli(['manifest', '--rules', f, '/usr/bin/true']);
      expect(r.status, `${name}: ${r.stderr}`).to.equal(2);
      expect(r.stderr.trimEnd().split('\n'), name).to.have.length(1);
      expect(r.stderr, name).to.match(message);
    }
    const missing = cli(['manifest', '--rules', join(work, 'absent.json'), '/usr/bin/true']);
    expect([missing.status, missing.stderr.trimEnd().split('\n').length]).to.deep.equal([2, 1]);
    const unknown = cli(['manifest', '--with', 'no-such-rule', '/usr/bin/true']);
    expect(unknown.status).to.equal(2);
    expect(unknown.stderr).to.match(/no rule named no-such-rule/);
  });

  it('dlopen notes of a program gcc built bring the libraries they name, at the priorities asked for', function () {
    if (!hasTool('gcc')) {
      console.log('      skipped: no gcc');
      this.skip();
    }
    const dir = join(work, 'dlopen');
    const bar = mklib(join(dir, 'libbar.so.1'), { libs: ['-lm'] });
    const baz = mklib(join(dir, 'libbaz.so.1'));
    const foo = mklib(join(dir, 'libfoo.so.1'));
    const prog = mkexe(join(dir, 'prog'), {
      needs: [foo],
      rpath: dir,
      source:
        dlopenNote('[{"soname":["libnope.so.9","libbar.so.1"],"feature":"bar","description":"Bar support","priority":"recommended"}]') +
        dlopenNote('[{"soname":["libbaz.so.1"],"feature":"baz","priority":"suggested"}]') +
        'int main(void) { return 0; }\n',
    });
    const notes = readDlopenNotes(ElfImage.open(prog));
    expect(notes).to.deep.equal([
      { soname: ['libnope.so.9', 'libbar.so.1'], feature: 'bar', description: 'Bar support', priority: 'recommended' },
      { soname: ['libbaz.so.1'], feature: 'baz', description: null, priority: 'suggested' },
    ]);
    const byDefault = createManifest([prog]);
    expect(byDefault.entries.find((e) => e.path === bar)?.why).to.deep.equal({ by: 'rule', rule: 'dlopen-notes', trigger: `dlopen note of ${prog}: libnope.so.9 or libbar.so.1 (bar, recommended)` });
    expect(files(byDefault)).to.not.include(baz);
    // libbar's own library (libm) comes with it, as the loader's dlopen would load it.
    expect(files(byDefault)).to.include(realpathSync('/lib/x86_64-linux-gnu/libm.so.6'));
    expect(files(createManifest([prog], { dlopen: 'suggested' }))).to.include.members([bar, baz]);
    expect(files(createManifest([prog], { dlopen: 'none' }))).to.not.include(bar);
  });

  it('in a real foreign root (arm64): the root\'s own modules, nothing from the host', function () {
    const root = '/var/cache/elfdeps-test/arm64-root';
    if (!existsSync(join(root, 'usr/bin/iconv'))) {
      if (process.env['CI']) throw new Error(`${root} is missing (scripts/fetch-foreign-root.sh arm64 builds it)`);
      console.log(`      skipped: ${root} is missing (scripts/fetch-foreign-root.sh arm64 builds it)`);
      this.skip();
    }
    const m = createManifest(['/usr/bin/iconv', '/usr/bin/id'], { root });
    const sources = m.entries.flatMap((e) => (e.kind === 'file' ? [e.source] : []));
    expect(sources.every((s) => s.startsWith(`${root}/`)), sources.find((s) => !s.startsWith(`${root}/`))).to.equal(true);
    const rules = m.rules?.map((r) => r.rule) ?? [];
    expect(rules).to.include.members(['gconv', 'user-database']);
    const gconv = m.entries.filter((e) => e.kind === 'file' && e.path.startsWith('/usr/lib/aarch64-linux-gnu/gconv/') && e.path.endsWith('.so'));
    expect(gconv.length).to.be.greaterThan(10);
    expect(m.entries.some((e) => e.path === '/usr/lib/aarch64-linux-gnu/libnss_files.so.2')).to.equal(true);
    for (const e of m.entries) {
      if (e.kind !== 'file' || !e.path.endsWith('.so') || e.size < 64) continue;
      expect(readElf(e.source).machineName, e.path).to.equal('aarch64');
    }
  });
});
