/**
 * Every command of the CLI as data: its --help text and its option table,
 * the very constants the commands themselves parse and print. The manual
 * page (src/cli/manpage.ts, written by `npm run build`) and the shell
 * completions (src/cli/completion.ts, `elfdeps completion SHELL`) are
 * generated from these, so that no text or option is written twice.
 *
 * The help texts share one layout, which helpText() reads: the usage lines
 * first ("Usage: ..." and lines under it), then paragraphs, and option lines
 * indented by two spaces (`  -o, --output FILE      what it does`, the
 * description continuing on lines indented further).
 */
import type { ParseArgsConfig } from 'node:util';
import { CHECK_HELP, CHECK_OPTIONS } from './check-command.js';
import { COMPLETION_HELP, COMPLETION_OPTIONS, SHELLS } from './completion-command.js';
import { COPY_HELP, COPY_OPTIONS } from './copy-command.js';
import { COMPRESSIONS, IMAGE_HELP, IMAGE_OPTIONS } from './image-command.js';
import { HELP_HELP, VERSION_HELP } from './main.js';
import { DLOPEN_LEVELS, MANIFEST_COMMAND_OPTIONS, MANIFEST_HELP } from './manifest-command.js';
import { RESOLVE_HELP, RESOLVE_OPTIONS } from './resolve-command.js';
import { RUN_HELP, RUN_OPTIONS } from './run-command.js';
import { VERB_NAMES, type VerbName } from './verb-names.js';

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>;

/** What a command's operands are, for completion. */
export type Operands = 'files' | 'verbs' | 'shells' | 'none';

export interface VerbDoc {
  /** null: the default command, `elfdeps [options] FILE...`. */
  verb: VerbName | null;
  help: string;
  options: OptionSpecs;
  operands: Operands;
}

const HELP_OPTIONS = { help: { type: 'boolean', short: 'h' } } as const;

/** Each verb's help and options (a Record: a verb added to VERB_NAMES must be described here). */
const DOCS: Record<VerbName, Omit<VerbDoc, 'verb'>> = {
  manifest: { help: MANIFEST_HELP, options: MANIFEST_COMMAND_OPTIONS, operands: 'files' },
  copy: { help: COPY_HELP, options: COPY_OPTIONS, operands: 'files' },
  image: { help: IMAGE_HELP, options: IMAGE_OPTIONS, operands: 'files' },
  run: { help: RUN_HELP, options: RUN_OPTIONS, operands: 'files' },
  check: { help: CHECK_HELP, options: CHECK_OPTIONS, operands: 'files' },
  help: { help: HELP_HELP, options: HELP_OPTIONS, operands: 'verbs' },
  version: { help: VERSION_HELP, options: HELP_OPTIONS, operands: 'none' },
  completion: { help: COMPLETION_HELP, options: COMPLETION_OPTIONS, operands: 'shells' },
};

/** The default command first, then the verbs in VERB_NAMES' order. */
export const VERB_DOCS: readonly VerbDoc[] = [{ verb: null, help: RESOLVE_HELP, options: RESOLVE_OPTIONS, operands: 'files' }, ...VERB_NAMES.map((verb) => ({ verb, ...DOCS[verb] }))];

/** `--version`/`-V`: taken by every command (src/cli/main.ts reads it before the command). */
export const VERSION_OPTION = { version: { type: 'boolean', short: 'V' } } as const;

/** The values an option takes, where they are a fixed set. */
export const OPTION_CHOICES: Readonly<Record<string, readonly string[]>> = {
  dlopen: DLOPEN_LEVELS,
  compress: COMPRESSIONS,
};

export { SHELLS };

/** One option line of a help text. */
export interface HelpOption {
  /** The names as written: ['-o', '--output']. */
  names: string[];
  /** The value's name (FILE, DIR, K=V...), or '' for a flag. */
  arg: string;
  /** The description, its lines joined by spaces. */
  description: string;
}

/** One block of a help text after its usage lines. */
export type HelpBlock = { kind: 'text'; lines: string[] } | { kind: 'option'; option: HelpOption };

export interface HelpText {
  /** The usage lines without "Usage: " and the alignment under it. */
  usage: string[];
  /** Paragraphs (lines as written) and options, in order; an empty text block is a paragraph break. */
  blocks: HelpBlock[];
}

const OPTION_LINE = /^ {2}(-[A-Za-z0-9](?:, )?)?(--?[a-z][a-z0-9-]*)?((?: [^ ]+)*?)(?: {2,}(\S.*))?$/;

/** Reads a help text laid out as described above. */
export function helpText(text: string): HelpText {
  const lines = text.replace(/\n$/, '').split('\n');
  const usage: string[] = [];
  let i = 0;
  while (i < lines.length && (lines[i]?.startsWith('Usage: ') || (usage.length > 0 && lines[i]?.startsWith('       ')))) {
    usage.push((lines[i] as string).replace(/^Usage: |^ {7}/, '').trim());
    i++;
  }
  const blocks: HelpBlock[] = [];
  let option: HelpOption | null = null;
  let paragraph: string[] = [];
  const flush = (): void => {
    if (paragraph.length) blocks.push({ kind: 'text', lines: paragraph });
    paragraph = [];
  };
  for (; i < lines.length; i++) {
    const line = lines[i] as string;
    const m = /^ {2}-/.test(line) ? OPTION_LINE.exec(line) : null;
    if (m) {
      flush();
      const names = [m[1]?.replace(/, $/, ''), m[2]].filter((n): n is string => n !== undefined && n !== '');
      option = { names, arg: (m[3] ?? '').trim(), description: (m[4] ?? '').trim() };
      blocks.push({ kind: 'option', option });
    } else if (option && /^ {4,}\S/.test(line)) {
      option.description = `${option.description} ${line.trim()}`.trim();
    } else if (line.trim() === '') {
      option = null;
      flush();
      blocks.push({ kind: 'text', lines: [] });
    } else {
      option = null;
      paragraph.push(line);
    }
  }
  flush();
  return { usage, blocks };
}

/** The option lines of a help text. */
export function helpOptions(text: string): HelpOption[] {
  return helpText(text).blocks.flatMap((b) => (b.kind === 'option' ? [b.option] : []));
}

/**
 * The help line of option `name` of a command: its own help's, else the
 * first help that describes it (copy and image name the options they share
 * with manifest, whose help describes them).
 */
export function describeOption(doc: VerbDoc, name: string): HelpOption | undefined {
  const has = (o: HelpOption): boolean => o.names.includes(`--${name}`);
  return helpOptions(doc.help).find(has) ?? VERB_DOCS.flatMap((d) => helpOptions(d.help)).find(has);
}

/** How users call a command: 'elfdeps', 'elfdeps copy'. */
export function commandName(doc: VerbDoc): string {
  return doc.verb === null ? 'elfdeps' : `elfdeps ${doc.verb}`;
}
