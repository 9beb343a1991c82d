/**
 * The loader's verdict on a real older root: this host's programs (Debian 12,
 * linked against glibc 2.36) copied into a real Debian 11 root (glibc 2.31,
 * built by scripts/fetch-older-root.sh, run by .ci/run), where most of them
 * need symbol versions the root's libc lacks (GLIBC_2.33, _2.34 ...).
 * `elfdeps --root ROOT --ldd PROG` must print exactly what the root's own
 * loader prints when tracing PROG — the version errors first, then the
 * library list — with nothing on stderr (ldd merges the loader's stderr into
 * its stdout), and exit 1 exactly when the loader would refuse to start it.
 * `elfdeps check --root ROOT` over the whole copy must fail exactly those
 * programs, with the loader's version lines and names not found, and none of
 * the root's own files.
 *
 * The truth is the root's loader started as the kernel starts it, inside a
 * chroot of the root (nothing of the host's can leak in), with
 * LD_TRACE_LOADED_OBJECTS=1 and stderr merged into stdout in order, as ldd
 * does: the version errors go to stderr, the list to stdout. Its exit status
 * is 0 even when it reports version errors (a trace never starts the
 * program), so the verdict is read from its lines, not from its status.
 *
 * The cached root is never modified: every run works in a hard-linked copy
 * (`cp -al`) in a temporary directory, removed afterwards. This test
 * downloads nothing; a missing root skips it with the command that builds it,
 * except under CI (process.env.CI), where a skip would hide a broken setup.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { expect } from 'chai';
import { readElf } from '../src/elf/reader.js';
import { EM_X86_64 } from '../src/elf/constants.js';
import { hostElfFiles } from './helpers/host-elves.js';
import { mapPool } from './helpers/map-pool.js';
import { elfdepsCommand } from './helpers/cli.js';
import { skipOrFail } from './helpers/skip.js';

const ROOT = process.env.ELFDEPS_OLDER_ROOT ?? '/var/cache/elfdeps-test/amd64-bullseye-root';
const MARKER = '.elfdeps-older-root';
const INTERP = '/lib64/ld-linux-x86-64.so.2';
/** Where the host's programs go inside the copy of the root. */
const HOST_BIN = '/elfdeps-host-bin';
/** Two cores here: a few more processes than that keep both busy while others wait on I/O. */
const PARALLEL = 4;
/** Mismatches shown in full in the failure message. */
const SHOWN = 10;

interface Ran {
  /** Exit status, or null when killed by a signal / not started. */
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, never rejecting: the status is part of what is compared. */
function runCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => resolve({ status: null, stdout: Buffer.concat(out).toString('utf8'), stderr: `${Buffer.concat(err).toString('utf8')}${e.message}` }));
    child.on('close', (status) => resolve({ status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

/** Output lines; only the newline that ends the last one is dropped, so a stray empty line still differs. */
function linesOf(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

interface Trace {
  lines: string[];
  /** Whether the loader would refuse to start the program (read from the lines). */
  refused: boolean;
  /** What the chroot itself printed on stderr (nothing, when all went well). */
  stderr: string;
}

/**
 * What ld.so would do with the program, by glibc's rules (rtld.c, dl-version.c):
 * a library `=> not found`, a `version `X' not found` that is not a weak
 * version (those are reported only with LD_VERBOSE and never stop it), or an
 * error that stops the loader outright.
 */
function refusedBy(lines: readonly string[]): boolean {
  return lines.some(
    (l) =>
      / => not found$/.test(l) ||
      (/: version `[^']*' not found \(required by /.test(l) && !/: weak version `/.test(l)) ||
      /: error while loading shared libraries: /.test(l),
  );
}

/**
 * The root's loader tracing one in-root program, as ldd runs it: the root's
 * own /bin/sh sets LD_TRACE_LOADED_OBJECTS only for the program (set for the
 * host's chroot, it would trace chroot itself) and merges the two streams.
 */
async function loaderTrace(chroot: string, dir: string, program: string): Promise<Trace> {
  const r = await runCommand(chroot, [dir, '/bin/sh', '-c', 'LD_TRACE_LOADED_OBJECTS=1 exec "$0" 2>&1', program], {
    // No LD_* variable of ours may reach the root's loader.
    PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
  });
  const lines = linesOf(r.stdout).map((l) => l.replace(/ \(0x[0-9a-f]+\)$/, ''));
  const stderr = `${r.stderr}${r.status === 0 ? '' : ` (exit status ${r.status})`}`.trim();
  return { lines, refused: refusedBy(lines), stderr };
}

/** `elfdeps --root DIR --ldd FILE...`, the shipped CLI. */
function elfdeps(dir: string, files: readonly string[]): Promise<Ran> {
  const [node, bin] = elfdepsCommand();
  // --root ignores the caller's LD_LIBRARY_PATH and LD_PRELOAD; an empty environment makes sure.
  return runCommand(node, [bin, '--root', dir, '--ldd', ...files], { PATH: process.env.PATH ?? '/usr/bin:/bin' });
}

/** A unified-style line diff (longest common subsequence; outputs here are a few dozen lines). */
function lineDiff(want: readonly string[], got: readonly string[]): string[] {
  const n = want.length;
  const m = got.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  const at = (i: number, j: number): number => lcs[i]?.[j] ?? 0;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      (lcs[i] as number[])[j] = want[i] === got[j] ? at(i + 1, j + 1) + 1 : Math.max(at(i + 1, j), at(i, j + 1));
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && want[i] === got[j]) {
      out.push(`    ${want[i]}`);
      i++;
      j++;
    } else if (j < m && (i === n || at(i, j + 1) >= at(i + 1, j))) {
      out.push(`  + ${got[j]}`);
      j++;
    } else {
      out.push(`  - ${want[i]}`);
      i++;
    }
  }
  // Tabs as \t so the diff's own indentation stays readable.
  return out.map((l) => l.replace(/\t/g, '\\t'));
}

interface Mismatch {
  program: string;
  want: Trace;
  got: string[];
  /** elfdeps's exit status and the one the loader's verdict asks for. */
  status: number | null;
  wantStatus: number;
  elfdepsStderr: string;
}

/** A line of the loader's verdict (dl-version.c via rtld.c's print_missing_version), not of the library list. */
const isVersionLine = (l: string): boolean => /: (weak )?version `[^']*' not found \(required by /.test(l);

/**
 * Which kind of difference, for the summary line: the version lines alone
 * (the list matches once they are set aside), the library list, or only the
 * exit status.
 */
function kindOf(m: Mismatch): 'version lines' | 'library lines' | 'exit status only' {
  if (JSON.stringify(m.want.lines) === JSON.stringify(m.got)) return 'exit status only';
  const list = (ls: readonly string[]): string => JSON.stringify(ls.filter((l) => !isVersionLine(l)));
  return list(m.want.lines) === list(m.got) ? 'version lines' : 'library lines';
}

function summarise(mismatches: readonly Mismatch[]): string {
  const counts = new Map<string, number>();
  for (const m of mismatches) counts.set(kindOf(m), (counts.get(kindOf(m)) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${n} in ${k}`).join(', ');
}

function describeMismatch(m: Mismatch): string {
  const head = [`${m.program}: elfdeps exit ${m.status}, want ${m.wantStatus} (the loader ${m.want.refused ? 'refuses it' : 'would start it'})`];
  if (m.want.stderr) head.push(`  (chroot stderr: ${m.want.stderr})`);
  const same = JSON.stringify(m.want.lines) === JSON.stringify(m.got);
  const body = same ? ['  (same lines; only the exit status differs)'] : ['  --- root loader, LD_TRACE_LOADED_OBJECTS=1', '  +++ elfdeps --root ROOT --ldd', ...lineDiff(m.want.lines, m.got)];
  const tail = m.elfdepsStderr.trim() ? [`  elfdeps stderr: ${m.elfdepsStderr.trim().split('\n').slice(0, 3).join(' | ')}`] : [];
  return [...head, ...body, ...tail].join('\n');
}

/** A hard-linked copy of root (no data copied when on the same file system), else a real copy. */
async function copyRoot(root: string, dst: string): Promise<void> {
  const linked = await runCommand('cp', ['-al', root, dst], { PATH: process.env.PATH ?? '/usr/bin:/bin' });
  if (linked.status === 0) return;
  rmSync(dst, { recursive: true, force: true });
  const copied = await runCommand('cp', ['-a', root, dst], { PATH: process.env.PATH ?? '/usr/bin:/bin' });
  if (copied.status !== 0) throw new Error(`cannot copy ${root} to ${dst}: ${copied.stderr.trim()}`);
}

function findOnPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

/** Dynamically linked x86_64 executables (not libraries, not static) that the root's loader would start. */
function dynamicExecutables(paths: readonly string[]): string[] {
  return paths.filter((f) => {
    try {
      const elf = readElf(f);
      return (elf.kind === 'executable' || elf.kind === 'pie-executable') && elf.header.machine === EM_X86_64 && elf.header.elfClass === 64 && elf.interpreter === INTERP;
    } catch {
      return false;
    }
  });
}

const OLDER_ROOT_FIX = '.ci/run builds the root with scripts/fetch-older-root.sh';

describe('the loader\'s verdict on a real older root (Debian 11, glibc 2.31)', function () {
  this.timeout(20 * 60 * 1000);

  let skipReason: string | null = null;
  let work: string | null = null;
  /** The hard-linked copy of ROOT that both sides look at. */
  let dir = '';
  let chroot = '';
  /** e.g. "2.31", from the banner the build script recorded. */
  let glibc = '?';
  /** In-root paths of this host's programs (under HOST_BIN) and of the root's own. */
  let hostPrograms: string[] = [];
  let rootPrograms: string[] = [];

  before(async function () {
    // Found here because the oracle runs with a minimal PATH.
    chroot = findOnPath('chroot') ?? '/usr/sbin/chroot';
    if (process.arch !== 'x64' || process.platform !== 'linux') skipReason = `the root's amd64 programs must run natively, and this is ${process.platform}/${process.arch}`;
    else if (!existsSync(join(ROOT, MARKER))) skipReason = `no Debian 11 root at ${ROOT} (build it with scripts/fetch-older-root.sh ${ROOT})`;
    else if (process.getuid?.() !== 0) skipReason = 'the oracle runs the root\'s loader in a chroot, which needs root';
    else if (!existsSync(chroot)) skipReason = 'chroot is not installed (Debian package coreutils)';
    else if (!existsSync(join(ROOT, 'etc/ld.so.cache')) || !existsSync(join(ROOT, 'bin/sh'))) skipReason = `${ROOT} has no etc/ld.so.cache or bin/sh (rebuild it with scripts/fetch-older-root.sh)`;
    if (skipReason) return;
    glibc = /release version (\d+\.\d+)/.exec(readFileSync(join(ROOT, MARKER), 'utf8'))?.[1] ?? '?';

    work = mkdtempSync(join(tmpdir(), 'elfdeps-older-root-'));
    dir = join(work, 'root');
    await copyRoot(ROOT, dir);
    // New directory and new files in the copy: nothing hard-linked to the cache is written.
    mkdirSync(join(dir, HOST_BIN));
    for (const f of dynamicExecutables(hostElfFiles([{ dir: '/usr/bin', recursive: false }]))) {
      const inRoot = join(HOST_BIN, basename(f));
      copyFileSync(f, join(dir, inRoot));
      hostPrograms.push(inRoot);
    }
    rootPrograms = dynamicExecutables(hostElfFiles([{ dir: join(ROOT, 'usr/bin'), recursive: false }, { dir: join(ROOT, 'usr/sbin'), recursive: false }])).map((f) => f.slice(ROOT.length));
  });

  after(function () {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('prints the root loader\'s version errors and library list for every program of this host, and exits 1 exactly when the loader refuses it', async function () {
    if (skipReason) skipOrFail(this, skipReason, OLDER_ROOT_FIX);
    const traces = await mapPool(hostPrograms, PARALLEL, (p) => loaderTrace(chroot, dir, p));
    // One CLI call per program: with several FILEs the exit status is the worst of them, which would hide a wrong 0.
    const results = await mapPool(hostPrograms, PARALLEL, (p) => elfdeps(dir, [p]));

    const mismatches: Mismatch[] = [];
    let refused = 0;
    let sameLines = 0;
    let sameStatus = 0;
    hostPrograms.forEach((program, i) => {
      const want = traces[i] as Trace;
      const ran = results[i] as Ran;
      const got = linesOf(ran.stdout);
      const wantStatus = want.refused ? 1 : 0;
      if (want.refused) refused++;
      // ldd merges the loader's stderr into its stdout: elfdeps --ldd prints nothing on stderr either.
      const linesEqual = JSON.stringify(got) === JSON.stringify(want.lines) && ran.stderr === '';
      if (linesEqual) sameLines++;
      if (ran.status === wantStatus) sameStatus++;
      if (!linesEqual || ran.status !== wantStatus) mismatches.push({ program, want, got, status: ran.status, wantStatus, elfdepsStderr: ran.stderr });
    });
    const total = hostPrograms.length;
    console.log(`      older root (glibc ${glibc}): ${total - mismatches.length}/${total} programs equal, ${refused} refused by the loader`);
    console.log(`      (all lines equal for ${sameLines}, exit status right for ${sameStatus}${mismatches.length ? `; differences: ${summarise(mismatches)}` : ''})`);

    // Guards against a silent or broken oracle, which would make everything "match" an empty output.
    expect(total, 'host programs compared').to.be.greaterThan(100);
    const silent = hostPrograms.filter((_, i) => (traces[i] as Trace).lines.length === 0);
    expect(silent, 'programs the root loader printed nothing for').to.deep.equal([]);
    // ls of a glibc 2.36 system needs at least GLIBC_2.34 (__libc_start_main); the stderr merge must show it.
    const ls = traces[hostPrograms.indexOf(join(HOST_BIN, 'ls'))];
    expect(ls?.lines.some((l) => /: version `GLIBC_2\.3[2-9]' not found \(required by /.test(l)), 'a version error in the trace of ls').to.equal(true);
    expect(refused, 'programs the loader refuses').to.be.greaterThan(0);

    const shown = mismatches.slice(0, SHOWN).map(describeMismatch);
    const rest = mismatches.slice(SHOWN).map((m) => basename(m.program));
    const more = rest.length ? `\n... and ${rest.length} more: ${rest.slice(0, 40).join(' ')}${rest.length > 40 ? ' ...' : ''}` : '';
    expect(mismatches.length, `${mismatches.length} of ${total} programs differ (${summarise(mismatches)}):\n${shown.join('\n\n')}${more}\n`).to.equal(0);
  });

  it('finds no version error in the root\'s own programs and prints the root loader\'s lines for them (one call, FILE: headers)', async function () {
    if (skipReason) skipOrFail(this, skipReason, OLDER_ROOT_FIX);
    expect(rootPrograms.length, 'the root\'s dynamically linked programs').to.be.greaterThan(20);
    const traces = await mapPool(rootPrograms, PARALLEL, (p) => loaderTrace(chroot, dir, p));
    // The root is closed and self-consistent: its loader must accept every one of them.
    const refusedInRoot = rootPrograms.filter((_, i) => (traces[i] as Trace).refused);
    expect(refusedInRoot, 'root programs the root loader refuses (the root is not closed?)').to.deep.equal([]);

    // Several FILEs in one call: each section starts with "FILE:", as ldd prints it; all
    // are accepted, so an exit status of 0 says so of each one.
    const ran = await elfdeps(dir, rootPrograms);
    const sections = new Map<string, string[]>();
    let current = '(before the first FILE: line)';
    let k = 0;
    for (const line of linesOf(ran.stdout)) {
      if (k < rootPrograms.length && line === `${rootPrograms[k]}:`) {
        current = rootPrograms[k++] as string;
        sections.set(current, []);
      } else {
        if (!sections.has(current)) sections.set(current, []);
        sections.get(current)?.push(line);
      }
    }
    const mismatches: Mismatch[] = [];
    rootPrograms.forEach((program, i) => {
      const want = traces[i] as Trace;
      const got = sections.get(program) ?? ['(no section for this FILE)'];
      if (JSON.stringify(got) !== JSON.stringify(want.lines)) mismatches.push({ program, want, got, status: ran.status, wantStatus: 0, elfdepsStderr: '' });
    });
    const stray = sections.get('(before the first FILE: line)');
    console.log(`      older root's own programs (glibc ${glibc}): ${rootPrograms.length - mismatches.length}/${rootPrograms.length} equal, elfdeps exit ${ran.status}`);
    expect(stray ?? [], 'lines before the first FILE: header').to.deep.equal([]);
    expect(mismatches.length, `${mismatches.length} of ${rootPrograms.length} differ:\n${mismatches.slice(0, SHOWN).map(describeMismatch).join('\n\n')}\n`).to.equal(0);
    expect(ran.status, `elfdeps exit status for ${rootPrograms.length} programs the loader accepts (stderr: ${ran.stderr.trim().slice(0, 500)})`).to.equal(0);
  });

  it('elfdeps check over the whole root fails exactly the host programs the loader refuses, with its version lines; the root\'s own files pass', async function () {
    if (skipReason) skipOrFail(this, skipReason, OLDER_ROOT_FIX);
    const traces = await mapPool(hostPrograms, PARALLEL, (p) => loaderTrace(chroot, dir, p));
    const [node, bin] = elfdepsCommand();
    const ran = await runCommand(node, [bin, 'check', '--json', '--root', dir], { PATH: process.env.PATH ?? '/usr/bin:/bin' });
    expect(ran.stderr).to.equal('');
    const doc = JSON.parse(ran.stdout) as { failures: Array<{ path: string; problems: Array<{ cause: string; message: string }> }> };
    const failures = new Map(doc.failures.map((f) => [f.path, f.problems]));
    // The root's own files (programs, libraries, links) all pass: only what was put under HOST_BIN fails.
    expect(doc.failures.map((f) => f.path).filter((p) => !p.startsWith(`${HOST_BIN}/`))).to.deep.equal([]);
    const mismatches: string[] = [];
    let refused = 0;
    hostPrograms.forEach((program, i) => {
      const want = traces[i] as Trace;
      if (want.refused) refused++;
      const problems = failures.get(program) ?? [];
      // The loader's version lines, "PROG: PROVIDER: version `X' not found (required by OBJ)", are check's messages after "PROG: ".
      const wantVersions = want.lines.filter((l) => isVersionLine(l) && !/: weak version `/.test(l)).map((l) => l.slice(program.length + 2));
      const gotVersions = problems.filter((p) => p.cause === 'version-not-found').map((p) => p.message);
      const wantMissing = [...new Set(want.lines.flatMap((l) => /^\t(.*) => not found$/.exec(l)?.[1] ?? []))];
      const gotMissing = problems.filter((p) => p.cause === 'library-not-found').map((p) => p.message.slice(0, p.message.indexOf(': ')));
      const same = (problems.length > 0) === want.refused && JSON.stringify([...wantVersions].sort()) === JSON.stringify([...gotVersions].sort()) && JSON.stringify(wantMissing.sort()) === JSON.stringify(gotMissing.sort());
      if (!same) mismatches.push(`${program}: loader ${want.refused ? 'refuses' : 'starts'} it; check: ${JSON.stringify(problems)}\n  loader: ${JSON.stringify(want.lines.slice(0, 8))}`);
    });
    console.log(`      check over the older root: ${doc.failures.length} failing, ${refused} of ${hostPrograms.length} host programs refused by the root's loader, ${hostPrograms.length - mismatches.length} agree`);
    expect(refused, 'programs the loader refuses').to.be.greaterThan(0);
    expect(mismatches.length, mismatches.slice(0, SHOWN).join('\n')).to.equal(0);
  });
});
