// Build step (scripts/bundle-cli.mjs runs it): compiles the bundle exactly as
// the launcher (scripts/cli-launcher.cjs) does, runs one typical command with
// it (`elfdeps --ldd` of the Node binary itself, output discarded), and then
// writes V8's code cache, which by then holds every function that run
// compiled, under the name the launcher looks for.
'use strict';
const { readFileSync, writeFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { dirname, resolve } = require('node:path');
const { Script } = require('node:vm');

const bundle = process.argv[2] && resolve(process.argv[2]);
if (!bundle) throw new Error('usage: node scripts/write-code-cache.cjs BUNDLE');
const script = new Script(wrap(readFileSync(bundle, 'utf8')), { filename: bundle });
process.argv = [process.execPath, bundle, '--ldd', process.execPath];
for (const stream of [process.stdout, process.stderr]) stream.write = () => true;
process.once('beforeExit', () => {
  writeFileSync(`${bundle}.${process.versions.v8}-${process.arch}.cache`, script.createCachedData());
  // The command's own status (1 if the loader's verdict is negative) is not the build's.
  process.exitCode = 0;
});
const bundleModule = { exports: {}, filename: bundle, id: bundle };
script.runInThisContext()(bundleModule.exports, createRequire(bundle), bundleModule, bundle, dirname(bundle));
