/**
 * The elfdeps command. A thin dispatcher: each subcommand lives in its own
 * module and is imported only when used, so `elfdeps /bin/ls` starts without
 * loading the manifest schema validator, the copier, the image writer or
 * the launcher.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeError } from '../errors.js';
import { EXIT, packageVersion, say, type CliIo, type Command } from './io.js';

const SUBCOMMANDS: Record<string, () => Promise<Command>> = {
  manifest: async () => (await import('./manifest-command.js')).manifestCommand,
  copy: async () => (await import('./copy-command.js')).copyCommand,
  image: async () => (await import('./image-command.js')).imageCommand,
  run: async () => (await import('./run-command.js')).runCommand,
  check: async () => (await import('./check-command.js')).checkCommand,
};

/**
 * `--help` (or `-h`) anywhere among a command's options asks for its help,
 * even beside a bad option. Options end at `--`; for `run`, also at NEWROOT
 * (what follows belongs to the command run).
 */
function helpRequested(verb: string | undefined, args: string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
    if (verb === 'run' && !arg.startsWith('-')) return false;
    if (verb === 'run' && arg === '--env') i++;
  }
  return false;
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

export async function main(argv: string[], io: CliIo): Promise<number> {
  const first = argv[0];
  const loader = first !== undefined ? SUBCOMMANDS[first] : undefined;
  if (first === '--version' || first === '-V') {
    io.stdout.write(`elfdeps ${packageVersion()}\n`);
    return EXIT.OK;
  }
  // A mistyped verb that is no file: `elfdeps mainfest x`.
  if (!loader && first !== undefined && /^[a-z]+$/.test(first) && !existsSync(resolvePath(io.cwd, first))) {
    const near = Object.keys(SUBCOMMANDS).find((verb) => distance(first, verb) <= (verb.length > 4 ? 2 : 1));
    if (near) {
      say(io, `${first}: no such file or command; did you mean '${near}'? (try 'elfdeps ${near} --help')`);
      return EXIT.USAGE;
    }
  }
  const args = loader ? argv.slice(1) : argv;
  try {
    const command = loader ? await loader() : (await import('./resolve-command.js')).resolveCommand;
    return await command(helpRequested(first && loader ? first : undefined, args) ? ['--help'] : args, io);
  } catch (err) {
    say(io, describeError(err));
    return EXIT.USAGE;
  }
}
