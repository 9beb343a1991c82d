#!/usr/bin/env node
// The `elfdeps` command (copied to dist/src/cli/elfdeps.cjs by
// scripts/bundle-cli.mjs). It runs the bundle beside it, elfdeps-bundle.cjs,
// with the V8 code cache the build wrote for it (elfdeps-bundle.cache), so
// that the functions a typical run needs are deserialised rather than
// compiled again at every start. Startup is a target (bench/startup.mjs:
// `elfdeps --ldd /bin/ls` within 15 ms of `node -e 0`); docs/architecture.md
// ("How the command starts") says what was measured and why this shape.
//
// A cache is only ever an optimisation, so it is used only when it is
// certainly the one written for this bundle by this Node:
//  - its first line names the bundle's build id (a hash of the bundle the
//    build wrote on the bundle's own first line), this Node's version, the
//    architecture and the V8 version; any difference and the bundle is
//    compiled as usual;
//  - V8 then checks its own version, flags and the source's length, and,
//    with --verify-snapshot-checksum (set here and when the cache is
//    written, so the flag hashes agree), a checksum of the whole payload: a
//    corrupt cache is rejected instead of being deserialised (without it, V8
//    aborts the process on some corruptions: "Fatal error ... unreachable code").
// A missing, stale or damaged cache therefore costs speed, never correctness.
'use strict';
const { isAscii } = require('node:buffer');
const { readFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const bundle = join(__dirname, 'elfdeps-bundle.cjs');
// The build makes an ASCII-only bundle, which latin1 decodes as UTF-8 would,
// without the decoder; a bundle edited since is decoded as UTF-8.
const bytes = readFileSync(bundle);
const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');

/** The cache's payload if its header matches this bundle and this Node, else undefined. */
function matchingCache() {
  let cache;
  try {
    cache = readFileSync(`${bundle.slice(0, -'.cjs'.length)}.cache`);
  } catch {
    return undefined; // No cache (or unreadable): compile.
  }
  const id = /^\/\/ elfdeps-bundle ([0-9a-f]{64})\n/.exec(source.slice(0, 100));
  if (id === null) return undefined;
  const header = `elfdeps-code-cache 1 ${id[1]} node ${process.version} ${process.arch} v8 ${process.versions.v8}\n`;
  if (cache.length <= header.length || cache.toString('latin1', 0, header.length) !== header) return undefined;
  require('node:v8').setFlagsFromString('--verify-snapshot-checksum');
  return cache.subarray(header.length);
}

const cachedData = matchingCache();
const script = new Script(wrap(source), { filename: bundle, cachedData });
// The flag is process-wide: left set, every worker thread started later
// would verify Node's own startup snapshot too (about 20 ms each, measured).
if (cachedData !== undefined) require('node:v8').setFlagsFromString('--no-verify-snapshot-checksum');
const bundleModule = { exports: {}, filename: bundle, id: bundle };
script.runInThisContext()(bundleModule.exports, createRequire(bundle), bundleModule, bundle, dirname(bundle));
