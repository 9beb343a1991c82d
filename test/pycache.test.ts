/**
 * Which pycs elfdeps keeps (src/rules/pycache.ts), judged by CPython itself:
 * the host's Python writes timestamp, checked-hash and unchecked-hash pycs
 * (py_compile, PEP 552) into a small standard library, some are then made
 * stale or broken, and importlib's own checks (_classify_pyc,
 * _validate_timestamp_pyc, _validate_hash_pyc) say which are valid. elfdeps
 * must keep exactly those; the copy it writes must keep them valid (the
 * sources' mtimes), and a copy whose source mtime drifted is mended by the
 * next run without --force.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { EntryCollector } from '../src/manifest/collect.js';
import { MANIFEST_VERSION, type Manifest } from '../src/manifest/types.js';
import { materialise } from '../src/materialise/index.js';
import { RootFs } from '../src/resolve/rootfs.js';
import { keepPycache } from '../src/rules/pycache.js';
import { sourceHash } from '../src/rules/siphash.js';
import { skipOrFail } from './helpers/skip.js';

const PYTHON = '/usr/bin/python3';

/** Writes the pycs of the cases into STDLIB/pkg with py_compile, then spoils some. */
const MAKE = `
import importlib.util, os, py_compile, sys
from py_compile import PycInvalidationMode as M
pkg = os.path.join(sys.argv[1], 'pkg')
def src(name, text):
    p = os.path.join(pkg, name + '.py')
    open(p, 'w').write(text)
    return p
def pyc(p, mode=M.TIMESTAMP, opt=''):
    return py_compile.compile(p, cfile=importlib.util.cache_from_source(p, optimization=opt), invalidation_mode=mode, doraise=True)
pyc(src('timestamp', 'x = 1\\n'))
pyc(src('opt', 'x = 2\\n'), opt=1)
pyc(src('checked', 'x = 3\\n'), M.CHECKED_HASH)
pyc(src('unchecked', 'x = 4\\n'), M.UNCHECKED_HASH)
p = src('stale', 'x = 5\\n'); pyc(p); os.utime(p, (1_000_000_000, 1_000_000_000))
p = src('resized', 'x = 6\\n'); c = pyc(p); st = os.stat(p); open(p, 'w').write('x = 66\\n'); os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
p = src('rehashed', 'x = 7\\n'); pyc(p, M.CHECKED_HASH); open(p, 'w').write('x = 8\\n')
p = src('magic', 'x = 9\\n'); c = pyc(p); b = bytearray(open(c, 'rb').read()); b[0] ^= 0xff; open(c, 'wb').write(bytes(b))
p = src('flags', 'x = 10\\n'); c = pyc(p); b = bytearray(open(c, 'rb').read()); b[4] = 4; open(c, 'wb').write(bytes(b))
p = src('gone', 'x = 11\\n'); pyc(p); os.unlink(p)
`;

/** The pycs under DIR that importlib accepts for their sources, one per line. */
const JUDGE = `
import importlib.util, os, sys
import importlib._bootstrap_external as be
for d, dirs, files in os.walk(sys.argv[1]):
    for f in sorted(files):
        if not f.endswith('.pyc'):
            continue
        p = os.path.join(d, f)
        try:
            s = importlib.util.source_from_cache(p)
            data = open(p, 'rb').read()
            flags = be._classify_pyc(data, p, {})
            if flags & 1 == 0:
                st = os.stat(s)
                be._validate_timestamp_pyc(data, int(st.st_mtime), st.st_size, p, {})
            elif flags & 2:
                be._validate_hash_pyc(data, importlib.util.source_hash(open(s, 'rb').read()), p, {})
            print(p[len(sys.argv[1]):])
        except (ImportError, EOFError, OSError, ValueError):
            pass
`;

function python(script: string, ...args: string[]): string {
  const r = spawnSync(PYTHON, ['-c', script, ...args], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', PYTHONDONTWRITEBYTECODE: '1' } });
  if (r.status !== 0) throw new Error(`python3: ${r.stderr}`);
  return r.stdout;
}

describe('__pycache__: the pycs kept are those CPython accepts (PEP 552)', function () {
  this.timeout(120_000);
  let work: string;
  let stdlibDir: string;

  before(function () {
    if (!existsSync(PYTHON)) skipOrFail(this, `${PYTHON} absent`);
    const hostStdlib = python('import sysconfig; print(sysconfig.get_path("stdlib"))').trim();
    if (!/^python3\.([7-9]|1[0-3])$/.test(basename(hostStdlib))) skipOrFail(this, `${hostStdlib}: not a Python 3.7-3.13 standard library`);
    work = mkdtempSync(join(tmpdir(), 'elfdeps-pycache-'));
    stdlibDir = `/usr/lib/${basename(hostStdlib)}`;
    mkdirSync(join(work, 'root', stdlibDir, 'importlib'), { recursive: true });
    mkdirSync(join(work, 'root', stdlibDir, 'pkg'));
    copyFileSync(join(hostStdlib, 'importlib', '_bootstrap_external.py'), join(work, 'root', stdlibDir, 'importlib', '_bootstrap_external.py'));
    python(MAKE, join(work, 'root', stdlibDir));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('SipHash as _imp.source_hash computes it', () => {
    const inputs = ['', 'a', 'abcdefg', 'abcdefgh', 'abcdefghi', 'x'.repeat(1000)];
    const expected = python(`import _imp, importlib.util as u, sys\nfor s in sys.argv[1:]: print(_imp.source_hash(int.from_bytes(u.MAGIC_NUMBER, 'little'), s.encode()).hex())`, ...inputs)
      .trim()
      .split('\n');
    const minor = Number(python('import sys; print(sys.version_info[1])').trim());
    const magic = Buffer.from(python('import importlib.util as u; print(u.MAGIC_NUMBER.hex())').trim(), 'hex');
    const got = inputs.map((s) => sourceHash(BigInt(magic.readUInt32LE(0)), Buffer.from(s), minor >= 11 ? 1 : 2, false).toString('hex'));
    expect(got).to.deep.equal(expected);
  });

  it('keeps exactly the valid pycs, records the mtimes they check, and the copy keeps them valid', () => {
    const root = join(work, 'root');
    const valid = python(JUDGE, root).trim().split('\n').sort();
    // The oracle must see both kinds: some valid, some not.
    expect(valid.map((p) => basename(p).split('.')[0]).sort()).to.deep.equal(['checked', 'opt', 'timestamp', 'unchecked']);

    const fs = new RootFs(root);
    const collector = new EntryCollector(fs);
    collector.addTree(stdlibDir, '/', (name) => name === '__pycache__');
    const notes: string[] = [];
    const kept = keepPycache(fs, collector, stdlibDir, stdlibDir, false, (t) => notes.push(t));
    expect(notes).to.deep.equal([]);
    const pycs = [...collector.entries.keys()].filter((p) => p.endsWith('.pyc')).sort();
    expect(pycs).to.deep.equal(valid);
    expect(kept).to.equal(valid.length);
    for (const e of collector.entries.values()) {
      if (e.kind !== 'file' || !e.path.endsWith('.py')) continue;
      const timestamped = ['timestamp', 'opt'].includes(basename(e.path, '.py'));
      expect(e.mtime, e.path).to.equal(timestamped ? Math.trunc(statSync(join(root, e.path)).mtimeMs / 1000) : undefined);
    }

    const manifest: Manifest = { elfdepsManifest: MANIFEST_VERSION, root, programs: [], added: [], entries: [...collector.entries.values()], missing: [], warnings: [] };
    const copy = join(work, 'copy');
    materialise(manifest, copy);
    expect(python(JUDGE, copy).trim().split('\n').sort()).to.deep.equal(valid);
    // A source whose mtime drifted is written again by the next run, without --force.
    utimesSync(join(copy, stdlibDir, 'pkg', 'timestamp.py'), 1, 1);
    expect(python(JUDGE, copy).trim().split('\n').sort()).to.not.deep.equal(valid);
    const again = materialise(manifest, copy);
    expect(again.replaced).to.equal(1);
    expect(python(JUDGE, copy).trim().split('\n').sort()).to.deep.equal(valid);
    expect(materialise(manifest, copy).replaced).to.equal(0);
  });
});
