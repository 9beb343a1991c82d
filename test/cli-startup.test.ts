/**
 * How the shipped `elfdeps` starts (scripts/cli-launcher.cjs): with the V8
 * code cache the build wrote when, and only when, that cache is the one for
 * this bundle and this Node, and otherwise exactly as without it. Each case
 * runs a copy of the built CLI whose cache was damaged in one way, under a
 * probe (test/helpers/code-cache-probe.cjs) that records whether the launcher
 * handed V8 the cache and whether V8 took it; every case must print what
 * the intact CLI prints, on both streams, with the same status, and the
 * `--ldd` output must be ldd's own (addresses aside).
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CODE_CACHE_NAME, elfdepsCommand, REPO } from './helpers/cli.js';
import { skipOrFail } from './helpers/skip.js';

const PROBE = join(REPO, 'test/helpers/code-cache-probe.cjs');
/** A run that takes the cache's fast path, one that fails on its input, and one that stops early. */
const COMMANDS = [['--ldd', '/bin/ls'], ['/bin/ls', '/no/such/file'], ['--version'], ['--no-such-option']];

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** What the launcher did with the cache: handed to V8 or not, and V8's answer. */
  cache: { given: boolean; rejected: boolean | null };
}

describe('CLI start: the code cache is used only when it is this build\'s, for this Node', function () {
  this.timeout(120_000);
  let work: string;
  /** The launcher of a fresh copy of the built CLI (launcher, bundle, cache, package.json for --version). */
  let copy: () => string;
  let intact: Run[];

  function run(bin: string, args: string[]): Run {
    const probe = join(work, 'probe.jsonl');
    rmSync(probe, { force: true });
    const r = spawnSync(process.execPath, ['-r', PROBE, bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, ELFDEPS_CODE_CACHE_PROBE: probe } });
    const lines = existsSync(probe) ? readFileSync(probe, 'utf8').trim().split('\n') : [];
    expect(lines, 'the launcher compiles the bundle exactly once').to.have.length(1);
    const { given, rejected } = JSON.parse(lines[0] as string) as { given: boolean; rejected: boolean | null };
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, cache: { given, rejected } };
  }

  /** Every command through `bin` behaves as through the intact CLI; returns what happened to the cache. */
  function sameAsIntact(bin: string): Run['cache'][] {
    return COMMANDS.map((args, i) => {
      const r = run(bin, args);
      const want = intact[i] as Run;
      expect(r.signal, `elfdeps ${args.join(' ')}: ${r.stderr}`).to.equal(null);
      expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }, `elfdeps ${args.join(' ')}`).to.deep.equal({ status: want.status, stdout: want.stdout, stderr: want.stderr });
      return r.cache;
    });
  }

  before(function () {
    const [, bin] = elfdepsCommand();
    work = mkdtempSync(join(tmpdir(), 'elfdeps-startup-'));
    let n = 0;
    copy = () => {
      const root = join(work, `copy${n++}`);
      const cli = join(root, 'dist/src/cli');
      mkdirSync(cli, { recursive: true });
      copyFileSync(join(REPO, 'package.json'), join(root, 'package.json'));
      for (const f of ['elfdeps.cjs', 'elfdeps-bundle.cjs', CODE_CACHE_NAME]) copyFileSync(join(dirname(bin), f), join(cli, f));
      return join(cli, 'elfdeps.cjs');
    };
    intact = COMMANDS.map((args) => run(bin, args));
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('uses the cache the build wrote, and prints what ldd prints', function () {
    for (const r of intact) expect(r.cache).to.deep.equal({ given: true, rejected: false });
    expect(intact.map((r) => r.status)).to.deep.equal([0, 2, 0, 2]);
    let ldd: string;
    try {
      ldd = execFileSync('ldd', ['/bin/ls'], { encoding: 'utf8' });
    } catch {
      skipOrFail(this, 'ldd is not available to compare with');
    }
    expect(intact[0]?.stdout).to.equal(ldd.replace(/ \(0x[0-9a-f]+\)$/gm, ''));
  });

  it('falls back to compiling when the cache is corrupt, missing, truncated, or for another Node or another build', () => {
    const cacheOf = (bin: string): string => join(dirname(bin), CODE_CACHE_NAME);
    const headerEnd = (buf: Buffer): number => buf.indexOf(0x0a) + 1;

    // Damaged payload, header intact: V8 checks the payload's checksum and rejects it.
    // (Without that check, V8 aborts the process on such a cache: "Fatal error ... unreachable code".)
    let bin = copy();
    const buf = readFileSync(cacheOf(bin));
    const middle = headerEnd(buf) + Math.floor((buf.length - headerEnd(buf)) / 2);
    for (let i = middle; i < middle + 64; i++) buf[i] = (buf[i] as number) ^ 0x5a;
    writeFileSync(cacheOf(bin), buf);
    for (const c of sameAsIntact(bin)) expect(c).to.deep.equal({ given: true, rejected: true });

    // Truncated in the payload: rejected too.
    bin = copy();
    const whole = readFileSync(cacheOf(bin));
    writeFileSync(cacheOf(bin), whole.subarray(0, headerEnd(whole) + 1000));
    for (const c of sameAsIntact(bin)) expect(c).to.deep.equal({ given: true, rejected: true });

    // Written by another Node, another build of the bundle, or cut inside its
    // header, or absent: the launcher does not hand it to V8 at all.
    const header = whole.toString('latin1', 0, headerEnd(whole));
    expect(header).to.match(new RegExp(`^elfdeps-code-cache 1 [0-9a-f]{64} node ${process.version.replace(/\./g, '\\.')} ${process.arch} v8 \\S+\\n$`));
    const edits: [string, (b: Buffer) => Buffer | null][] = [
      ['another Node version', (b) => Buffer.from(b.toString('latin1').replace(` node ${process.version} `, ' node v0.0.0 '), 'latin1')],
      ['another V8', (b) => Buffer.from(b.toString('latin1').replace(` v8 ${process.versions.v8}\n`, ' v8 0.0.0\n'), 'latin1')],
      ['another build of the bundle', (b) => Buffer.from(b.toString('latin1').replace(/^(elfdeps-code-cache 1 )([0-9a-f])/, (_m, p: string, c: string) => `${p}${c === '0' ? '1' : '0'}`), 'latin1')],
      ['cut inside its header', (b) => b.subarray(0, 30)],
      ['empty', () => Buffer.alloc(0)],
      ['absent', () => null],
    ];
    for (const [what, edit] of edits) {
      bin = copy();
      const edited = edit(readFileSync(cacheOf(bin)));
      if (edited === null) rmSync(cacheOf(bin));
      else {
        expect(edited.equals(whole), what).to.equal(false);
        writeFileSync(cacheOf(bin), edited);
      }
      for (const c of sameAsIntact(bin)) expect(c, what).to.deep.equal({ given: false, rejected: null });
    }

    // A bundle edited after the build (its id line no longer the cache's): not used either.
    bin = copy();
    const bundle = join(dirname(bin), 'elfdeps-bundle.cjs');
    writeFileSync(bundle, readFileSync(bundle, 'latin1').replace(/^\/\/ elfdeps-bundle [0-9a-f]{64}\n/, `// elfdeps-bundle ${'0'.repeat(64)}\n`), 'latin1');
    for (const c of sameAsIntact(bin)) expect(c).to.deep.equal({ given: false, rejected: null });

    // Edited after the build but with its id line kept (here: a UTF-8 comment
    // appended, which also takes the launcher's UTF-8 path): V8's check of the
    // source's length rejects the cache.
    bin = copy();
    const edited = join(dirname(bin), 'elfdeps-bundle.cjs');
    writeFileSync(edited, `${readFileSync(edited, 'utf8')}\n// \u00e9dit\u00e9\n`, 'utf8');
    for (const c of sameAsIntact(bin)) expect(c).to.deep.equal({ given: true, rejected: true });
  });
});
