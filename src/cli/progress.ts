/**
 * A progress line on standard error for work long enough to wait for: shown
 * only when standard error is a terminal, from `delayMs` after the start,
 * redrawn in place at most every 100 ms, cut to the terminal's width, and
 * erased by clear() (before any other output, and at the end).
 */
import { escapeControls, type CliIo } from './io.js';

export interface ProgressLine {
  /** Draws `text` (names from files are escaped); `force` draws it now, before the delay or within 100 ms of the last. */
  show(text: string, force?: boolean): void;
  clear(): void;
}

/** `quiet`: never shown (another output has standard error, as --explain). */
export function progressLine(io: Pick<CliIo, 'stderr'>, delayMs: number, quiet = false): ProgressLine {
  const enabled = io.stderr.isTTY === true && !quiet;
  const started = Date.now();
  let last = 0;
  let shown = false;
  return {
    show(text, force = false) {
      if (!enabled) return;
      const now = Date.now();
      if (!force && (now - started < delayMs || now - last < 100)) return;
      last = now;
      shown = true;
      // A terminal whose size is unknown (0, as under script(1) without one) is taken as 80 wide.
      const columns = (io.stderr as { columns?: number }).columns || 80;
      const line = escapeControls(text);
      io.stderr.write(`\r\x1b[K${line.length >= columns ? `${line.slice(0, columns - 2)}…` : line}`);
    },
    clear() {
      if (shown) io.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}
