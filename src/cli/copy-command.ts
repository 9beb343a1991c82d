/**
 * `elfdeps copy (MANIFEST.json | FILE...) NEWROOT`: writes a manifest (or the
 * manifest of FILE..., made on the spot) into NEWROOT, safely (docs/manifest.md).
 */
import { resolve as resolvePath } from 'node:path';
import { whileWriting } from '../interrupt.js';
import { withImageRoots } from './from-image.js';
import { materialiseAsync } from '../materialise/index.js';
import type { MaterialiseProgress, MaterialiseReport } from '../materialise/types.js';
import { escapeControls, EXIT, formatBytes, parseCommandLine, REPORT_OPTIONS, say, type CliIo } from './io.js';
import { excludedSummary, MANIFEST_OPTIONS, reportManifestProblems, rulesSummary } from './manifest-command.js';
import { manifestFromArguments } from './manifest-input.js';
import { SBOM_OPTIONS, SBOM_OPTIONS_HELP, sbomRequest, writeSbom } from './sbom-options.js';

export const COPY_HELP = `Usage: elfdeps copy [options] (MANIFEST.json | -) NEWROOT
       elfdeps copy [options] FILE... NEWROOT

Writes everything the manifest lists (- reads it from standard input) or, given
programs, everything they need, into NEWROOT. NEWROOT is created if missing
(its parent must exist); it may already hold an earlier copy: identical entries
are left alone, so a second run does nothing. An interrupt (SIGINT, SIGTERM,
SIGHUP) stops after the entry being written, puts directory modes back and
exits 128+N. Symlinks stay symlinks with their
targets unchanged; setuid/setgid bits are dropped; nothing is ever written
outside NEWROOT or through a symlink; files appear under their final names
only once complete.

  --force                replace existing files and symlinks that differ
  --into-existing        write into a NEWROOT that is not empty and holds names this
                         manifest does not place at its top level (refused otherwise:
                         a forgotten NEWROOT argument would fill /usr/bin/usr/...)
  --link                 hard-link files instead of copying them: the new root then
                         SHARES the host's files (a write inside it changes the host);
                         NEWROOT must be on the same filesystem (checked first)
  --keep-setuid          keep setuid/setgid bits
  --dry-run              print the whole plan, every conflict marked; write nothing
  --json                 print the report as JSON
  -q, --quiet            no summary line
${SBOM_OPTIONS_HELP}With FILE...: the options of 'elfdeps manifest' (--add, --exclude,
--exclude-host-gpu, --no-package-metadata, --no-copyright, the rule options
--loader-only, --with, --without, --rules, --dlopen, --locale, --tz, --user,
--ld-cache, and the loader options: --root, --library-path, --preload, --no-cache, ...).
  -h, --help             this help

Exit status: 0 done; 1 done, but something the programs need was not found;
2 bad usage, an unsafe or invalid manifest, a conflict, or a failed copy.
`;

/** A one-line progress display on a terminal, for copies big enough to wait for. */
function progressLine(io: CliIo): { onProgress: (p: MaterialiseProgress) => void; finish: () => void } {
  let shown = false;
  let enabled: boolean | undefined;
  let last = 0;
  return {
    onProgress(p) {
      enabled ??= io.stderr.isTTY === true && (p.total >= 500 || p.bytesTotal >= 64 * 1024 * 1024);
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100 && p.done < p.total) return;
      last = now;
      shown = true;
      const pct = p.bytesTotal > 0 ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : 100;
      io.stderr.write(`\r\x1b[K${p.done}/${p.total} entries, ${formatBytes(p.bytesDone)} of ${formatBytes(p.bytesTotal)} (${pct}%)`);
    },
    finish() {
      if (shown) io.stderr.write('\r\x1b[K');
    },
  };
}

function summary(report: MaterialiseReport): string {
  const verb = report.dryRun ? 'would be ' : '';
  const stale = report.staleTempsRemoved ? `, ${report.staleTempsRemoved} leftover temporary file(s) ${verb}removed` : '';
  // Hard links write no bytes: say how many files are linked, and how much is written.
  const files = report.actions.filter((a) => a.kind === 'file' && (a.op === 'create' || a.op === 'replace'));
  const linked = files.filter((a) => a.method === 'link');
  const written = report.bytes - linked.reduce((n, a) => n + (a.entry.kind === 'file' ? a.entry.size : 0), 0);
  const bytes = `${formatBytes(written)} ${report.dryRun ? 'to write' : 'written'}${linked.length ? `, ${linked.length} file(s) ${report.dryRun ? 'to hard-link' : 'hard-linked'}` : ''}`;
  const conflicts = report.conflicts ? `, ${report.conflicts} conflict(s)` : '';
  return `${report.root}: ${report.created} ${verb}created, ${report.replaced} ${verb}replaced, ${report.unchanged} unchanged${conflicts} (${bytes})${stale}\n`;
}

/** The options of `elfdeps copy` (node:util parseArgs specs). */
export const COPY_OPTIONS = {
  ...MANIFEST_OPTIONS,
  force: { type: 'boolean' },
  'into-existing': { type: 'boolean' },
  link: { type: 'boolean' },
  'keep-setuid': { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  ...SBOM_OPTIONS,
  ...REPORT_OPTIONS,
} as const;

export async function copyCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, COPY_OPTIONS, io, 'elfdeps copy', COPY_HELP);
  if (typeof parsed === 'number') return parsed;
  const { values: v, positionals } = parsed;
  if (positionals.length < 2) {
    say(io, `need a manifest or FILE..., and NEWROOT (try 'elfdeps copy --help')`);
    return EXIT.USAGE;
  }
  const newRoot = resolvePath(io.cwd, positionals[positionals.length - 1] as string);
  const sbom = sbomRequest(v, io);
  const [code] = await withImageRoots(v, false, async (imageRoot) => {
    // `copy - NEWROOT`: the manifest from standard input, as `manifest -o -` writes it.
    const manifest = manifestFromArguments(positionals.slice(0, -1), { ...v, imageRoot }, io, { stdin: true });
    if ('usage' in manifest) {
      say(io, manifest.usage);
      return EXIT.USAGE;
    }
    const progress = progressLine(io);
    let report: MaterialiseReport;
    try {
      // SIGINT, SIGTERM, SIGHUP: stop after the entry being written, put directory modes back, exit 128+N (src/interrupt.ts).
      report = await whileWriting((signal) =>
        materialiseAsync(manifest, newRoot, {
          force: v.force === true,
          link: v.link === true,
          keepSetuid: v['keep-setuid'] === true,
          dryRun: v['dry-run'] === true,
          intoExisting: v['into-existing'] === true,
          onProgress: progress.onProgress,
          signal,
        }),
      );
    } finally {
      progress.finish();
    }
    // The SBOM of the root written (not of a dry run: that writes nothing).
    if (sbom !== null && !report.dryRun && report.conflicts === 0) writeSbom(manifest, sbom);
    if (v.json) {
      io.stdout.write(JSON.stringify({ ...report, actions: report.actions.map(({ entry: _entry, ...rest }) => rest) }, null, 2) + '\n');
    } else {
      if (report.dryRun) {
        for (const a of report.actions) {
          const extra = a.kind === 'symlink' && a.entry.kind === 'symlink' ? ` -> ${a.entry.target}` : a.mode ? ` ${a.mode}${a.method === 'link' ? ' (hard link)' : ''}` : '';
          io.stdout.write(escapeControls(`${a.op.padEnd(9)} ${a.kind.padEnd(9)} ${a.path}${extra}${a.detail ? ` [${a.detail}]` : ''}`) + '\n');
        }
      }
      if (!v.quiet) {
        io.stdout.write(escapeControls(summary(report).trimEnd()) + '\n');
        for (const line of [rulesSummary(manifest), excludedSummary(manifest)]) if (line !== '') io.stdout.write(escapeControls(`${report.root}: ${line}`) + '\n');
      }
    }
    for (const w of report.warnings) say(io, `warning: ${w}`);
    if (report.conflicts > 0) {
      say(io, `${report.root}: ${report.conflicts} conflict(s); a copy would stop at the first (--force replaces files and symlinks that differ)`);
      return EXIT.USAGE;
    }
    return reportManifestProblems(manifest, io);  });
  return code as number;
}
