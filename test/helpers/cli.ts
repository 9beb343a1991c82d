/**
 * The program users run: the package's `bin` (dist/src/cli/elfdeps.cjs, the
 * bundle `npm run build` makes), not the sources through tsx. Tests that spawn
 * the CLI take their command line from here, so they test what ships.
 *
 * The bundle is built once per test run, when it is missing or older than a
 * file under src/ (so a test never runs a stale dist/).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Absolute path of the package's `bin`. */
export const ELFDEPS_BIN = join(REPO, (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { bin: { elfdeps: string } }).bin.elfdeps);

/** The bundle the `bin` launcher runs (scripts/bundle-cli.mjs), beside it. */
const BUNDLE = join(dirname(ELFDEPS_BIN), 'elfdeps-bundle.cjs');

/** The V8 code cache the launcher looks for beside the bundle (scripts/write-code-cache.cjs). */
export const CODE_CACHE_NAME = 'elfdeps-bundle.cache';

/** Files the CLI needs beside it at run time (read relative to it). */
const BUNDLE_ASSETS = [BUNDLE, join(REPO, 'dist/src/manifest/manifest.schema.json'), join(REPO, 'dist/src/rules/rules.json'), join(REPO, 'dist/src/rules/rules.schema.json')];

/** Newest mtime (ms) of any file under `dir`. */
function newestUnder(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestUnder(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function isStale(): boolean {
  if (![ELFDEPS_BIN, ...BUNDLE_ASSETS].every((p) => existsSync(p))) return true;
  return statSync(ELFDEPS_BIN).mtimeMs < newestUnder(join(REPO, 'src'));
}

function npmRunBuild(): { ok: boolean; output: string } {
  const r = spawnSync('npm', ['run', 'build'], { cwd: REPO, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { ok: r.status === 0, output: `${r.error?.message ?? ''}${r.stdout ?? ''}${r.stderr ?? ''}` };
}

let checked = false;

/** Builds the shipped CLI when it is missing or older than src/ (at most once per test run). */
export function ensureBuiltCli(): void {
  if (checked) return;
  if (isStale()) {
    const built = npmRunBuild();
    if (!built.ok) {
      // tsc refuses to finish on a type error anywhere (possibly someone else's work in
      // progress), which stops `npm run build` before the bundle. The bundle itself does
      // not need the type check: make it with the same two steps, and say so.
      const firstError = built.output.split('\n').find((l) => /error/i.test(l)) ?? built.output.trim().split('\n')[0];
      console.log(`      note: npm run build failed (${firstError?.trim()}); building the bundle alone (scripts/copy-assets.mjs, scripts/bundle-cli.mjs)`);
      for (const script of ['scripts/copy-assets.mjs', 'scripts/bundle-cli.mjs']) {
        const r = spawnSync(process.execPath, [script], { cwd: REPO, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`cannot build the CLI: node ${script} failed:\n${r.stderr}`);
      }
    }
    // Existence only: a source edited while the build ran would make it look stale again.
    if (!existsSync(ELFDEPS_BIN)) throw new Error(`cannot build the CLI: ${ELFDEPS_BIN} is missing after the build`);
  }
  checked = true;
}

/** The command line that runs the shipped `elfdeps`: [node, bin]. Append the arguments. */
export function elfdepsCommand(): [string, string] {
  ensureBuiltCli();
  return [process.execPath, ELFDEPS_BIN];
}

/**
 * The shipped CLI copied into `dir` (which the caller makes readable), for a
 * test that runs it as another user: the checkout itself may be private (a
 * clone under /root or in a mktemp -d directory), so another user cannot
 * load the bundle from there. The launcher, the bundle and its code cache
 * are all it needs for the verbs such a test runs.
 */
export function elfdepsCommandCopiedTo(dir: string): [string, string] {
  const [node, bin] = elfdepsCommand();
  const cliDir = dirname(bin);
  const files = [bin, BUNDLE, ...readdirSync(cliDir).filter((n) => n === CODE_CACHE_NAME).map((n) => join(cliDir, n))];
  for (const f of files) {
    copyFileSync(f, join(dir, basename(f)));
    chmodSync(join(dir, basename(f)), 0o644);
  }
  return [node, join(dir, basename(bin))];
}
