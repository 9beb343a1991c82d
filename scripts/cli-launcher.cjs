#!/usr/bin/env node
// The `elfdeps` command (copied to dist/src/cli/elfdeps.cjs by
// scripts/bundle-cli.mjs). It runs the bundle beside it, elfdeps-bundle.cjs,
// with the V8 code cache the build wrote for it, so that the functions a
// typical run needs are not compiled again at every start: startup is a
// target (bench/: `elfdeps /bin/ls` within 30 ms of `node -e 0`).
//
// The cache is only looked for under the name of this Node's V8 version and
// architecture; V8 also checks it (its version, flags, the source) and
// rejects it on any mismatch, and the bundle is then compiled as usual. So a
// missing or stale cache costs speed, never correctness.
'use strict';
const { readFileSync } = require('node:fs');
const { createRequire, wrap } = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');

const bundle = join(__dirname, 'elfdeps-bundle.cjs');
let cachedData;
try {
  cachedData = readFileSync(`${bundle}.${process.versions.v8}-${process.arch}.cache`);
} catch {
  // No cache for this Node: compile.
}
const script = new Script(wrap(readFileSync(bundle, 'utf8')), { filename: bundle, cachedData });
const bundleModule = { exports: {}, filename: bundle, id: bundle };
script.runInThisContext()(bundleModule.exports, createRequire(bundle), bundleModule, bundle, dirname(bundle));
