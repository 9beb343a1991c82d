/**
 * Text renderings of a resolution: ldd's own lines (minus load addresses)
 * and an indented tree that says how each library was found, as libtree does.
 */
import type { FoundBy, ProgramResolution } from '../resolve/types.js';

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
  // musl --list starts with the loader itself.
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
}

function paint(style: TreeStyle, code: string, s: string): string {
  return style.color ? `\x1b[${code}m${s}\x1b[0m` : s;
}

/**
 * An indented tree of DT_NEEDED edges. A library's own dependencies are shown
 * under the edge that mapped it (its first loader); later references to it
 * say "already loaded" and are not expanded again, so cycles end.
 */
export function formatTree(p: ProgramResolution, style: TreeStyle, marks: ReadonlyMap<string, string[]> = new Map()): string[] {
  const main = p.objects[0];
  if (!main) return [];
  const lines: string[] = [];
  const head = paint(style, '1', p.input);
  if (p.flavour === 'none') return [`${head} ${paint(style, '2', `[${p.kind}]`)}`];
  lines.push(`${head} ${paint(style, '2', `[${p.interpreter ?? 'no interpreter'}]`)}`);
  const byRequester = new Map<number, typeof p.dependencies>();
  for (const d of p.dependencies) {
    const list = byRequester.get(d.requester) ?? [];
    list.push(d);
    byRequester.set(d.requester, list);
  }
  const walk = (index: number, prefix: string, depth: number): void => {
    const deps = byRequester.get(index) ?? [];
    deps.forEach((d, i) => {
      const last = i === deps.length - 1;
      const branch = last ? '└── ' : '├── ';
      const o = d.object === null ? null : p.objects[d.object];
      let label: string;
      if (d.how === 'not-found') label = `${paint(style, '1;31', d.name)} ${paint(style, '31', '[not found]')}`;
      else if (d.how === 'error') label = `${paint(style, '1;31', d.name)} ${paint(style, '31', `[${d.error ?? 'error'}]`)}`;
      else {
        const via = d.how === 'rpath' && o?.via != null ? ` of ${p.objects[o.via]?.path ?? '?'}` : '';
        const tag = paint(style, d.how === 'loaded' ? '2' : '33', `[${HOW_LABEL[d.how]}${via}]`);
        label = `${d.name}${o && o.path !== d.name ? ` => ${o.path}` : ''} ${tag}`;
        // The loader's verdict on this edge (versions the requester needs from it).
        for (const m of o ? (marks.get(`${d.requester}:${o.index}`) ?? []) : []) label += ` ${paint(style, '31', `[${m}]`)}`;
      }
      lines.push(prefix + branch + label);
      // Expand where the object was mapped; guard depth against malformed input.
      if (o && d.how !== 'loaded' && d.how !== 'musl-libc' && depth < 64) walk(o.index, prefix + (last ? '    ' : '│   '), depth + 1);
    });
  };
  walk(0, '', 0);
  return lines;
}
