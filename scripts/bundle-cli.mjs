// Builds the command-line program: dist/src/cli/elfdeps.cjs, the package's
// `bin`, a small launcher (scripts/cli-launcher.cjs) that runs one CommonJS
// bundle of the CLI, dist/src/cli/elfdeps-bundle.cjs, with a V8 code cache
// written here (scripts/write-code-cache.cjs). Startup time is a target
// (bench/: `elfdeps /bin/ls` within 30 ms of `node -e 0`): Node 20 spends
// about a millisecond per ES module it loads plus a few on an ES entry point,
// which one CommonJS file avoids, and compiling the bundle's functions costs
// more than ten milliseconds, which the cache avoids. The library itself
// stays the tsc output.
//
// The bundle sits in dist/src/cli/ so that paths computed from
// import.meta.url (`../manifest/manifest.schema.json`, createRequire for the
// lazily loaded ajv and glob) resolve exactly as they do from the modules.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const dir = 'dist/src/cli';
const bundle = join(dir, 'elfdeps-bundle.cjs');
const { outputFiles } = await build({
  entryPoints: ['src/cli/bin.ts'],
  outfile: bundle,
  write: false,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Loaded on first use through createRequire: keep them out of the bundle.
  external: ['ajv', 'ajv/*', 'glob', 'tar-stream'],
  define: { 'import.meta.url': 'importMetaUrl' },
  banner: { js: "const importMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logLevel: 'warning',
});
// The launcher runs the bundle as a function body, where bin.ts's #! line
// would be a syntax error; the launcher has its own.
mkdirSync(dir, { recursive: true });
writeFileSync(bundle, (outputFiles[0]?.text ?? '').replace(/^#!.*\n/, ''), { mode: 0o644 });
chmodSync(bundle, 0o644);
// Caches written for another Node (or an older bundle) are of no use.
for (const name of readdirSync(dir)) if (name.startsWith('elfdeps-bundle.cjs.') && name.endsWith('.cache')) rmSync(join(dir, name));
copyFileSync('scripts/cli-launcher.cjs', join(dir, 'elfdeps.cjs'));
chmodSync(join(dir, 'elfdeps.cjs'), 0o755);
execFileSync(process.execPath, ['scripts/write-code-cache.cjs', bundle], { stdio: 'inherit' });
