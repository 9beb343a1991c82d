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
