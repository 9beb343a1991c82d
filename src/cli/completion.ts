/**
 * Shell completion scripts (bash, zsh, fish) generated from the commands'
 * option tables and help texts (src/cli/verbs.ts): the verbs, each verb's
 * options (long and short), what an option's value is (a fixed set, a
 * directory for DIR, a file for FILE, PATH, MANIFEST...; nothing to offer
 * for a name, a list or a number), and the operands (files, commands,
 * shells). The first word decides the verb, as src/cli/main.ts does.
 */
import { VERB_NAMES } from './verb-names.js';
import { describeOption, OPTION_CHOICES, SHELLS, VERB_DOCS, VERSION_OPTION, type Operands, type OptionSpecs, type VerbDoc } from './verbs.js';

/** What completes an option's value. */
type ValueKind = { kind: 'flag' } | { kind: 'files' } | { kind: 'dirs' } | { kind: 'free' } | { kind: 'choices'; values: readonly string[] };

export interface CompletionOption {
  long: string;
  short?: string;
  /** Repeatable. */
  multiple: boolean;
  value: ValueKind;
  /** The first clause of the help's description. */
  description: string;
}

export interface CompletionVerb {
  verb: string | null;
  description: string;
  options: CompletionOption[];
  operands: Operands;
}

/** Value names that are paths on the command line. */
const FILE_ARGS = /^(FILE|PATH|MANIFEST|NEWROOT)/;

function valueKind(name: string, type: string, arg: string): ValueKind {
  if (type === 'boolean') return { kind: 'flag' };
  const choices = OPTION_CHOICES[name];
  if (choices) return { kind: 'choices', values: choices };
  if (arg === 'DIR') return { kind: 'dirs' };
  if (FILE_ARGS.test(arg)) return { kind: 'files' };
  return { kind: 'free' };
}

/** A description cut to its first clause, for a completion menu. */
function shortDescription(text: string): string {
  const first = text.split(/[;:(]|\. /)[0] ?? '';
  return first.trim().replace(/[,.]$/, '');
}

function optionsOf(doc: VerbDoc): CompletionOption[] {
  const specs: OptionSpecs = { ...doc.options, ...VERSION_OPTION };
  return Object.entries(specs).map(([name, spec]) => {
    const line = describeOption(doc, name);
    return {
      long: name,
      ...(spec.short !== undefined ? { short: spec.short } : {}),
      multiple: spec.multiple === true,
      value: valueKind(name, spec.type, line?.arg ?? ''),
      description: name === 'version' ? 'the version of elfdeps' : shortDescription(line?.description ?? ''),
    };
  });
}

/** The first sentence of a command's help after its usage lines. */
function verbDescription(doc: VerbDoc): string {
  const body = doc.help.split('\n\n').slice(1).join(' ').replace(/\s+/g, ' ').trim();
  return shortDescription(body.split('. ')[0] ?? '');
}

export function completionModel(): CompletionVerb[] {
  return VERB_DOCS.map((doc) => ({ verb: doc.verb, description: verbDescription(doc), options: optionsOf(doc), operands: doc.operands }));
}

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(model: CompletionVerb[]): string {
  const arms = model.map((v) => {
    const byKind = (kind: ValueKind['kind']): string[] => v.options.filter((o) => o.value.kind === kind).flatMap((o) => [`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])]);
    const prev: string[] = [];
    const files = byKind('files');
    const dirs = byKind('dirs');
    const free = byKind('free');
    if (files.length) prev.push(`        ${files.join('|')}) _elfdeps_files -f; return ;;`);
    if (dirs.length) prev.push(`        ${dirs.join('|')}) _elfdeps_files -d; return ;;`);
    for (const o of v.options) {
      if (o.value.kind === 'choices') prev.push(`        --${o.long}${o.short ? `|-${o.short}` : ''}) _elfdeps_words ${sq(o.value.values.join(' '))}; return ;;`);
    }
    if (free.length) prev.push(`        ${free.join('|')}) return ;;`);
    const words = v.options.flatMap((o) => [`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])]);
    return [
      `    ${v.verb ?? "''"})`,
      ...(prev.length ? ['      case $prev in', ...prev, '      esac'] : []),
      `      opts=${sq(words.join(' '))}; operands=${v.operands} ;;`,
    ].join('\n');
  });
  return `# bash completion for elfdeps, generated from its option tables: source <(elfdeps completion bash)
_elfdeps_words() {
  local IFS=$'\\n'
  COMPREPLY+=($(IFS=' '; compgen -W "$1" -- "$cur"))
}
_elfdeps_files() {
  local IFS=$'\\n'
  compopt -o filenames 2>/dev/null
  COMPREPLY+=($(compgen "$1" -- "$cur"))
}
_elfdeps() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} verb= opts= operands=
  COMPREPLY=()
  if (( COMP_CWORD > 1 )); then
    case \${COMP_WORDS[1]} in
      ${VERB_NAMES.join('|')}) verb=\${COMP_WORDS[1]} ;;
    esac
  fi
  case $verb in
${arms.join('\n')}
  esac
  if [[ $cur == -* ]]; then
    _elfdeps_words "$opts"
    return
  fi
  case $operands in
    files) _elfdeps_files -f ;;
    verbs) _elfdeps_words ${sq(VERB_NAMES.join(' '))} ;;
    shells) _elfdeps_words ${sq(SHELLS.join(' '))} ;;
  esac
  if (( COMP_CWORD == 1 )); then
    _elfdeps_words ${sq(VERB_NAMES.join(' '))}
  fi
}
complete -F _elfdeps elfdeps
`;
}

/** Text inside a zsh _arguments spec's [description]. */
const zshDescription = (s: string): string => s.replace(/[\\[\]:']/g, (c) => (c === "'" ? `'\\''` : `\\${c}`));

function zshAction(o: CompletionOption): string {
  switch (o.value.kind) {
    case 'flag':
      return '';
    case 'files':
      return ':file:_files';
    case 'dirs':
      return ':directory:_files -/';
    case 'free':
      return ':value: ';
    case 'choices':
      return `:value:(${o.value.values.join(' ')})`;
  }
}

function zsh(model: CompletionVerb[]): string {
  const verbs = model.filter((v) => v.verb !== null).map((v) => `    ${sq(`${v.verb}:${v.description.replace(/:/g, '\\:')}`)}`);
  const argumentsOf = (v: CompletionVerb): string => {
    const specs = v.options.flatMap((o) => {
      const names = [`--${o.long}`, ...(o.short ? [`-${o.short}`] : [])];
      return names.map((n) => `'${o.multiple ? '*' : ''}${n}[${zshDescription(o.description)}]${zshAction(o).replace(/'/g, `'\\''`)}'`);
    });
    const operand = v.operands === 'files' ? `'*:file:_files'` : v.operands === 'verbs' ? `':command:(${VERB_NAMES.join(' ')})'` : v.operands === 'shells' ? `':shell:(${SHELLS.join(' ')})'` : '';
    return `_arguments -s -S : \\\n        ${[...specs, ...(operand ? [operand] : [])].join(' \\\n        ')}`;
  };
  const arms = model
    .filter((v) => v.verb !== null)
    .map((v) => `    (${v.verb})\n      shift words; (( CURRENT-- ))\n      ${argumentsOf(v)}\n      ;;`);
  const resolve = model.find((v) => v.verb === null) as CompletionVerb;
  return `#compdef elfdeps
# zsh completion for elfdeps, generated from its option tables: elfdeps completion zsh > "\${fpath[1]}/_elfdeps"
_elfdeps() {
  local -a verbs
  verbs=(
${verbs.join('\n')}
  )
  case $words[2] in
${arms.join('\n')}
    (*)
      if (( CURRENT == 2 )) && [[ $PREFIX != -* ]]; then
        _describe -t commands 'elfdeps command' verbs
      fi
      ${argumentsOf(resolve)}
      ;;
  esac
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _elfdeps "$@"
else
  compdef _elfdeps elfdeps
fi
`;
}

function fish(model: CompletionVerb[]): string {
  const lines = [
    `# fish completion for elfdeps, generated from its option tables: elfdeps completion fish > ~/.config/fish/completions/elfdeps.fish`,
    `# __elfdeps_verb VERB: true when the command line's first word is VERB ('' for none, the default command).`,
    `function __elfdeps_verb -a want`,
    `    set -l words (commandline -opc)`,
    `    set -l verb ''`,
    `    if set -q words[2]; and contains -- $words[2] ${VERB_NAMES.join(' ')}`,
    `        set verb $words[2]`,
    `    end`,
    `    test "$verb" = "$want"`,
    `end`,
    `complete -c elfdeps -e`,
  ];
  for (const v of model) {
    // Without -f: the first word may also be a FILE (the default command).
    if (v.verb !== null) lines.push(`complete -c elfdeps -n '__elfdeps_verb ""; and test (count (commandline -opc)) -eq 1' -a ${v.verb} -d ${sq(v.description)}`);
  }
  for (const v of model) {
    const condition = `-n ${sq(`__elfdeps_verb ${v.verb ?? '""'}`)}`;
    for (const o of v.options) {
      const value = o.value.kind === 'flag' ? '' : o.value.kind === 'files' ? ' -r -F' : o.value.kind === 'dirs' ? " -x -a '(__fish_complete_directories)'" : o.value.kind === 'free' ? ' -x' : ` -x -a ${sq(o.value.values.join(' '))}`;
      lines.push(`complete -c elfdeps ${condition} -l ${o.long}${o.short ? ` -s ${o.short}` : ''}${value} -d ${sq(o.description)}`);
    }
    if (v.operands === 'verbs') lines.push(`complete -c elfdeps ${condition} -f -a ${sq(VERB_NAMES.join(' '))}`);
    if (v.operands === 'shells') lines.push(`complete -c elfdeps ${condition} -f -a ${sq(SHELLS.join(' '))}`);
    if (v.operands === 'none') lines.push(`complete -c elfdeps ${condition} -f`);
  }
  return `${lines.join('\n')}\n`;
}

/** The completion script for `shell`. */
export function completionScript(shell: (typeof SHELLS)[number]): string {
  const model = completionModel();
  return shell === 'bash' ? bash(model) : shell === 'zsh' ? zsh(model) : fish(model);
}
