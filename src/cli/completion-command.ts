/**
 * `elfdeps completion bash|zsh|fish`: prints a completion script for that
 * shell, generated from the commands' own option tables and help texts
 * (src/cli/completion.ts).
 */
import { EXIT, parseCommandLine, say, type CliIo } from './io.js';

/** The shells `elfdeps completion` writes a script for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;

export const COMPLETION_HELP = `Usage: elfdeps completion bash|zsh|fish

Prints a completion script for the shell: commands, their options, the values
of options that take a fixed set, directories for DIR, files for FILE and PATH.
  bash: source <(elfdeps completion bash)       (in ~/.bashrc)
  zsh:  elfdeps completion zsh > "\${fpath[1]}/_elfdeps"
  fish: elfdeps completion fish > ~/.config/fish/completions/elfdeps.fish

  -h, --help             this help
`;

/** The options of `elfdeps completion` (node:util parseArgs specs). */
export const COMPLETION_OPTIONS = { help: { type: 'boolean', short: 'h' } } as const;

export async function completionCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, COMPLETION_OPTIONS, io, 'elfdeps completion', COMPLETION_HELP);
  if (typeof parsed === 'number') return parsed;
  const [shell, extra] = parsed.positionals;
  const known = SHELLS.find((s) => s === shell);
  if (known === undefined || extra !== undefined) {
    say(io, `completion wants one of ${SHELLS.join(', ')}${shell === undefined ? '' : `, got '${parsed.positionals.join(' ')}'`} (try 'elfdeps completion --help')`);
    return EXIT.USAGE;
  }
  // Loaded here, not above: the generator reads every command's tables, this module among them.
  const { completionScript } = await import('./completion.js');
  io.stdout.write(completionScript(known));
  return EXIT.OK;
}
