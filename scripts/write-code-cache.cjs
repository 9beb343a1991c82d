// Build step (scripts/bundle-cli.mjs runs it): compiles the bundle exactly as
// the launcher (scripts/cli-launcher.cjs) does, runs one typical command with
// it (`elfdeps --ldd` of the Node binary itself, output discarded), and then
// writes V8's code cache, which by then holds every function that run
// compiled, as BUNDLE minus .cjs plus .cache, behind the header the launcher
// checks (bundle build id, Node version, architecture, V8 version). The
// checksum flag is set as the launcher sets it: it is part of the flag hash
// V8 compares, and it makes V8 write the payload's checksum.
'use strict';
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { dirname, resolve } = require('node:path');
const { setFlagsFromString } = require('node:v8');
const { Script } = require('node:vm');

const bundle = process.argv[2] && resolve(process.argv[2]);
if (!bundle) throw new Error('usage: node scripts/write-code-cache.cjs BUNDLE');
const source = readFileSync(bundle, 'latin1');
const id = /^\/\/ elfdeps-bundle ([0-9a-f]{64})\n/.exec(source.slice(0, 100));
if (id === null) throw new Error(`${bundle}: no build id on its first line`);
setFlagsFromString('--verify-snapshot-checksum');
const script = new Script(wrap(source), { filename: bundle });
process.argv = [process.execPath, bundle, '--ldd', process.execPath];
for (const stream of [process.stdout, process.stderr]) stream.write = () => true;
process.once('beforeExit', () => {
  const header = `elfdeps-code-cache 1 ${id[1]} node ${process.version} ${process.arch} v8 ${process.versions.v8}\n`;
  const out = `${bundle.slice(0, -'.cjs'.length)}.cache`;
  // Under its final name only when whole: a half-written cache would merely
  // be rejected, but there is no reason to leave one.
  writeFileSync(`${out}.tmp`, Buffer.concat([Buffer.from(header, 'latin1'), script.createCachedData()]), { mode: 0o644 });
  renameSync(`${out}.tmp`, out);
  // The command's own status (1 if the loader's verdict is negative) is not the build's.
  process.exitCode = 0;
});
const bundleModule = { exports: {}, filename: bundle, id: bundle };
script.runInThisContext()(bundleModule.exports, createRequire(bundle), bundleModule, bundle, dirname(bundle));
