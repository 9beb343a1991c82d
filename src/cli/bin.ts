#!/usr/bin/env node
// The executable entry point: runs the CLI with the real process streams; in
// a check's scout thread (check/pipeline.ts starts it from this same entry,
// so that it runs the bundle with its code cache), the scout's loop instead.
import { isScoutThread, runScoutThread } from '../check/scout-thread.js';
import { describeError } from '../errors.js';
import { EXIT, say, type CliIo } from './io.js';
import { main } from './main.js';

function runCommand(): void {
  // A reader that stops early (`elfdeps manifest ... | head`) closes our stdout:
  // that is not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }

  const io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      say(io, describeError(err));
      process.exitCode = EXIT.USAGE;
    },
  );
}

if (isScoutThread()) runScoutThread();
else runCommand();
