/**
 * `elfdeps check [options] [PATH...]`: every ELF file under the PATHs (default
 * the whole root) that the loader could not start or load, and every library
 * symlink there that dangles, one line each, then a summary (docs/check.md).
 */
import { availableParallelism } from 'node:os';
import { checkWithJobs } from '../check/pipeline.js';
import { describeError, ElfdepsError } from '../errors.js';
import { InterruptedError } from '../interrupt.js';
import { CAUSE_WORDS, CHECK_CAUSES, Checker, type CheckFailure, type CheckProgress, type CheckReport } from '../check/index.js';
import { escapeControls, EXIT, parseCommandLine, say, type CliIo } from './io.js';
import { progressLine } from './progress.js';
import { LOADER_OPTIONS, LOADER_OPTIONS_HELP, loaderOptionsFrom, type LoaderOptionValues } from './loader-options.js';
import { withImageRoots } from './from-image.js';

export const CHECK_HELP = `Usage: elfdeps check [options] [PATH...]

Checks every ELF file under each PATH (a file or a directory inside the root;
default: the whole root) as the dynamic loader would at start, without running
anything: a library not found, a library the loader stops at (wrong byte
order, not ELF, ...), the interpreter missing, a symbol version a library
lacks, a symbol bound at start defined nowhere (programs whose libraries are
all found); and every library symlink (NAME.so, NAME.so.N...) whose target
does not exist inside the root.
Symlinks are never followed into directories. Files that are not ELF are
skipped; unreadable ones are reported.

One line per failing file: its in-root path, a colon, what is wrong. Then a
summary: files checked, failing, by cause.

  --json                 one JSON document (schema: docs/check-result.schema.json)
  -j, --jobs N           threads (default: the number of CPUs; 1: one thread).
                         With 2 or more, a second thread walks the tree and
                         looks at each file's first bytes while this one
                         judges the ELF files (docs/jobs.md); same output

Loader environment:
${LOADER_OPTIONS_HELP}  -h, --help             this help

Exit status: 0 nothing fails; 1 something does; 2 bad usage or a PATH that
does not exist.
`;

/** The line of one failing file. */
export function failureLine(f: CheckFailure): string {
  return escapeControls(`${f.path}: ${f.problems.map((p) => p.message).join('; ')}`);
}

/** The summary: what was checked, how much fails and why. */
export function summaryLine(r: CheckReport): string {
  const c = r.counts;
  const causes = CHECK_CAUSES.filter((k) => r.byCause[k]).map((k) => `${CAUSE_WORDS[k]} ${r.byCause[k]}`);
  const skipped = [
    `${c.notElf} not ELF`,
    ...(c.notLoadable ? [`${c.notLoadable} ELF nothing loads`] : []),
    ...(c.noLoader ? [`${c.noLoader} libraries of a machine without a loader in the root`] : []),
  ];
  const where = r.paths.join(' ');
  return escapeControls(
    `checked ${c.elf} ELF files and ${c.symlinks} library symlinks under ${where}${r.root === '/' ? '' : ` in ${r.root}`}: ` +
      `${r.failures.length} failing${causes.length ? ` (${causes.join(', ')})` : ''}; skipped ${skipped.join(', ')}`,
  );
}

/** The options of `elfdeps check` (node:util parseArgs specs). */
export const CHECK_OPTIONS = { json: { type: 'boolean' }, jobs: { type: 'string', short: 'j' }, ...LOADER_OPTIONS, help: { type: 'boolean', short: 'h' } } as const;

export async function checkCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, CHECK_OPTIONS, io, 'elfdeps check', CHECK_HELP);
  if (typeof parsed === 'number') return parsed;
  const { values: v, positionals: paths } = parsed;
  let reports: Array<{ report: CheckReport; platform: string | null }>;
  try {
    const jobs = jobsFrom(v.jobs);
    reports = await withImageRoots(v, true, async (imageRoot) => ({
      report: await checkRoot({ ...v, imageRoot }, paths, jobs, io),
      platform: imageRoot && v['image-platform'] === 'all' ? imageRoot.platform : null,
    }));
  } catch (err) {
    // An interrupt ends the command with 128 + the signal's number (main.ts).
    if (err instanceof InterruptedError) throw err;
    say(io, describeError(err));
    return EXIT.USAGE;
  }
  if (v.json) {
    const docs = reports.map(({ report, platform }) => ({ elfdeps: 1, ...(platform ? { platform } : {}), ...report, failing: report.failures.length }));
    io.stdout.write(`${JSON.stringify(docs.length === 1 ? docs[0] : docs, null, 2)}\n`);
  } else for (const { report, platform } of reports) io.stdout.write(`${platform ? `${platform}: ` : ''}${summaryLine(report)}\n`);
  return reports.some(({ report }) => report.failures.length > 0) ? EXIT.NOT_FOUND : EXIT.OK;
}

/** --jobs's value: a whole number from 1 to 1024, or the number of CPUs Node may use when absent. */
export function jobsFrom(value: string | undefined): number {
  if (value === undefined) return availableParallelism();
  if (!/^[1-9][0-9]{0,3}$/.test(value) || Number(value) > 1024) throw new ElfdepsError('USAGE', `--jobs wants a whole number from 1 to 1024, got '${value}'`);
  return Number(value);
}

/**
 * Checks one root (the host, --root DIR, or one platform of --from IMAGE),
 * printing failures as they come; with `jobs` above 1 and a directory to
 * walk, over two threads (check/pipeline.ts).
 */
async function checkRoot(v: LoaderOptionValues & { json?: boolean }, paths: string[], jobs: number, io: CliIo): Promise<CheckReport> {
  // On a terminal, a progress line for runs long enough to wait for (after half a second); --explain has stderr.
  const progress = progressLine(io, 500, v.explain === true);
  // With --image-platform all, each line says which platform's image it is about.
  const prefix = v.imageRoot && v['image-platform'] === 'all' ? `${v.imageRoot.platform}: ` : '';
  try {
    const checker = new Checker(loaderOptionsFrom(v, io));
    // In-root paths: a relative PATH is taken from the root's / (there is no other directory inside a root).
    const starts = paths.map((p) => (p.startsWith('/') || !checker.resolver.fs.isHostRoot ? p : `${io.cwd}/${p}`));
    const callbacks = {
      onProgress: (p: CheckProgress) => progress.show(`${prefix}${p.done} checked, ${p.failing} failing: ${p.path}`),
      onFailure: v.json
        ? undefined
        : (f: CheckFailure) => {
            progress.clear();
            io.stdout.write(`${prefix}${failureLine(f)}\n`);
          },
    };
    const report = await checkWithJobs(checker, starts, jobs, callbacks);
    // The staging directory is gone once the command ends: the report names the image.
    return v.imageRoot ? { ...report, root: `${v.imageRoot.image} (${v.imageRoot.platform})` } : report;
  } finally {
    progress.clear();
  }
}
