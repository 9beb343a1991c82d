/**
 * What the host offers the launcher: the helper programs (chroot, unshare,
 * sh, mount, mkdir, ln) and whether the namespaces a plan needs can really be
 * created here. Kept apart from plan.ts so that the policy stays pure.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { describeError, ElfdepsError } from '../errors.js';
import { buildLaunchPlan, type HostTools, type LaunchPlan } from './plan.js';

/** Searched after the caller's PATH: chroot often lives in sbin, which a user's PATH may lack. */
const SYSTEM_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of `name` on the host, or null. Relative PATH entries are ignored. */
export function findHostProgram(name: string, pathVariable: string | undefined): string | null {
  const dirs = [...(pathVariable ?? '').split(delimiter).filter((d) => isAbsolute(d)), ...SYSTEM_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/** Locates every helper program the launcher may use. */
export function findHostTools(pathVariable: string | undefined): HostTools {
  const find = (name: string) => findHostProgram(name, pathVariable);
  return { chroot: find('chroot'), unshare: find('unshare'), sh: find('sh'), mount: find('mount'), mkdir: find('mkdir'), ln: find('ln') };
}

/** Whether this process runs with effective uid 0. */
export function isEffectiveRoot(): boolean {
  return typeof process.geteuid === 'function' && process.geteuid() === 0;
}

const probeCache = new Map<string, ElfdepsError | null>();

/** Why namespace creation typically fails, for the error message. */
const USERNS_HINT =
  'unprivileged user namespaces are disabled or restricted here (see sysctls kernel.unprivileged_userns_clone, ' +
  'user.max_user_namespaces, and on Ubuntu kernel.apparmor_restrict_unprivileged_userns); running elfdeps run as root uses chroot without them';
const MOUNTNS_HINT = 'this process may lack CAP_SYS_ADMIN (e.g. inside a container); --dev and --proc need a private mount namespace';

/**
 * Checks once per process (per set of namespaces) that the plan's namespaces
 * can be created, by running its probe. Throws a LAUNCH_FAILED error naming
 * the cause when they cannot.
 */
export function checkNamespaces(plan: LaunchPlan): void {
  if (plan.probe === null) return;
  const key = JSON.stringify(plan.namespaces);
  let failure = probeCache.get(key);
  if (failure === undefined) {
    const r = spawnSync(plan.probe.file, plan.probe.args, { stdio: ['ignore', 'ignore', 'pipe'], env: {}, encoding: 'utf8' });
    if (r.error === undefined && r.status === 0) {
      failure = null;
    } else {
      const said = r.error ? r.error.message : (r.stderr.trim().split('\n')[0] ?? '') || `exit status ${r.status ?? r.signal}`;
      const flags = plan.probe.args.slice(0, plan.probe.args.indexOf('--')).join(' ');
      failure = new ElfdepsError(
        'LAUNCH_FAILED',
        `cannot create namespaces (unshare ${flags}: ${said}); ${plan.namespaces.user ? USERNS_HINT : MOUNTNS_HINT}`,
      );
    }
    probeCache.set(key, failure);
  }
  if (failure) throw failure;
}

/**
 * Why run() cannot change root on this host at all (the message it would fail
 * with: a missing helper, or namespaces that cannot be created), or null when
 * it can. `mounts` asks the same for --dev and --proc.
 */
export function launcherUnavailable(options: { mounts?: boolean; pathVariable?: string } = {}): string | null {
  const mounts = options.mounts === true;
  try {
    const plan = buildLaunchPlan(
      { root: '/', command: ['true'], dev: mounts, proc: mounts, env: [] },
      { isRoot: isEffectiveRoot(), callerEnv: {}, rootBinDirs: [], tools: findHostTools(options.pathVariable ?? process.env.PATH) },
    );
    checkNamespaces(plan);
    return null;
  } catch (err) {
    return describeError(err);
  }
}
