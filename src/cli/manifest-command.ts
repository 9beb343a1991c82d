/**
 * `elfdeps manifest FILE... [-o MANIFEST.json]`: the JSON manifest of what a
 * new root needs so that FILE... run in it (docs/manifest.md).
 */
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { ElfdepsError, errnoOf, errnoWords } from '../errors.js';
import { createManifest, LD_CACHE_MODES, type CreateManifestOptions, type LdCacheMode } from '../manifest/create.js';
import type { Manifest } from '../manifest/types.js';
import { HOST_GPU_EXCLUDES } from '../manifest/exclude-pattern.js';
import { checkOutputPath, isStreamTarget, removeStaleOutputTemps, temporarySibling } from '../output-file.js';
import { serializeManifest } from '../manifest/validate.js';
import { escapeControls, EXIT, parseCommandLine, say, type CliIo } from './io.js';
import { LOADER_OPTIONS, LOADER_OPTIONS_HELP, loaderOptionsFrom, type LoaderOptionValues } from './loader-options.js';

/** The runtime-file rule options (docs/rules.md), shared by manifest and copy. */
export const RULES_OPTIONS_HELP = `  --loader-only          only what the loader opens (and --add): no runtime-file rules
  --with RULE            apply RULE whatever its trigger says (repeatable)
  --without RULE         never apply RULE (repeatable)
  --rules FILE           more rules (docs/rules.md; repeatable)
  --dlopen LEVEL         dlopen notes taken: required, recommended (default),
                         suggested, or none
  --locale NAME          a locale setlocale() must find (repeatable; default C.UTF-8)
  --tz ZONE              only this time zone of the database (repeatable; default all)
  --user NAME|UID        a user the generated user database holds besides root and
                         nobody (repeatable)
  --ld-cache MODE        the new root's /etc/ld.so.cache (docs/ldconfig.md): generate
                         (default: the cache the root's own ldconfig would write for
                         exactly the new root, with the ld.so.conf it reads), copy (the
                         source root's file as it is), or none
`;

/** Words in lines of at most `width` characters, each indented by `indent` spaces. */
function wrapped(words: readonly string[], indent: number, width: number): string {
  const lines: string[] = [];
  for (const w of words) {
    const last = lines[lines.length - 1];
    if (last !== undefined && indent + last.length + 1 + w.length <= width) lines[lines.length - 1] = `${last} ${w}`;
    else lines.push(w);
  }
  return lines.map((l) => `${' '.repeat(indent)}${l}\n`).join('');
}

/** --exclude (docs/exclude.md), shared by manifest, copy and image. */
export const EXCLUDE_OPTIONS_HELP = `  --exclude PATTERN      leave out the libraries PATTERN matches, with every object only
                         they bring in (the target provides them; repeatable): a file
                         name glob (libfoo.so*) or an absolute in-root path glob
                         (/opt/gpu/**); listed as "excluded", not missing
  --exclude-host-gpu     --exclude the host's GPU driver libraries (docs/exclude.md):
${wrapped(HOST_GPU_EXCLUDES, 25, 80)}`;

export const MANIFEST_HELP = `Usage: elfdeps manifest [options] FILE...

Writes a JSON manifest (docs/manifest.md) of everything a new root needs so
that each FILE runs in it: the program, its interpreter, every library, every
symlink and directory on the way. A #! script brings its interpreter.

  -o, --output FILE      write the manifest to FILE: absent or a regular file (replaced
                         whole), or a device or FIFO (written to); default, or -: stdout
  --add PATH             also take PATH: a file, or a directory recursively (repeatable);
                         ELF files in it are resolved, their libraries come too
  --add SRC=DEST         place the host file or directory SRC at the absolute in-root
                         path DEST (a directory merges into one the root has); split
                         at the first '=' not written '\\='
${EXCLUDE_OPTIONS_HELP}${RULES_OPTIONS_HELP}  --why PATH             print why the manifest holds PATH, and nothing else
${LOADER_OPTIONS_HELP}  -h, --help             this help

Exit status: 0 complete; 1 something was not found (the manifest is still
written, with a "missing" list; excluded libraries do not count); 2 bad usage
or an unreadable FILE.
`;

/** Options shared with `elfdeps copy FILE... NEWROOT`. */
export const MANIFEST_OPTIONS = {
  add: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  'exclude-host-gpu': { type: 'boolean' },
  'loader-only': { type: 'boolean' },
  with: { type: 'string', multiple: true },
  without: { type: 'string', multiple: true },
  rules: { type: 'string', multiple: true },
  dlopen: { type: 'string' },
  locale: { type: 'string', multiple: true },
  tz: { type: 'string', multiple: true },
  user: { type: 'string', multiple: true },
  'ld-cache': { type: 'string' },
  ...LOADER_OPTIONS,
} as const;

export interface ManifestOptionValues extends LoaderOptionValues {
  add?: string[];
  exclude?: string[];
  'exclude-host-gpu'?: boolean;
  'loader-only'?: boolean;
  with?: string[];
  without?: string[];
  rules?: string[];
  dlopen?: string;
  locale?: string[];
  tz?: string[];
  user?: string[];
  'ld-cache'?: string;
}

const DLOPEN_LEVELS = ['required', 'recommended', 'suggested', 'none'] as const;

/** createManifest options from the command line (throws USAGE for bad values). */
export function manifestOptionsFrom(v: ManifestOptionValues, io: CliIo): CreateManifestOptions {
  const dlopen = v.dlopen ?? 'recommended';
  if (!(DLOPEN_LEVELS as readonly string[]).includes(dlopen)) throw new ElfdepsError('USAGE', `--dlopen ${dlopen}: expected one of ${DLOPEN_LEVELS.join(', ')}`);
  const ldCache = v['ld-cache'] ?? 'generate';
  if (!(LD_CACHE_MODES as readonly string[]).includes(ldCache)) throw new ElfdepsError('USAGE', `--ld-cache ${ldCache}: expected one of ${LD_CACHE_MODES.join(', ')}`);
  return {
    ...loaderOptionsFrom(v, io),
    add: v.add ?? [],
    hostCwd: io.cwd,
    exclude: [...(v.exclude ?? []), ...(v['exclude-host-gpu'] ? HOST_GPU_EXCLUDES : [])],
    loaderOnly: v['loader-only'] === true,
    with: v.with ?? [],
    without: v.without ?? [],
    rulesFiles: (v.rules ?? []).map((f) => resolvePath(io.cwd, f)),
    dlopen: dlopen as (typeof DLOPEN_LEVELS)[number],
    ...(v.locale ? { locales: v.locale } : {}),
    ...(v.tz ? { zones: v.tz } : {}),
    users: v.user ?? [],
    ldCache: ldCache as LdCacheMode,
  };
}

/** "rules: gconv +257 entries 8.2 MiB, ..." for summary lines; '' when no rule applied. */
export function rulesSummary(manifest: Manifest): string {
  const rules = manifest.rules ?? [];
  if (rules.length === 0) return '';
  const size = (n: number): string => (n < 1024 * 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`);
  return `rules: ${rules.map((r) => `${r.rule} +${r.entries} (${size(r.bytes)})`).join(', ')}`;
}

/** "excluded (the target provides them): libGL.so.1 (+2 with it), ..." for summary lines; '' when nothing was. */
export function excludedSummary(manifest: Manifest): string {
  const items = manifest.excluded ?? [];
  if (items.length === 0) return '';
  return `excluded (the target provides them): ${items.map((x) => `${x.name}${x.dropped.length ? ` (+${x.dropped.length} with it)` : ''}`).join(', ')}`;
}

/** For `--why PATH` of a path --exclude left out: why, in words ('' otherwise). */
function leftOutBecause(manifest: Manifest, path: string): string {
  for (const x of manifest.excluded ?? []) {
    const by = x.neededBy.length > 0 ? `, needed by ${x.neededBy.join(', ')}` : '';
    if (x.path === path || x.name === path) return `: excluded by --exclude '${x.pattern}'${by}`;
    if (x.dropped.includes(path)) return `: left out with ${x.name} (excluded by --exclude '${x.pattern}')`;
  }
  return '';
}

/** `--why PATH`: the entry's reason, in words. */
export function describeWhy(manifest: Manifest, path: string): string | null {
  const entry = manifest.entries.find((e) => e.path === path);
  if (!entry) return null;
  const w = entry.why;
  const what = `${path} (${entry.kind})`;
  if (!w) return `${what}: no reason recorded (a version 1 manifest)`;
  switch (w.by) {
    case 'program':
      return entry.path === w.program ? `${what}: a program the manifest is for` : `${what}: on the way to the program ${w.program}`;
    case 'loader':
      return `${what}: opened by the loader for ${w.program}${w.neededBy ? `, named by ${w.neededBy}` : ''}${w.rule ? ` (${w.program} came with rule ${w.rule})` : ''}`;
    case 'rule':
      return `${what}: rule ${w.rule}, because ${w.trigger}`;
    case 'add':
      return `${what}: --add ${w.path}${w.dest === undefined ? '' : `=${w.dest}`}`;
    case 'ldconfig':
      return entry.kind === 'generated'
        ? `${what}: the loader's cache of the libraries in this root, as its ldconfig would write it (--ld-cache)`
        : `${what}: configuration ldconfig reads for this root's loader cache (--ld-cache)`;
  }
}

/** Prints the manifest's warnings and missing libraries; returns the exit code they imply. */
export function reportManifestProblems(manifest: Manifest, io: CliIo): number {
  for (const w of manifest.warnings) say(io, `warning: ${w}`);
  for (const m of manifest.missing) say(io, `${m.program}: ${m.name}: ${m.reason} (needed by ${m.neededBy})`);
  return manifest.missing.length > 0 ? EXIT.NOT_FOUND : EXIT.OK;
}

/**
 * Writes `text` to `path` under a temporary name first, so a reader never
 * sees half a manifest. Only a regular file (or nothing) at `path` is
 * replaced: renaming over a device, FIFO or symlink would destroy it (as
 * root, `-o /dev/null` would replace the host's /dev/null).
 */
function writeAtomically(path: string, text: string): void {
  if (isStreamTarget(path)) {
    try {
      writeFileSync(path, text, { flag: 'w' });
    } catch (err) {
      throw new ElfdepsError('COPY_FAILED', `${path}: cannot write the manifest: ${errnoWords(err)}`, { path, cause: err });
    }
    return;
  }
  checkOutputPath(path, 'the manifest');
  removeStaleOutputTemps(dirname(path)); // a killed earlier run's temporary
  const tmp = temporarySibling(path);
  try {
    writeFileSync(tmp, text, { flag: 'wx', mode: 0o644 });
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    const why = errnoOf(err) === 'ENOENT' ? `directory ${dirname(path)}: ${errnoWords(err)}` : errnoWords(err);
    throw new ElfdepsError('COPY_FAILED', `${path}: cannot write the manifest: ${why}`, { path, cause: err });
  }
}

export async function manifestCommand(argv: string[], io: CliIo): Promise<number> {
  const options = { ...MANIFEST_OPTIONS, output: { type: 'string', short: 'o' }, why: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
  const parsed = parseCommandLine(argv, options, io, 'elfdeps manifest', MANIFEST_HELP);
  if (typeof parsed === 'number') return parsed;
  const { values: v, positionals: files } = parsed;
  if (files.length === 0) {
    say(io, `no FILE given (try 'elfdeps manifest --help')`);
    return EXIT.USAGE;
  }
  const output = v.output === undefined || v.output === '-' ? null : resolvePath(io.cwd, v.output);
  if (output !== null) checkOutputPath(output, 'the manifest', { streams: true }); // before the work, not after it
  const manifest = createManifest(files, manifestOptionsFrom(v, io));
  if (v.why !== undefined) {
    const path = v.why;
    const line = describeWhy(manifest, path);
    if (line === null) {
      say(io, `${path}: not in the manifest${leftOutBecause(manifest, path)}`);
      return EXIT.NOT_FOUND;
    }
    io.stdout.write(`${escapeControls(line)}\n`);
    return EXIT.OK;
  }
  const text = serializeManifest(manifest);
  if (output === null) io.stdout.write(text);
  else writeAtomically(output, text);
  return reportManifestProblems(manifest, io);
}
