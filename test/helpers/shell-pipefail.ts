/**
 * A scanner for shell pipelines into a reader that exits before its input
 * ends (`grep -q`, `grep -m N`, `grep -l/-L`, `head`) in a script that turns
 * `pipefail` on: the writer then dies of SIGPIPE and the pipeline fails (141)
 * although the check succeeded (issue 21, item 12). Used by
 * test/shell-pipefail.test.ts over every script of the repository.
 * Deliberately simple: quotes, comments, `\` and `|` line continuations are
 * understood; it is not a shell parser.
 */

/** Indexes of the characters of `text` outside quotes and not escaped by a backslash. */
function* unquoted(text: string): Generator<number> {
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '\\') i++;
    else if (c === "'" || c === '"') quote = c;
    else yield i;
  }
}

/** Text up to an unquoted `#` that starts a word (a comment). */
function stripComment(line: string): string {
  for (const i of unquoted(line)) if (line[i] === '#' && (i === 0 || /\s/.test(line[i - 1] as string))) return line.slice(0, i);
  return line;
}

/** Logical lines: comments removed; a line ending in `\` or in a pipe `|` goes on on the next. */
function logicalLines(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let pending: { line: number; text: string } | null = null;
  text.split('\n').forEach((raw, i) => {
    const body = stripComment(raw).replace(/\s+$/, '');
    const joined = pending ? { line: pending.line, text: `${pending.text} ${body.trim()}` } : { line: i + 1, text: body };
    if (/\\$/.test(joined.text)) pending = { line: joined.line, text: joined.text.slice(0, -1) };
    else if (/(^|[^|])\|$/.test(joined.text)) pending = joined;
    else {
      pending = null;
      out.push(joined);
    }
  });
  if (pending) out.push(pending);
  return out;
}

/** The text after each pipe `|` (not `||`) outside quotes: the readers' commands. */
function pipeReaders(text: string): string[] {
  const out: string[] = [];
  let skip = -1;
  for (const i of unquoted(text)) {
    if (text[i] !== '|' || i === skip) continue;
    if (text[i + 1] === '|') {
      skip = i + 1;
      continue;
    }
    const from = text[i + 1] === '&' ? i + 2 : i + 1;
    // The reader's command ends at the next control operator or closing parenthesis.
    out.push(text.slice(from).split(/\|\||&&|;|\)|\|/)[0] as string);
  }
  return out;
}

/** Words of a command, quotes removed (quoted words never count as options). */
function words(command: string): Array<{ word: string; quoted: boolean }> {
  return [...command.matchAll(/'[^']*'|"(?:\\.|[^"\\])*"|\S+/g)].map((m) => ({ word: m[0], quoted: /^['"]/.test(m[0]) }));
}

/**
 * Why this reader exits before its input ends, or null: `head` always; a
 * grep with -q/--quiet/--silent, -m/--max-count, -l/-L (files with or without
 * matches), in any option cluster and position (GNU grep permutes).
 */
export function earlyExit(command: string): string | null {
  const ws = words(command.trim());
  let at = 0;
  // Assignments and `command`/`exec`/`env` before the reader itself.
  while (at < ws.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(ws[at]!.word) || ['command', 'exec', 'env', '!'].includes(ws[at]!.word))) at++;
  const name = ws[at]?.word.replace(/^.*\//, '');
  if (name === 'head') return 'head';
  if (name !== 'grep' && name !== 'egrep' && name !== 'fgrep' && name !== 'zgrep') return null;
  for (let k = at + 1; k < ws.length; k++) {
    const { word, quoted } = ws[k]!;
    if (quoted || !word.startsWith('-') || word === '-') continue;
    if (word === '--') break;
    if (/^--(quiet|silent|max-count|files-with-matches|files-without-match)\b/.test(word)) return `${name} ${word}`;
    if (word.startsWith('--')) continue;
    for (const letter of word.slice(1)) {
      if ('qlLm'.includes(letter)) return `${name} -${letter}`;
      if ('efABCdD'.includes(letter)) {
        // These take an argument (the rest of the cluster, or the next word).
        if (word.endsWith(letter)) k++;
        break;
      }
    }
  }
  return null;
}

export interface PipefailFinding {
  line: number;
  text: string;
  reader: string;
}

/** Pipelines into an early-exiting reader after the script turns pipefail on. */
export function findPipefailHazards(script: string): PipefailFinding[] {
  const findings: PipefailFinding[] = [];
  let pipefail = false;
  for (const { line, text } of logicalLines(script)) {
    if (/\bset\s+(?:[-+][A-Za-z]+\s+)*-[A-Za-z]*o\s+pipefail\b/.test(text) || /\bset\s+-o\s+\w+\s+-o\s+pipefail\b/.test(text)) pipefail = true;
    if (!pipefail) continue;
    for (const reader of pipeReaders(text)) {
      const why = earlyExit(reader);
      if (why) findings.push({ line, text: text.trim(), reader: why });
    }
  }
  return findings;
}

