/**
 * run(): checks the new root and the command, builds the plan (plan.ts) and
 * spawns it, without a shell, with only descriptors 0-2, and waits. The
 * command's exit status comes back as a shell would report it (128 + signal
 * number when it was killed); launcher failures are thrown as LaunchFailure
 * errors carrying 125, 126 or 127 (see failure.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { ElfdepsError } from '../errors.js';
import { closeInheritedFds } from './fds.js';
import { launchFailure } from './failure.js';
import { checkNamespaces, findHostTools, isEffectiveRoot } from './host.js';
import { buildLaunchPlan, isLocaleVariable, LAUNCH_EXIT, type LaunchPlan } from './plan.js';
import { checkInterpreter, ensureMountPoint, locateCommand, openRoot, rootBinDirs, rootHasLocale, rootHostPath } from './root.js';

export interface RunOptions {
  /** The new root (a host directory; symlinks in this path are resolved). */
  root: string;
  /** The command and its arguments, as seen inside the new root. */
  command: readonly string[];
  /** Give the command a private /dev with the host's null, zero, full, random, urandom and tty. */
  dev?: boolean;
  /** Give the command a fresh /proc, in a new PID namespace. */
  proc?: boolean;
  /** Explicit environment variables, added to the allow-list (and overriding it). */
  env?: Readonly<Record<string, string>>;
  /** Where TERM, LANG and the PATH used to find chroot/unshare come from; default process.env. */
  callerEnv?: Readonly<Record<string, string | undefined>>;
  /** 'inherit' (default): the command uses this process's stdin/stdout/stderr; 'pipe': they are captured. */
  stdio?: 'inherit' | 'pipe';
  /** With stdio 'pipe': the command's standard input (default: empty). */
  input?: string | Uint8Array;
  /**
   * Install process-wide signal handlers while the command runs: SIGTERM and
   * SIGHUP are passed on to it, SIGINT and SIGQUIT are ignored here (the
   * terminal sends them to the command itself). Meant for the CLI; default false.
   */
  forwardSignals?: boolean;
}

export interface RunResult {
  /** The command's exit status, or 128 + the signal number when a signal killed it. */
  exitStatus: number;
  /** The signal that killed the spawned process, if one did. */
  signal: NodeJS.Signals | null;
  /** Captured output with stdio 'pipe'; null otherwise. */
  stdout: Buffer | null;
  stderr: Buffer | null;
  /** What was executed. */
  plan: LaunchPlan;
}

/** Wraps an error of plan/host checks as a 125 failure (they are the launcher's own). */
function asLaunchFailure(err: unknown): never {
  if (err instanceof ElfdepsError && 'exitStatus' in err) throw err;
  const message = err instanceof Error ? err.message : String(err);
  throw launchFailure(LAUNCH_EXIT.FAILED, err instanceof ElfdepsError ? err.code : 'LAUNCH_FAILED', message);
}

/**
 * Everything run() checks and decides before spawning: the root exists and is
 * a directory, the command and its interpreter exist in it, the mount points
 * namespaces can be created, the mount points exist (NEWROOT/dev and
 * NEWROOT/proc are created, empty, when missing). Returns the plan; throws a
 * LaunchFailure.
 */
export function prepareLaunch(options: RunOptions): LaunchPlan {
  const dev = options.dev === true;
  const proc = options.proc === true;
  try {
    const rootfs = openRoot(options.root);
    // A locale the root lacks only makes programs warn (perl: six lines): LANG/LC_* go in where it exists.
    const callerEnv = Object.fromEntries(Object.entries(options.callerEnv ?? process.env).filter(([k, v]) => !isLocaleVariable(k) || (v !== undefined && rootHasLocale(rootfs, v))));
    const root = rootHostPath(rootfs);
    const plan = buildLaunchPlan(
      { root, command: options.command, dev, proc, env: Object.entries(options.env ?? {}) },
      { isRoot: isEffectiveRoot(), callerEnv, rootBinDirs: rootBinDirs(rootfs), tools: findHostTools(callerEnv.PATH) },
    );
    const command = options.command[0] as string; // buildLaunchPlan rejected an empty command
    checkInterpreter(rootfs, command, locateCommand(rootfs, command, plan.env.PATH));
    checkNamespaces(plan);
    // Last, so that nothing is written into the root when anything else fails.
    if (dev) ensureMountPoint(root, 'dev');
    if (proc) ensureMountPoint(root, 'proc');
    return plan;
  } catch (err) {
    return asLaunchFailure(err);
  }
}

const FORWARDED_SIGNALS = ['SIGTERM', 'SIGHUP'] as const;
const IGNORED_SIGNALS = ['SIGINT', 'SIGQUIT'] as const;

/** Runs a command inside a new root and resolves with its exit status. See RunOptions. */
export async function run(options: RunOptions): Promise<RunResult> {
  const plan = prepareLaunch(options);
  const piped = options.stdio === 'pipe';

  // Handlers go in before the spawn: a signal that arrives while the child is
  // being started is held and passed on as soon as it exists.
  let child: ChildProcess | undefined;
  let pending: NodeJS.Signals | undefined;
  const pass = (sig: NodeJS.Signals) => {
    const out = plan.forwardSignal === 'kill' ? 'SIGKILL' : sig;
    if (child) child.kill(out);
    else pending = out;
  };
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  if (options.forwardSignals) {
    for (const sig of FORWARDED_SIGNALS) handlers.push([sig, () => pass(sig)]);
    for (const sig of IGNORED_SIGNALS) handlers.push([sig, () => {}]);
    for (const [sig, handler] of handlers) process.on(sig, handler);
  }
  const removeHandlers = () => {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  };

  closeInheritedFds();
  try {
    child = spawn(plan.file, plan.args, {
      env: plan.env,
      cwd: '/',
      shell: false,
      detached: false,
      stdio: piped ? [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] : ['inherit', 'inherit', 'inherit'],
    });
  } catch (err) {
    removeHandlers();
    throw launchFailure(LAUNCH_EXIT.FAILED, 'LAUNCH_FAILED', `cannot start ${plan.file}: ${err instanceof Error ? err.message : String(err)}`, plan.file);
  }
  if (pending) child.kill(pending);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  if (piped && options.input !== undefined && child.stdin) {
    // The command may exit without reading its input: EPIPE is not our failure.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input);
  }
  const started = child;
  try {
    return await new Promise<RunResult>((resolve, reject) => {
      started.once('error', (e) => {
        reject(launchFailure(LAUNCH_EXIT.FAILED, 'LAUNCH_FAILED', `cannot start ${plan.file}: ${e.message}`, plan.file));
      });
      started.once('close', (code, signal) => {
        const exitStatus = signal !== null ? 128 + (constants.signals[signal] ?? 0) : (code ?? LAUNCH_EXIT.FAILED);
        resolve({
          exitStatus,
          signal,
          stdout: piped ? Buffer.concat(out) : null,
          stderr: piped ? Buffer.concat(err) : null,
          plan,
        });
      });
    });
  } finally {
    removeHandlers();
  }
}
