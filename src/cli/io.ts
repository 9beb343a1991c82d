import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { describeError } from '../errors.js';

/**
 * What a CLI command needs from the process, passed in so that commands can be
 * run in-process by tests and by the dispatcher alike.
 */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** A subcommand: gets its arguments (after the subcommand name) and returns the exit code. */
export type Command = (args: string[], io: CliIo) => Promise<number>;

/** Exit codes shared by every subcommand (documented in docs/cli.md). */
export const EXIT = {
  OK: 0,
  /** Resolution finished but something was not found (or would fail to load). */
  NOT_FOUND: 1,
  /** Bad usage, unreadable or malformed input. */
  USAGE: 2,
} as const;

/** "512 KiB", "4.4 MiB": sizes in summary lines. */
export function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** parseArgs specs of the options every writing command takes for its report. */
export const REPORT_OPTIONS = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * A string with its control characters (C0 but tab, DEL, C1) written as \xHH,
 * so that a file name, DT_NEEDED, RPATH or error text cannot move the cursor,
 * retitle or rewrite the terminal (docs/security.md). Every human output goes
 * through it; --json needs nothing (JSON escapes them).
 */
export function escapeControls(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Writes one diagnostic line: `elfdeps: MESSAGE` (control characters escaped, so it stays one line). */
export function say(io: Pick<CliIo, 'stderr'>, message: string): void {
  io.stderr.write(`elfdeps: ${escapeControls(message)}\n`);
}

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
export type Parsed<T extends OptionSpecs> = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: T }>>;

/**
 * A command's arguments parsed, or the exit status when nothing is left to
 * do: a bad option (one line, naming the command's help) gives EXIT.USAGE,
 * `--help` writes `help` and gives EXIT.OK. `command` is how users call it
 * ('elfdeps', 'elfdeps check').
 */
export function parseCommandLine<T extends OptionSpecs>(argv: string[], options: T, io: CliIo, command: string, help: string): Parsed<T> | number {
  let parsed: Parsed<T>;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options });
  } catch (err) {
    say(io, `${describeError(err)} (try '${command} --help')`);
    return EXIT.USAGE;
  }
  if ((parsed.values as { help?: boolean }).help) {
    io.stdout.write(help);
    return EXIT.OK;
  }
  return parsed;
}

/** package.json's version: looked up from this file's directory (src/cli or dist/src/cli). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 4; up++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'elfdeps' && pkg.version) return pkg.version;
    } catch {
      // not here: one directory up
    }
  }
  return 'unknown';
}
