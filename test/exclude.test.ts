/**
 * --exclude (docs/exclude.md), on programs gcc built against a chain of our
 * own libraries:
 *
 *   app ──► libgpu.so.1 (excluded) ──► libsub1.so ──► libsub2.so
 *    │            │
 *    └──────────► └──► libshared.so   (needed by both: stays)
 *
 * The root `elfdeps copy --exclude` writes lacks exactly libgpu (with its
 * symlink) and its subtree; the program does not start there until the
 * target provides them (here: copied in afterwards, as the host would
 * provide them), and then runs. Also: an object another program keeps stays,
 * an excluded library the root lacks is not missing, versions needed from it
 * are not checked, excluded objects trigger no rules, rules and --add do not
 * bring excluded files, `image`, a real host program linking libGL, the
 * pattern syntax against bash's own matcher, and hostile patterns.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElf } from '../src/elf/reader.js';
import { createManifest } from '../src/manifest/create.js';
import { ExcludePattern, HOST_GPU_EXCLUDES } from '../src/manifest/exclude-pattern.js';
import type { Manifest } from '../src/manifest/types.js';
import { serializeManifest, validateManifest } from '../src/manifest/validate.js';
import { dlopenNote, hasTool, mkexe, mklib, writeText } from './helpers/build.js';
import { elfdeps, listLayer, unpackImage } from './helpers/image.js';
import { launchUnavailable } from './helpers/launch-probe.js';
import { skipOrFail } from './helpers/skip.js';

const LOADER_ERROR = 'error while loading shared libraries';

/** Every path under a host directory, as in-root paths, sorted. */
function tree(root: string, at = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, at)).sort()) {
    const p = `${at}/${name}`;
    out.push(p);
    if (lstatSync(join(root, p)).isDirectory()) out.push(...tree(root, p));
  }
  return out;
}

const paths = (m: Manifest): string[] => m.entries.map((e) => e.path);

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = elfdeps(args);
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('--exclude', function () {
  this.timeout(300_000);
  let work: string;
  let lib: string;
  /** The program of the diagram: prints gpu_value() + shared_value() = 1220. */
  let app: string;
  /** What --exclude 'libgpu.so*' must leave out of app's root: the link, its file, the subtree. */
  let subtree: string[];
  let shared: string;

  before(function () {
    if (!hasTool('gcc')) skipOrFail(this, 'gcc is not installed');
    // realpath: the in-root paths the manifest holds are canonical.
    work = realpathSync(mkdtempSync(join(tmpdir(), 'elfdeps-exclude-')));
    lib = join(work, 'lib');
    const sub2 = mklib(join(lib, 'libsub2.so'), { rpath: lib, source: 'int sub2(void) { return 2; }\n' });
    const sub1 = mklib(join(lib, 'libsub1.so'), { rpath: lib, needs: [sub2], source: 'int sub2(void);\nint sub1(void) { return 10 * sub2(); }\n' });
    shared = mklib(join(lib, 'libshared.so'), { rpath: lib, source: 'int shared_value(void) { return 100; }\n' });
    const gpu = mklib(join(lib, 'libgpu.so.1.0'), {
      soname: 'libgpu.so.1',
      rpath: lib,
      needs: [sub1, shared],
      source: 'int sub1(void);\nint shared_value(void);\nint gpu_value(void) { return 1000 + sub1() + shared_value(); }\n',
    });
    symlinkSync('libgpu.so.1.0', join(lib, 'libgpu.so.1'));
    app = mkexe(join(work, 'bin', 'app'), {
      rpath: lib,
      needs: [gpu, shared],
      source: '#include <stdio.h>\nint gpu_value(void);\nint shared_value(void);\nint main(void) { printf("%d\\n", gpu_value() + shared_value()); return 0; }\n',
    });
    subtree = [join(lib, 'libgpu.so.1'), gpu, sub1, sub2].sort();
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('leaves out the excluded library with its symlink and its whole subtree; a library it shares with the program stays', () => {
    const full = createManifest([app], { loaderOnly: true });
    const cut = createManifest([app], { loaderOnly: true, exclude: ['libgpu.so*'] });
    expect(full.excluded, 'no field without patterns').to.equal(undefined);
    for (const p of subtree) expect(paths(full)).to.include(p);
    // Exactly the subtree is gone; nothing else changed.
    expect(paths(full).filter((p) => !paths(cut).includes(p))).to.deep.equal(subtree);
    expect(paths(cut).filter((p) => !paths(full).includes(p))).to.deep.equal([]);
    expect(paths(cut)).to.include(shared);
    expect(cut.missing).to.deep.equal([]);
    expect(cut.excluded).to.deep.equal([
      { name: 'libgpu.so.1', pattern: 'libgpu.so*', path: join(lib, 'libgpu.so.1'), neededBy: [app], dropped: [join(lib, 'libsub1.so'), join(lib, 'libsub2.so')] },
    ]);
    // A path pattern (real path, through ** ) excludes the same.
    const byPath = createManifest([app], { loaderOnly: true, exclude: [`${work}/**/libgpu.so.1.0`] });
    expect(paths(byPath)).to.deep.equal(paths(cut));
    expect(byPath.excluded?.[0]?.pattern).to.equal(`${work}/**/libgpu.so.1.0`);
    // --why of what was left out says why.
    const why = cli(['manifest', '--loader-only', '--exclude', 'libgpu.so*', app, '--why', join(lib, 'libsub2.so')]);
    expect(why.status).to.equal(1);
    expect(why.stderr).to.equal(`elfdeps: ${join(lib, 'libsub2.so')}: not in the manifest: left out with libgpu.so.1 (excluded by --exclude 'libgpu.so*')\n`);
  });

  it('an object only the excluded library brings to one program stays when another program of the manifest needs it', () => {
    const sub1 = join(lib, 'libsub1.so');
    const other = mkexe(join(work, 'bin', 'other'), { rpath: lib, needs: [sub1] });
    const m = createManifest([app, other], { loaderOnly: true, exclude: ['libgpu.so*'] });
    expect(paths(m)).to.include.members([sub1, join(lib, 'libsub2.so'), shared]);
    expect(paths(m)).to.not.include.members([join(lib, 'libgpu.so.1'), join(lib, 'libgpu.so.1.0')]);
    expect(m.excluded?.map((x) => [x.name, x.neededBy, x.dropped])).to.deep.equal([['libgpu.so.1', [app], []]]);
  });

  it('copy: the root lacks exactly the subtree; the program starts there once the target provides it, and runs', function () {
    const why = launchUnavailable();
    if (why !== null) skipOrFail(this, why);
    const fullRoot = join(work, 'root-full');
    const root = join(work, 'root-cut');
    expect(cli(['copy', '--loader-only', app, fullRoot]).status).to.equal(0);
    const copy = cli(['copy', '--loader-only', '--exclude', 'libgpu.so*', app, root]);
    expect(copy.status, copy.stderr).to.equal(0);
    expect(copy.stdout).to.include('excluded (the target provides them): libgpu.so.1 (+2 with it)');
    expect(tree(fullRoot).filter((p) => !tree(root).includes(p))).to.deep.equal(subtree);
    expect(tree(root).filter((p) => !tree(fullRoot).includes(p))).to.deep.equal([]);

    const before = cli(['run', root, '--', app]);
    expect(before.status).to.not.equal(0);
    expect(before.stderr).to.include(LOADER_ERROR).and.include('libgpu.so.1');

    // The target provides libgpu and what it needs (here, the way the host has them).
    const provide = cli(['copy', '--loader-only', join(lib, 'libgpu.so.1'), root]);
    expect(provide.status, provide.stderr).to.equal(0);
    const after = cli(['run', root, '--', app]);
    expect(after.stderr).to.not.include(LOADER_ERROR);
    expect(after.status, after.stderr).to.equal(0);
    expect(after.stdout).to.equal('1220\n');
    expect(tree(root)).to.deep.equal(tree(fullRoot));
  });

  it('an excluded library the root does not have is not missing (exit 0); symbols it may define are not judged, a warning says so', () => {
    const elsewhere = join(work, 'elsewhere');
    const absent = mklib(join(elsewhere, 'libabsent.so.1'), { source: 'int absent_data = 5;\n' });
    const prog = mkexe(join(work, 'bin', 'uses-absent'), {
      rpath: lib,
      needs: [absent],
      source: '#include <stdio.h>\nextern int absent_data;\nint main(void) { printf("%d\\n", absent_data); return 0; }\n',
    });
    const plain = createManifest([prog], { loaderOnly: true });
    expect(plain.missing.map((x) => x.name)).to.include('libabsent.so.1');
    const m = createManifest([prog], { loaderOnly: true, exclude: ['libabsent.so.1'] });
    expect(m.missing).to.deep.equal([]);
    expect(m.excluded).to.deep.equal([{ name: 'libabsent.so.1', pattern: 'libabsent.so.1', path: null, neededBy: [prog], dropped: [] }]);
    expect(m.warnings.some((w) => w.includes('absent_data') && w.includes('not checked: excluded libabsent.so.1 may define it')), m.warnings.join('\n')).to.equal(true);
    // A library missing here that only an excluded one needs is the target's to provide: not missing either.
    const vendor = mklib(join(lib, 'libneeds-absent.so.1'), { rpath: lib, needs: [absent] });
    const viaVendor = mkexe(join(work, 'bin', 'uses-needs-absent'), { rpath: lib, needs: [vendor] });
    expect(createManifest([viaVendor], { loaderOnly: true }).missing.map((x) => [x.name, x.neededBy])).to.deep.equal([['libabsent.so.1', vendor]]);
    const cut = createManifest([viaVendor], { loaderOnly: true, exclude: ['libneeds-absent.so.*'] });
    expect(cut.missing).to.deep.equal([]);
    expect(cut.excluded).to.deep.equal([{ name: 'libneeds-absent.so.1', pattern: 'libneeds-absent.so.*', path: vendor, neededBy: [viaVendor], dropped: [] }]);
    // A file the loader would reject under an excluded name (not an ELF file): not missing, no "would fail" warning.
    const realBad = mklib(join(elsewhere, 'libbad.so.1'));
    writeText(join(lib, 'libbad.so.1'), 'not an ELF file\n');
    const usesBad = mkexe(join(work, 'bin', 'uses-bad'), { rpath: lib, needs: [realBad] });
    const rejected = createManifest([usesBad], { loaderOnly: true });
    expect(rejected.missing.map((x) => x.name)).to.deep.equal(['libbad.so.1']);
    expect(rejected.warnings.some((w) => w.includes('the loader would fail'))).to.equal(true);
    const rejectedCut = createManifest([usesBad], { loaderOnly: true, exclude: ['libbad.so.1'] });
    expect(rejectedCut.missing).to.deep.equal([]);
    expect(rejectedCut.warnings.filter((w) => w.includes('the loader would fail'))).to.deep.equal([]);
    expect(rejectedCut.excluded?.map((x) => [x.name, x.path])).to.deep.equal([['libbad.so.1', null]]);
    const status = cli(['manifest', '--loader-only', prog, '-o', join(work, 'absent.json')]).status;
    expect(status).to.equal(1);
    expect(cli(['manifest', '--loader-only', '--exclude', 'libabsent.so.1', prog, '-o', join(work, 'absent.json')]).status).to.equal(0);
  });

  it('versions needed from an excluded library are not checked: the target provides it', () => {
    const built = join(work, 'ver-build');
    const v1 = writeText(join(work, 'v1.map'), 'V_1 { global: ver_f; local: *; };\n');
    const v2 = writeText(join(work, 'v2.map'), 'V_1 { global: ver_f; local: *; };\nV_2 { global: ver_g; } V_1;\n');
    const newer = mklib(join(built, 'libver.so.1'), { args: [`-Wl,--version-script,${v2}`], source: 'int ver_f(void) { return 1; }\nint ver_g(void) { return 2; }\n' });
    mklib(join(lib, 'libver.so.1'), { args: [`-Wl,--version-script,${v1}`], source: 'int ver_f(void) { return 1; }\n' });
    const prog = mkexe(join(work, 'bin', 'uses-v2'), { rpath: lib, needs: [newer], source: 'int ver_g(void);\nint main(void) { return ver_g(); }\n' });
    const plain = createManifest([prog], { loaderOnly: true });
    expect(plain.missing.map((x) => x.name)).to.deep.equal(['V_2']);
    const m = createManifest([prog], { loaderOnly: true, exclude: ['libver.so.*'] });
    expect(m.missing).to.deep.equal([]);
    expect(m.excluded?.map((x) => x.name)).to.deep.equal(['libver.so.1']);
  });

  it('objects left out trigger no rules: an excluded library needing libtinfo and importing getpwnam brings neither terminfo nor the user database', () => {
    const vendor = mklib(join(lib, 'libvendor.so.1'), {
      rpath: lib,
      libs: ['-l:libtinfo.so.6'],
      source: '#include <pwd.h>\nint vendor_value(void) { return getpwnam("root") != 0; }\n',
    });
    const prog = mkexe(join(work, 'bin', 'uses-vendor'), { rpath: lib, needs: [vendor, shared] });
    const plain = createManifest([prog]);
    expect(plain.rules?.map((r) => r.rule)).to.include.members(['user-database', 'terminfo']);
    const m = createManifest([prog], { exclude: ['libvendor.so.1'] });
    expect(m.rules?.map((r) => r.rule)).to.not.include.members(['user-database']);
    expect(m.rules?.map((r) => r.rule)).to.not.include('terminfo');
    expect(paths(m).filter((p) => p.startsWith('/usr/share/terminfo') || p === '/etc/passwd')).to.deep.equal([]);
    expect(m.excluded?.[0]?.dropped.some((p) => p.endsWith('/libtinfo.so.6'))).to.equal(true);
    expect(paths(m).some((p) => /libtinfo\.so/.test(p))).to.equal(false);
  });

  it('a library a rule (dlopen note) or --add would bring is left out with its links, and listed with that reason', () => {
    const prog = mkexe(join(work, 'bin', 'dlopens-gpu'), {
      rpath: lib,
      needs: [shared],
      source:
        dlopenNote('[{"soname":["libgpu.so.1"],"feature":"gpu","priority":"recommended"}]') +
        dlopenNote('[{"soname":["libcudaX.so.9"],"feature":"cuda","priority":"required"}]') +
        'int main(void) { return 0; }\n',
    });
    const plain = createManifest([prog]);
    for (const p of subtree) expect(paths(plain)).to.include(p);
    expect(plain.missing.map((x) => x.name)).to.deep.equal(['libcudaX.so.9']);
    const m = createManifest([prog], { exclude: ['libgpu.so*', 'libcudaX.so.*'] });
    for (const p of subtree) expect(paths(m)).to.not.include(p);
    expect(m.missing).to.deep.equal([]);
    expect(m.excluded?.map((x) => [x.name, x.path, x.why?.by])).to.deep.equal([
      [join(lib, 'libgpu.so.1'), join(lib, 'libgpu.so.1'), 'rule'],
      ['libcudaX.so.9', null, 'rule'],
    ]);

    // --add of the directory: the link and the file are left out, the rest of it comes.
    const added = createManifest([], { loaderOnly: true, add: [lib], exclude: ['libgpu.so*'] });
    expect(paths(added)).to.include.members([join(lib, 'libsub1.so'), shared]);
    expect(paths(added)).to.not.include.members([join(lib, 'libgpu.so.1'), join(lib, 'libgpu.so.1.0')]);
    expect(added.excluded?.map((x) => [x.name, x.why])).to.deep.equal([
      [join(lib, 'libgpu.so.1'), { by: 'add', path: lib }],
      [join(lib, 'libgpu.so.1.0'), { by: 'add', path: lib }],
    ]);
  });

  it('image --exclude: the layer lacks the subtree; copy and image take a manifest file with an excluded list', function () {
    const m = createManifest([app], { loaderOnly: true, exclude: ['libgpu.so*'] });
    const file = join(work, 'cut.json');
    writeFileSync(file, serializeManifest(m));
    const out = join(work, 'cut.tar');
    const r = cli(['image', '--loader-only', '--exclude', 'libgpu.so*', app, '-o', out]);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include('excluded (the target provides them): libgpu.so.1 (+2 with it)');
    const layout = unpackImage(out, join(work, 'cut-image'));
    const names = listLayer(layout.layerFiles[0] as string).map((l) => `/${l.split(/\s+/)[5]}`.replace(/\/$/, ''));
    expect(names).to.include(shared);
    for (const p of subtree) expect(names).to.not.include(p);
    // From the manifest file: the same layer.
    const fromFile = join(work, 'cut-file.tar');
    expect(cli(['image', file, '-o', fromFile]).status).to.equal(0);
    expect(listLayer(unpackImage(fromFile, join(work, 'cut-file-image')).layerFiles[0] as string)).to.deep.equal(listLayer(layout.layerFiles[0] as string));
    const copied = cli(['copy', '--dry-run', file, join(work, 'dry')]);
    expect(copied.status, copied.stderr).to.equal(0);
    expect(copied.stdout.split('\n').filter((l) => l.startsWith('create') && l.includes('libgpu'))).to.deep.equal([]);
    expect(copied.stdout).to.include('excluded (the target provides them): libgpu.so.1 (+2 with it)');
  });

  it('a real host program linking libGL, with --exclude-host-gpu: libGL and its libglvnd subtree are left out, and the program starts once the target provides them', function () {
    const prog = ['/usr/bin/xdriinfo', '/usr/bin/glxinfo', '/usr/bin/eglinfo'].find((p) => existsSync(p) && (readElf(p).dynamic?.needed ?? []).some((n) => /^lib(GL|EGL|OpenGL)\.so/.test(n)));
    if (prog === undefined) return skipOrFail(this, 'no host program linking libGL, libEGL or libOpenGL (xdriinfo is in x11-utils)', '.ci/run installs x11-utils');
    const m = createManifest([prog], { loaderOnly: true, exclude: [...HOST_GPU_EXCLUDES] });
    expect(m.missing).to.deep.equal([]);
    expect(m.excluded?.length).to.be.greaterThan(0);
    for (const x of m.excluded ?? []) expect(x.neededBy).to.include(prog);
    expect(paths(m).filter((p) => /\/lib(GL|EGL|GLX|GLdispatch|OpenGL|cuda|nvidia-)[.-]/.test(p))).to.deep.equal([]);
    const why = launchUnavailable();
    if (why !== null) {
      console.log(`      (not run: ${why})`);
      return;
    }
    const root = join(work, 'root-host-gpu');
    expect(cli(['copy', '--loader-only', '--exclude-host-gpu', prog, root]).status).to.equal(0);
    const before = cli(['run', root, '--', prog]);
    expect(before.stderr).to.include(LOADER_ERROR);
    for (const x of m.excluded ?? []) expect(cli(['copy', '--loader-only', x.path as string, root]).status).to.equal(0);
    const after = cli(['run', root, '--', prog]);
    // No display here: the program itself says so, which means the loader started it.
    expect(after.stderr).to.not.include(LOADER_ERROR);
  });

  it('patterns match as bash matches file names (*, ?, [...], [!...], escapes); * and ? never cross /; ** spans directories', function () {
    const names = ['libGL.so.1', 'libGL.so', 'libGLX.so.0', 'libGLdispatch.so.0', 'libnvidia-ml.so.1', 'libcuda.so.1', 'libcudart.so.13', 'libEGL_mesa.so.0', 'lib[x].so', 'a*b', 'libé.so.1', ''];
    const patterns = [...HOST_GPU_EXCLUDES, 'libGL*', 'lib?L.so*', 'libGL[A-Z].so.?', 'lib[!G]*', 'lib[]x]*', 'lib\\[x\\].so', 'a\\*b', 'a*b', 'lib?.so.1', 'lib[^n]*.so.1', '*.so.[0-9]'];
    for (const p of patterns) {
      const ours = new ExcludePattern(p);
      for (const n of names) {
        const bash = spawnSync('bash', ['-c', '[[ $1 == $2 ]]', 'bash', n, p], { env: { LC_ALL: 'C.UTF-8' } }).status === 0;
        expect(ours.matchesName(n), `${p} vs ${JSON.stringify(n)}`).to.equal(bash);
      }
    }
    const path = (p: string, x: string) => new ExcludePattern(p).matchesPath(x);
    expect(path('/usr/lib/**/libfoo.so*', '/usr/lib/libfoo.so.1')).to.equal(true);
    expect(path('/usr/lib/**/libfoo.so*', '/usr/lib/a/b/libfoo.so.1')).to.equal(true);
    expect(path('/usr/lib/*/libfoo.so*', '/usr/lib/a/b/libfoo.so.1')).to.equal(false);
    expect(path('/usr/lib/*', '/usr/lib/a/b')).to.equal(false);
    expect(path('/opt/nvidia/**', '/opt/nvidia/lib64/libnvidia-ml.so.1')).to.equal(true);
    expect(path('/opt/nvidia/**', '/opt/nvidiax/lib')).to.equal(false);
    expect(new ExcludePattern('libfoo*').matchesPath('/libfoo')).to.equal(false);
    // A pattern RegExp engines backtrack on for minutes: bounded steps here (mocha's timeout would catch a hang).
    const evil = new ExcludePattern(`${'*a'.repeat(200)}*b`);
    expect(evil.matchesName('a'.repeat(4000))).to.equal(false);
    expect(new ExcludePattern(`/${'**/'.repeat(100)}x*y`).matchesPath(`/${'d/'.repeat(1000)}xxxxxxxxxxxx`)).to.equal(false);
  });

  it('hostile patterns give one clear line and exit 2 (manifest, copy, image)', function () {
    const huge = 'lib'.repeat(40_000); // 120 KB: one argument may be at most 128 KiB (MAX_ARG_STRLEN)
    const cases: Array<[string, RegExp]> = [
      ['', /empty pattern/],
      ['**', /matches every library/],
      ['*', /matches every library/],
      ['?*', /matches every library/],
      ['/**', /matches every library/],
      ['/*/**', /matches every library/],
      [huge, /longer than 4096 characters/],
      ['lib[x', /'\[' without its '\]'/],
      ['lib\\', /lone backslash/],
      ['libGL.so.[[:digit:]]', /POSIX class/],
      ['lib/x.so', /absolute in-root path/],
      ['/usr//lib/x', /canonical/],
      ['/usr/lib/', /canonical/],
      ['/usr/../lib/x', /canonical/],
    ];
    for (const [pattern, message] of cases) {
      for (const verb of [['manifest'], ['copy'], ['image']]) {
        const tail = verb[0] === 'copy' ? [join(work, 'never')] : verb[0] === 'image' ? ['-o', join(work, 'never.tar')] : [];
        const r = cli([...verb, '--exclude', pattern, app, ...tail]);
        const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('Try '));
        expect(r.status, `${verb[0]} ${pattern.slice(0, 20)}`).to.equal(2);
        expect(lines, r.stderr.slice(0, 300)).to.have.length(1);
        expect(lines[0]).to.match(message);
        expect((lines[0] as string).length).to.be.lessThan(300);
      }
    }
    expect(existsSync(join(work, 'never'))).to.equal(false);
    expect(existsSync(join(work, 'never.tar'))).to.equal(false);
    // --exclude with a manifest file is a usage error: the manifest is already made.
    const m = join(work, 'plain.json');
    writeFileSync(m, serializeManifest(createManifest([app], { loaderOnly: true })));
    const r = cli(['copy', '--exclude', 'libgpu.so*', m, join(work, 'never')]);
    expect(r.status).to.equal(2);
    expect(r.stderr).to.include('--exclude');
  });

  it('the format: excluded is version 2 only and checked by the schema; a manifest with it reads back the same', () => {
    const m = createManifest([app], { loaderOnly: true, exclude: ['libgpu.so*'] });
    expect(() => validateManifest({ ...m, elfdepsManifest: 1, rules: undefined, entries: m.entries.map(({ why: _w, ...e }) => e) })).to.throw(/version 1 manifest has no .*excluded/);
    expect(() => validateManifest({ ...m, excluded: [{ name: 'x', pattern: 'x', path: null, neededBy: [] }] })).to.throw(/dropped/);
    expect(() => validateManifest({ ...m, excluded: [{ name: 'x', pattern: 'x', path: null, neededBy: [], dropped: [], extra: 1 }] })).to.throw(/extra/);
    expect(validateManifest(JSON.parse(serializeManifest(m))).excluded).to.deep.equal(m.excluded);
  });
});
