/**
 * The scout of a check with more than one thread (pipeline.ts): it walks the
 * starts exactly as one thread's check does (walkTree, in the same order) and
 * takes each regular file's first look (sightFile), handing the main thread
 * only what needs the resolver: the ELF files, the library symlinks, what
 * cannot be read, and how many files in a row are not ELF. On a root such as
 * /usr, that first look (an open, a read and a close for each of 100,000
 * files) is half a check's time; the judging, which needs the resolver's and
 * the verdict's caches, stays in one thread, so nothing is decoded twice.
 *
 * No worker API here: scout-thread.ts runs this in a worker thread, the tests
 * run it as it is.
 */
import { isLibraryLink, sightFile, type Sighting } from './sniff.js';
import { walkTree, type WalkEntry } from './walk.js';

/** A start as the main thread looked it up (Checker.startsOf), with its host path. */
export interface ScoutStart {
  type: 'dir' | 'file' | 'symlink';
  path: string;
  hostPath: string;
  /** For a directory: go on after this in-root path below it, where the main thread stopped (walkTree's `after`). */
  after: string | null;
}

/**
 * One thing the scout met, in walk order:
 *  - ['n', count, lastPath]: `count` regular files in a row that are not ELF, the last at `lastPath`;
 *  - ['f', path, hostPath, sighting]: any other regular file (ELF: the main thread judges it);
 *  - ['l', path]: a library symlink (the main thread looks its target up);
 *  - ['d', path, message]: a directory that could not be listed or examined.
 */
export type ScoutItem = ['n', number, string] | ['f', string, string, Exclude<Sighting, 'not-elf'>] | ['l', string] | ['d', string, string];

/** The first batch's size: small, so that the main thread starts judging at once. */
const FIRST_BATCH = 4;
/** Batches double up to this many items: fewer messages, each a few kilobytes. */
const LARGEST_BATCH = 256;
/** A run of files that are not ELF is cut at this length, so that progress moves through a tree of data files. */
const LONGEST_RUN = 4096;

/**
 * Walks `starts` inside the root whose host prefix is `prefix` ('' for the
 * host), calling `emit` with the items met, in order, in batches.
 */
export function scout(prefix: string, starts: readonly ScoutStart[], emit: (batch: ScoutItem[]) => void): void {
  let batch: ScoutItem[] = [];
  let limit = FIRST_BATCH;
  let run = 0;
  let runLast = '';
  const endRun = (): void => {
    if (run > 0) batch.push(['n', run, runLast]);
    run = 0;
  };
  const flush = (): void => {
    endRun();
    if (batch.length === 0) return;
    emit(batch);
    batch = [];
    limit = Math.min(limit * 2, LARGEST_BATCH);
  };
  const push = (item: ScoutItem): void => {
    endRun();
    batch.push(item);
    if (batch.length >= limit) flush();
  };
  const visit = (e: WalkEntry): void => {
    if (e.type === 'error') push(['d', e.path, e.message]);
    else if (e.type === 'symlink') {
      if (isLibraryLink(e.path)) push(['l', e.path]);
    } else {
      const sighting = sightFile(e.path, e.hostPath);
      if (sighting !== 'not-elf') push(['f', e.path, e.hostPath, sighting]);
      else {
        run++;
        runLast = e.path;
        if (run >= LONGEST_RUN) flush();
      }
    }
  };
  for (const s of starts) {
    if (s.type === 'dir') walkTree(prefix, s.path, visit, s.after);
    else visit({ type: s.type, path: s.path, hostPath: s.hostPath });
  }
  flush();
}
