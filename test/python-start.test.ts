/**
 * Python starts in an elfdeps root and image as it does on the host: the
 * python rule keeps the standard library's __pycache__ pycs valid for the
 * sources kept, and `copy` and `image` write each source's mtime as its pyc
 * records it, so Python neither recompiles nor writes anything at its first
 * start (issue 19, item 4).
 *
 * Oracles: CPython's own importlib (_classify_pyc, _validate_timestamp_pyc,
 * _validate_hash_pyc) judges every pyc in the root against its source;
 * `python3 -v` says "matches" for each pyc it uses and "code object from
 * FILE.py" for each source it compiles; the tree is unchanged after the first
 * start (and the container runs --read-only). The start time is measured
 * against the host's in the same run and printed; the 1.5x bound is asserted
 * on medians of interleaved runs, after the structural checks that explain it.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfdepsCommand } from './helpers/cli.js';
import { hasTool } from './helpers/build.js';
import { Podman } from './helpers/image.js';
import { skipOrFail } from './helpers/skip.js';

const PYTHON = '/usr/bin/python3';
const HOST_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';
const ENV = { PATH: HOST_PATH, LANG: 'C.UTF-8' };
const IMPORTS = 'import ssl, sqlite3, json, asyncio';
const BATCHES = 5;
const RUNS_PER_BATCH = 3;

/** Runs IMPORTS `n` times under -X importtime; prints the total import time (us) and wall time (s) of each run as JSON. */
const DRIVER = `
import json, subprocess, sys, time
imports, walls = [], []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter()
    r = subprocess.run([sys.executable, '-X', 'importtime', '-c', ${JSON.stringify(IMPORTS)}], stderr=subprocess.PIPE, text=True)
    walls.append(time.perf_counter() - t)
    if r.returncode != 0:
        sys.exit(r.stderr)
    imports.append(sum(int(l.split('|')[0].split(':')[1]) for l in r.stderr.splitlines() if l.startswith('import time:') and l.split('|')[0].split(':')[1].strip().isdigit()))
print(json.dumps({'imports': imports, 'walls': walls}))
`;

/** Judges every pyc under DIR with CPython's importlib, and lists sources whose valid host pyc the root lacks. */
const PYC_ORACLE = `
import importlib.util, json, os, sys
import importlib._bootstrap_external as be
root, stdlib = sys.argv[1], sys.argv[2]
valid, invalid, missed = 0, [], []
def check(pyc, src):
    data = open(pyc, 'rb').read()
    flags = be._classify_pyc(data, pyc, {})
    if flags & 1 == 0:
        st = os.stat(src)
        be._validate_timestamp_pyc(data, int(st.st_mtime), st.st_size, pyc, {})  # as SourceLoader.get_code calls it
    elif flags & 2:
        be._validate_hash_pyc(data, importlib.util.source_hash(open(src, 'rb').read()), pyc, {})
for d, dirs, files in os.walk(root + stdlib):
    for f in files:
        p = os.path.join(d, f)
        if f.endswith('.pyc'):
            try:
                check(p, importlib.util.source_from_cache(p))
                valid += 1
            except Exception as e:
                invalid.append(p + ': ' + str(e))
        elif f.endswith('.py'):
            host = p[len(root):]
            hp = importlib.util.cache_from_source(host)
            try:
                check(hp, host)
            except Exception:
                continue
            if not os.path.exists(root + hp):
                missed.append(host)
print(json.dumps({'valid': valid, 'invalid': invalid, 'missed': missed}))
`;

interface Timing {
  imports: number[];
  walls: number[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

function elfdeps(args: string[]) {
  const [node, bin] = elfdepsCommand();
  return spawnSync(node, [bin, ...args], { encoding: 'utf8', env: ENV, maxBuffer: 1 << 28 });
}

/** path → size and mtime of everything under `root` but the mount points `elfdeps run` makes (/proc, /dev). */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (rel === '' && (name === 'proc' || name === 'dev')) continue;
      const p = join(dir, name);
      const st = lstatSync(p);
      out.set(`${rel}/${name}`, `${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) visit(p, `${rel}/${name}`);
    }
  };
  visit(root, '');
  return out;
}

/** What `python3 -v` says about where its modules' code came from. */
function codeSources(stderr: string): { matches: number; compiled: string[] } {
  const lines = stderr.split('\n');
  return {
    matches: lines.filter((l) => / matches \//.test(l)).length,
    // A pyc used: "# code object from '/x/__pycache__/y.pyc'"; a source compiled: "# code object from /x/y.py".
    compiled: lines.filter((l) => /^# code object from \/.*\.py$/.test(l)),
  };
}

function parseTiming(stdout: string, where: string): Timing {
  try {
    return JSON.parse(stdout.trim().split('\n').pop() as string) as Timing;
  } catch {
    throw new Error(`${where}: the timing driver printed ${JSON.stringify(stdout.slice(-500))}`);
  }
}

describe('Python starts from its pycs in a root and an image (issue 19, item 4)', function () {
  this.timeout(900_000);
  let work: string;
  let root: string;
  let stdlib: string;

  before(function () {
    if (!existsSync(PYTHON)) skipOrFail(this, `${PYTHON} absent`);
    stdlib = spawnSync(PYTHON, ['-c', 'import sysconfig; print(sysconfig.get_path("stdlib"))'], { encoding: 'utf8' }).stdout.trim();
    work = mkdtempSync(join(tmpdir(), 'elfdeps-pystart-'));
    root = join(work, 'root');
    const r = elfdeps(['copy', PYTHON, root]);
    if (r.status !== 0) throw new Error(`elfdeps copy ${PYTHON}: ${r.stderr}`);
    const probe = elfdeps(['run', '--dev', '--proc', root, PYTHON, '-c', 'print(1)']);
    if (probe.stdout !== '1\n') skipOrFail(this, `elfdeps run --dev --proc cannot run here: ${probe.stderr.trim().split('\n')[0]}`);
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the root holds every pyc valid on the host, each valid for its source by importlib; the first start uses them and writes nothing', () => {
    const o = spawnSync(PYTHON, ['-c', PYC_ORACLE, root, stdlib], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(o.status, o.stderr).to.equal(0);
    const verdict = JSON.parse(o.stdout) as { valid: number; invalid: string[]; missed: string[] };
    console.log(`      ${verdict.valid} pycs in the root, all valid by importlib; ${verdict.missed.length} valid host pycs missing`);
    expect(verdict.invalid).to.deep.equal([]);
    expect(verdict.missed).to.deep.equal([]);
    expect(verdict.valid).to.be.greaterThan(100);

    const before = snapshot(root);
    const first = elfdeps(['run', '--dev', '--proc', root, PYTHON, '-v', '-c', IMPORTS]);
    expect(first.status, first.stderr.slice(-2000)).to.equal(0);
    const used = codeSources(first.stderr);
    expect(used.compiled, 'sources compiled at the first start').to.deep.equal([]);
    expect(used.matches).to.be.greaterThan(50);
    const after = snapshot(root);
    const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
    expect(changed, 'files written or touched by the first start').to.deep.equal([]);
  });

  it('the python rule leaves out the static libpython and config-3.X-* unless --with python-build; the image stays reproducible and starts from its pycs, read-only, as fast as the host', function () {
    // The size saved, against the files themselves (find's sizes of the regular files in config-3.X-*).
    const configs = readdirSync(stdlib).filter((n) => n.startsWith('config-3'));
    const found = spawnSync('find', [...configs.map((c) => join(stdlib, c)), '-type', 'f', '-printf', '%s\\n'], { encoding: 'utf8' });
    const diskBytes = found.stdout.trim().split('\n').filter((l) => l !== '').reduce((s, l) => s + Number(l), 0);
    const m1 = join(work, 'default.json');
    const m2 = join(work, 'build.json');
    expect(elfdeps(['manifest', PYTHON, '-o', m1]).status).to.equal(0);
    expect(elfdeps(['manifest', PYTHON, '--with', 'python-build', '-o', m2]).status).to.equal(0);
    type M = { entries: Array<{ path: string; size?: number; kind: string }>; rules: Array<{ rule: string; bytes: number }> };
    const [a, b] = [m1, m2].map((p) => JSON.parse(readFileSync(p, 'utf8')) as M) as [M, M];
    expect(a.entries.filter((e) => e.path.includes('/config-3') || e.path.endsWith('.a'))).to.deep.equal([]);
    const inConfig = b.entries.filter((e) => e.kind === 'file' && configs.some((c) => e.path.startsWith(`${stdlib}/${c}/`)));
    const saved = inConfig.reduce((s, e) => s + (e.size ?? 0), 0);
    const kept = a.rules.find((r) => r.rule === 'python')?.bytes ?? 0;
    console.log(`      the python rule leaves out ${(saved / 2 ** 20).toFixed(1)} MiB (${inConfig.length} files of ${configs.join(', ')}) and keeps ${(kept / 2 ** 20).toFixed(1)} MiB`);
    expect(saved).to.equal(diskBytes);

    // Two builds, same bytes.
    const tars = [join(work, 'py1.tar'), join(work, 'py2.tar')];
    for (const t of tars) {
      const r = elfdeps(['image', PYTHON, '-o', t]);
      expect(r.status, r.stderr).to.equal(0);
    }
    const digest = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
    expect(digest(tars[0] as string)).to.equal(digest(tars[1] as string));

    let podman: Podman | null = null;
    let imageName = '';
    if (!hasTool('podman') || !hasTool('runc')) {
      if (process.env.CI) throw new Error('CI: podman and runc must be installed (.ci/run)');
      console.log('      podman or runc absent: the image is not run');
    } else {
      podman = new Podman(join(work, 'podman'));
      imageName = podman.load(tars[0] as string);
      const v = podman.run(imageName, ['-v', '-c', IMPORTS], undefined, ['--read-only']);
      if (v.status !== 0 && !process.env.CI && /runc|cgroup|permission|namespace/i.test(v.stderr) && !/Traceback/.test(v.stderr)) {
        console.log(`      podman cannot run containers here: ${v.stderr.trim().split('\n').pop()}`);
        podman = null;
      } else {
        expect(v.status, v.stderr.slice(-2000)).to.equal(0);
        const used = codeSources(v.stderr);
        expect(used.compiled, 'sources compiled in the read-only container').to.deep.equal([]);
        expect(used.matches).to.be.greaterThan(50);
      }
    }

    // Timings, interleaved so that the machine's load falls on all alike.
    const host: Timing = { imports: [], walls: [] };
    const inRoot: Timing = { imports: [], walls: [] };
    const inImage: Timing = { imports: [], walls: [] };
    const add = (into: Timing, t: Timing) => {
      into.imports.push(...t.imports);
      into.walls.push(...t.walls);
    };
    for (let i = 0; i < BATCHES; i++) {
      const h = spawnSync(PYTHON, ['-c', DRIVER, String(RUNS_PER_BATCH)], { encoding: 'utf8', env: ENV });
      expect(h.status, h.stderr).to.equal(0);
      add(host, parseTiming(h.stdout, 'host'));
      const r = elfdeps(['run', '--dev', '--proc', root, PYTHON, '-c', DRIVER, String(RUNS_PER_BATCH)]);
      expect(r.status, r.stderr).to.equal(0);
      add(inRoot, parseTiming(r.stdout, 'root'));
      if (podman) {
        const c = podman.run(imageName, ['-c', DRIVER, String(RUNS_PER_BATCH)], undefined, ['--read-only']);
        expect(c.status, c.stderr).to.equal(0);
        add(inImage, parseTiming(c.stdout, 'image'));
      }
    }
    const ratio = (t: Timing, key: keyof Timing) => median(t[key]) / median(host[key]);
    const show = (label: string, t: Timing) =>
      console.log(
        `      ${label}: import time median ${(median(t.imports) / 1000).toFixed(1)} ms (${ratio(t, 'imports').toFixed(2)}x host), ` +
          `wall ${(median(t.walls) * 1000).toFixed(0)} ms (${ratio(t, 'walls').toFixed(2)}x host), ${t.imports.length} runs`,
      );
    show('host ', host);
    show('root ', inRoot);
    if (podman) show('image', inImage);
    expect(ratio(inRoot, 'imports'), 'root import time against the host').to.be.below(1.5);
    if (podman) expect(ratio(inImage, 'imports'), 'image import time against the host').to.be.below(1.5);
  });
});
