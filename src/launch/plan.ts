/**
 * The launcher's policy, as one pure function: given what the caller asked for
 * and what the host offers, decide which program to exec, with which argv and
 * which environment. Nothing here touches the system, so every rule (the
 * environment allow-list, the namespace flags, the mount script) is
 * unit-tested directly. See docs/launcher.md.
 *
 * Two ways to change root:
 *  - as root: coreutils `chroot NEWROOT CMD...` (chroot does chdir("/"));
 *  - otherwise: `unshare --user --map-root-user ... chroot NEWROOT CMD...`,
 *    where the user namespace grants CAP_SYS_CHROOT.
 * With --dev or --proc a private mount namespace is added and a fixed shell
 * script (MOUNT_SCRIPT) mounts a tmpfs /dev and/or a fresh /proc inside NEWROOT
 * before exec'ing chroot; the mounts die with the namespace.
 */
import { ElfdepsError } from '../errors.js';

/** Exit statuses of the launcher itself, the same as coreutils chroot(1). */
export const LAUNCH_EXIT = {
  /** The launcher (or chroot, unshare, a mount) failed. */
  FAILED: 125,
  /** The command was found but could not be executed. */
  CANNOT_EXECUTE: 126,
  /** The command (or its interpreter) was not found. */
  NOT_FOUND: 127,
} as const;

export type LaunchExitStatus = (typeof LAUNCH_EXIT)[keyof typeof LAUNCH_EXIT];

/** The directories PATH may name inside the new root, in Debian's order. */
export const ROOT_PATH_CANDIDATES = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'] as const;

/** Variables taken from the caller's environment when set; nothing else is (but LC_*, see isLocaleVariable). */
export const FORWARDED_VARIABLES = ['TERM', 'LANG'] as const;

/** LANG and LC_*: forwarded only when the new root has the locale they name (prepareLaunch filters them). */
export function isLocaleVariable(name: string): boolean {
  return name === 'LANG' || /^LC_[A-Z]+$/.test(name);
}

/** The host device nodes that --dev bind-mounts into NEWROOT/dev. */
export const DEV_NODES = ['null', 'zero', 'full', 'random', 'urandom', 'tty'] as const;

/** Size cap of the tmpfs mounted on NEWROOT/dev (it holds /dev/shm). */
export const DEV_TMPFS_SIZE = '64m';

/** What the caller asks for. */
export interface LaunchRequest {
  /** Host path of the new root: absolute and canonical (realpath). */
  root: string;
  /** The command and its arguments, as seen inside the new root. */
  command: readonly string[];
  /** Private tmpfs /dev with the host's null, zero, full, random, urandom, tty. */
  dev: boolean;
  /** Fresh /proc in a new PID namespace. */
  proc: boolean;
  /** Explicit variables (--env K=V), in order; a later one wins over an earlier one with the same name. */
  env: ReadonlyArray<readonly [string, string]>;
}

/** Absolute host paths of the helper programs; null when not found. */
export interface HostTools {
  chroot: string | null;
  unshare: string | null;
  sh: string | null;
  mount: string | null;
  mkdir: string | null;
  ln: string | null;
}

/** What the host offers, gathered by host.ts and root.ts. */
export interface HostFacts {
  /** Effective uid is 0. */
  isRoot: boolean;
  /** Where TERM and LANG come from. */
  callerEnv: Readonly<Record<string, string | undefined>>;
  /** The ROOT_PATH_CANDIDATES that are directories inside the new root, in order. */
  rootBinDirs: readonly string[];
  tools: HostTools;
}

export interface LaunchPlan {
  /** How the root is changed. */
  mode: 'chroot' | 'user-namespace';
  /** Absolute host path of the program to spawn. */
  file: string;
  /** Its arguments (argv[1..]). */
  args: string[];
  /** The complete environment of the spawned program, and so of the command. */
  env: Record<string, string>;
  /** Namespaces created by unshare (all false in plain chroot mode). */
  namespaces: { user: boolean; mount: boolean; pid: boolean };
  /**
   * A cheap command that fails the way `file args` would if the namespaces
   * cannot be created (unshare reports that with status 1, which is
   * indistinguishable from the command's own status 1), or null.
   */
  probe: { file: string; args: string[] } | null;
  /**
   * How to pass on a SIGTERM/SIGHUP that the launcher receives: to the spawned
   * process as is (it becomes the command through exec), or as SIGKILL to
   * unshare when the command is PID 1 of a new PID namespace (PID 1 ignores
   * signals it has no handler for; --kill-child then takes the namespace down).
   */
  forwardSignal: 'same' | 'kill';
}

/**
 * The script run by the host's sh inside the new mount namespace. It is a
 * constant: every path and the command arrive as positional parameters, so no
 * root path, however odd (spaces, quotes, `$(...)`, newlines), is ever parsed
 * as shell code. Any failure before exec is reported as status 125.
 *
 * $1 root, $2 mount, $3 mkdir, $4 ln, $5 chroot, $6 "dev" or "", $7 "proc" or "",
 * then the command and its arguments.
 */
export const MOUNT_SCRIPT = [
  'root=$1 mount=$2 mkdir=$3 ln=$4 chroot=$5 dev=$6 proc=$7',
  'shift 7',
  "fail() { printf 'elfdeps: %s\\n' \"$1\" >&2; exit 125; }",
  'if [ -n "$dev" ]; then',
  // A tmpfs over NEWROOT/dev: the mount points are created in it, so nothing
  // is written to NEWROOT on disk, and it vanishes with the namespace.
  `  "$mount" -n -t tmpfs -o mode=0755,nosuid,nodev,noexec,size=${DEV_TMPFS_SIZE} elfdeps-dev "$root/dev" || fail "cannot mount a tmpfs on $root/dev"`,
  `  for node in ${DEV_NODES.join(' ')}; do`,
  '    : > "$root/dev/$node" || fail "cannot create the mount point $root/dev/$node"',
  '    "$mount" -n --bind "/dev/$node" "$root/dev/$node" || fail "cannot bind-mount /dev/$node"',
  '  done',
  '  "$mkdir" -m 1777 "$root/dev/shm" || fail "cannot create $root/dev/shm"',
  '  "$ln" -s /proc/self/fd "$root/dev/fd" && "$ln" -s /proc/self/fd/0 "$root/dev/stdin" &&',
  '    "$ln" -s /proc/self/fd/1 "$root/dev/stdout" && "$ln" -s /proc/self/fd/2 "$root/dev/stderr" ||',
  '    fail "cannot create the /dev/fd symlinks in $root/dev"',
  'fi',
  'if [ -n "$proc" ]; then',
  '  "$mount" -n -t proc -o nosuid,nodev,noexec proc "$root/proc" || fail "cannot mount a fresh /proc on $root/proc"',
  'fi',
  'exec "$chroot" -- "$root" "$@"',
].join('\n');

/** Name the script runs under ($0), visible in `ps` and in sh's own messages. */
export const MOUNT_SCRIPT_NAME = 'elfdeps-launch';

/** Splits one --env argument at its first `=`. Throws a USAGE error for a malformed one. */
export function parseEnvAssignment(assignment: string): [string, string] {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ElfdepsError('USAGE', `--env ${JSON.stringify(assignment)}: expected KEY=VALUE`);
  return [assignment.slice(0, eq), assignment.slice(eq + 1)];
}

/**
 * Throws a USAGE error for a variable that cannot be put in the command's
 * environment: malformed, or an LD_* variable. The command's environment is
 * also that of the host's chroot (and unshare, sh, mount) which run before the
 * root changes, as root when elfdeps is: an LD_PRELOAD or LD_LIBRARY_PATH
 * meant for the inside would load host files into them.
 */
function checkVariable(key: string, value: string): void {
  if (key === '' || key.includes('=')) throw new ElfdepsError('USAGE', `environment variable name ${JSON.stringify(key)} is empty or contains '='`);
  if (key.includes('\0') || value.includes('\0')) {
    throw new ElfdepsError('USAGE', `environment variable ${JSON.stringify(key)}: a NUL byte cannot be passed in the environment`);
  }
  if (key.startsWith('LD_')) {
    throw new ElfdepsError(
      'USAGE',
      `environment variable ${key}: LD_* variables are refused, since the host's chroot would load with them too; ` +
        'put libraries where the loader searches inside the new root, or run its loader explicitly (ld.so --library-path DIR PROGRAM)',
    );
  }
}

/**
 * The command's environment: empty, plus PATH naming the new root's own bin
 * directories, TERM and LANG when the caller has them, plus the explicit
 * variables (which may override any of these). Nothing else of the caller's
 * environment is forwarded, in particular no LD_* variable (LD_PRELOAD,
 * LD_LIBRARY_PATH and LD_AUDIT would make the loader open files the new root
 * does not have), and explicit LD_* variables are refused (see checkVariable).
 */
export function buildChildEnv(
  callerEnv: Readonly<Record<string, string | undefined>>,
  rootBinDirs: readonly string[],
  explicit: ReadonlyArray<readonly [string, string]>,
): Record<string, string> {
  // A null-prototype object: a key such as `__proto__` is then an ordinary variable.
  const env = Object.create(null) as Record<string, string>;
  // With no PATH, execvp and shells fall back to their own default (/bin:/usr/bin).
  if (rootBinDirs.length > 0) env.PATH = rootBinDirs.join(':');
  for (const name of FORWARDED_VARIABLES) {
    const value = callerEnv[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(callerEnv)) if (value !== undefined && name !== 'LANG' && isLocaleVariable(name)) env[name] = value;
  for (const [key, value] of explicit) {
    checkVariable(key, value);
    env[key] = value;
  }
  return env;
}

function requireTool(tools: HostTools, name: keyof HostTools, why: string): string {
  const path = tools[name];
  if (path === null) {
    throw new ElfdepsError('LAUNCH_FAILED', `cannot run a command in a new root: \`${name}\` was not found on PATH or in /usr/sbin:/usr/bin:/sbin:/bin (${why})`);
  }
  return path;
}

/** The user-namespace route's tool requirement, with the alternative named. */
const UNSHARE_WHY = 'util-linux unshare creates the user namespace that lets a non-root user chroot; run elfdeps as root to use chroot alone';

/**
 * Builds the launch plan. Pure: same request and facts, same plan. Throws a
 * LAUNCH_FAILED error naming the missing helper program when neither way to
 * change root is available, and a USAGE error for an empty command.
 */
export function buildLaunchPlan(request: LaunchRequest, facts: HostFacts): LaunchPlan {
  const [cmd] = request.command;
  if (cmd === undefined || cmd === '') throw new ElfdepsError('USAGE', 'no command given to run inside the new root');
  if (!request.root.startsWith('/')) throw new ElfdepsError('USAGE', `${request.root}: the new root must be an absolute path`);
  if ([request.root, ...request.command].some((arg) => arg.includes('\0'))) {
    throw new ElfdepsError('USAGE', 'the new root and the command cannot contain NUL bytes');
  }

  const env = buildChildEnv(facts.callerEnv, facts.rootBinDirs, request.env);
  const mounts = request.dev || request.proc;
  const user = !facts.isRoot;
  const namespaces = { user, mount: mounts, pid: request.proc };
  const mode = user ? 'user-namespace' : 'chroot';

  const chroot = requireTool(facts.tools, 'chroot', 'coreutils chroot changes the root and the working directory');
  // `--` everywhere: a command named `-x` must stay a command.
  const chrootArgv = ['--', request.root, ...request.command];
  if (!user && !mounts) {
    return { mode, file: chroot, args: chrootArgv, env, namespaces, probe: null, forwardSignal: 'same' };
  }

  const unshare = requireTool(facts.tools, 'unshare', user ? UNSHARE_WHY : 'it creates the private mount namespace for --dev and --proc');
  const flags: string[] = [];
  if (user) flags.push('--user', '--map-root-user');
  if (mounts) flags.push('--mount', '--propagation', 'private');
  // A fresh /proc must belong to a new PID namespace, or it shows the host's
  // processes and their /proc/PID/root. --kill-child: if unshare dies, so does the command.
  if (request.proc) flags.push('--pid', '--fork', '--kill-child');

  let inner: string[];
  if (mounts) {
    const why = 'needed for --dev and --proc';
    inner = [
      requireTool(facts.tools, 'sh', why),
      '-c',
      MOUNT_SCRIPT,
      MOUNT_SCRIPT_NAME,
      request.root,
      requireTool(facts.tools, 'mount', why),
      request.dev ? requireTool(facts.tools, 'mkdir', why) : '',
      request.dev ? requireTool(facts.tools, 'ln', why) : '',
      chroot,
      request.dev ? 'dev' : '',
      request.proc ? 'proc' : '',
      ...request.command,
    ];
  } else {
    inner = [chroot, ...chrootArgv];
  }
  return {
    mode,
    file: unshare,
    args: [...flags, '--', ...inner],
    env,
    namespaces,
    probe: { file: unshare, args: [...flags, '--', chroot, '--version'] },
    forwardSignal: request.proc ? 'kill' : 'same',
  };
}
