/**
 * The elfdeps command. A thin dispatcher: each subcommand lives in its own
 * module and is imported only when used, so `elfdeps /bin/ls` starts without
 * loading the manifest schema validator, the copier, the image writer or
 * the launcher.
 */
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { describeError } from '../errors.js';
import { InterruptedError } from '../interrupt.js';
import { EXIT, packageVersion, say, type CliIo, type Command } from './io.js';
import { isVerb, VERB_NAMES, type VerbName } from './verb-names.js';

const resolveCommand = async (): Promise<Command> => (await import('./resolve-command.js')).resolveCommand;

const SUBCOMMANDS: Record<VerbName, () => Promise<Command>> = {
  manifest: async () => (await import('./manifest-command.js')).manifestCommand,
  copy: async () => (await import('./copy-command.js')).copyCommand,
  image: async () => (await import('./image-command.js')).imageCommand,
  run: async () => (await import('./run-command.js')).runCommand,
  check: async () => (await import('./check-command.js')).checkCommand,
  help: async () => helpCommand,
  version: async () => versionCommand,
  completion: async () => (await import('./completion-command.js')).completionCommand,
};

export const HELP_HELP = `Usage: elfdeps help [COMMAND]

Prints the usage of COMMAND (one of ${VERB_NAMES.join(', ')}), the same text
as 'elfdeps COMMAND --help'; without COMMAND, the usage of elfdeps itself,
which lists every command.

  -h, --help             this help
`;

/** `elfdeps help [VERB]`: the same text as `elfdeps [VERB] --help`. */
const helpCommand: Command = async (args, io) => {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(HELP_HELP);
    return EXIT.OK;
  }
  const [verb, extra] = args;
  if (extra !== undefined || verb?.startsWith('-')) {
    say(io, `help takes one COMMAND at most, got '${args.join(' ')}' (try 'elfdeps help --help')`);
    return EXIT.USAGE;
  }
  if (verb === undefined) return (await resolveCommand())(['--help'], io);
  if (!isVerb(verb)) {
    const near = nearestVerb(verb);
    say(io, `help: no such command '${verb}'${near ? `; did you mean '${near}'?` : ''} (commands: ${VERB_NAMES.join(', ')})`);
    return EXIT.USAGE;
  }
  return (await SUBCOMMANDS[verb]())(['--help'], io);
};

export const VERSION_HELP = `Usage: elfdeps version
       elfdeps --version, elfdeps -V (anywhere among a command's options)

Prints the version of elfdeps.

  -h, --help             this help
`;

/** `elfdeps version`, `--version` and `-V`: package.json's version. */
const versionCommand: Command = async (args, io) => {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(VERSION_HELP);
    return EXIT.OK;
  }
  const extra = args.filter((a) => a !== '--version' && a !== '-V');
  if (extra.length > 0) {
    say(io, `version takes no arguments, got '${extra.join(' ')}' (try 'elfdeps version --help')`);
    return EXIT.USAGE;
  }
  io.stdout.write(`elfdeps ${packageVersion()}\n`);
  return EXIT.OK;
};

/**
 * `--help` (or `-h`) and `--version` (or `-V`) anywhere among a command's
 * options: which of them is asked for, help first, even beside a bad option.
 * Options end at `--`; for `run`, also at NEWROOT (what follows belongs to
 * the command run).
 */
function metaRequested(verb: string | undefined, args: string[]): 'help' | 'version' | null {
  let version = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') break;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--version' || arg === '-V') version = true;
    if (verb === 'run' && !arg.startsWith('-')) break;
    if (verb === 'run' && arg === '--env') i++;
  }
  return version ? 'version' : null;
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length] as number;
}

/** The verb a mistyped word is close to, if any. */
function nearestVerb(word: string): VerbName | undefined {
  return VERB_NAMES.find((verb) => distance(word, verb) <= (verb.length > 4 ? 2 : 1));
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  const first = argv[0];
  // A verb always wins over a file of that name in the current directory (`elfdeps ./help` is the file).
  const verb = isVerb(first) ? first : undefined;
  // A mistyped verb that is no file: `elfdeps mainfest x`.
  if (!verb && first !== undefined && /^[a-z]+$/.test(first) && !existsSync(resolvePath(io.cwd, first))) {
    const near = nearestVerb(first);
    if (near) {
      say(io, `${first}: no such file or command; did you mean '${near}'? (try 'elfdeps ${near} --help')`);
      return EXIT.USAGE;
    }
  }
  const args = verb ? argv.slice(1) : argv;
  try {
    const meta = verb === 'help' || verb === 'version' ? null : metaRequested(verb, args);
    if (meta === 'version') return await versionCommand([], io);
    const command = verb ? await SUBCOMMANDS[verb]() : await resolveCommand();
    return await command(meta === 'help' ? ['--help'] : args, io);
  } catch (err) {
    say(io, describeError(err));
    return err instanceof InterruptedError ? err.exitCode : EXIT.USAGE;
  }
}
