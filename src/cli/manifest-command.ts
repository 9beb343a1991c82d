/**
 * `elfdeps manifest FILE... [-o MANIFEST.json]`: the JSON manifest of what a
 * new root needs so that FILE... run in it (docs/manifest.md).
 */
import { resolve as resolvePath } from 'node:path';
import { ElfdepsError } from '../errors.js';
import { createManifest, LD_CACHE_MODES, type CreateManifestOptions, type LdCacheMode } from '../manifest/create.js';
import type { Manifest, ManifestEntry } from '../manifest/types.js';
import { HOST_GPU_EXCLUDES } from '../manifest/exclude-pattern.js';
import { checkOutputPath, writeFileWhole } from '../output-file.js';
import { serializeManifest } from '../manifest/validate.js';
import { summariseRules } from '../manifest/rule-summary.js';
import { escapeControls, EXIT, parseCommandLine, say, type CliIo } from './io.js';
import { SBOM_OPTIONS, SBOM_OPTIONS_HELP, sbomRequest, writeSbom } from './sbom-options.js';
import { LOADER_OPTIONS, LOADER_OPTIONS_HELP, loaderOptionsFrom, type LoaderOptionValues } from './loader-options.js';
import { withImageRoots } from './from-image.js';
import { baseUserName } from '../image/config.js';

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

/** Package data (docs/packages.md), shared by manifest, copy and image. */
export const PACKAGE_OPTIONS_HELP = `  --no-package-metadata  no package data: no owners, no dpkg status.d/ or apk database
                         for the files kept, no os-release (docs/packages.md)
  --no-copyright         do not keep the packages' /usr/share/doc/NAME/copyright
`;

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
${EXCLUDE_OPTIONS_HELP}${RULES_OPTIONS_HELP}${PACKAGE_OPTIONS_HELP}${SBOM_OPTIONS_HELP}  --why PATH             print why the manifest holds PATH (and its package), and
                         nothing else
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
  'no-package-metadata': { type: 'boolean' },
  'no-copyright': { type: 'boolean' },
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
  'no-package-metadata'?: boolean;
  'no-copyright'?: boolean;
  'ld-cache'?: string;
}

export const DLOPEN_LEVELS = ['required', 'recommended', 'suggested', 'none'] as const;

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
    // An image's User (a name) is who its containers run as: the generated user database holds it.
    users: [...new Set([...(v.user ?? []), ...(v.imageRoot ? [baseUserName(v.imageRoot.base)].filter((u): u is string => u !== undefined) : [])])],
    packageMetadata: v['no-package-metadata'] !== true,
    copyright: v['no-copyright'] !== true,
    ldCache: ldCache as LdCacheMode,
  };
}

/**
 * "rules: gconv +257 entries 8.2 MiB, ..." for summary lines; '' when no rule applied.
 * Counted from the entries present: a manifest edited after it was made (entries
 * removed) is summarised as it is, not as manifest.rules counted it.
 */
export function rulesSummary(manifest: Manifest): string {
  const rules = summariseRules(manifest.entries, (manifest.rules ?? []).map((r) => [r.rule, r.trigger] as const));
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

/** "; package libc6 2.36-9+deb12u10 (amd64, source glibc)", "; no package", or '' without package data. */
function packageWords(manifest: Manifest, id: string | undefined): string {
  if (manifest.packages === undefined) return '';
  if (id === undefined) return '; no package owns it';
  const p = manifest.packages.find((x) => x.id === id);
  if (p === undefined) return `; package ${id}`;
  const source = p.source !== null && p.source !== p.name ? `, source ${p.source}` : '';
  return `; package ${p.name} ${p.version} (${p.manager}, ${p.architecture}${source})`;
}

/** `--why PATH`: the entry's reason, in words, and the package owning it when the manifest has package data. */
export function describeWhy(manifest: Manifest, path: string): string | null {
  const entry = manifest.entries.find((e) => e.path === path);
  if (!entry) return null;
  const reason = describeReason(manifest, entry);
  return `${reason}${packageWords(manifest, entry.package)}`;
}

function describeReason(manifest: Manifest, entry: ManifestEntry): string {
  const w = entry.why;
  const what = `${entry.path} (${entry.kind})`;
  if (!w) return `${what}: no reason recorded (a version 1 manifest)`;
  const name = (id: string): string => manifest.packages?.find((p) => p.id === id)?.name ?? id;
  switch (w.by) {
    case 'program':
      return entry.path === w.program ? `${what}: a program the manifest is for` : `${what}: on the way to the program ${w.program}`;
    case 'loader':
      return `${what}: opened by the loader for ${w.program}${w.neededBy ? `, named by ${w.neededBy}` : ''}${w.rule ? ` (${w.program} came with rule ${w.rule})` : ''}`;
    case 'rule':
      return `${what}: rule ${w.rule}, because ${w.trigger}`;
    case 'add':
      return `${what}: --add ${w.path}${w.dest === undefined ? '' : `=${w.dest}`}`;
    case 'package-metadata':
      return w.package === null ? `${what}: package metadata, what scanners read to name the distribution and its packages` : `${what}: package metadata of ${name(w.package)}, for the files kept`;
    case 'copyright':
      return `${what}: the copyright (licence) of ${name(w.package)}, some of whose files are kept`;
    case 'ldconfig':
      return entry.kind === 'generated'
        ? `${what}: the loader's cache of the libraries in this root, as its ldconfig would write it (--ld-cache)`
        : `${what}: configuration ldconfig reads for this root's loader cache (--ld-cache)`;
  }
}

/** Prints the manifest's warnings and missing libraries; returns the exit code they imply. */
export function reportManifestProblems(manifest: Manifest, io: CliIo): number {
  for (const w of manifest.warnings) say(io, `warning: ${w}`);
  // One line per thing missing: a library two objects need is one line naming both.
  const lines = new Map<string, string[]>();
  for (const m of manifest.missing) {
    const key = `${m.program}: ${m.name}: ${m.reason}`;
    const needers = lines.get(key) ?? [];
    if (!needers.includes(m.neededBy)) needers.push(m.neededBy);
    lines.set(key, needers);
  }
  for (const [what, needers] of lines) say(io, `${what} (needed by ${needers.join(', ')})`);
  return manifest.missing.length > 0 ? EXIT.NOT_FOUND : EXIT.OK;
}

/** The options of `elfdeps manifest` (node:util parseArgs specs). */
export const MANIFEST_COMMAND_OPTIONS = { ...MANIFEST_OPTIONS, ...SBOM_OPTIONS, output: { type: 'string', short: 'o' }, why: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

export async function manifestCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, MANIFEST_COMMAND_OPTIONS, io, 'elfdeps manifest', MANIFEST_HELP);
  if (typeof parsed === 'number') return parsed;
  const { values: v, positionals: files } = parsed;
  if (files.length === 0) {
    say(io, `no FILE given (try 'elfdeps manifest --help')`);
    return EXIT.USAGE;
  }
  const output = v.output === undefined || v.output === '-' ? null : resolvePath(io.cwd, v.output);
  if (output !== null) checkOutputPath(output, 'the manifest', { streams: true }); // before the work, not after it
  const sbom = v.why === undefined ? sbomRequest(v, io) : null;
  const [code] = await withImageRoots(v, false, async (imageRoot) => {
    const manifest = createManifest(files, manifestOptionsFrom({ ...v, imageRoot }, io));
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
    else writeFileWhole(output, text, 'the manifest');
    if (sbom !== null) writeSbom(manifest, sbom);
    return reportManifestProblems(manifest, io);
  });
  return code as number;
}
