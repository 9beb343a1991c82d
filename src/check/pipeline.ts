/**
 * A check over two threads (docs/jobs.md): a scout (scout.ts, in the thread of
 * scout-thread.ts) walks the tree and takes each file's first look, while this thread judges the ELF
 * files it reports, with one resolver and one verdict cache for the whole
 * run, exactly as Checker.check does alone. Items are tallied in walk order,
 * so the report, the failure lines and their order are Checker.check's, byte
 * for byte.
 *
 * Why this split and not the files shared among workers: every worker would
 * read and decode the libraries every program needs (libc's, libstdc++'s,
 * GLib's, ...) again, which on a two-core machine cost more than the second
 * core gave (measured: `check /usr` 0.87× to 0.93× with two such workers). The first
 * look at each file, an open, a read and a close for each of a root's
 * 100,000 files, needs no cache at all, and is about half of a check's time.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Worker, WorkerOptions } from 'node:worker_threads';
import { ElfdepsError } from '../errors.js';
import { CheckTally, type CheckOptions, type CheckReport, type CheckStart, type Checker } from './index.js';
import type { ScoutStart } from './scout.js';
import { CONTROL_SLOTS, IN_FLIGHT, READY, SCOUT_ENV, STOP, threads, type ScoutData, type ScoutMessage, type ScoutPlan } from './scout-thread.js';
import { walkTree } from './walk.js';

/**
 * The scout's module: in the shipped command (the bundle, whose
 * import.meta.url is dist/src/cli/elfdeps-bundle.cjs), the command's own
 * launcher beside it, whose entry (bin.ts) runs the scout in a scout thread:
 * the command needs no other file, and the thread gets the code cache. Else
 * scout-entry beside this module (tsc's output, or the source under tsx).
 */
function scoutEntry(): URL {
  const here = import.meta.url;
  if (here.endsWith('.cjs')) return new URL('./elfdeps.cjs', here);
  return new URL(here.endsWith('.ts') ? './scout-entry.ts' : './scout-entry.js', here);
}

/**
 * A worker running the scout. Under tsx (the sources, as the tests run them
 * in-process) Node 20 does not carry the module hooks --import registered over
 * to a worker: the worker registers tsx's own first.
 */
function startScout(options: WorkerOptions): Worker {
  // Loaded here, not at start: every other command (and a check of files only) does without it.
  const { Worker } = threads();
  options = { ...options, env: { ...process.env, [SCOUT_ENV]: '1' } };
  const entry = scoutEntry();
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  // tsx's ESM API, as its package.json's exports name it ("./esm/api", import).
  const api = pathToFileURL(join(dirname(createRequire(entry).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`, { ...options, eval: true });
}

/** The scout's V8 heap, in MiB: it holds a directory's listing and a few batches. */
const SCOUT_HEAP_MB = 64;

/** Thrown out of this thread's own walk when the scout is ready to take over after `after`. */
class Handover extends Error {
  constructor(readonly after: string) {
    super('handover');
  }
}

/**
 * Checker.check(paths), over two threads when `jobs` is 2 or more and a
 * start is a directory: a thread's start pays for itself only over a walk.
 * The starts are looked up first, once, so a bad one is the same usage error
 * whatever `jobs` is, before any thread starts.
 */
export async function checkWithJobs(checker: Checker, paths: string[], jobs: number, options: Pick<CheckOptions, 'onFailure' | 'onProgress'> = {}): Promise<CheckReport> {
  const starts = checker.startsOf(paths);
  if (jobs <= 1 || !starts.some((s) => s.type === 'dir')) return checker.checkStarts(starts, paths, options);
  return checkWithScout(checker, starts, paths, options);
}

/**
 * Checker.checkStarts(starts, paths) with the walk and the first looks in a
 * scout thread. While the scout's thread starts (tens of milliseconds), this thread checks
 * on its own, as Checker.check does; once the scout is ready it hands over
 * what is left (the rest of the directory it is in, after the last entry it
 * checked, and the starts after it), and judges what the scout reports. A
 * tree checked before the scout is ready never waits for it.
 */
export async function checkWithScout(
  checker: Checker,
  checkStarts: readonly CheckStart[],
  paths: string[],
  options: Pick<CheckOptions, 'onFailure' | 'onProgress'> = {},
  /** scoutFirst: wait for the scout and hand it everything (tests: every item then comes from the scout). */
  { scoutFirst = false }: { scoutFirst?: boolean } = {},
): Promise<CheckReport> {
  const fs = checker.resolver.fs;
  const starts: ScoutStart[] = checkStarts.map((s) => ({ ...s, hostPath: fs.hostPath(s.path), after: null }));
  const tally = new CheckTally(options);
  const report = (): CheckReport => checker.reportOf(tally, paths);
  const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL_SLOTS));
  const data: ScoutData = { elfdepsScout: 1, prefix: fs.root, control };
  const worker = startScout({ workerData: data, resourceLimits: { maxOldGenerationSizeMb: SCOUT_HEAP_MB }, stdout: false, stderr: false });
  // Until the scout's outcome is wanted, whatever the thread says is kept (its start may fail: this thread then does it all).
  let failure: Error | null = null;
  let onFailure = (err: Error): void => void (failure ??= err);
  worker.on('error', (err) => onFailure(new ElfdepsError('INTERNAL', `the check's scout thread failed: ${err.message.split('\n')[0]}`)));
  worker.on('exit', (code) => onFailure(new ElfdepsError('INTERNAL', `the check's scout thread ended before the walk did (exit status ${code})`)));
  const stop = (): void => {
    Atomics.store(control, STOP, 1);
    Atomics.notify(control, IN_FLIGHT);
    void worker.terminate();
  };

  let rest: ScoutStart[] | null = null;
  try {
    const ready = (): boolean => failure === null && Atomics.load(control, READY) !== 0;
    if (scoutFirst) {
      while (!ready() && failure === null) Atomics.wait(control, READY, 0, 50);
      if (ready()) rest = starts;
    }
    for (let k = 0; k < starts.length && rest === null; k++) {
      const s = starts[k] as ScoutStart;
      if (s.type !== 'dir') checker.visit(tally, { type: s.type, path: s.path, hostPath: s.hostPath });
      else {
        try {
          walkTree(fs.root, s.path, (e) => {
            checker.visit(tally, e);
            // One shared-memory load per entry: an ELF file takes a millisecond or more to judge.
            if (ready()) throw new Handover(e.path);
          });
        } catch (err) {
          if (!(err instanceof Handover)) throw err;
          rest = [{ ...s, after: err.after }, ...starts.slice(k + 1)];
        }
      }
      if (rest === null && k + 1 < starts.length && ready()) rest = starts.slice(k + 1);
    }
  } catch (err) {
    stop();
    throw err;
  }
  if (rest === null) {
    stop();
    return report();
  }
  const plan: ScoutPlan = { starts: rest };
  worker.postMessage(plan);
  return new Promise<CheckReport>((resolve, reject) => {
    let settled = false;
    const end = (err: unknown, done?: CheckReport): void => {
      if (settled) return;
      settled = true;
      if (done) {
        Atomics.store(control, STOP, 1);
        resolve(done);
      } else {
        stop();
        reject(err);
      }
    };
    onFailure = (err) => end(err);
    if (failure !== null) end(failure);
    worker.on('message', (m: ScoutMessage) => {
      if (settled) return;
      try {
        if ('failed' in m) throw new ElfdepsError('INTERNAL', `the check's scout thread failed: ${m.failed}`);
        if ('done' in m) {
          end(null, report());
          return;
        }
        for (const item of m.items) {
          switch (item[0]) {
            case 'n':
              tally.seen(item[2], item[1]);
              tally.notElf(item[1]);
              break;
            case 'f':
              tally.seen(item[1]);
              tally.file(item[1], checker.outcomeOf(item[1], item[2], item[3]));
              break;
            case 'l':
              tally.symlink(item[1], checker.checkSymlink(item[1]));
              break;
            case 'd':
              tally.unlistable(item[1], item[2]);
              break;
          }
        }
        Atomics.sub(control, IN_FLIGHT, 1);
        Atomics.notify(control, IN_FLIGHT);
      } catch (err) {
        end(err);
      }
    });
  });
}
