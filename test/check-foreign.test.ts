/**
 * `elfdeps check` on a real foreign root (Debian arm64, unpacked by
 * scripts/fetch-foreign-root.sh): the root as it is reports nothing; a
 * hard-linked copy with one library removed (libacl.so.1 and its file) must
 * fail exactly the ELF files the root's own loader cannot load, asked file by
 * file with `ld.so --list FILE` under qemu-user inside a chroot of the copy
 * (the chroot keeps qemu from falling back to the host's files).
 */
import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { EM_AARCH64 } from '../src/elf/constants.js';
import { readElf } from '../src/elf/reader.js';
import { cleanEnv, hasTool, run } from './helpers/build.js';
import { elfdepsCommand } from './helpers/cli.js';
import { hostElfFiles } from './helpers/host-elves.js';
import { mapPool } from './helpers/map-pool.js';
import { skipOrFail } from './helpers/skip.js';

const ROOT = join(process.env.ELFDEPS_FOREIGN_ROOTS ?? '/var/cache/elfdeps-test', 'arm64-root');
const LIBDIR = '/usr/lib/aarch64-linux-gnu';
const LDSO = '/lib/ld-linux-aarch64.so.1';
const QEMU_IN_ROOT = '/.elfdeps-qemu-static';
const PARALLEL = 2;

interface CheckDoc {
  counts: { elf: number; noLoader: number };
  failures: Array<{ path: string; problems: Array<{ cause: string; message: string }> }>;
}

function check(root: string): { status: number | null; doc: CheckDoc } {
  const [node, bin] = elfdepsCommand();
  const r = run(node, [bin, 'check', '--json', '--root', root], { env: cleanEnv() });
  expect(r.stderr).to.equal('');
  return { status: r.status, doc: JSON.parse(r.stdout) as CheckDoc };
}

describe('elfdeps check on a real arm64 root, against its own loader under qemu', function () {
  this.timeout(20 * 60 * 1000);
  let work = '';
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('reports nothing for the root as it is, and, with libacl.so.1 removed, exactly the files its loader cannot load', async function () {
    if (!existsSync(join(ROOT, LDSO))) skipOrFail(this, `no arm64 root at ${ROOT}`, '.ci/run builds the roots with scripts/fetch-foreign-root.sh');
    if (process.getuid?.() !== 0 || !hasTool('chroot') || !hasTool('qemu-aarch64-static')) skipOrFail(this, 'the oracle runs the root\'s loader under qemu-aarch64-static in a chroot, which needs root');
    const clean = check(ROOT);
    expect(clean.doc.failures).to.deep.equal([]);
    expect(clean.status).to.equal(0);
    expect(clean.doc.counts.elf).to.be.greaterThan(100);

    work = mkdtempSync(join(tmpdir(), 'elfdeps-check-arm64-'));
    const copy = join(work, 'root');
    // Hard links: removing a name in the copy leaves the cached root alone.
    const cp = spawnSync('cp', ['-al', ROOT, copy], { encoding: 'utf8' });
    if (cp.status !== 0) expect(spawnSync('cp', ['-a', ROOT, copy]).status, cp.stderr).to.equal(0);
    const removed = readdirSync(join(copy, LIBDIR)).filter((n) => n.startsWith('libacl.so.1'));
    expect(removed.length).to.be.greaterThan(0);
    for (const n of removed) rmSync(join(copy, LIBDIR, n));
    copyFileSync((spawnSync('sh', ['-c', 'command -v qemu-aarch64-static'], { encoding: 'utf8' }).stdout as string).trim(), join(copy, QEMU_IN_ROOT));

    const { status, doc } = check(copy);
    expect(status).to.equal(doc.failures.length > 0 ? 1 : 0);
    const failing = new Set(doc.failures.map((f) => f.path));

    // Every dynamically linked aarch64 file of the copy, asked of the root's loader.
    const files = hostElfFiles([{ dir: copy, recursive: true }])
      .filter((f) => {
        const elf = readElf(f);
        return elf.dynamic !== null && elf.header.machine === EM_AARCH64 && (elf.kind === 'executable' || elf.kind === 'pie-executable' || elf.kind === 'shared-library');
      })
      .map((f) => f.slice(copy.length));
    const refusals = await mapPool(files, PARALLEL, (f) =>
      promisify(execFile)('chroot', [copy, QEMU_IN_ROOT, LDSO, '--list', f], { env: cleanEnv() }).then(
        (r) => / version `[^']*' not found/.test(r.stdout + r.stderr) && !/weak version/.test(r.stdout + r.stderr),
        () => true,
      ),
    );
    const refused = files.filter((_, i) => refusals[i]);
    console.log(`      ${files.length} aarch64 files asked of the root's loader: ${refused.length} refused; check fails ${doc.failures.length}`);
    expect(refused.length).to.be.greaterThan(0);
    expect(files.filter((f) => failing.has(f))).to.deep.equal(refused);
    // Nothing fails that the comparison did not ask about (dangling links to the removed file would be named: there are none).
    expect([...failing].filter((f) => !files.includes(f))).to.deep.equal([]);
    for (const f of doc.failures) expect(f.problems.map((p) => p.cause)).to.deep.equal(['library-not-found']);
    for (const f of doc.failures) expect(f.problems[0]?.message).to.match(/^libacl\.so\.1: not found \(needed by /);
  });
});
