/**
 * Launcher failures carry the exit status coreutils chroot would use (125 the
 * launcher failed, 126 the command cannot be executed, 127 it was not found),
 * so that the CLI and library callers report them the same way.
 */
import { ElfdepsError, type ErrorCode } from '../errors.js';
import { LAUNCH_EXIT, type LaunchExitStatus } from './plan.js';

/** An ElfdepsError that says which launcher exit status it stands for. */
export type LaunchFailure = ElfdepsError & { readonly exitStatus: LaunchExitStatus };

export function launchFailure(exitStatus: LaunchExitStatus, code: ErrorCode, message: string, path?: string): LaunchFailure {
  const err = new ElfdepsError(code, message, path === undefined ? {} : { path });
  return Object.assign(err, { exitStatus });
}

/** The exit status for an error thrown by run(): its own, or 125 (the launcher failed). */
export function exitStatusOf(err: unknown): LaunchExitStatus {
  if (err instanceof ElfdepsError && 'exitStatus' in err) {
    const status = (err as LaunchFailure).exitStatus;
    if (status === LAUNCH_EXIT.CANNOT_EXECUTE || status === LAUNCH_EXIT.NOT_FOUND) return status;
  }
  return LAUNCH_EXIT.FAILED;
}
