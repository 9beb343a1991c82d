/**
 * One shape for the library's long operations (docs/api.md). Each one that
 * reads or writes many files has a promise form and a synchronous form:
 *
 *   resolvePrograms      / resolveProgramsSync   (also `resolve`, its first name)
 *   createManifestAsync  / createManifestSync    (also `createManifest`)
 *   materialiseAsync     / materialiseSync       (also `materialise`)
 *   checkAsync           / checkSync             (also `check`)
 *   buildImage, run: promise forms only (they stream into a file, or wait for a child)
 *
 * The promise forms do the same work on the calling thread after one turn
 * of the event loop (I/O already pending is served first), and report every
 * error as a rejection, never as a throw; they exist so that code written
 * with `await` handles every operation alike. The first names keep working
 * and keep their synchronous behaviour: nothing that used them changes.
 */
import { check, Checker, type CheckOptions, type CheckReport } from './check/index.js';
import { checkWithJobs } from './check/pipeline.js';
import { createManifest, type CreateManifestOptions } from './manifest/create.js';
import type { Manifest } from './manifest/types.js';
import { materialise } from './materialise/index.js';
import type { MaterialiseOptions, MaterialiseReport } from './materialise/types.js';
import { resolve, type ResolveOptions } from './resolve/index.js';
import type { ResolveResult } from './resolve/types.js';

/** One turn of the event loop, so that a caller's pending I/O runs before the work that blocks it. */
const nextTurn = (): Promise<void> => new Promise((done) => setImmediate(done));

/** What the loader would load for each file (the name `resolve` shadows node:path's in user code). */
export function resolveProgramsSync(files: string[], options: ResolveOptions = {}): ResolveResult {
  return resolve(files, options);
}

/** resolveProgramsSync as a promise. */
export async function resolvePrograms(files: string[], options: ResolveOptions = {}): Promise<ResolveResult> {
  await nextTurn();
  return resolve(files, options);
}

/** The manifest of what a new root needs so that `files` run in it. */
export function createManifestSync(files: string[], options: CreateManifestOptions = {}): Manifest {
  return createManifest(files, options);
}

/** createManifestSync as a promise. */
export async function createManifestAsync(files: string[], options: CreateManifestOptions = {}): Promise<Manifest> {
  await nextTurn();
  return createManifest(files, options);
}

/** Writes a manifest into `newRoot`, safely (docs/manifest.md). */
export function materialiseSync(manifest: unknown, newRoot: string, options: MaterialiseOptions = {}): MaterialiseReport {
  return materialise(manifest, newRoot, options);
}

/** materialiseSync as a promise. */
export async function materialiseAsync(manifest: unknown, newRoot: string, options: MaterialiseOptions = {}): Promise<MaterialiseReport> {
  await nextTurn();
  return materialise(manifest, newRoot, options);
}

/** Every ELF file under `paths` the loader could not start or load (docs/check.md). */
export function checkSync(paths: string[], options: CheckOptions = {}): CheckReport {
  return check(paths, options);
}

/** checkSync as a promise; with `jobs` of 2 or more, a walk's first looks run in a scout thread (docs/jobs.md). */
export async function checkAsync(paths: string[], options: CheckOptions = {}): Promise<CheckReport> {
  await nextTurn();
  const { jobs = 1, onFailure, onProgress, ...resolveOptions } = options;
  return checkWithJobs(new Checker(resolveOptions), paths, jobs, { onFailure, onProgress });
}
