/**
 * `elfdeps manifest FILE... [-o MANIFEST.json]`: the JSON manifest of what a
 * new root needs so that FILE... run in it (docs/manifest.md).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readlinkSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { parseArgs } from 'node:util';
import { describeError, ElfdepsError, errnoOf, errnoWords } from '../errors.js';
import { createManifest, type CreateManifestOptions } from '../manifest/create.js';
import type { Manifest } from '../manifest/types.js';
import { describeFileType } from '../file-type.js';
import { serializeManifest } from '../manifest/validate.js';
import { EXIT, say, type CliIo } from './io.js';
import { LOADER_OPTIONS, LOADER_OPTIONS_HELP, loaderOptionsFrom, type LoaderOptionValues } from './loader-options.js';

export const MANIFEST_HELP = `Usage: elfdeps manifest [options] FILE...

Writes a JSON manifest (docs/manifest.md) of everything a new root needs so
that each FILE runs in it: the program, its interpreter, every library, every
symlink and directory on the way. A #! script brings its interpreter.

  -o, --output FILE      write the manifest to FILE: absent or a regular file (replaced
                         whole), or a device or FIFO (written to); default, or -: stdout
  --add PATH             also take PATH: a file, or a directory recursively (repeatable)
${LOADER_OPTIONS_HELP}  -h, --help             this help

Exit status: 0 complete; 1 something was not found (the manifest is still
written, with a "missing" list); 2 bad usage or an unreadable FILE.
`;

/** Options shared with `elfdeps copy FILE... NEWROOT`. */
export const MANIFEST_OPTIONS = {
  add: { type: 'string', multiple: true },
  ...LOADER_OPTIONS,
} as const;

export interface ManifestOptionValues extends LoaderOptionValues {
  add?: string[];
}

/** createManifest options from the command line (throws USAGE for bad values). */
export function manifestOptionsFrom(v: ManifestOptionValues, io: CliIo): CreateManifestOptions {
  return { ...loaderOptionsFrom(v, io), add: v.add ?? [] };
}

/** Prints the manifest's warnings and missing libraries; returns the exit code they imply. */
export function reportManifestProblems(manifest: Manifest, io: CliIo): number {
  for (const w of manifest.warnings) say(io, `warning: ${w}`);
  for (const m of manifest.missing) say(io, `${m.program}: ${m.name}: ${m.reason} (needed by ${m.neededBy})`);
  return manifest.missing.length > 0 ? EXIT.NOT_FOUND : EXIT.OK;
}

/** What a non-regular file at `path` is, for an error message (a symlink with its target). */
function describeNonRegular(st: Stats, path: string): string {
  if (!st.isSymbolicLink()) return describeFileType(st);
  try {
    return `a symlink (-> ${readlinkSync(path, 'utf8')})`;
  } catch {
    return 'a symlink';
  }
}

/** A character device or FIFO (`-o /dev/null`, `-o /dev/stdout`, a named pipe) is written to directly, never replaced. */
function isStreamTarget(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isCharacterDevice() || st.isFIFO();
  } catch {
    return false;
  }
}

/** -o FILE must be absent, a regular file, or a device or FIFO to write to (checked before the work, and again just before the rename). */
function checkOutputPath(path: string): void {
  if (isStreamTarget(path)) return;
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') {
      if (!existsSync(dirname(path))) throw new ElfdepsError('COPY_FAILED', `${path}: cannot write the manifest: directory ${dirname(path)}: ${errnoWords('ENOENT')}`, { path });
      return;
    }
    throw new ElfdepsError('COPY_FAILED', `${path}: cannot write the manifest: ${errnoWords(err)}`, { path, cause: err });
  }
  if (!st.isFile()) {
    throw new ElfdepsError('TARGET_CONFLICT', `${path}: is ${describeNonRegular(st, path)}; refusing to replace it with the manifest (-o takes a regular file, or a new name)`, { path });
  }
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
  checkOutputPath(path);
  const tmp = `${path}.elfdeps-tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
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
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...MANIFEST_OPTIONS, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    say(io, `${describeError(err)} (try 'elfdeps manifest --help')`);
    return EXIT.USAGE;
  }
  const { values: v, positionals: files } = parsed;
  if (v.help) {
    io.stdout.write(MANIFEST_HELP);
    return EXIT.OK;
  }
  if (files.length === 0) {
    say(io, `no FILE given (try 'elfdeps manifest --help')`);
    return EXIT.USAGE;
  }
  const output = v.output === undefined || v.output === '-' ? null : resolvePath(io.cwd, v.output);
  if (output !== null) checkOutputPath(output); // before the work, not after it
  const manifest = createManifest(files, manifestOptionsFrom(v, io));
  const text = serializeManifest(manifest);
  if (output === null) io.stdout.write(text);
  else writeAtomically(output, text);
  return reportManifestProblems(manifest, io);
}
