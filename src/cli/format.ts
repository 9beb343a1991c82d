/**
 * Text renderings of a resolution: ldd's own lines (minus load addresses)
 * and an indented tree that says how each library was found, as libtree does.
 */
import type { FoundBy, ProgramResolution } from '../resolve/types.js';
import { escapeControls } from './io.js';

/**
 * ldd's lines for one program (rtld.c's trace output): the vDSO, then each
 * object as `NAME => PATH`, or just `PATH` when the name asked for is the
 * path opened, and `NAME => not found` for each failed request.
 */
export function formatLdd(p: ProgramResolution): string[] {
  if (p.flavour === 'none') return [];
  const main = p.objects[0];
  // ld.so prints this instead of a list when the program needs nothing (rtld.c).
  if (main && main.elf.needed.length === 0 && p.flavour === 'glibc') return ['\tstatically linked'];
  const lines: string[] = [];
  // musl --list starts with the loader itself. (Callers escape control characters: escapeControls.)
  if (p.flavour === 'musl' && p.interpreter) lines.push(`\t${p.interpreter}`);
  for (const e of p.linkMap) {
    if (e.kind === 'vdso') lines.push(`\t${e.name}`);
    else if (e.kind === 'not-found') lines.push(`\t${e.name} => not found`);
    else {
      const o = p.objects[e.object];
      if (!o) continue;
      const name = e.as ?? o.names[0] ?? o.path;
      // glibc prints the path alone when it is the name asked for; musl never does.
      lines.push(name === o.path && p.flavour === 'glibc' ? `\t${o.path}` : `\t${name} => ${o.path}`);
    }
  }
  return lines;
}

const HOW_LABEL: Record<FoundBy | 'loaded' | 'not-found' | 'error', string> = {
  input: 'input',
  interpreter: 'interpreter',
  preload: 'preload',
  direct: 'direct path',
  rpath: 'rpath',
  'ld-library-path': 'LD_LIBRARY_PATH',
  runpath: 'runpath',
  'ld-so-cache': 'ld.so.cache',
  'ld-so-conf': 'ld.so.conf',
  default: 'default path',
  'musl-libc': 'musl libc',
  loaded: 'already loaded',
  'not-found': 'not found',
  error: 'error',
};

export interface TreeStyle {
  color: boolean;
  /** Expand every mention of a library, not only its first (cycles still end). */
  all?: boolean;
}

function paint(style: TreeStyle, code: string, s: string): string {
  return style.color ? `\x1b[${code}m${s}\x1b[0m` : s;
}

/**
 * An indented tree of DT_NEEDED edges, read top to bottom. Each library's own
 * dependencies are shown once, at its first appearance in the printed tree,
 * which carries how the loader found it; later mentions say "already loaded"
 * and are not expanded again, so nothing repeats and cycles end. With
 * `style.all`, every mention is expanded (a library is still never shown
 * inside itself). Names and paths from the files are escaped (escapeControls).
 */
export function formatTree(p: ProgramResolution, style: TreeStyle, marks: ReadonlyMap<string, string[]> = new Map()): string[] {
  const main = p.objects[0];
  if (!main) return [];
  const lines: string[] = [];
  const e = escapeControls;
  const head = paint(style, '1', e(p.input));
  if (p.flavour === 'none') return [`${head} ${paint(style, '2', `[${p.kind}]`)}`];
  lines.push(`${head} ${paint(style, '2', `[${e(p.interpreter ?? 'no interpreter')}]`)}`);
  const byRequester = new Map<number, typeof p.dependencies>();
  for (const d of p.dependencies) {
    const list = byRequester.get(d.requester) ?? [];
    list.push(d);
    byRequester.set(d.requester, list);
  }
  const shown = new Set<number>([0]);
  const walk = (index: number, prefix: string, ancestors: readonly number[]): void => {
    const deps = byRequester.get(index) ?? [];
    deps.forEach((d, i) => {
      const last = i === deps.length - 1;
      const branch = last ? '└── ' : '├── ';
      const o = d.object === null ? null : p.objects[d.object];
      let label: string;
      let expand = false;
      if (d.how === 'not-found') label = `${paint(style, '1;31', e(d.name))} ${paint(style, '31', '[not found]')}`;
      else if (d.how === 'error') label = `${paint(style, '1;31', e(d.name))} ${paint(style, '31', `[${e(d.error ?? 'error')}]`)}`;
      else {
        // The first mention printed says how the loader found the library (whichever edge
        // mapped it: loading is breadth-first, the tree depth-first; a preload by its path
        // says preload); later ones are brief.
        const first = o !== null && o !== undefined && !shown.has(o.index);
        const how = !first ? 'loaded' : d.how === 'loaded' || o.foundBy === 'preload' ? o.foundBy : d.how;
        const via = how === 'rpath' && o?.via != null ? ` of ${e(p.objects[o.via]?.path ?? '?')}` : '';
        const tag = paint(style, how === 'loaded' ? '2' : '33', `[${HOW_LABEL[how]}${via}]`);
        label = `${e(d.name)}${o && o.path !== d.name ? ` => ${e(o.path)}` : ''} ${tag}`;
        // The loader's verdict on this edge (versions the requester needs from it).
        for (const m of o ? (marks.get(`${d.requester}:${o.index}`) ?? []) : []) label += ` ${paint(style, '31', `[${e(m)}]`)}`;
        // musl's libc is the loader itself; guard depth and cycles against malformed input.
        expand = o !== null && o !== undefined && (first || style.all === true) && how !== 'musl-libc' && !ancestors.includes(o.index) && ancestors.length < 64;
        if (o) shown.add(o.index);
      }
      lines.push(prefix + branch + label);
      if (expand && o) walk(o.index, prefix + (last ? '    ' : '│   '), [...ancestors, o.index]);
    });
  };
  walk(0, '', [0]);
  return lines;
}
