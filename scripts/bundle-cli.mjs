// Bundles the command-line program into one CommonJS file,
// dist/src/cli/elfdeps.cjs, the package's `bin`. Startup time is a target
// (bench/: `elfdeps /bin/ls` within 30 ms of `node -e 0`), and Node 20 spends
// about a millisecond per ES module it loads plus a few on an ES entry point;
// one CommonJS file avoids both. The library itself stays the tsc output.
//
// The bundle sits in dist/src/cli/ so that paths computed from
// import.meta.url (`../manifest/manifest.schema.json`, createRequire for the
// lazily loaded ajv and glob) resolve exactly as they do from the modules.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/bin.ts'],
  outfile: 'dist/src/cli/elfdeps.cjs',
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
