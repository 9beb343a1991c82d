// Builds the command-line program: dist/src/cli/elfdeps.cjs, the package's
// `bin`, a small launcher (scripts/cli-launcher.cjs) that runs one CommonJS
// bundle of the CLI, dist/src/cli/elfdeps-bundle.cjs, with a V8 code cache
// written here (scripts/write-code-cache.cjs). Startup time is a target
// (bench/startup.mjs: `elfdeps --ldd /bin/ls` within 15 ms of `node -e 0`):
// Node 20 spends about a millisecond per ES module it loads plus a few on an
// ES entry point, which one CommonJS file avoids; compiling the bundle's
// functions costs more than ten milliseconds, which the cache avoids; and a
// bundle without comments and whitespace (esbuild's syntax and whitespace
// minification; identifiers keep their names, so stack traces and
// constructor names do not change) is read and set up about 8 ms faster than
// the 530 KB readable one (docs/architecture.md, "How the command starts").
// The library itself stays the tsc output.
//
// The bundle sits in dist/src/cli/ so that paths computed from
// import.meta.url (`../manifest/manifest.schema.json`, createRequire for the
// lazily loaded ajv and glob) resolve exactly as they do from the modules.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
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
  minifyWhitespace: true,
  minifySyntax: true,
  // Non-ASCII characters in strings become escapes: the launcher reads the
  // bundle as latin1, and V8 keeps a one-byte string.
  charset: 'ascii',
  logLevel: 'warning',
});
// The launcher runs the bundle as a function body, where bin.ts's #! line
// would be a syntax error; the launcher has its own.
mkdirSync(dir, { recursive: true });
const body = (outputFiles[0]?.text ?? '').replace(/^#!.*\n/, '');
const nonAscii = /[^\x00-\x7f]/.exec(body);
if (nonAscii) throw new Error(`the CLI bundle holds a non-ASCII character (${JSON.stringify(nonAscii[0])} at ${nonAscii.index}); the launcher reads it as latin1`);
// The build id the launcher matches against the code cache's header.
writeFileSync(bundle, `// elfdeps-bundle ${createHash('sha256').update(body).digest('hex')}\n${body}`, { mode: 0o644 });
chmodSync(bundle, 0o644);
// Caches written for another Node or an older bundle are of no use (the
// launcher would not use them; older builds named them elfdeps-bundle.cjs.V8-ARCH.cache).
for (const name of readdirSync(dir)) if (name.startsWith('elfdeps-bundle.') && /\.cache(\.tmp)?$/.test(name)) rmSync(join(dir, name));
copyFileSync('scripts/cli-launcher.cjs', join(dir, 'elfdeps.cjs'));
chmodSync(join(dir, 'elfdeps.cjs'), 0o755);
execFileSync(process.execPath, ['scripts/write-code-cache.cjs', bundle], { stdio: 'inherit' });
