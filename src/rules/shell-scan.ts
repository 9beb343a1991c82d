/**
 * The commands a shell script runs, as far as they can be seen without
 * running it: a plain scan of its command words (the first word of each
 * simple command, after `;`, `&`, `|`, `&&`, `||`, newlines, `(`, `$(`,
 * backquotes and the keywords that start a command list), following the
 * token rules of POSIX sh (XCU 2.3 Token Recognition, 2.4 Reserved Words,
 * 2.9 Shell Commands). Builtins, keywords, assignments, redirections, words
 * that hold an expansion, and functions the script defines are not commands.
 * The arguments of a few well-known launchers (`env`, `xargs`, `nice`,
 * `find -exec`, `sh -c '...'`, ...) are followed to the command they run.
 *
 * Missed, by design (docs/rules.md): commands built from variables or
 * expansions (`$CC`, `"$@"`), `eval` and `trap` strings, commands in files
 * the script reads at run time other than literal `.`/`source` names,
 * aliases. Here-document bodies are data, not commands.
 *
 * Hostile input: one pass over at most MAX_SCAN_BYTES characters, nesting
 * ($(...), backquotes, sh -c) bounded by MAX_NESTING, the result capped at
 * MAX_WORDS names: no hang, bounded memory.
 */

/** The most of a script that is scanned (larger scripts are scanned up to here). */
export const MAX_SCAN_BYTES = 1 << 20;
/** Nested command substitutions and `sh -c` strings followed. */
const MAX_NESTING = 32;
/** Distinct names kept per script. */
const MAX_WORDS = 4096;

export interface ShellScan {
  /** Command names (looked up in PATH) and absolute paths, in the order first met. */
  commands: string[];
  /** Literal names given to `.` or `source`. */
  sourced: string[];
  /**
   * Last components of sourced paths whose directory is an expansion
   * (`. "$(dirname "$0")/lib.sh"`, `. "$(git --exec-path)/git-sh-i18n"`):
   * looked for beside the script.
   */
  sourcedBeside: string[];
  /** Functions the script defines. */
  functions: string[];
}

/** Reserved words after which a command starts (XCU 2.4), and bash's. */
const LEADING_KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'while', 'until', 'do', '!', '{', 'time', 'coproc']);
const OTHER_KEYWORDS = new Set(['fi', 'done', '}', 'esac', 'in', 'function', 'select', 'for', 'case', '[[', ']]']);

/**
 * Builtins of sh (dash) and bash: the shell runs them itself, even where a
 * program of the same name exists (echo, printf, test, kill, pwd).
 */
const BUILTINS = new Set(
  (
    ': . [ alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs disown echo enable eval exec exit export ' +
    'false fc fg getopts hash help history jobs kill let local logout mapfile popd printf pushd pwd read readarray readonly return set shift ' +
    'shopt source suspend test times trap true type typeset ulimit umask unalias unset wait ' +
    // ksh's and zsh's (scripts test for them: which(1) runs `print -r` under ksh)
    'print whence'
  ).split(' '),
);

/**
 * Programs that run the command given in their arguments: how many leading
 * operands are not the command (timeout's DURATION), and which options take
 * a separate argument. Options are words starting with "-".
 */
const LAUNCHERS: Record<string, { operands?: number; withArgument?: string[] }> = {
  env: { withArgument: ['-u', '--unset', '-C', '--chdir', '-S', '--split-string'] },
  nice: { withArgument: ['-n', '--adjustment'] },
  nohup: {},
  setsid: {},
  stdbuf: { withArgument: ['-i', '-o', '-e'] },
  timeout: { operands: 1, withArgument: ['-s', '--signal', '-k', '--kill-after'] },
  xargs: { withArgument: ['-a', '--arg-file', '-d', '--delimiter', '-E', '-I', '-L', '-n', '--max-args', '-P', '--max-procs', '-s', '--max-chars'] },
  ionice: { withArgument: ['-c', '--class', '-n', '--classdata', '-p', '--pid', '-P', '--pgid', '-u', '--uid'] },
  chrt: { operands: 1 },
  taskset: { operands: 1 },
  flock: { operands: 1, withArgument: ['-w', '--timeout', '-E', '--conflict-exit-code'] },
};
/** find's actions whose next word is a command. */
const FIND_ACTIONS = new Set(['-exec', '-execdir', '-ok', '-okdir']);
/** Shells whose -c string is a script of its own. */
const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'ksh', 'mksh', 'zsh', 'busybox']);

interface Word {
  /** The word with quotes removed, or null when it holds an expansion (not known statically). */
  text: string | null;
  /** Unquoted digits right before a redirection operator (an IO number, "2>"). */
  ioNumber: boolean;
  /** NAME=... (an assignment before the command, whatever its value holds). */
  assignment: boolean;
  /** When text is null: the literal last component after the last expansion ("$(dirname "$0")/lib.sh" → lib.sh). */
  tail: string | null;
}

type Token = { op: string } | { word: Word };

const META = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);
const OPERATORS = ['&&', '||', ';;', ';&', '>>', '<<', '<&', '>&', '<>', '>|', '&>', '&', '|', ';', '(', ')', '<', '>', '\n'];
const REDIRECTIONS = new Set(['<', '>', '>>', '<&', '>&', '<>', '>|', '&>', '<<<']);

class Scanner {
  readonly commands = new Set<string>();
  readonly sourced = new Set<string>();
  readonly sourcedBeside = new Set<string>();
  readonly functions = new Set<string>();

  /** Commands found in `text`, a script or a nested part of one. */
  scan(text: string, nesting: number): void {
    if (nesting > MAX_NESTING) return;
    new Lexer(text, this, nesting).run();
  }

  keep(set: Set<string>, name: string): void {
    if (set.size < MAX_WORDS) set.add(name);
  }

  /** One simple command's words (redirections and their targets removed). */
  simpleCommand(words: Word[], nesting: number): void {
    let i = 0;
    // Assignments before the command (FOO=1 cmd).
    while (i < words.length && words[i]?.assignment === true) i++;
    this.command(words, i, nesting);
  }

  /**
   * words[i] is in command position. `launched`: a launcher runs it with
   * execvp(), so a name the shell has as a builtin (echo, printf) is a program.
   */
  private command(words: Word[], i: number, nesting: number, launched = false): void {
    const first = words[i];
    if (first === undefined) return;
    const name = first.text;
    if (name === null || name === '') return;
    if (!launched && LEADING_KEYWORDS.has(name)) return this.simpleCommand(words.slice(i + 1), nesting);
    if (launched) {
      // Not the shell's any more: no keywords, builtins or functions.
    } else if (name === 'function') {
      const fn = words[i + 1]?.text;
      if (fn) this.keep(this.functions, fn.replace(/\(\)$/, ''));
      return;
    } else if (OTHER_KEYWORDS.has(name)) return;
    else if (name === '.' || name === 'source') {
      const file = words[i + 1];
      if (file?.text) this.keep(this.sourced, file.text);
      else if (file?.tail) this.keep(this.sourcedBeside, file.tail);
      return;
    } else if (name === 'exec' || name === 'command' || name === 'builtin') {
      let j = i + 1;
      while (words[j]?.text?.startsWith('-')) {
        // command -v / -V only looks the name up.
        if (name === 'command' && /^-[pvV]*[vV]/.test(words[j]?.text ?? '')) return;
        j++;
      }
      return name === 'builtin' ? undefined : this.command(words, j, nesting);
    }
    if (BUILTINS.has(name) && !launched) return;
    if (!/^[^\s'"\\$`*?[\]]+$/.test(name) || (name.includes('/') && !name.startsWith('/'))) return;
    this.keep(this.commands, name);
    const base = name.slice(name.lastIndexOf('/') + 1);
    const launcher = LAUNCHERS[base];
    if (launcher) {
      let j = i + 1;
      let operands = launcher.operands ?? 0;
      for (; j < words.length; j++) {
        const w = words[j]?.text ?? null;
        if (w === null) return;
        if (w === '--') {
          j++;
          break;
        }
        if (w.startsWith('-') && w !== '-') {
          if (launcher.withArgument?.includes(w)) j++;
          continue;
        }
        if (base === 'env' && w.includes('=')) continue;
        if (operands > 0) {
          operands--;
          continue;
        }
        break;
      }
      return this.command(words, j, nesting, true);
    }
    if (base === 'find') {
      for (let j = i + 1; j < words.length; j++) if (FIND_ACTIONS.has(words[j]?.text ?? '')) this.command(words, j + 1, nesting, true);
      return;
    }
    if (SHELLS.has(base)) {
      const at = words.findIndex((w, j) => j > i && w.text !== null && /^-[a-z]*c[a-z]*$/.test(w.text));
      const script = at > 0 ? words[at + 1]?.text : undefined;
      if (script) this.scan(script, nesting + 1);
    }
  }
}

/**
 * Splits one text into tokens and hands each simple command to the scanner.
 * Command substitutions are scanned as texts of their own as they are met.
 */
class Lexer {
  private i = 0;
  /** Here-document delimiters whose bodies start at the next newline. */
  private heredocs: Array<{ delimiter: string; stripTabs: boolean }> = [];
  /** Open `case` statements: 'pattern' while a pattern is expected, 'body' in its commands. */
  private cases: Array<'pattern' | 'body'> = [];

  constructor(
    private readonly s: string,
    private readonly scanner: Scanner,
    private readonly nesting: number,
  ) {}

  run(): void {
    let words: Word[] = [];
    let skipUntil: string | null = null; // inside [[ ... ]]: tests, not commands
    let redirectTarget = false;
    let forWords = false; // for NAME in WORDS: not commands
    const end = (): void => {
      if (skipUntil === null && !forWords && words.length > 0) this.scanner.simpleCommand(words, this.nesting);
      words = [];
      redirectTarget = false;
    };
    for (let t = this.next(); t !== null; t = this.next()) {
      if ('word' in t) {
        const text = t.word.text;
        if (skipUntil !== null) {
          if (text === skipUntil) skipUntil = null;
          continue;
        }
        if (redirectTarget) {
          redirectTarget = false;
          continue;
        }
        if (t.word.ioNumber) continue;
        const casePattern = this.cases.length > 0 && this.cases[this.cases.length - 1] === 'pattern';
        if (casePattern) {
          if (text === 'esac' && words.length === 0) this.cases.pop();
          else words.push(t.word);
          continue;
        }
        if (words.length === 0 && text === '[[') {
          skipUntil = ']]';
          continue;
        }
        if (words.length === 0 && text === 'esac') {
          this.cases.pop();
          continue;
        }
        if (words.length === 0 && (text === 'for' || text === 'select')) forWords = true;
        if (words.length === 0 && text === 'case') {
          // case WORD in: the rest of this line up to "in" is not a command.
          this.cases.push('pattern');
          this.skipCaseHead();
          continue;
        }
        if (forWords && text === 'do' && words.length === 0) {
          forWords = false;
          continue;
        }
        words.push(t.word);
        continue;
      }
      const op = t.op;
      if (skipUntil !== null) continue;
      if (REDIRECTIONS.has(op) || op === '<<') {
        redirectTarget = op !== '<<'; // the here-document's delimiter was taken by next()
        continue;
      }
      const top = this.cases.length - 1;
      if (this.cases[top] === 'pattern' && op === ')') {
        this.cases[top] = 'body';
        words = [];
        continue;
      }
      if (this.cases[top] === 'pattern' && (op === '|' || op === '(' || op === '\n')) continue;
      if (op === ';;' || op === ';&') {
        end();
        if (top >= 0) this.cases[top] = 'pattern';
        continue;
      }
      // name () { ... }: a function definition.
      if (op === '(' && words.length === 1 && this.peekOp() === ')') {
        const fn = words[0]?.text;
        if (fn) this.scanner.keep(this.scanner.functions, fn);
        this.next();
        words = [];
        continue;
      }
      end();
    }
    end();
  }

  /** Skips "WORD in" after case (the word and "in" may hold anything a word may). */
  private skipCaseHead(): void {
    for (let n = 0; n < 2; n++) {
      const t = this.next();
      if (t === null || !('word' in t)) return;
    }
  }

  private peekOp(): string | null {
    let j = this.i;
    while (this.s[j] === ' ' || this.s[j] === '\t') j++;
    return this.s[j] === ')' ? ')' : null;
  }

  private next(): Token | null {
    const s = this.s;
    for (;;) {
      while (s[this.i] === ' ' || s[this.i] === '\t' || (s[this.i] === '\\' && s[this.i + 1] === '\n')) this.i += s[this.i] === '\\' ? 2 : 1;
      if (this.i >= s.length) return null;
      if (s[this.i] === '#') {
        const nl = s.indexOf('\n', this.i);
        this.i = nl < 0 ? s.length : nl;
        continue;
      }
      break;
    }
    if (!META.has(s[this.i] as string)) return { word: this.word() };
    if (s.startsWith('<<<', this.i)) {
      this.i += 3;
      return { op: '<<<' };
    }
    for (const op of OPERATORS) {
      if (!s.startsWith(op, this.i)) continue;
      this.i += op.length;
      if (op === '<<') this.hereDocument();
      if (op === '\n') this.skipHereDocuments();
      return { op };
    }
    return { word: this.word() };
  }

  /** After "<<" or "<<-": the delimiter word; its body is skipped at the next newline. */
  private hereDocument(): void {
    const stripTabs = this.s[this.i] === '-';
    if (stripTabs) this.i++;
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i++;
    const start = this.i;
    const w = this.word();
    const raw = this.s.slice(start, this.i).replace(/["'\\]/g, '');
    this.heredocs.push({ delimiter: w.text ?? raw, stripTabs });
  }

  private skipHereDocuments(): void {
    for (const h of this.heredocs) {
      for (;;) {
        if (this.i >= this.s.length) break;
        const nl = this.s.indexOf('\n', this.i);
        const line = this.s.slice(this.i, nl < 0 ? this.s.length : nl);
        this.i = nl < 0 ? this.s.length : nl + 1;
        if ((h.stripTabs ? line.replace(/^\t+/, '') : line) === h.delimiter) break;
      }
    }
    this.heredocs = [];
  }

  /** One word: quotes removed; null text when some part is an expansion. */
  private word(): Word {
    const s = this.s;
    let text = '';
    let known = true;
    let quoted = false;
    let tailFrom = 0; // where the literal text after the last expansion starts
    let beforeExpansion: string | null = null; // the literal text before the first expansion
    while (this.i < s.length) {
      const c = s[this.i] as string;
      if (META.has(c)) break;
      if (c === '\\') {
        if (s[this.i + 1] !== '\n') text += s[this.i + 1] ?? '';
        this.i += 2;
        quoted = true;
      } else if (c === "'") {
        const close = s.indexOf("'", this.i + 1);
        const endAt = close < 0 ? s.length : close;
        text += s.slice(this.i + 1, endAt);
        this.i = endAt + 1;
        quoted = true;
      } else if (c === '"') {
        this.i++;
        quoted = true;
        while (this.i < s.length && s[this.i] !== '"') {
          const d = s[this.i] as string;
          if (d === '\\') {
            text += s[this.i + 1] ?? '';
            this.i += 2;
          } else if (d === '$' || d === '`') {
            beforeExpansion ??= text;
            this.expansion();
            known = false;
            tailFrom = text.length;
          } else {
            text += d;
            this.i++;
          }
        }
        this.i++;
      } else if (c === '$' || c === '`') {
        beforeExpansion ??= text;
        this.expansion();
        known = false;
        tailFrom = text.length;
      } else if ((c === '*' || c === '?' || c === '[') && text !== '') {
        text += c;
        this.i++;
        known = false;
      } else {
        text += c;
        this.i++;
      }
    }
    const ioNumber = !quoted && /^[0-9]+$/.test(text) && (s[this.i] === '<' || s[this.i] === '>');
    const tail = /^\/([^/*?[]+)$/.exec(text.slice(tailFrom));
    const assignment = /^[A-Za-z_][A-Za-z0-9_]*\+?=/.test(beforeExpansion ?? text);
    return { text: known ? text : null, ioNumber, assignment, tail: !known && tail ? (tail[1] as string) : null };
  }

  /** At "$" or "`": skips the expansion, scanning the commands of a command substitution. */
  private expansion(): void {
    const s = this.s;
    if (s[this.i] === '`') {
      let j = this.i + 1;
      let inner = '';
      while (j < s.length && s[j] !== '`') {
        // Inside backquotes, \` \\ \$ stand for the character itself.
        if (s[j] === '\\' && (s[j + 1] === '`' || s[j + 1] === '\\' || s[j + 1] === '$')) j++;
        inner += s[j];
        j++;
      }
      this.i = j + 1;
      this.scanner.scan(inner, this.nesting + 1);
      return;
    }
    const n = s[this.i + 1];
    if (n === '(' && s[this.i + 2] === '(') {
      this.i = this.matching(this.i + 3, '(', ')', 2);
      return;
    }
    if (n === '(') {
      const close = this.matching(this.i + 2, '(', ')', 1);
      this.scanner.scan(s.slice(this.i + 2, close - 1), this.nesting + 1);
      this.i = close;
      return;
    }
    if (n === '{') {
      // ${NAME...}: any command substitution inside is scanned.
      const close = this.matching(this.i + 2, '{', '}', 1);
      const inner = s.slice(this.i + 2, close - 1);
      for (const m of inner.matchAll(/\$\(([^()]*)\)/g)) this.scanner.scan(m[1] as string, this.nesting + 1);
      this.i = close;
      return;
    }
    this.i++;
    if (n !== undefined && /[A-Za-z_]/.test(n)) while (this.i < s.length && /[A-Za-z0-9_]/.test(s[this.i] as string)) this.i++;
    else if (n !== undefined && /[0-9@*#?$!-]/.test(n)) this.i++;
  }

  /** The index just after the `depth`-th unmatched `close` from `from`, skipping quoted text. */
  private matching(from: number, open: string, close: string, depth: number): number {
    const s = this.s;
    let j = from;
    while (j < s.length && depth > 0) {
      const c = s[j];
      if (c === '\\') j++;
      else if (c === "'") {
        const q = s.indexOf("'", j + 1);
        j = q < 0 ? s.length : q;
      } else if (c === open) depth++;
      else if (c === close) depth--;
      j++;
    }
    return Math.min(j, s.length);
  }
}

/** The commands, sourced files and functions of a shell script's text (the first MAX_SCAN_BYTES of it). */
export function scanShellScript(text: string): ShellScan {
  const scanner = new Scanner();
  scanner.scan(text.length > MAX_SCAN_BYTES ? text.slice(0, MAX_SCAN_BYTES) : text, 0);
  const functions = [...scanner.functions];
  return {
    commands: [...scanner.commands].filter((c) => !scanner.functions.has(c)),
    sourced: [...scanner.sourced],
    sourcedBeside: [...scanner.sourcedBeside],
    functions,
  };
}
