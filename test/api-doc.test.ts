/**
 * Issue 21, item 10: docs/api.md documents every export of the package, and
 * its examples are true. The examples are extracted from the page, typechecked
 * (strict) against the built package as a user's code sees it (`import ... from
 * 'elfdeps'`, through package.json's exports), run with Node, and what they
 * print is compared with an independent oracle: ldd, readelf, tar, the host's
 * own programs.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanEnv, hasTool, run } from './helpers/build.js';
import { elfdepsCommand, REPO } from './helpers/cli.js';
import { skipOrFail } from './helpers/skip.js';

const PAGE = readFileSync(join(REPO, 'docs', 'api.md'), 'utf8');

/** The examples: ```ts blocks whose first line is `// example: NAME`. */
const EXAMPLES = new Map([...PAGE.matchAll(/```ts\n\/\/ example: ([a-z-]+)\n([\s\S]*?)```/g)].map((m) => [m[1] as string, m[2] as string]));

/** Names imported from 'elfdeps' by the examples. */
function importedNames(code: string): string[] {
  return [...code.matchAll(/import \{([^}]*)\} from 'elfdeps'/g)].flatMap((m) =>
    (m[1] as string)
      .split(',')
      .map((s) => s.trim().replace(/^type /, ''))
      .filter((s) => s !== ''),
  );
}

/** The names of the package's type declarations: `export { a, b as c }` and `export type { ... }` of dist/src/index.d.ts. */
function declaredExports(): { values: string[]; types: string[] } {
  const dts = readFileSync(join(REPO, 'dist', 'src', 'index.d.ts'), 'utf8');
  const values: string[] = [];
  const types: string[] = [];
  for (const m of dts.matchAll(/export (type )?\{([^}]*)\}/g)) {
    const names = (m[2] as string).split(',').map((s) => s.trim().split(/\s+as\s+/).pop() as string).filter((s) => s !== '');
    (m[1] ? types : values).push(...names.map((n) => n.replace(/^type /, '')));
  }
  for (const m of dts.matchAll(/export \* as (\w+)/g)) values.push(m[1] as string);
  return { values, types };
}

/** The path ldd prints for each object of `program` (the vDSO has none). */
function lddPaths(program: string): string[] {
  const r = run('ldd', [program], { env: cleanEnv() });
  expect(r.status, r.stderr).to.equal(0);
  return r.stdout
    .split('\n')
    .map((l) => /=> (\/\S+)/.exec(l)?.[1] ?? /^\s+(\/\S+) \(0x/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined);
}

describe('issue 21 item 10: docs/api.md, every export with a runnable example', function () {
  this.timeout(300_000);
  let work = '';
  const outputs = new Map<string, { status: number | null; stdout: string; stderr: string }>();

  before(function () {
    elfdepsCommand(); // builds dist/ when it is older than src/
    work = mkdtempSync(join(tmpdir(), 'elfdeps-api-doc-'));
    // A user's project: the package under node_modules/elfdeps, ES modules, strict TypeScript.
    mkdirSync(join(work, 'node_modules'));
    symlinkSync(REPO, join(work, 'node_modules', 'elfdeps'));
    writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out', types: ['node'], typeRoots: [join(REPO, 'node_modules', '@types')], noEmitOnError: true, skipLibCheck: true },
        include: ['*.ts'],
      }),
    );
    for (const [name, code] of EXAMPLES) writeFileSync(join(work, `${name}.ts`), code);
    const tsc = spawnSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', work], { encoding: 'utf8' });
    if (tsc.status !== 0) throw new Error(`the examples of docs/api.md do not typecheck:\n${tsc.stdout}${tsc.stderr}`);
    for (const name of EXAMPLES.keys()) {
      const r = spawnSync(process.execPath, [join(work, 'out', `${name}.js`)], { cwd: work, encoding: 'utf8', env: cleanEnv(), maxBuffer: 64 << 20 });
      outputs.set(name, { status: r.status, stdout: r.stdout, stderr: r.stderr });
    }
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** The output of an example that ran to the end, its own checks (lines saying "agree: ...") all true. */
  function output(name: string): { stdout: string; stderr: string; lines: string[] } {
    const r = outputs.get(name);
    expect(r, `example ${name} in docs/api.md`).to.not.equal(undefined);
    const { status, stdout, stderr } = r as { status: number | null; stdout: string; stderr: string };
    expect(status, `example ${name}: ${stderr}`).to.equal(0);
    for (const line of stderr.split('\n').filter((l) => /agree|round trips|known causes/.test(l))) expect(line, `example ${name}`).to.match(/: true$/);
    return { stdout, stderr, lines: stdout.split('\n').filter((l) => l !== '') };
  }

  it('names every export of the package (values and types), and every value export is used by an example', async () => {
    const runtime = Object.keys(await import(join(REPO, 'dist', 'src', 'index.js'))).sort();
    const declared = declaredExports();
    expect([...declared.values].sort()).to.deep.equal(runtime);
    // Documented: a name in backquotes at the start of a table row's first cell (`name(args)`, `A`, `B`).
    const documented = new Set(
      PAGE.split('\n')
        .filter((l) => l.startsWith('| `'))
        .flatMap((l) => [...(l.split(' | ')[0] as string).matchAll(/`(\w+)/g)].map((m) => m[1] as string)),
    );
    for (const name of [...runtime, ...declared.types]) expect(documented.has(name), `docs/api.md documents ${name}`).to.equal(true);
    const used = new Set([...EXAMPLES.values()].flatMap(importedNames));
    for (const name of runtime) expect(used.has(name), `an example of docs/api.md uses ${name}`).to.equal(true);
    // The consistent forms: a promise form and a Sync form of each long operation.
    for (const [promise, sync] of [['resolvePrograms', 'resolveProgramsSync'], ['createManifestAsync', 'createManifestSync'], ['materialiseAsync', 'materialiseSync'], ['checkAsync', 'checkSync']]) {
      expect(runtime).to.include.members([promise as string, sync as string]);
    }
  });

  it('resolve-programs: the objects the loader maps, as ldd lists them', function () {
    if (!hasTool('ldd')) skipOrFail(this, 'needs ldd');
    expect(output('resolve-programs').lines.sort()).to.deep.equal(lddPaths('/bin/ls').sort());
  });

  it('resolver: formatLdd prints ldd\'s lines without the load addresses', function () {
    if (!hasTool('ldd')) skipOrFail(this, 'needs ldd');
    const ldd = run('ldd', ['/bin/true'], { env: cleanEnv() }).stdout.replace(/ \(0x[0-9a-f]+\)/g, '');
    expect(output('resolver').stdout).to.equal(ldd);
  });

  it('judge: the "Version information:" block of ldd -v', function () {
    if (!hasTool('ldd')) skipOrFail(this, 'needs ldd');
    const ldd = run('ldd', ['-v', '/bin/ls'], { env: cleanEnv() }).stdout;
    const block = ldd.slice(ldd.indexOf('\n\tVersion information:'));
    expect(block.length).to.be.greaterThan(30);
    expect(output('judge').stdout).to.equal(block);
  });

  it('check: the files that need libc.so.6 (readelf -d) fail once it is gone, and nothing else', function () {
    if (!hasTool('readelf') || !hasTool('ldd')) skipOrFail(this, 'needs readelf and ldd');
    const files = ['/bin/ls', ...lddPaths('/bin/ls')].map((p) => realpathSync(p)).filter((p) => !p.endsWith('/libc.so.6'));
    const needLibc = files.filter((p) => /\(NEEDED\)\s+Shared library: \[libc\.so\.6\]/.test(run('readelf', ['-dW', p]).stdout));
    expect(needLibc.length).to.be.greaterThan(0);
    const lines = output('check').lines;
    expect(lines.map((l) => l.split('\t')[0]).sort()).to.deep.equal(needLibc.sort());
    for (const l of lines) expect(l).to.match(/\tlibrary-not-found$/);
  });

  it('manifest: every file ldd names is in it, at its real path', function () {
    if (!hasTool('ldd')) skipOrFail(this, 'needs ldd');
    const files = new Set(output('manifest').lines);
    for (const p of ['/bin/ls', ...lddPaths('/bin/ls')]) expect(files.has(realpathSync(p)), p).to.equal(true);
  });

  it('rules: the built-in rules are those of the rules file the package ships', () => {
    const shipped = (JSON.parse(readFileSync(join(REPO, 'dist', 'src', 'rules', 'rules.json'), 'utf8')) as { rules: Array<{ name: string }> }).rules.map((r) => r.name);
    expect(output('rules').lines).to.deep.equal(shipped);
    expect(output('rules').stderr).to.match(new RegExp(`^read 1 rule\\(s\\); loaded ${shipped.length + 1} with the built-in ones$`, 'm'));
  });

  it('materialise: the new root holds the host\'s files byte for byte; ls lists a directory the same in it as on the host', function () {
    if (!hasTool('ldd') || !hasTool('cmp')) skipOrFail(this, 'needs ldd and cmp');
    const [root] = output('materialise').lines;
    expect(root).to.match(/^\/.*\/root$/);
    try {
      for (const p of ['/bin/ls', ...lddPaths('/bin/ls')].map((x) => realpathSync(x))) {
        expect(run('cmp', [p, join(root as string, p)]).status, p).to.equal(0);
      }
      if (process.getuid?.() === 0 && hasTool('chroot')) {
        const inRoot = run('chroot', [root as string, '/bin/ls', '-a', '/usr'], { env: cleanEnv() });
        expect(inRoot.status, inRoot.stderr).to.equal(0);
        expect(inRoot.stdout).to.equal(run('ls', ['-a', join(root as string, 'usr')], { env: cleanEnv() }).stdout);
      }
    } finally {
      rmSync(join(root as string, '..'), { recursive: true, force: true });
    }
  });

  it('image: tar finds the OCI index and the docker manifest, with the digest and tag the report gives', function () {
    if (!hasTool('tar')) skipOrFail(this, 'needs tar');
    const [tar, digest, references, indexDigest] = output('image').lines as [string, string, string, string];
    try {
      const list = run('tar', ['-tf', tar]).stdout.split('\n');
      expect(list).to.include.members(['oci-layout', 'index.json', 'manifest.json']);
      const index = JSON.parse(run('tar', ['-xOf', tar, 'index.json']).stdout) as { manifests: Array<{ digest: string }> };
      expect(index.manifests.map((m) => m.digest)).to.deep.equal([digest]);
      const docker = JSON.parse(run('tar', ['-xOf', tar, 'manifest.json']).stdout) as Array<{ RepoTags: string[] }>;
      expect(docker[0]?.RepoTags.join(' ')).to.include('example/true:1');
      expect(references).to.include('example/true:1');
      // buildImageIndex: index.json names the platforms' image index by the digest the report gives.
      const indexTar = join(tar, '..', 'index.tar');
      const top = JSON.parse(run('tar', ['-xOf', indexTar, 'index.json']).stdout) as { manifests: Array<{ digest: string; mediaType: string }> };
      expect(top.manifests.map((m) => [m.mediaType, m.digest])).to.deep.equal([['application/vnd.oci.image.index.v1+json', indexDigest]]);
    } finally {
      rmSync(join(tar, '..'), { recursive: true, force: true });
    }
  });

  it('launch: echo in the new root prints what the host\'s echo prints; a missing command is 127', function () {
    const { lines } = output('launch');
    if (lines[0]?.startsWith('unavailable: ')) skipOrFail(this, `the launcher cannot change root here: ${lines[0]}`);
    expect(lines[0]).to.equal(run('/bin/echo', ['hello from the root']).stdout.trimEnd());
    expect(lines[1]).to.equal('no-such-program: 127 (LAUNCH_EXIT.NOT_FOUND is 127)');
  });

  it('read-elf: the interpreter, DT_NEEDED and program header count readelf shows', function () {
    if (!hasTool('readelf')) skipOrFail(this, 'needs readelf');
    const l = run('readelf', ['-lW', '/bin/ls']).stdout;
    const d = run('readelf', ['-dW', '/bin/ls']).stdout;
    const h = run('readelf', ['-hW', '/bin/ls']).stdout;
    const expected = [
      `interpreter ${/Requesting program interpreter: ([^\]]+)\]/.exec(l)?.[1]}`,
      ...[...d.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => `needed ${m[1]}`),
      `program headers ${/Number of program headers:\s+(\d+)/.exec(h)?.[1]}`,
    ];
    expect(output('read-elf').lines).to.deep.equal(expected);
  });

  it('elf-tables: the version needs readelf -V shows', function () {
    if (!hasTool('readelf')) skipOrFail(this, 'needs readelf');
    const v = run('readelf', ['-VW', '/bin/ls']).stdout;
    const section = v.slice(v.indexOf("Version needs section '.gnu.version_r'"));
    const expected: string[] = [];
    let file = '';
    for (const line of section.split('\n')) {
      const f = /File: (\S+)/.exec(line);
      if (f) file = f[1] as string;
      const n = /Name: (\S+)/.exec(line);
      if (n && file) expected.push(`${file} ${n[1]}`);
    }
    expect(expected.length).to.be.greaterThan(0);
    expect(output('elf-tables').lines).to.deep.equal(expected);
  });

  it('errors: a missing file, a text file and a directory, each one line with its own error class', function () {
    const lines = output('errors').lines;
    expect(lines).to.have.length(3);
    const enoent = run('/usr/bin/python3', ['-c', 'import errno, os; print(os.strerror(errno.ENOENT))']).stdout.trim();
    expect(lines[0]).to.equal(`/nonexistent/elfdeps-example\tElfIoError\tELF_IO\t/nonexistent/elfdeps-example: ${enoent} (ENOENT)`);
    // file(1) says /etc/passwd is text, not ELF: a format error, about its magic.
    expect(run('file', ['-b', '/etc/passwd']).stdout).to.not.match(/ELF/);
    expect(lines[1]).to.match(/^\/etc\/passwd\tElfFormatError\tELF_BAD_MAGIC\t\/etc\/passwd: /);
    expect(lines[2]).to.match(/^\/\t\w+\tELF_NOT_REGULAR\t\/: /);
  });
});
