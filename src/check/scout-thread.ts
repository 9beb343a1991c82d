/**
 * The worker thread of a check's scout (scout.ts, pipeline.ts): walks the
 * starts it is given and posts what it meets, batch by batch, in order; then
 * `{ done: true }`, or `{ failed }` with one line if something unexpected
 * stopped it. The shipped command starts it from its own entry (bin.ts), so
 * the thread runs the bundle with its code cache; tsc's output and the
 * sources start scout-entry.
 *
 * The main thread takes batches only as fast as it judges them: at most
 * MAX_IN_FLIGHT batches are posted and not yet taken (a counter in shared
 * memory), so a scout far ahead of the judging holds a bounded amount, not the
 * whole tree's listing.
 */
import { createRequire } from 'node:module';
import type { MessagePort } from 'node:worker_threads';
import { describeError } from '../errors.js';
import { scout, type ScoutItem, type ScoutStart } from './scout.js';

/** What the main thread starts a scout with. */
export interface ScoutData {
  /** Marks a worker as a scout (a library user's own worker that loads elfdeps is not one). */
  elfdepsScout: 1;
  prefix: string;
  /** Slots IN_FLIGHT, STOP and READY below. */
  control: Int32Array;
}

/** The main thread's one message to a ready scout: what is left to walk. */
export interface ScoutPlan {
  starts: ScoutStart[];
}

export type ScoutMessage = { items: ScoutItem[] } | { done: true } | { failed: string };

/** Batches posted and not yet taken, at most: 16 × 256 items, some hundreds of kilobytes. */
export const MAX_IN_FLIGHT = 16;

/** Slots of ScoutData.control: batches posted and not yet taken; 1 once the main thread wants no more; 1 once the scout is started and waits for its plan. */
export const IN_FLIGHT = 0;
export const STOP = 1;
export const READY = 2;
export const CONTROL_SLOTS = 3;

/** Thrown out of the walk once the main thread wants no more. */
class Stopped extends Error {}

/**
 * Set in a scout thread's environment, so that the command's entry (bin.ts)
 * can tell a scout from the command without loading node:worker_threads,
 * which costs every start a few milliseconds (bench/startup.mjs).
 */
export const SCOUT_ENV = 'ELFDEPS_SCOUT_THREAD';

/**
 * node:worker_threads, loaded when a thread is started or asked about (through
 * require: the command's bundle runs in a vm.Script, where import() is not
 * available).
 */
export function threads(): typeof import('node:worker_threads') {
  return createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
}

/** Whether this thread is a scout pipeline.ts started (the variable alone proves nothing: a user may have set it). */
export function isScoutThread(): boolean {
  if (process.env[SCOUT_ENV] !== '1') return false;
  const { isMainThread, parentPort, workerData } = threads();
  return !isMainThread && parentPort !== null && (workerData as Partial<ScoutData> | null)?.elfdepsScout === 1;
}

/** The scout's loop, in a scout thread (isScoutThread()). */
export function runScoutThread(): void {
  if (!isScoutThread()) return;
  const { parentPort, workerData } = threads();
  const port = parentPort as MessagePort;
  const { prefix, control } = workerData as ScoutData;
  // The main thread checks on its own until it sees this, then sends what is left.
  Atomics.store(control, READY, 1);
  port.once('message', (plan: ScoutPlan) => walkPlan(port, prefix, plan.starts, control));
}

function walkPlan(port: MessagePort, prefix: string, starts: ScoutStart[], control: Int32Array): void {
  const post = (message: ScoutMessage): void => port.postMessage(message);
  try {
    scout(prefix, starts, (items) => {
      for (let n = Atomics.load(control, IN_FLIGHT); n >= MAX_IN_FLIGHT; n = Atomics.load(control, IN_FLIGHT)) {
        if (Atomics.load(control, STOP) !== 0) throw new Stopped();
        // Woken when the main thread takes a batch; the timeout only re-reads STOP.
        Atomics.wait(control, IN_FLIGHT, n, 1000);
      }
      if (Atomics.load(control, STOP) !== 0) throw new Stopped();
      Atomics.add(control, IN_FLIGHT, 1);
      post({ items });
    });
    post({ done: true });
  } catch (err) {
    if (!(err instanceof Stopped)) post({ failed: describeError(err) });
  }
}
