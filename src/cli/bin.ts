#!/usr/bin/env node
// The executable entry point: runs the CLI with the real process streams.
import { describeError } from '../errors.js';
import { EXIT, type CliIo } from './io.js';
import { main } from './main.js';

const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
main(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`elfdeps: ${describeError(err)}\n`);
    process.exitCode = EXIT.USAGE;
  },
);
