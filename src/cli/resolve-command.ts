/**
 * `elfdeps [options] FILE...`: what the loader would load for each FILE.
 */
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { describeError } from '../errors.js';
import { InterruptedError } from '../interrupt.js';
import { readElf, type ElfFile } from '../elf/reader.js';
import { flagNames, DF_1_NAMES, DF_NAMES } from '../elf/constants.js';
import { Resolver, type ResolveOptions } from '../resolve/index.js';
import { LOADER_OPTIONS, LOADER_OPTIONS_HELP, loaderOptionsFrom } from './loader-options.js';
import type { ProgramResolution } from '../resolve/types.js';
import { formatTree } from './format.js';
import { formatLddVerdict, formatVerdictTail, treeMarks } from './format-verdict.js';
import { Judge, type Verdict } from '../verdict/index.js';
import { escapeControls, EXIT, parseCommandLine, say, type CliIo, type Parsed } from './io.js';
import { withImageRoots, type ImageRoot } from './from-image.js';
import { isVerb } from './verb-names.js';

export const RESOLVE_HELP = `Usage: elfdeps [options] FILE...
       elfdeps manifest [options] FILE... [-o MANIFEST.json]
       elfdeps copy [options] (MANIFEST.json | - | FILE...) NEWROOT
       elfdeps image [options] (MANIFEST.json | FILE...) -o IMAGE.tar
       elfdeps run [options] NEWROOT [--] CMD [ARG...]
       elfdeps check [options] [PATH...]
       elfdeps help [COMMAND]              the usage of COMMAND (as COMMAND --help)
       elfdeps version                     the version of elfdeps (as --version)
       elfdeps completion bash|zsh|fish    a shell completion script
A first word that is a command is the command: './NAME' for a file so named.

Shows what the dynamic loader would load for each FILE, without running it.

Output (one of):
  --ldd                  ldd's text on both streams, without load addresses
                         (default): the loader's version errors first, as ldd
                         shows them, and nothing else (the status says more)
  --tree                 an indented tree saying how each library was found; each
                         library's dependencies shown once, at its first appearance
  --all                  with --tree: show them at every appearance
  --json                 one JSON document (schema: docs/resolve-result.schema.json);
                         each program's verdict.refusal says why it would not start
  --verdict              one line per FILE: 'FILE: starts', or 'FILE: would not
                         start: REASON' with the loader's one-line reason
  --elf                  what the ELF reader finds in each FILE (no resolution)

The loader's verdict (ldd's flags, same output):
  -v, --verbose          also the "Version information:" block (ldd -v)
  -u, --unused           the program's unused direct dependencies (ldd -u)
  -d, --data-relocs      undefined symbols the loader resolves at start (ldd -d)
  -r, --function-relocs  undefined symbols, function symbols too (ldd -r)

Loader environment:
${LOADER_OPTIONS_HELP}
  -h, --help             this help (also after other options)
  -V, --version          the version of elfdeps (also after other options)

Exit status: 0 the loader would start every FILE; 1 it would not (a library
not found, a version missing, a symbol it resolves at start undefined, or
another fatal loader error); 2 bad usage or an unreadable FILE. --ldd prints
only what ldd prints (ldd exits 0 for most of these): the reason is given by
--verdict, at the end of --tree, in --json (verdict.refusal) and by check.
`;

/** --verdict's judgement of one FILE: the loader's own one-line reason when it would not start it. */
function verdictLine(p: ProgramResolution, verdict: Verdict): string {
  if (p.flavour === 'none') return 'not a dynamic executable';
  if (verdict.starts) return 'starts';
  const missing = p.missing[0];
  return `would not start: ${verdict.refusal ?? (missing ? (missing.error ?? `${missing.name}: not found`) : 'the loader would refuse it')}`;
}

function describeElf(elf: ElfFile): string[] {
  const d = elf.dynamic;
  const lines = [
    `${elf.path}:`,
    `  class:       ELF${elf.header.elfClass}, ${elf.header.littleEndian ? 'little' : 'big'} endian`,
    `  machine:     ${elf.machineName} (e_machine ${elf.header.machine})`,
    `  os abi:      ${elf.osAbiName}, abi version ${elf.header.abiVersion}`,
    `  type:        ${elf.typeName} (${elf.kind})`,
    `  interpreter: ${elf.interpreter ?? '-'}`,
  ];
  if (d) {
    lines.push(`  needed:      ${d.needed.length ? d.needed.join(', ') : '-'}`);
    lines.push(`  soname:      ${d.soname ?? '-'}`);
    lines.push(`  rpath:       ${d.rpath ?? '-'}`);
    lines.push(`  runpath:     ${d.runpath ?? '-'}`);
    lines.push(`  flags:       ${d.flags === null ? '-' : flagNames(d.flags, DF_NAMES).join(' ')}`);
    lines.push(`  flags_1:     ${d.flags1 === null ? '-' : flagNames(d.flags1, DF_1_NAMES).join(' ')}`);
  } else lines.push('  dynamic:     none');
  lines.push(`  bytes read:  ${elf.bytesRead} of ${elf.size}`);
  return lines;
}

/** The options of `elfdeps [options] FILE...` (node:util parseArgs specs). */
export const RESOLVE_OPTIONS = {
  ldd: { type: 'boolean' },
  tree: { type: 'boolean' },
  all: { type: 'boolean' },
  json: { type: 'boolean' },
  verdict: { type: 'boolean' },
  elf: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  unused: { type: 'boolean', short: 'u' },
  'data-relocs': { type: 'boolean', short: 'd' },
  'function-relocs': { type: 'boolean', short: 'r' },
  ...LOADER_OPTIONS,
  help: { type: 'boolean', short: 'h' },
} as const;

export async function resolveCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, RESOLVE_OPTIONS, io, 'elfdeps', RESOLVE_HELP);
  if (typeof parsed === 'number') return parsed;
  const { values: v, positionals: files } = parsed;
  const modes = [v.ldd, v.tree, v.json, v.verdict, v.elf].filter(Boolean).length;
  if (v.all && !v.tree) {
    say(io, '--all goes with --tree');
    return EXIT.USAGE;
  }
  if (modes > 1) {
    say(io, 'choose one of --ldd, --tree, --json, --verdict, --elf');
    return EXIT.USAGE;
  }
  if (files.length === 0) {
    say(io, `no FILE given (try 'elfdeps --help')`);
    return EXIT.USAGE;
  }
  const sub = files[0];
  if (isVerb(sub) && !existsSync(resolvePath(io.cwd, sub))) {
    // `elfdeps --root D manifest ...`: the subcommand was meant, but options came first.
    say(io, `'${sub}' must come first: elfdeps ${sub} [options] ...`);
    return EXIT.USAGE;
  }

  if (v.elf) {
    let code: number = EXIT.OK;
    for (const f of files) {
      try {
        io.stdout.write(describeElf(readElf(f)).map(escapeControls).join('\n') + '\n');
      } catch (err) {
        say(io, describeError(err));
        code = EXIT.USAGE;
      }
    }
    return code;
  }

  try {
    const [code] = await withImageRoots(v, false, async (imageRoot) => resolveFiles({ ...v, imageRoot }, files, io));
    return code as number;
  } catch (err) {
    // Opening or unpacking --from's image failed (the files' own problems are reported per file);
    // an interrupt ends the command with 128 + the signal's number (main.ts).
    if (err instanceof InterruptedError) throw err;
    say(io, describeError(err));
    return EXIT.USAGE;
  }
}

/** Resolves and prints `files` in one root (the host, --root DIR or --from's image). */
function resolveFiles(v: Parsed<typeof RESOLVE_OPTIONS>['values'] & { imageRoot: ImageRoot | null }, files: string[], io: CliIo): number {
  let options: ResolveOptions;
  try {
    options = loaderOptionsFrom(v, io);
  } catch (err) {
    say(io, describeError(err));
    return EXIT.USAGE;
  }

  let resolver: Resolver;
  try {
    resolver = new Resolver(options);
  } catch (err) {
    say(io, describeError(err));
    return EXIT.USAGE;
  }
  let code: number = EXIT.OK;
  const results: Array<ProgramResolution & { verdict: Verdict }> = [];
  const judge = new Judge(resolver.fs, resolver.elfCache);
  const relocations = v['function-relocs'] ? 'all' : 'start';
  // no-color.org: a NO_COLOR that is present and not empty turns colour off; so does a dumb terminal.
  const color = io.stdout.isTTY === true && !io.env.NO_COLOR && io.env.TERM !== 'dumb';
  for (const file of files) {
    let p: ProgramResolution;
    try {
      p = resolver.resolveOne(file);
    } catch (err) {
      say(io, describeError(err));
      code = EXIT.USAGE;
      continue;
    }
    // One status per verdict, whatever the format: a static FILE is "not a dynamic executable" (1).
    if (p.missing.length > 0 || p.fatal !== null || p.flavour === 'none') code = Math.max(code, EXIT.NOT_FOUND);
    const judgement = judge.judge(p, { relocations, unused: v.unused === true });
    const { verdict } = judgement;
    if (!verdict.starts) code = Math.max(code, EXIT.NOT_FOUND);
    if (v.json) {
      results.push({ ...p, verdict });
      continue;
    }
    if (v.verdict) {
      io.stdout.write(`${escapeControls(file)}: ${verdictLine(p, verdict)}\n`);
      continue;
    }
    // The tree's first line names the program: no "FILE:" header above it.
    if (files.length > 1 && !v.tree) io.stdout.write(`${escapeControls(file)}:\n`);
    // The loader reports a preload it cannot load on stderr and goes on (rtld.c do_preload); musl is silent.
    if (p.flavour === 'glibc') {
      for (const w of p.warnings) if (/^object '.*' from LD_PRELOAD cannot be preloaded /.test(w)) io.stderr.write(`ERROR: ld.so: ${escapeControls(w)}.\n`);
    }
    if (v.tree) {
      io.stdout.write([...formatTree(p, { color, all: v.all === true }, treeMarks(verdict)), ...formatVerdictTail(p, judgement, { color })].join('\n') + '\n');
    } else if (p.flavour === 'none') {
      io.stderr.write('\tnot a dynamic executable\n');
      continue;
    } else if (p.fatal !== null && p.flavour === 'glibc') {
      // The real loader stops at the first fatal error and prints nothing else; its
      // message goes to its stderr, which ldd merges into its stdout (try_trace's 2>&1).
      io.stdout.write(`${escapeControls(`${judgement.progname}: error while loading shared libraries: ${p.fatal}`)}\n`);
      continue;
    } else {
      const flags = { verbose: v.verbose === true, unused: v.unused === true, undefined: v['data-relocs'] === true || v['function-relocs'] === true };
      const lines = formatLddVerdict(p, judgement, flags, process.pid);
      // Names, paths and symbols come from the files: no control character reaches the terminal.
      if (lines.length) io.stdout.write(lines.map(escapeControls).join('\n') + '\n');
      // Nothing of elfdeps' own here (ldd's text on both streams): the status says
      // whether the loader would start FILE, --verdict and --tree say why.
      for (const u of verdict.unreadable) say(io, u);
    }
    // One line per library not found, naming every object that needs it.
    const needers = new Map<string, string[]>();
    for (const m of p.missing) {
      const who = p.objects[m.requester]?.path ?? file;
      const what = m.error ?? `${m.name}: not found`;
      const list = needers.get(what) ?? [];
      if (!list.includes(who)) list.push(who);
      needers.set(what, list);
    }
    if (v.tree) for (const [what, who] of needers) say(io, `${what} (needed by ${who.join(', ')})`);
    else if (p.flavour === 'musl') for (const m of p.missing) say(io, `${m.error ?? `${m.name}: not found`} (needed by ${p.objects[m.requester]?.path ?? file})`);
  }
  if (v.json) io.stdout.write(JSON.stringify({ elfdeps: 1, root: v.imageRoot ? `${v.imageRoot.image} (${v.imageRoot.platform})` : resolver.fs.root || '/', programs: results }, null, 2) + '\n');
  return code;
}
