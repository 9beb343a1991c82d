/**
 * `elfdeps run [--dev] [--proc] [--env K=V]... NEWROOT [--] CMD [ARG...]`:
 * a thin layer over run() (src/launch). Options are read only before NEWROOT;
 * everything after it belongs to the command, so `elfdeps run R /bin/sh -c x`
 * needs no `--`. Exit statuses follow coreutils chroot: the command's own, or
 * 125 (the launcher failed, including bad usage), 126 (cannot execute), 127
 * (not found). See docs/launcher.md.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeError, ElfdepsError } from '../errors.js';
import { exitStatusOf } from '../launch/failure.js';
import { LAUNCH_EXIT, parseEnvAssignment } from '../launch/plan.js';
import { run } from '../launch/run.js';
import { say, type CliIo, type Command } from './io.js';

export const RUN_HELP = `Usage: elfdeps run [OPTION]... NEWROOT [--] COMMAND [ARG]...
Run COMMAND with NEWROOT as its root directory and / as its working directory.

  --dev        give COMMAND a private /dev: the host's null, zero, full, random,
               urandom and tty on a tmpfs (also /dev/shm and /dev/fd links)
  --proc       give COMMAND a fresh /proc, in a new PID namespace
  --env K=V    set K=V in COMMAND's environment (repeatable)
  -h, --help   print this help

COMMAND starts with an empty environment plus PATH (NEWROOT's own bin
directories), TERM, and LANG and LC_* where NEWROOT has that locale; nothing
else is passed, in particular no LD_*. A COMMAND that is neither ELF nor a
#! script, or a malformed ELF file, is refused (126) before anything runs.
As root this uses chroot(8); otherwise unshare(1) with a user namespace.
A chroot is packaging, not a security boundary.

Exit status: COMMAND's own (128+N when killed by signal N), or
  125 the launcher failed, 126 COMMAND cannot be executed, 127 not found.
`;

/** The options of `elfdeps run` (node:util parseArgs specs), before NEWROOT. */
export const RUN_OPTIONS = {
  dev: { type: 'boolean' },
  proc: { type: 'boolean' },
  env: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

interface RunArgs {
  help: boolean;
  root: string;
  command: string[];
  dev: boolean;
  proc: boolean;
  env: Record<string, string>;
}

/** Splits the arguments: options, then NEWROOT, then (after an optional `--`) the command. */
function parseRunArgs(args: string[]): RunArgs {
  // Options end at `--` or at the first operand (NEWROOT).
  let end = 0;
  while (end < args.length) {
    const arg = args[end] as string;
    if (arg === '--' || arg === '-' || !arg.startsWith('-')) break;
    end += arg === '--env' ? 2 : 1;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: args.slice(0, Math.min(end, args.length)), options: RUN_OPTIONS, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ElfdepsError('USAGE', describeError(err));
  }
  const { values } = parsed;
  const rest = args.slice(end);
  if (rest[0] === '--') rest.shift();
  const root = rest.shift();
  if (rest[0] === '--') rest.shift();
  const help = values.help === true;
  if (!help && root === undefined) throw new ElfdepsError('USAGE', 'missing NEWROOT');
  if (!help && rest.length === 0) throw new ElfdepsError('USAGE', `missing COMMAND to run in ${root}`);
  const env: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const assignment of values.env ?? []) {
    const [key, value] = parseEnvAssignment(assignment);
    env[key] = value;
  }
  return { help, root: root ?? '', command: rest, dev: values.dev === true, proc: values.proc === true, env };
}

export const runCommand: Command = async (args: string[], io: CliIo): Promise<number> => {
  let parsed: RunArgs;
  try {
    parsed = parseRunArgs(args);
  } catch (err) {
    say(io, `${describeError(err)} (try 'elfdeps run --help')`);
    return LAUNCH_EXIT.FAILED;
  }
  if (parsed.help) {
    io.stdout.write(RUN_HELP);
    return 0;
  }
  // The command owns the terminal when the CLI runs on the real process streams;
  // otherwise (in-process callers) its output is captured and copied.
  const inherit = io.stdout === process.stdout && io.stderr === process.stderr;
  try {
    const result = await run({
      root: parsed.root,
      command: parsed.command,
      dev: parsed.dev,
      proc: parsed.proc,
      env: parsed.env,
      callerEnv: io.env,
      stdio: inherit ? 'inherit' : 'pipe',
      forwardSignals: inherit,
    });
    if (result.stdout) io.stdout.write(result.stdout);
    if (result.stderr) io.stderr.write(result.stderr);
    // Many programs open /dev/null (shells, ssh, git): a failure in a root without one is worth a
    // hint, when the command's stderr says so (captured), or when a person watches (a terminal).
    const failed = result.exitStatus > 0 && result.exitStatus < 126;
    const saysDevNull = result.stderr ? result.stderr.includes('/dev/null') : io.stderr.isTTY === true;
    if (failed && saysDevNull && !parsed.dev && !existsSync(join(parsed.root, 'dev', 'null'))) {
      say(io, `hint: ${parsed.command[0]} exited ${result.exitStatus}, and ${parsed.root} has no /dev/null; --dev gives the command a private /dev`);
    }
    return result.exitStatus;
  } catch (err) {
    say(io, describeError(err));
    return exitStatusOf(err);
  }
};
