// Preloaded (`node -r`) by test/cli-startup.test.ts in front of the `elfdeps`
// launcher: records, for the script the launcher compiles, whether it was
// given a code cache and whether V8 rejected it, as one JSON line appended to
// the file named by ELFDEPS_CODE_CACHE_PROBE. The launcher takes `Script`
// from node:vm when it starts, after this has replaced it.
'use strict';
const { appendFileSync } = require('node:fs');
const vm = require('node:vm');

const out = process.env.ELFDEPS_CODE_CACHE_PROBE;
const { Script } = vm;
vm.Script = class ProbedScript extends Script {
  constructor(code, options) {
    super(code, options);
    if (out) appendFileSync(out, `${JSON.stringify({ filename: options?.filename, given: options?.cachedData !== undefined, rejected: this.cachedDataRejected ?? null })}\n`);
  }
};
