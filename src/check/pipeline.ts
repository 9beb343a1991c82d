/**
 * A check over two threads (docs/jobs.md): a scout (scout-worker.ts) walks the
 * tree and takes each file's first look, while this thread judges the ELF
 * files it reports, with one resolver and one verdict cache for the whole
 * run, exactly as Checker.check does alone. Items are tallied in walk order,
 * so the report, the failure lines and their order are Checker.check's, byte
 * for byte.
 *
 * Why this split and not the files shared among workers: every worker would
 * read and decode the libraries every program needs (libc's, libstdc++'s,
 * GLib's, ...) again, which on a two-core machine cost more than the second
 * core gave (measured: `check /usr` 0.87× with two such workers). The first
 * look at each file, an open, a read and a close for each of a root's
 * 100,000 files, needs no cache at all, and is about half of a check's time.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { ElfdepsError } from '../errors.js';
import { CheckTally, type CheckOptions, type CheckReport, type Checker } from './index.js';
import type { ScoutStart } from './scout.js';
import { IN_FLIGHT, STOP, type ScoutData, type ScoutMessage } from './scout-thread.js';

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
  const entry = scoutEntry();
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, options);
  // tsx's ESM API, as its package.json's exports name it ("./esm/api", import).
  const api = pathToFileURL(join(dirname(createRequire(entry).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`, { ...options, eval: true });
}

/** The scout's V8 heap, in MiB: it holds a directory's listing and a few batches. */
const SCOUT_HEAP_MB = 64;

/**
 * Checker.check(paths) with the walk and the first looks in a scout thread.
 * The starts are looked up here first, so a bad one is the same usage error
 * before any thread starts.
 */
export async function checkWithScout(checker: Checker, paths: string[], options: Pick<CheckOptions, 'onFailure' | 'onProgress'> = {}): Promise<CheckReport> {
  const fs = checker.resolver.fs;
  const starts: ScoutStart[] = checker.startsOf(paths).map((s) => ({ ...s, hostPath: fs.hostPath(s.path) }));
  const tally = new CheckTally(options);
  const control = new Int32Array(new SharedArrayBuffer(8));
  const data: ScoutData = { elfdepsScout: 1, prefix: fs.root, starts, control };
  const worker = startScout({ workerData: data, resourceLimits: { maxOldGenerationSizeMb: SCOUT_HEAP_MB }, stdout: false, stderr: false });
  return new Promise<CheckReport>((resolve, reject) => {
    let settled = false;
    const end = (err: unknown, report?: CheckReport): void => {
      if (settled) return;
      settled = true;
      Atomics.store(control, STOP, 1);
      Atomics.notify(control, IN_FLIGHT);
      if (report) resolve(report);
      else {
        void worker.terminate();
        reject(err);
      }
    };
    worker.on('message', (m: ScoutMessage) => {
      if (settled) return;
      try {
        if ('failed' in m) throw new ElfdepsError('INTERNAL', `the check's scout thread failed: ${m.failed}`);
        if ('done' in m) {
          end(null, tally.report(fs.root || '/', paths.length ? paths : ['/']));
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
    worker.on('error', (err) => end(new ElfdepsError('INTERNAL', `the check's scout thread failed: ${err.message.split('\n')[0]}`)));
    worker.on('exit', (code) => end(new ElfdepsError('INTERNAL', `the check's scout thread ended before the walk did (exit status ${code})`)));
  });
}
