/**
 * Text renderings of the loader's verdict: ldd's own lines for -v, -u, -d and
 * -r (what the loader prints in trace mode, elf/rtld.c, which ldd shows on
 * its standard output with the loader's standard error merged in), and the
 * marks --tree puts on edges.
 */
import type { ProgramResolution } from '../resolve/types.js';
import type { Judgement, Verdict } from '../verdict/index.js';
import { formatLdd } from './format.js';
import { escapeControls } from './io.js';

export interface LddFlags {
  /** -v: the "Version information:" block. */
  verbose: boolean;
  /** -u: unused direct dependencies instead of the list. */
  unused: boolean;
  /** -d or -r: undefined symbols after the list. */
  undefined: boolean;
}

/** _dl_debug_printf's prefix: the pid right-aligned in ten columns, a colon and a tab (elf/dl-misc.c). */
export function debugPrefix(pid: number): string {
  return `${String(pid).padStart(10)}:\t`;
}

/**
 * Everything ldd prints for one program, in the loader's order: version
 * problems (found before anything is listed), then the list, the undefined
 * symbols of the relocation walk, and the version information.
 */
export function formatLddVerdict(p: ProgramResolution, j: Judgement, flags: LddFlags, pid: number): string[] {
  const { verdict } = j;
  const lines: string[] = [];
  for (const v of verdict.versionProblems) {
    // With LD_DEBUG set (ldd -u), _dl_signal_cexception first logs the error.
    if (flags.unused) lines.push(`${debugPrefix(pid)}${v.about}: error: version lookup error: ${v.message} (continued)`);
    lines.push(`${j.progname}: ${v.about}: ${v.message}`);
  }
  if (flags.unused) {
    // ldd -u prints no list: only what the program does not use (rtld.c, DL_DEBUG_UNUSED).
    if (verdict.unused && verdict.unused.length > 0) lines.push('Unused direct dependencies:', ...verdict.unused.map((u) => `\t${u}`));
    return lines;
  }
  lines.push(...formatLdd(p));
  if (flags.undefined) {
    for (const u of verdict.undefinedSymbols) {
      const o = p.objects[u.object];
      const who = u.object === 0 ? j.progname : (o?.path ?? '?');
      lines.push(`${u.message}\t(${who})`);
    }
  }
  if (flags.verbose) lines.push(...j.versionInformation());
  return lines;
}

/** Marks for --tree: per dependency edge "requester:object", what the loader says about it. */
export function treeMarks(verdict: Verdict): Map<string, string[]> {
  const marks = new Map<string, string[]>();
  const add = (key: string, text: string): void => {
    const list = marks.get(key) ?? [];
    if (!list.includes(text)) list.push(text);
    marks.set(key, list);
  };
  for (const v of verdict.versionProblems) {
    if (v.kind === 'version-not-found' || v.kind === 'weak-version-not-found') add(`${v.requester}:${v.provider}`, `${v.kind === 'weak-version-not-found' ? 'weak ' : ''}version ${v.version} not found`);
    else if (v.kind === 'no-version-information') add(`${v.requester}:${v.provider}`, 'no version information');
  }
  return marks;
}

/**
 * Lines --tree prints after the tree: undefined symbols, and what would stop the
 * program. With a library not found, the symbols it would have defined are not
 * listed one by one: the missing library (marked in the tree) is the reason.
 */
export function formatVerdictTail(p: ProgramResolution, j: Judgement, style: { color: boolean }): string[] {
  const { verdict } = j;
  const lines: string[] = [];
  const red = (s: string): string => (style.color ? `\x1b[31m${s}\x1b[0m` : s);
  if (p.missing.length === 0) for (const u of verdict.undefinedSymbols) if (u.atStart) lines.push(red(escapeControls(`${u.message} (resolved at start)`)));
  if (!verdict.starts && verdict.refusal) lines.push(red(escapeControls(`would not start: ${verdict.refusal}`)));
  return lines;
}
