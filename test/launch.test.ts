/**
 * The launcher: the pure plan builder (environment allow-list, namespace
 * flags, the mount script and its handling of odd paths), then the real thing
 * driven through the CLI as a subprocess, in a root built by hand from the
 * statically linked busybox (so these tests do not depend on the resolver or
 * the copier): exit statuses, signals, 125/126/127, the environment, the
 * working directory, file descriptors, --dev and --proc, and the unprivileged
 * (user namespace) route.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type SpawnSyncReturns, type StdioOptions } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ElfdepsError } from '../src/errors.js';
import { exitStatusOf } from '../src/launch/failure.js';
import { findHostProgram, findHostTools } from '../src/launch/host.js';
import { launchUnavailable } from './helpers/launch-probe.js';
import {
  buildChildEnv,
  buildLaunchPlan,
  MOUNT_SCRIPT,
  parseEnvAssignment,
  ROOT_PATH_CANDIDATES,
  type HostFacts,
  type HostTools,
  type LaunchRequest,
} from '../src/launch/plan.js';
import { openRoot, rootBinDirs, shebangInterpreter } from '../src/launch/root.js';
import { run } from '../src/launch/run.js';
import { elfdepsCommand, elfdepsCommandCopiedTo } from './helpers/cli.js';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
/** The shipped CLI ([node, bin]), built on first use. */
const cli = (): string[] => elfdepsCommand();
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
const APPLETS = ['sh', 'env', 'ls', 'cat', 'echo', 'pwd', 'head', 'wc', 'sleep', 'id', 'readlink', 'true'];

const TOOLS: HostTools = {
  chroot: '/usr/sbin/chroot',
  unshare: '/usr/bin/unshare',
  sh: '/bin/sh',
  mount: '/usr/bin/mount',
  mkdir: '/bin/mkdir',
  ln: '/bin/ln',
};

function facts(over: Partial<HostFacts> = {}): HostFacts {
  return { isRoot: true, callerEnv: {}, rootBinDirs: ['/usr/bin', '/bin'], tools: TOOLS, ...over };
}
function request(over: Partial<LaunchRequest> = {}): LaunchRequest {
  return { root: '/srv/root', command: ['/bin/sh', '-c', 'true'], dev: false, proc: false, env: [], ...over };
}
function thrown(fn: () => unknown): ElfdepsError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(ElfdepsError);
    return err as ElfdepsError;
  }
  throw new Error('expected an ElfdepsError');
}

describe('launch plan (pure)', () => {
  it('starts from an empty environment: PATH from the root, TERM and LANG forwarded, no LD_* or anything else', () => {
    const callerEnv = {
      PATH: '/home/u/bin:/usr/bin',
      TERM: 'xterm-256color',
      LANG: 'de_DE.UTF-8',
      LD_PRELOAD: '/tmp/evil.so',
      LD_LIBRARY_PATH: '/opt/lib',
      LD_AUDIT: '/tmp/audit.so',
      GCONV_PATH: '/tmp',
      HOME: '/home/u',
      SECRET_TOKEN: 'hunter2',
    };
    const plan = buildLaunchPlan(request(), facts({ callerEnv }));
    expect({ ...plan.env }).to.deep.equal({ PATH: '/usr/bin:/bin', TERM: 'xterm-256color', LANG: 'de_DE.UTF-8' });
  });

  it('omits what the caller does not have, and PATH when the root has no bin directory', () => {
    expect({ ...buildChildEnv({ HOME: '/root' }, [], []) }).to.deep.equal({});
  });

  it('adds explicit variables in order (the last wins, they may override PATH)', () => {
    const env = buildChildEnv({ TERM: 'vt100' }, ['/bin'], [
      ['A', '1'],
      ['PATH', '/opt/bin'],
      ['A', '2=two'],
      ['__proto__', 'plain'],
    ]);
    expect(Object.keys(env).sort()).to.deep.equal(['A', 'PATH', 'TERM', '__proto__']);
    expect(env.A).to.equal('2=two');
    expect(env.PATH).to.equal('/opt/bin');
    expect(env['__proto__']).to.equal('plain');
  });

  it('parses --env at the first = and rejects what cannot be an environment entry', () => {
    expect(parseEnvAssignment('K=a=b')).to.deep.equal(['K', 'a=b']);
    expect(parseEnvAssignment('EMPTY=')).to.deep.equal(['EMPTY', '']);
    expect(thrown(() => parseEnvAssignment('NOVALUE')).code).to.equal('USAGE');
    expect(thrown(() => parseEnvAssignment('=x')).code).to.equal('USAGE');
    expect(thrown(() => buildChildEnv({}, [], [['K', 'a\0b']])).code).to.equal('USAGE');
  });

  it('refuses an explicit LD_* variable: the host chroot, running before the root changes, would load with it', () => {
    const err = thrown(() => buildLaunchPlan(request({ env: [['LD_PRELOAD', '/lib/x.so']] }), facts()));
    expect(err.code).to.equal('USAGE');
    expect(err.message).to.match(/^environment variable LD_PRELOAD: LD_\* variables are refused/);
    // Other names that merely contain LD_ are fine.
    expect(buildChildEnv({}, [], [['OLD_LD_PATH', 'x']]).OLD_LD_PATH).to.equal('x');
  });

  it('as root without mounts: plain chroot, no namespaces, no probe', () => {
    const plan = buildLaunchPlan(request({ command: ['-weird-name', 'arg'] }), facts());
    expect(plan.mode).to.equal('chroot');
    expect(plan.file).to.equal(TOOLS.chroot);
    // `--` keeps a command that looks like an option a command.
    expect(plan.args).to.deep.equal(['--', '/srv/root', '-weird-name', 'arg']);
    expect(plan.namespaces).to.deep.equal({ user: false, mount: false, pid: false });
    expect(plan.probe).to.equal(null);
    expect(plan.forwardSignal).to.equal('same');
  });

  it('not root: chroot inside a user namespace, with a probe of the same namespaces', () => {
    const plan = buildLaunchPlan(request(), facts({ isRoot: false }));
    expect(plan.mode).to.equal('user-namespace');
    expect(plan.file).to.equal(TOOLS.unshare);
    expect(plan.args).to.deep.equal(['--user', '--map-root-user', '--', TOOLS.chroot, '--', '/srv/root', '/bin/sh', '-c', 'true']);
    expect(plan.probe).to.deep.equal({ file: TOOLS.unshare, args: ['--user', '--map-root-user', '--', TOOLS.chroot, '--version'] });
  });

  it('--dev and --proc: a private mount namespace, a PID namespace for /proc, and the mount script', () => {
    const plan = buildLaunchPlan(request({ dev: true, proc: true }), facts({ isRoot: false }));
    const dash = plan.args.indexOf('--');
    expect(plan.args.slice(0, dash)).to.deep.equal(['--user', '--map-root-user', '--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child']);
    expect(plan.args.slice(dash + 1, dash + 4)).to.deep.equal([TOOLS.sh, '-c', MOUNT_SCRIPT]);
    expect(plan.namespaces).to.deep.equal({ user: true, mount: true, pid: true });
    // PID 1 ignores signals it has no handler for: the launcher must kill instead.
    expect(plan.forwardSignal).to.equal('kill');

    const devOnly = buildLaunchPlan(request({ dev: true }), facts());
    expect(devOnly.args.slice(0, devOnly.args.indexOf('--'))).to.deep.equal(['--mount', '--propagation', 'private']);
    expect(devOnly.forwardSignal).to.equal('same');
    expect(devOnly.probe?.args).to.deep.equal(['--mount', '--propagation', 'private', '--', TOOLS.chroot, '--version']);
  });

  it('passes odd root paths and arguments to the mount script as data, never as shell code', () => {
    const root = `/tmp/a b/it's "quoted" $(touch /tmp/pwned) \`id\`\n;x`;
    const command = ['/bin/echo', '$HOME', "'", '"; rm -rf /'];
    const plan = buildLaunchPlan(request({ root, command, dev: true, proc: true }), facts());
    // The script is the same constant whatever the input: nothing is interpolated.
    expect(plan.args).to.include(MOUNT_SCRIPT);
    expect(MOUNT_SCRIPT).not.to.include('a b');
    const script = plan.args.indexOf(MOUNT_SCRIPT);
    expect(plan.args.slice(script + 2)).to.deep.equal([root, TOOLS.mount, TOOLS.mkdir, TOOLS.ln, TOOLS.chroot, 'dev', 'proc', ...command]);
  });

  it('the mount script, run by the host sh, hands every odd path on as exactly one argument', function () {
    const sh = findHostTools(process.env.PATH).sh;
    if (sh === null) {
      console.log('      skipped: no sh on this host');
      this.skip();
    }
    const work = mkdtempSync(join(tmpdir(), 'elfdeps-launch-script-'));
    try {
      // Stand-ins for mount, mkdir, ln and chroot that record their arguments, one per line.
      const log = join(work, 'calls');
      const recorder = join(work, 'record');
      writeFileSync(recorder, `#!/bin/sh\n{ printf '%s\\n' "\${0##*/}"; for a in "$@"; do printf '[%s]\\n' "$a"; done; } >> '${log}'\n`, { mode: 0o755 });
      const tool = (name: string) => {
        symlinkSync(recorder, join(work, name));
        return join(work, name);
      };
      const root = join(work, `a b'c"d $(touch x) \`id\` *`);
      mkdirSync(join(root, 'dev'), { recursive: true });
      const plan = buildLaunchPlan(
        request({ root, command: ['/bin/echo', '$HOME', '*'], dev: true, proc: true }),
        facts({ tools: { ...TOOLS, sh, mount: tool('mount'), mkdir: tool('mkdir'), ln: tool('ln'), chroot: tool('chroot') } }),
      );
      const inner = plan.args.slice(plan.args.indexOf('--') + 1);
      const r = spawnSync(inner[0] as string, inner.slice(1), { cwd: work, encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const calls = readFileSync(log, 'utf8').split(/\n(?=[a-z])/).map((c) => c.trim());
      expect(calls).to.include(`mount\n[-n]\n[--bind]\n[/dev/null]\n[${root}/dev/null]`);
      expect(calls).to.include(`mount\n[-n]\n[-t]\n[proc]\n[-o]\n[nosuid,nodev,noexec]\n[proc]\n[${root}/proc]`);
      expect(calls).to.include(`ln\n[-s]\n[/proc/self/fd]\n[${root}/dev/fd]`);
      expect(calls[calls.length - 1]).to.equal(`chroot\n[--]\n[${root}]\n[/bin/echo]\n[$HOME]\n[*]`);
      expect(existsSync(join(work, 'x'))).to.equal(false);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('names the missing helper when neither way to change root is available', () => {
    const none: HostTools = { chroot: null, unshare: null, sh: null, mount: null, mkdir: null, ln: null };
    const noChroot = thrown(() => buildLaunchPlan(request(), facts({ tools: none })));
    expect(noChroot.code).to.equal('LAUNCH_FAILED');
    expect(noChroot.message).to.match(/`chroot` was not found/);
    const noUnshare = thrown(() => buildLaunchPlan(request(), facts({ isRoot: false, tools: { ...TOOLS, unshare: null } })));
    expect(noUnshare.message).to.match(/`unshare` was not found.*user namespace.*run elfdeps as root/);
    const noMount = thrown(() => buildLaunchPlan(request({ proc: true }), facts({ tools: { ...TOOLS, mount: null } })));
    expect(noMount.message).to.match(/`mount` was not found.*--dev and --proc/);
    // Without mounts, mount is not needed.
    expect(buildLaunchPlan(request(), facts({ tools: { ...TOOLS, mount: null } })).file).to.equal(TOOLS.chroot);
  });

  it('rejects an empty command, a relative root and NUL bytes', () => {
    expect(thrown(() => buildLaunchPlan(request({ command: [] }), facts())).code).to.equal('USAGE');
    expect(thrown(() => buildLaunchPlan(request({ command: [''] }), facts())).code).to.equal('USAGE');
    expect(thrown(() => buildLaunchPlan(request({ root: 'rel' }), facts())).code).to.equal('USAGE');
    expect(thrown(() => buildLaunchPlan(request({ command: ['/bin/sh', 'a\0b'] }), facts())).code).to.equal('USAGE');
  });

  it('computes PATH from the directories that exist inside the root, following in-root symlinks', () => {
    const root = mkdtempSync(join(tmpdir(), 'elfdeps-launch-path-'));
    try {
      mkdirSync(join(root, 'usr/bin'), { recursive: true });
      mkdirSync(join(root, 'usr/local'), { recursive: true });
      mkdirSync(join(root, 'usr/sbin'));
      symlinkSync('usr/bin', join(root, 'bin')); // merged /usr: a relative link
      symlinkSync('/usr/sbin', join(root, 'sbin')); // absolute: resolved inside the root
      symlinkSync('/nonexistent', join(root, 'usr/local/sbin')); // dangling
      writeFileSync(join(root, 'usr/local/bin'), ''); // a file, not a directory
      expect(rootBinDirs(openRoot(root))).to.deep.equal(['/usr/sbin', '/usr/bin', '/sbin', '/bin']);
      // A link that climbs out of the root is clamped at it, as for a chrooted process.
      rmSync(join(root, 'usr/sbin'), { recursive: true });
      symlinkSync('../../../../../../usr/bin', join(root, 'usr/sbin'));
      expect(rootBinDirs(openRoot(root))).to.deep.equal(['/usr/sbin', '/usr/bin', '/sbin', '/bin']);
      expect(ROOT_PATH_CANDIDATES[0]).to.equal('/usr/local/sbin');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('reads a #! line the way binfmt_script does', () => {
    expect(shebangInterpreter(Buffer.from('#!/bin/sh\necho'))).to.equal('/bin/sh');
    expect(shebangInterpreter(Buffer.from('#! \t/usr/bin/env python3 -u\n'))).to.equal('/usr/bin/env');
    expect(shebangInterpreter(Buffer.from('#!\n'))).to.equal(null);
  });
});

// ---------------------------------------------------------------------------

interface CliRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const BASE_ENV = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };

/** Runs `elfdeps ARGS` as a subprocess, optionally wrapped (e.g. by setpriv) and with another copy of the CLI. */
function elfdeps(args: string[], opts: { env?: Record<string, string>; cwd?: string; wrap?: string[]; command?: string[] } = {}): CliRun {
  const argv = [...(opts.wrap ?? []), ...(opts.command ?? cli()), ...args];
  const r: SpawnSyncReturns<string> = spawnSync(argv[0] as string, argv.slice(1), {
    env: opts.env ?? BASE_ENV,
    cwd: opts.cwd ?? REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** A root holding only busybox and links to some of its applets. */
function makeBusyboxRoot(root: string): void {
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX as string, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  for (const applet of APPLETS) symlinkSync('busybox', join(root, 'bin', applet));
}

/** Host mount points at or below `root` (mountinfo escapes space, tab, newline and backslash in octal). */
function hostMountsUnder(root: string): string[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescape(line.split(' ')[4] ?? ''))
    .filter((mp) => mp === root || mp.startsWith(root + '/'));
}

/** Skips the current test when --dev/--proc cannot work here (no mount or PID namespace). */
function requireMounts(ctx: Mocha.Context): void {
  const why = launchUnavailable({ mounts: true });
  if (why !== null) {
    console.log(`      skipped: ${why}`);
    ctx.skip();
  }
}

describe('elfdeps run (busybox root)', function () {
  let work: string;
  let root: string;

  before(function () {
    const why = BUSYBOX === undefined ? 'busybox-static is not installed (apt-get install busybox-static)' : launchUnavailable();
    if (why !== null) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    work = mkdtempSync(join(tmpdir(), 'elfdeps-launch-'));
    chmodSync(work, 0o755); // the unprivileged test runs as nobody
    root = join(work, 'root');
    makeBusyboxRoot(root);
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('passes the exit status on', () => {
    const r = elfdeps(['run', root, '/bin/sh', '-c', 'exit 7']);
    expect(r.status, r.stderr).to.equal(7);
    expect(r.stderr).to.equal('');
  });

  it('reports death by a signal as 128 + its number, printing nothing of its own', () => {
    const r = elfdeps(['run', root, '--', 'sh', '-c', 'kill -TERM $$']);
    expect(r.status).to.equal(143);
    expect(r.stderr).to.equal('');
  });

  it('127 with a clear message for a command missing in the root', () => {
    const r = elfdeps(['run', root, 'no-such-command']);
    expect(r.status).to.equal(127);
    expect(r.stderr).to.equal(`elfdeps: no-such-command: not found in ${root} (PATH=/bin)\n`);
    const abs = elfdeps(['run', root, '/usr/bin/nothing']);
    expect(abs.status).to.equal(127);
    expect(abs.stderr).to.include(`/usr/bin/nothing: not found in ${root}`);
  });

  it('127 naming the interpreter when the command exists but its interpreter does not', () => {
    writeFileSync(join(root, 'script'), '#!/usr/bin/python3\nprint(1)\n', { mode: 0o755 });
    const script = elfdeps(['run', root, '/script']);
    expect(script.status).to.equal(127);
    expect(script.stderr).to.include('/script: its script interpreter /usr/bin/python3 is missing');
    // A dynamically linked program copied alone: PT_INTERP is not in the root.
    copyFileSync('/bin/ls', join(root, 'dynamic-ls'));
    chmodSync(join(root, 'dynamic-ls'), 0o755);
    const elf = elfdeps(['run', root, '/dynamic-ls']);
    expect(elf.status).to.equal(127);
    expect(elf.stderr).to.match(/\/dynamic-ls: its ELF interpreter \/\S*ld\S* is missing/);
  });

  it('126 for a file that is not executable, and for a directory', () => {
    writeFileSync(join(root, 'bin/data'), 'not a program\n', { mode: 0o644 });
    const data = elfdeps(['run', root, 'data']);
    expect(data.status).to.equal(126);
    expect(data.stderr).to.include('data: is not executable (mode 0644)');
    const dir = elfdeps(['run', root, '/bin']);
    expect(dir.status).to.equal(126);
    expect(dir.stderr).to.include('/bin: is a directory');
  });

  it('125 when the root is unusable or the usage is wrong', () => {
    expect(elfdeps(['run', join(work, 'missing'), '/bin/sh']).status).to.equal(125);
    const file = elfdeps(['run', join(root, 'bin/busybox'), '/bin/sh']);
    expect(file.status).to.equal(125);
    expect(file.stderr).to.include('root is not a directory');
    expect(elfdeps(['run', root]).status).to.equal(125);
    expect(elfdeps(['run', '--nope', root, 'true']).status).to.equal(125);
    expect(elfdeps(['run', '--env', 'NOEQUALS', root, 'true']).status).to.equal(125);
    const ld = elfdeps(['run', '--env', 'LD_LIBRARY_PATH=/lib', root, 'true']);
    expect(ld.status).to.equal(125);
    expect(ld.stderr).to.match(/LD_\* variables are refused/);
  });

  it('gives the command only PATH, TERM, LANG (a locale the root has) and --env, whatever the caller has', () => {
    const env = {
      ...BASE_ENV,
      TERM: 'dumb',
      LANG: 'C', // built into every libc; C.UTF-8 needs /usr/lib/locale/C.utf8, which this root lacks
      LC_MESSAGES: 'C.UTF-8',
      HOME: '/root',
      SECRET: 'hunter2',
      // Loadable on the host (so node itself starts cleanly), yet must not reach the command.
      LD_PRELOAD: 'libc.so.6',
      LD_LIBRARY_PATH: '/nonexistent',
      LD_BIND_NOW: '1',
    };
    const r = elfdeps(['run', '--env', 'FOO=bar baz', '--env', 'EMPTY=', root, '/bin/env'], { env });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.split('\n').filter(Boolean).sort()).to.deep.equal(['EMPTY=', 'FOO=bar baz', 'LANG=C', 'PATH=/bin', 'TERM=dumb']);
  });

  it('runs the command with / as its working directory', () => {
    mkdirSync(join(root, 'deep/dir'), { recursive: true });
    const r = elfdeps(['run', root, 'pwd'], { cwd: join(root, 'deep/dir') });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('/\n');
  });

  it('lets no file descriptor beyond 0-2 reach the command, even one inherited above a gap', function () {
    requireMounts(this);
    // Descriptors 3 and 40 are open in the launcher; Node marks 0-15 close-on-exec
    // itself, but not 40 (after the gap 4..39), which the launcher must close.
    const stdio: StdioOptions = ['ignore', 'pipe', 'pipe', 'pipe'];
    for (let fd = 4; fd < 40; fd++) stdio.push('ignore');
    stdio.push('pipe');
    const [node, bin] = elfdepsCommand();
    const r = spawnSync(node, [bin, 'run', '--proc', root, 'ls', '/proc/self/fd'], {
      env: BASE_ENV,
      stdio,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, String(r.output[2])).to.equal(0);
    // ls itself holds one descriptor: the directory it is listing.
    const fds = String(r.output[1]).split(/\s+/).filter(Boolean).map(Number).sort((a, b) => a - b);
    expect(fds).to.deep.equal([0, 1, 2, 3]);
  });

  it('--dev: private /dev with working null and urandom, nothing left mounted or written', function () {
    requireMounts(this);
    const devRoot = join(work, 'devroot');
    makeBusyboxRoot(devRoot);
    const r = elfdeps(['run', '--dev', devRoot, 'sh', '-c', 'echo discarded > /dev/null && head -c 16 /dev/urandom | wc -c && ls /dev && echo x > /dev/shm/f && readlink /dev/fd']);
    expect(r.status, r.stderr).to.equal(0);
    const [count, ...names] = r.stdout.trim().split(/\s+/);
    expect(Number(count)).to.equal(16);
    expect(names.pop()).to.equal('/proc/self/fd');
    expect(names).to.include.members(['null', 'zero', 'full', 'random', 'urandom', 'tty', 'shm', 'fd', 'stdin', 'stdout', 'stderr']);
    // The mount point was created (empty) because the root had none; nothing was written into it.
    expect(readdirSync(join(devRoot, 'dev'))).to.deep.equal([]);
    expect(hostMountsUnder(devRoot)).to.deep.equal([]);
  });

  it('--proc: a fresh /proc of a new PID namespace, where the command is PID 1 and the host is invisible', function () {
    requireMounts(this);
    const r = elfdeps(['run', '--proc', root, 'sh', '-c', 'echo $$; readlink /proc/1/root; ls /proc']);
    expect(r.status, r.stderr).to.equal(0);
    const [pid, procRoot, ...entries] = r.stdout.trim().split(/\s+/);
    expect(pid).to.equal('1');
    expect(procRoot).to.equal('/');
    // Only the shell (1) and ls: no host process, so no /proc/PID/root leading out.
    expect(entries.filter((e) => /^\d+$/.test(e)).length).to.be.lessThan(4);
    expect(readdirSync(join(root, 'proc'))).to.deep.equal([]);
    expect(hostMountsUnder(root)).to.deep.equal([]);
    // The command's status still comes back through unshare's fork.
    expect(elfdeps(['run', '--proc', '--dev', root, 'sh', '-c', 'exit 9']).status).to.equal(9);
  });

  it('keeps a root with an odd path intact under --dev --proc (the path is never shell code)', function () {
    requireMounts(this);
    const odd = join(work, `it's a "root" $(touch ${join(work, 'pwned')}) \`id\` \\\n;x`);
    makeBusyboxRoot(odd);
    const r = elfdeps(['run', '--dev', '--proc', odd, 'sh', '-c', 'echo ok > /dev/null && ls /proc/self/fd >/dev/null && echo fine']);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('fine\n');
    expect(existsSync(join(work, 'pwned'))).to.equal(false);
    expect(hostMountsUnder(odd)).to.deep.equal([]);
  });

  it('refuses a root whose /dev is a symlink, since the mount would follow it on the host', function () {
    requireMounts(this);
    const linked = join(work, 'linkedroot');
    makeBusyboxRoot(linked);
    symlinkSync(work, join(linked, 'dev'));
    const r = elfdeps(['run', '--dev', linked, 'true']);
    expect(r.status).to.equal(125);
    expect(r.stderr).to.include(`${join(linked, 'dev')}: is a symlink`);
  });

  it('passes SIGTERM on to the command (and, under --proc, stops the PID namespace)', async function () {
    requireMounts(this);
    const cases: Array<[string[], number]> = [
      [[], 143],
      [['--proc'], 137],
    ];
    for (const [flags, expected] of cases) {
      const [node, bin] = elfdepsCommand();
      const child = spawn(node, [bin, 'run', ...flags, root, 'sh', '-c', 'echo ready; exec sleep 60'], {
        env: BASE_ENV,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const status = await new Promise<number | null>((resolve) => {
        child.stdout.once('data', () => child.kill('SIGTERM'));
        child.once('close', (code) => resolve(code));
      });
      expect(status, flags.join(' ')).to.equal(expected);
    }
  });

  it('runs unprivileged through a user namespace, with --dev and --proc too', function () {
    const { unshare } = findHostTools(process.env.PATH);
    const setpriv = findHostProgram('setpriv', process.env.PATH);
    if (process.geteuid?.() !== 0 || setpriv === null || unshare === null) {
      console.log('      skipped: needs root (to become nobody), setpriv and unshare');
      this.skip();
    }
    const asNobody = [setpriv as string, '--reuid=65534', '--regid=65534', '--clear-groups'];
    const probe = spawnSync(asNobody[0] as string, [...asNobody.slice(1), unshare as string, '--user', '--map-root-user', 'true']);
    if (probe.status !== 0) {
      console.log('      skipped: unprivileged user namespaces are unavailable here');
      this.skip();
    }
    const userRoot = join(work, 'userroot');
    makeBusyboxRoot(userRoot);
    mkdirSync(join(userRoot, 'dev'));
    mkdirSync(join(userRoot, 'proc'));
    // nobody may not be able to read the checkout (a private clone): run a
    // copy of the bundle from the world-readable work directory, from there.
    const asUser = { wrap: asNobody, command: elfdepsCommandCopiedTo(work), cwd: work };
    const plain = elfdeps(['run', userRoot, 'sh', '-c', 'id -u; exit 3'], asUser);
    expect(plain.status, plain.stderr).to.equal(3);
    expect(plain.stdout).to.equal('0\n'); // root inside the namespace, nobody outside
    const mounted = elfdeps(['run', '--dev', '--proc', userRoot, 'sh', '-c', 'echo x > /dev/null && echo $$'], asUser);
    expect(mounted.status, mounted.stderr).to.equal(0);
    expect(mounted.stdout).to.equal('1\n');
    expect(hostMountsUnder(userRoot)).to.deep.equal([]);
  });

  it('as a library: run() captures output, feeds input, and rejects with the exit status of a launcher failure', async () => {
    const r = await run({ root, command: ['cat'], stdio: 'pipe', input: 'through the root\n', callerEnv: BASE_ENV });
    expect(r.exitStatus).to.equal(0);
    expect(r.signal).to.equal(null);
    expect(r.stdout?.toString()).to.equal('through the root\n');
    expect(r.plan.env).to.deep.include({ PATH: '/bin' });
    const failed = await run({ root, command: ['missing'], stdio: 'pipe', callerEnv: BASE_ENV }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failed).to.be.instanceOf(ElfdepsError);
    expect(exitStatusOf(failed)).to.equal(127);
    expect(exitStatusOf(new Error('anything else'))).to.equal(125);
  });

  it('explains clearly when user namespaces cannot be created', function () {
    const tools = findHostTools(process.env.PATH);
    if (process.geteuid?.() !== 0 || tools.unshare === null) {
      console.log('      skipped: needs root to set up a namespace where user namespaces are refused');
      this.skip();
    }
    // In a user namespace without a uid mapping, we are not root and may not create another.
    const r = elfdeps(['run', root, 'true'], { wrap: [tools.unshare as string, '--user', '--'] });
    expect(r.status).to.equal(125);
    expect(r.stderr).to.match(/^elfdeps: cannot create namespaces \(unshare --user --map-root-user: .+\); unprivileged user namespaces are disabled or restricted.*kernel\.apparmor_restrict_unprivileged_userns.*as root/);
  });
});
