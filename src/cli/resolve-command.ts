/**
 * `elfdeps [options] FILE...`: what the loader would load for each FILE.
 */
import { parseArgs } from 'node:util';
import { describeError, ElfdepsError } from '../errors.js';
import { readElf, type ElfFile } from '../elf/reader.js';
import { flagNames, DF_1_NAMES, DF_NAMES } from '../elf/constants.js';
import { Resolver, type ResolveOptions } from '../resolve/index.js';
import type { ProgramResolution } from '../resolve/types.js';
import { formatLdd, formatTree } from './format.js';
import { EXIT, type CliIo } from './io.js';

export const RESOLVE_HELP = `Usage: elfdeps [options] FILE...
       elfdeps manifest FILE... [-o MANIFEST.json]   (see elfdeps manifest --help)
       elfdeps copy (MANIFEST.json | FILE...) NEWROOT (see elfdeps copy --help)
       elfdeps run NEWROOT [--] CMD [ARG...]         (see elfdeps run --help)

Shows what the dynamic loader would load for each FILE, without running it.

Output (one of):
  --ldd                  ldd's lines, without load addresses (default)
  --tree                 an indented tree saying how each library was found
  --json                 one JSON document (schema: docs/resolve-result.schema.json)
  --elf                  what the ELF reader finds in each FILE (no resolution)

Loader environment:
  --root DIR             resolve inside DIR as if it were / (FILEs are paths inside it)
  --library-path PATH    LD_LIBRARY_PATH to apply (default: the environment's, only without --root)
  --preload LIST         LD_PRELOAD to apply (default: the environment's, only without --root)
  --no-preload-file      ignore /etc/ld.so.preload
  --no-cache             ignore /etc/ld.so.cache; use ld.so.conf's directories instead
  --ldd-origin           $ORIGIN of FILE is its path as given, as glibc's ldd computes it
                         (default: its real directory, as the kernel starts it)
  --platform NAME        $PLATFORM (default: from the machine and this CPU)
  --hwcaps LIST          glibc-hwcaps subdirectories to search, best first, comma-separated
  --default-path DIRS    the loader's default directories, colon-separated
  --glibc-version X.Y    the loader's version (default: read from the interpreter)

  -h, --help             this help

Exit status: 0 all found; 1 something not found or the loader would fail;
2 bad usage or an unreadable FILE.
`;

function splitList(s: string, sep: RegExp): string[] {
  return s.split(sep).filter((x) => x !== '');
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

export async function resolveCommand(argv: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ldd: { type: 'boolean' },
        tree: { type: 'boolean' },
        json: { type: 'boolean' },
        elf: { type: 'boolean' },
        root: { type: 'string' },
        'library-path': { type: 'string' },
        preload: { type: 'string' },
        'no-preload-file': { type: 'boolean' },
        'no-cache': { type: 'boolean' },
        'ldd-origin': { type: 'boolean' },
        platform: { type: 'string' },
        hwcaps: { type: 'string' },
        'default-path': { type: 'string' },
        'glibc-version': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.stderr.write(`elfdeps: ${describeError(err)}\nTry 'elfdeps --help'.\n`);
    return EXIT.USAGE;
  }
  const { values: v, positionals: files } = parsed;
  if (v.help) {
    io.stdout.write(RESOLVE_HELP);
    return EXIT.OK;
  }
  const modes = [v.ldd, v.tree, v.json, v.elf].filter(Boolean).length;
  if (modes > 1) {
    io.stderr.write('elfdeps: choose one of --ldd, --tree, --json, --elf\n');
    return EXIT.USAGE;
  }
  if (files.length === 0) {
    io.stderr.write(`elfdeps: no FILE given\nTry 'elfdeps --help'.\n`);
    return EXIT.USAGE;
  }

  if (v.elf) {
    let code: number = EXIT.OK;
    for (const f of files) {
      try {
        io.stdout.write(describeElf(readElf(f)).join('\n') + '\n');
      } catch (err) {
        io.stderr.write(`elfdeps: ${describeError(err)}\n`);
        code = EXIT.USAGE;
      }
    }
    return code;
  }

  let glibcVersion: [number, number] | undefined;
  if (v['glibc-version'] !== undefined) {
    const m = /^(\d+)\.(\d+)$/.exec(v['glibc-version']);
    if (!m) {
      io.stderr.write(`elfdeps: --glibc-version wants X.Y, got '${v['glibc-version']}'\n`);
      return EXIT.USAGE;
    }
    glibcVersion = [Number(m[1]), Number(m[2])];
  }
  // Like ldd, honour the caller's loader variables, but not for a foreign root.
  const hostEnv = v.root === undefined;
  const options: ResolveOptions = {
    root: v.root ?? '/',
    cwd: v.root === undefined ? io.cwd : '/',
    libraryPath: v['library-path'] ?? (hostEnv ? io.env.LD_LIBRARY_PATH ?? null : null),
    preload: v.preload ?? (hostEnv ? io.env.LD_PRELOAD ?? null : null),
    preloadFile: !v['no-preload-file'],
    useCache: !v['no-cache'],
    originMode: v['ldd-origin'] ? 'ldd' : 'exec',
    profile: {
      ...(v.platform !== undefined ? { platform: v.platform } : {}),
      ...(v.hwcaps !== undefined ? { hwcaps: splitList(v.hwcaps, /,/) } : {}),
      ...(v['default-path'] !== undefined ? { systemDirs: splitList(v['default-path'], /:/).map((d) => `${d.replace(/\/+$/, '')}/`) } : {}),
      ...(glibcVersion ? { glibcVersion } : {}),
    },
  };

  let resolver: Resolver;
  try {
    resolver = new Resolver(options);
  } catch (err) {
    io.stderr.write(`elfdeps: ${describeError(err)}\n`);
    return EXIT.USAGE;
  }
  let code: number = EXIT.OK;
  const results: ProgramResolution[] = [];
  const color = io.stdout.isTTY === true && !('NO_COLOR' in io.env);
  for (const file of files) {
    let p: ProgramResolution;
    try {
      p = resolver.resolveOne(file);
    } catch (err) {
      io.stderr.write(`elfdeps: ${err instanceof ElfdepsError ? err.message : describeError(err)}\n`);
      code = EXIT.USAGE;
      continue;
    }
    if (p.missing.length > 0 || p.fatal !== null) code = Math.max(code, EXIT.NOT_FOUND);
    if (v.json) {
      results.push(p);
      continue;
    }
    if (files.length > 1) io.stdout.write(`${file}:\n`);
    if (v.tree) {
      io.stdout.write(formatTree(p, { color }).join('\n') + '\n');
    } else if (p.flavour === 'none') {
      io.stderr.write('\tnot a dynamic executable\n');
      code = Math.max(code, EXIT.NOT_FOUND);
      continue;
    } else if (p.fatal !== null && p.flavour === 'glibc') {
      // The real loader stops at the first fatal error and prints nothing else.
      io.stderr.write(`elfdeps: ${file}: error while loading shared libraries: ${p.fatal}\n`);
      continue;
    } else {
      const lines = formatLdd(p);
      if (lines.length) io.stdout.write(lines.join('\n') + '\n');
    }
    for (const m of p.missing) {
      const who = p.objects[m.requester]?.path ?? file;
      if (p.flavour === 'musl' || v.tree) io.stderr.write(`elfdeps: ${m.error ?? `${m.name}: not found`} (needed by ${who})\n`);
    }
  }
  if (v.json) io.stdout.write(JSON.stringify({ elfdeps: 1, root: resolver.fs.root || '/', programs: results }, null, 2) + '\n');
  return code;
}
