/**
 * The elfdeps command. A thin dispatcher: each subcommand lives in its own
 * module and is imported only when used, so `elfdeps /bin/ls` starts without
 * loading the manifest schema validator, the copier, the image writer or
 * the launcher.
 */
import { describeError } from '../errors.js';
import { EXIT, type CliIo, type Command } from './io.js';

const SUBCOMMANDS: Record<string, () => Promise<Command>> = {
  manifest: async () => (await import('./manifest-command.js')).manifestCommand,
  copy: async () => (await import('./copy-command.js')).copyCommand,
  image: async () => (await import('./image-command.js')).imageCommand,
  run: async () => (await import('./run-command.js')).runCommand,
};

export async function main(argv: string[], io: CliIo): Promise<number> {
  const first = argv[0];
  const loader = first !== undefined ? SUBCOMMANDS[first] : undefined;
  try {
    if (loader) return await (await loader())(argv.slice(1), io);
    const { resolveCommand } = await import('./resolve-command.js');
    return await resolveCommand(argv, io);
  } catch (err) {
    io.stderr.write(`elfdeps: ${describeError(err)}\n`);
    return EXIT.USAGE;
  }
}

