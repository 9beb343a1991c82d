/**
 * Interrupts while elfdeps writes. A process killed by SIGINT, SIGTERM or
 * SIGHUP with Node's default handling dies at once: an image's staging
 * directory stays beside the output, a copy's directories stay at their
 * temporary mode 0700. While a command writes, it listens for those signals
 * instead: the first one aborts an AbortSignal whose reason is an
 * `InterruptedError`; the writers check it between entries, stop, and their
 * own clean-up (the `finally` blocks that remove staging and temporaries and
 * put back directory modes) runs as for any other failure. The command then
 * exits 128 + the signal's number, as a shell reports a process the signal
 * killed. A second signal while cleaning up ends the process at once.
 *
 * Listening is limited to the writing phase: while a command only reads
 * (resolving, planning) nothing needs undoing, and Node's default handling
 * stops it without delay even inside a long synchronous step.
 */
import { constants } from 'node:os';
import { ElfdepsError } from './errors.js';

export const INTERRUPT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type InterruptSignal = (typeof INTERRUPT_SIGNALS)[number];

/** 128 + the signal's number: what a shell reports for a process the signal killed. */
function exitCodeFor(signal: InterruptSignal): number {
  return 128 + constants.signals[signal];
}

export class InterruptedError extends ElfdepsError {
  readonly signal: InterruptSignal;
  /** 128 + the signal's number: what a shell reports for a process the signal killed. */
  readonly exitCode: number;

  constructor(signal: InterruptSignal) {
    super('INTERRUPTED', `interrupted by ${signal}; nothing half-written is left behind`);
    this.name = 'InterruptedError';
    this.signal = signal;
    this.exitCode = exitCodeFor(signal);
  }
}

/** Throws the signal's reason when it has been aborted: called by writers between entries. */
export function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new ElfdepsError('INTERRUPTED', String(signal.reason));
}

/**
 * Runs `work` with SIGINT, SIGTERM and SIGHUP turned into an aborted signal
 * (reason: an InterruptedError). The listeners are removed when `work`
 * settles, so later signals have Node's default effect again.
 */
export async function whileWriting<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  writers++;
  const controller = new AbortController();
  const listeners = new Map<InterruptSignal, () => void>();
  for (const name of INTERRUPT_SIGNALS) {
    const listener = () => {
      if (controller.signal.aborted) {
        // The second signal: the user does not want to wait for the clean-up.
        process.exit(exitCodeFor(name));
      }
      controller.abort(new InterruptedError(name));
    };
    listeners.set(name, listener);
    process.on(name, listener);
  }
  try {
    return await work(controller.signal);
  } finally {
    writers--;
    for (const [name, listener] of listeners) process.removeListener(name, listener);
  }
}

/** How many whileWriting() calls are running: while one is, it handles a signal, and its caller's `finally` cleans up. */
let writers = 0;

/**
 * Keeps something that exists for the whole command, not only while it writes
 * (an image's staging directory, src/image-source/), from outliving an
 * interrupt: a signal that arrives while no writer listens runs `cleanup`
 * (synchronously) and ends the process with 128 + its number, as Node's
 * default handling would have. While a writer listens, the signal aborts it
 * and the command's own `finally` runs `cleanup`. The returned function
 * stops listening (call it after cleaning up normally).
 */
export function cleanUpOnInterrupt(cleanup: () => void): () => void {
  const listeners = new Map<InterruptSignal, () => void>();
  for (const name of INTERRUPT_SIGNALS) {
    const listener = () => {
      if (writers > 0) return;
      cleanup();
      process.exit(exitCodeFor(name));
    };
    listeners.set(name, listener);
    process.on(name, listener);
  }
  return () => {
    for (const [name, listener] of listeners) process.removeListener(name, listener);
  };
}

/** Lets pending signal events run: a synchronous writer yields here every so often so that an interrupt can be seen. */
export function yieldToEvents(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
