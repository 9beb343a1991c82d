/**
 * `elfdeps image (MANIFEST.json | FILE...) -o IMAGE.tar`: the root a
 * manifest describes (or that FILE... need) as a container image, one tar
 * that is an OCI layout and a docker-archive at once (docs/image.md).
 */
import { resolve as resolvePath } from 'node:path';
import { ElfdepsError } from '../errors.js';
import { whileWriting } from '../interrupt.js';
import { buildImage, buildImageIndex, type Compression, type ImageIndexReport, type ImageOutput, type ImagePartOptions, type ImageReport } from '../image/index.js';
import { parseAssignment } from '../image/config.js';
import { hostPlatform } from '../image-source/platform.js';
import type { Manifest } from '../manifest/types.js';
import { formatSourcePlatform, withAllImageRoots, type ImageRoot } from './from-image.js';
import { escapeControls, EXIT, formatBytes, parseCommandLine, REPORT_OPTIONS, say, type CliIo, type Parsed } from './io.js';
import { progressLine } from './progress.js';
import { excludedSummary, MANIFEST_OPTIONS, reportManifestProblems } from './manifest-command.js';
import { looksLikeManifest, manifestFromArguments } from './manifest-input.js';
import { SBOM_OPTIONS, SBOM_OPTIONS_HELP, sbomFor, sbomRequest, sourceDateEpoch } from './sbom-options.js';
import { defaultReference, formatReference, parseReference } from '../image/reference.js';
import { validateManifest } from '../manifest/validate.js';
import { writeFileWhole } from '../output-file.js';
import { SBOM_FORMAT_NAMES } from '../sbom/index.js';
import { imageSbomName } from '../image/sbom-file.js';

export const IMAGE_HELP = `Usage: elfdeps image [options] MANIFEST.json -o IMAGE.tar
       elfdeps image [options] FILE... -o IMAGE.tar

Writes the root the manifest lists (or, given programs, everything they need)
as a container image: one uncompressed tar that is both an OCI image layout
and a docker-archive (podman load, docker load, skopeo docker-archive: and
oci-archive: all take it). The same inputs give the same bytes: every mtime
is SOURCE_DATE_EPOCH (default 0), owners are the manifest's (0 by default,
the source image's with --from), entries keep the manifest's
order. Sources are checked as 'elfdeps copy' checks them; setuid/setgid bits
are dropped; nothing appears under the output's name until it is complete.

  -o, --output FILE      write the image tar to FILE (- for standard output)
  --oci-dir DIR          write the OCI layout unpacked into DIR (new or empty)
  --tag NAME[:TAG]       image name (repeatable; default: the first program's
                         file name, tag latest)
  --entrypoint ARG       the entrypoint, one argument per use (default: the
                         first program); --entrypoint= alone for none,
                         --entrypoint=-x for an argument starting with -
  --cmd ARG              arguments after the entrypoint, one per use
  --env K=V              add to the environment (repeatable; the default is a
                         PATH of the root's own bin directories)
  --workdir DIR          working directory of the container
  --user USER[:GROUP]    user to run as: numbers, or names the image's own
                         /etc/passwd (and /etc/group) holds
  --label K=V            a label (repeatable)
  --layers               programs in a layer of their own, above the libraries
                         (images of programs with the same libraries share it)
  --compress gzip|none   layer compression (default gzip)
  --keep-setuid          keep setuid/setgid bits
  --from IMAGE           slim an existing image (OCI layout directory,
                         oci-archive or docker-archive tar): FILEs are resolved
                         inside it, entries keep its owners and modes, the new
                         image keeps its config (Env, WorkingDir, User, ports,
                         volumes, labels, StopSignal, Entrypoint/Cmd while the
                         programs they name are kept), each overridable above
  --image-platform OS/ARCH[/VARIANT]
                         with --from: the source image's platform (default:
                         this machine's, else its only one); 'all' slims every
                         platform into one output. Without --from: the
                         platform, when the manifest has no ELF program
                         (default: from the programs' ELF headers)
  --json                 print the report as JSON (not with -o -)
  -q, --quiet            no summary line
${SBOM_OPTIONS_HELP}                         the image holds the same SBOM, at /var/lib/db/sbom/elfdeps-cyclonedx.json
                         or elfdeps-spdx.json, named by its annotation dev.elfdeps.sbom.path
With FILE...: the options of 'elfdeps manifest' (--add, --exclude,
--exclude-host-gpu, --no-package-metadata, --no-copyright, the rule options,
--ld-cache and the loader options:
--root, --library-path, --preload, --no-cache, --platform, ...).
  -h, --help             this help

Exit status: 0 done; 1 done, but something the programs need was not found;
2 bad usage, an unsafe or invalid manifest, a changed source, or a failed write.
`;

/** A usage error: one line, as every command says it, naming the help. */
function fail(io: CliIo, message: string): number {
  say(io, `${message} (try 'elfdeps image --help')`);
  return EXIT.USAGE;
}

function summary(report: ImageReport): string {
  const layers = report.layers.map((l) => formatBytes(l.size)).join(' + ');
  const entries = report.layers.reduce((n, l) => n + l.entries, 0);
  return `${report.output}: ${report.references.join(', ')}, ${report.platform}, ${report.layers.length} layer(s) (${layers}), ${entries} entries, ${formatBytes(report.bytes)} (${report.manifestDigest})\n`;
}

/** Layer compressions `--compress` takes. */
export const COMPRESSIONS = ['gzip', 'none'] as const;

/** The options of `elfdeps image` (node:util parseArgs specs). */
export const IMAGE_OPTIONS = {
  ...MANIFEST_OPTIONS,
  output: { type: 'string', short: 'o' },
  'oci-dir': { type: 'string' },
  tag: { type: 'string', multiple: true },
  entrypoint: { type: 'string', multiple: true },
  cmd: { type: 'string', multiple: true },
  env: { type: 'string', multiple: true },
  workdir: { type: 'string' },
  user: { type: 'string' },
  label: { type: 'string', multiple: true },
  layers: { type: 'boolean' },
  compress: { type: 'string' },
  'keep-setuid': { type: 'boolean' },
  'image-platform': { type: 'string' },
  ...SBOM_OPTIONS,
  ...REPORT_OPTIONS,
} as const;

export async function imageCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(argv, IMAGE_OPTIONS, io, 'elfdeps image', IMAGE_HELP);
  if (typeof parsed === 'number') return parsed;
  const { values: v, positionals } = parsed;
  if (positionals.length === 0) return fail(io, 'need a manifest or FILE...');
  if ((v.output === undefined) === (v['oci-dir'] === undefined)) return fail(io, 'give -o IMAGE.tar (or -o - for standard output), or --oci-dir DIR');
  const compression = COMPRESSIONS.find((c) => c === (v.compress ?? 'gzip'));
  if (compression === undefined) return fail(io, `--compress ${v.compress}: expected ${COMPRESSIONS.join(' or ')}`);
  const output: ImageOutput =
    v['oci-dir'] !== undefined
      ? { kind: 'oci-dir', path: resolvePath(io.cwd, v['oci-dir']) }
      : v.output === '-'
        ? { kind: 'stream', stream: io.stdout }
        : { kind: 'tar', path: resolvePath(io.cwd, v.output as string) };
  if (v.json && output.kind === 'stream') return fail(io, '--json prints to standard output, which -o - is writing the image to');

  const epoch = sourceDateEpoch(io.env) ?? 0;
  const sbom = sbomRequest(v, io);
  const labels: Record<string, string> = {};
  for (const kv of v.label ?? []) {
    const [k, value] = parseAssignment(kv, '--label');
    labels[k] = value;
  }
  const entrypoint = v.entrypoint === undefined ? undefined : v.entrypoint.length === 1 && v.entrypoint[0] === '' ? [] : v.entrypoint;

  // Without --from, --image-platform is the output's platform (for a manifest without programs);
  // with it, the source image's platform to slim (or `all`).
  const fromValues = { from: v.from, root: v.root, 'image-platform': v.from === undefined ? undefined : v['image-platform'] };
  if (v.from !== undefined && v['image-platform'] === 'all' && sbom !== null) {
    return fail(io, '--sbom FILE describes one image; with --image-platform all each platform\'s image holds its own SBOM');
  }
  return withAllImageRoots(fromValues, async (roots) => {
    if (roots !== null && roots.length > 1) return imageOfPlatforms(roots, positionals, v, io, { output, compression, epoch, labels, entrypoint });
    const imageRoot = roots?.[0] ?? null;
    // On a terminal, a progress line while the programs are resolved (at once: that work cannot
    // report) and while the layers are written (after half a second); --explain has stderr.
    const progress = progressLine(io, 500, v.explain === true);
    if (!looksLikeManifest(positionals[0] as string)) progress.show(`resolving ${positionals.join(' ')}`, true);
    const manifest = manifestFromArguments(positionals, manifestValues(v, imageRoot), io, { ownOptions: ['user', 'image-platform'] });
    if ('usage' in manifest) {
      progress.clear();
      return fail(io, manifest.usage);
    }
    // The SBOM names the image by its first reference; the same bytes go into the image and to --sbom FILE.
    const sbomText =
      sbom === null ? null : sbomFor(validateManifest(manifest), sbom, { name: formatReference(v.tag?.length ? parseReference(v.tag[0] as string) : defaultReference(manifest.programs[0]?.path)), kind: 'container' });
    let report: ImageReport;
    try {
      // SIGINT, SIGTERM, SIGHUP: the staging directory and temporary file are removed, exit 128+N (src/interrupt.ts).
      report = await whileWriting((signal) =>
        buildImage(manifest, {
          signal,
          output,
          tags: v.tag,
          ...partOptions(v, imageRoot, { labels, entrypoint }),
          compression,
          sourceDateEpoch: epoch,
          ...(sbom !== null && sbomText !== null ? { sbom: { name: imageSbomName(sbom.format), text: sbomText, format: SBOM_FORMAT_NAMES[sbom.format] } } : {}),
          onProgress: (p) => progress.show(`${p.done}/${p.total} entries: ${p.path}`, p.done === p.total),
        }),
      );
    } finally {
      progress.clear();
    }
    if (sbom !== null && sbomText !== null) writeFileWhole(sbom.path, sbomText, 'the SBOM');
    // With -o -, standard output carries the image: the summary goes to standard error.
    const out = output.kind === 'stream' ? io.stderr : io.stdout;
    if (v.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else if (!v.quiet) {
      out.write(summary(report));
      const excluded = excludedSummary(manifest);
      if (excluded !== '') out.write(escapeControls(`${report.output}: ${excluded}`) + '\n');
    }
    for (const w of report.warnings) io.stderr.write(`elfdeps: warning: ${w}\n`);
    return reportManifestProblems(manifest, io);
  });
}

type ImageValues = Parsed<typeof IMAGE_OPTIONS>['values'];

/**
 * The manifest options for one root: --user is the image's user, and the
 * generated user database holds it too (as it holds the base image's User
 * with --from: manifestOptionsFrom).
 */
function manifestValues(v: ImageValues, imageRoot: ImageRoot | null) {
  return { ...v, imageRoot, user: v.user === undefined ? undefined : [v.user.split(':')[0] as string] };
}

/** What each platform's image is given: the run options, the base image and its platform. */
function partOptions(v: ImageValues, imageRoot: ImageRoot | null, o: { labels: Record<string, string>; entrypoint: string[] | undefined }): ImagePartOptions {
  return {
    entrypoint: o.entrypoint,
    cmd: v.cmd,
    env: v.env,
    workdir: v.workdir,
    user: v.user,
    labels: o.labels,
    layers: v.layers === true,
    keepSetuid: v['keep-setuid'] === true,
    // The platform comes from the programs' ELF headers; --from's image names it when they cannot (a manifest without programs).
    platform: imageRoot?.platform ?? v['image-platform'],
    ...(imageRoot ? { base: imageRoot.base } : {}),
  };
}

/**
 * `image --from IMAGE --image-platform all`: each platform's programs
 * resolved in its own image, written as one output whose index lists one
 * image per platform; this machine's platform first (it gets the plain tag
 * in the docker-archive part: src/image/layout.ts).
 */
async function imageOfPlatforms(
  roots: ImageRoot[],
  positionals: string[],
  v: ImageValues,
  io: CliIo,
  o: { output: ImageOutput; compression: Compression; epoch: number; labels: Record<string, string>; entrypoint: string[] | undefined },
): Promise<number> {
  const host = formatSourcePlatform(hostPlatform());
  const ordered = [...roots].sort((x, y) => Number(y.platform === host) - Number(x.platform === host));
  const progress = progressLine(io, 500, v.explain === true);
  const parts: Array<{ manifest: Manifest; options: ImagePartOptions }> = [];
  for (const root of ordered) {
    progress.show(`resolving ${positionals.join(' ')} (${root.platform})`, true);
    const manifest = manifestFromArguments(positionals, manifestValues(v, root), io, { ownOptions: ['user', 'image-platform'] });
    if ('usage' in manifest) {
      progress.clear();
      return fail(io, manifest.usage);
    }
    parts.push({ manifest, options: partOptions(v, root, o) });
  }
  let report: ImageIndexReport;
  try {
    report = await whileWriting((signal) =>
      buildImageIndex(parts, {
        signal,
        output: o.output,
        tags: v.tag,
        compression: o.compression,
        sourceDateEpoch: o.epoch,
        onProgress: (p) => progress.show(`${p.done}/${p.total} entries: ${p.path}`, p.done === p.total),
      }),
    );
  } finally {
    progress.clear();
  }
  const out = o.output.kind === 'stream' ? io.stderr : io.stdout;
  if (v.json) io.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else if (!v.quiet) {
    out.write(`${report.output}: ${report.references.join(', ')}, ${report.images.map((i) => i.platform).join(' + ')}, ${formatBytes(report.bytes)} (${report.indexDigest})\n`);
  }
  for (const image of report.images) for (const w of image.warnings) io.stderr.write(`elfdeps: warning: ${image.platform}: ${w}\n`);
  let code: number = EXIT.OK;
  for (const { manifest } of parts) code = Math.max(code, reportManifestProblems(manifest, io));
  return code;
}
