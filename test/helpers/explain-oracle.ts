/**
 * Comparing `elfdeps --explain` with the real loader's LD_DEBUG=libs output:
 * both sides reduced to the lookup lines (docs/explain.md), the "PID:\t"
 * prefix removed.
 */
import { EXPLAIN_OWN_LINE } from '../../src/resolve/explain.js';

/** glibc's _dl_debug_printf prefix: the pid right-aligned in 10 columns, a colon, a tab. */
const DEBUG_PREFIX = /^ *\d+:\t/;
const LOOKUP_LINE = /^(find library=| search path=| search cache=|  trying file=)/;

/**
 * The lookup trace in a stream of LD_DEBUG=libs output (glibc's, or ours):
 * `find library=`, ` search path=`, ` search cache=`, `  trying file=` lines
 * and the empty line that ends each search. Other debug lines (`calling init:`,
 * `initialize program:`, `transferring control:` and the empty lines around
 * them) and everything without the prefix (ldd's list, error messages) are not
 * part of it. elfdeps' own reason lines are dropped too: glibc prints none.
 */
export function lookupTrace(stderr: string): string[] {
  const out: string[] = [];
  let previousWasLookup = false;
  for (const raw of stderr.split('\n')) {
    const m = DEBUG_PREFIX.exec(raw);
    if (!m) continue;
    const line = raw.slice(m[0].length);
    if (EXPLAIN_OWN_LINE.test(line)) continue;
    if (LOOKUP_LINE.test(line)) {
      out.push(line);
      previousWasLookup = true;
    } else {
      if (line === '' && previousWasLookup) out.push(line);
      previousWasLookup = false;
    }
  }
  return out;
}

/** The pids of every prefixed line (all must be the one process's). */
export function tracePids(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => DEBUG_PREFIX.exec(l)?.[0])
    .filter((p): p is string => p !== undefined);
}
