/**
 * materialise(): writes a manifest into a new root directory.
 *
 * Two phases. The plan (plan.ts) validates the manifest again, inspects
 * NEWROOT and the sources, and refuses anything unsafe or conflicting before
 * a single byte is written. A source whose contents changed (same size,
 * another sha256) is found only while it is copied: the copy stops at that
 * file, with every file written before it complete and verified. The execution writes directories (0700 while building), then files,
 * then symlinks (last, so no write can ever pass through one created here),
 * then sets directory modes, deepest first. Running it twice is a no-op.
 */
import { mkdirSync } from 'node:fs';
import { ElfdepsError, errnoOf, errnoWords } from '../errors.js';
import { validateManifest } from '../manifest/validate.js';
import { throwIfInterrupted, yieldToEvents } from '../interrupt.js';
import { planMaterialise, type Plan } from './plan.js';
import type { SourceIdentity } from './source.js';
import type { MaterialiseOptions, MaterialiseReport, PlannedAction } from './types.js';
import { makeDirectory, removeStaleTemp, setDirectoryMode, writeFile, writeGenerated, writeSymlink } from './write.js';

export type { MaterialiseOptions, MaterialiseProgress, MaterialiseReport, Operation, PlannedAction } from './types.js';

function plannedSource(sources: Map<string, SourceIdentity>, path: string): SourceIdentity {
  const id = sources.get(path);
  if (id === undefined) throw new ElfdepsError('INTERNAL', `${path}: the plan did not check this file's source`, { path });
  return id;
}

/** Everything decided before a byte is written: the plan, and the report a dry run returns. */
function prepare(manifest: unknown, newRoot: string, options: MaterialiseOptions): { plan: Plan; ordered: PlannedAction[]; report: MaterialiseReport } {
  const checked = validateManifest(manifest);
  const plan = planMaterialise(checked, newRoot, options);
  const byKind = (kind: PlannedAction['kind']) => plan.actions.filter((a) => a.kind === kind);
  const ordered = [...byKind('directory'), ...byKind('file'), ...byKind('generated'), ...byKind('symlink')];
  const report: MaterialiseReport = {
    root: plan.root,
    dryRun: options.dryRun === true,
    created: 0,
    replaced: 0,
    unchanged: 0,
    conflicts: 0,
    bytes: plan.bytes,
    staleTempsRemoved: plan.staleTemps.length,
    actions: ordered,
    warnings: plan.warnings,
  };
  const counter = { create: 'created', replace: 'replaced', unchanged: 'unchanged', conflict: 'conflicts' } as const;
  for (const action of ordered) report[counter[action.op]]++;
  return { plan, ordered, report };
}

/**
 * Carries out the plan, one entry per step. Stopped early (an error, or the
 * caller returning the generator after an interrupt), its `finally` still
 * puts every directory made so far at its final mode: a copy never leaves a
 * directory at its temporary 0700.
 */
function* execute(plan: Plan, ordered: PlannedAction[], options: MaterialiseOptions): Generator<void, void, void> {
  if (!plan.rootExists) {
    try {
      mkdirSync(plan.root, 0o755); // its parent exists (checked by the plan): never mkdir -p
    } catch (err) {
      throw new ElfdepsError('ROOT', `${plan.root}: cannot create the new root: ${errnoWords(err)}`, { path: plan.root, cause: err });
    }
  }
  for (const stale of plan.staleTemps) removeStaleTemp(stale);

  const progress = options.onProgress;
  let done = 0;
  let bytesDone = 0;
  const tick = (path: string) => progress?.({ done: ++done, total: ordered.length, bytesDone, bytesTotal: plan.bytes, path });
  const dirs: PlannedAction[] = []; // made (or to be re-moded), deepest last
  let finished = false;
  try {
    for (const action of ordered) {
      if (action.op !== 'unchanged') {
        if (action.kind === 'directory') {
          makeDirectory(plan.root, action);
          dirs.push(action);
        } else if (action.kind === 'file') bytesDone += writeFile(plan.root, action, plannedSource(plan.sources, action.path));
        else if (action.kind === 'generated') bytesDone += writeGenerated(plan.root, action);
        else writeSymlink(plan.root, action);
      }
      tick(action.path);
      yield;
    }
    finished = true;
  } finally {
    // Never leave a directory at its temporary 0700, even when the copy stops half-way.
    for (let i = dirs.length - 1; i >= 0; i--) {
      try {
        setDirectoryMode(plan.root, dirs[i] as PlannedAction);
      } catch (err) {
        if (finished) throw err; // otherwise the first failure is the one to report
      }
    }
  }
}

/** Materialises `manifest` (a Manifest or parsed JSON, validated here) into `newRoot`. */
export function materialise(manifest: unknown, newRoot: string, options: MaterialiseOptions = {}): MaterialiseReport {
  const { plan, ordered, report } = prepare(manifest, newRoot, options);
  if (options.dryRun) return report;
  for (const _ of execute(plan, ordered, options)); // eslint-disable-line @typescript-eslint/no-unused-vars
  return report;
}

/** How long the asynchronous copy works before it lets pending events (a signal) run. */
const SLICE_MS = 20;

/**
 * materialise() that lets the event loop run between entries (every 20 ms of
 * work), so that `options.signal` can stop it: on an abort it stops after the
 * entry being written (complete and renamed into place, or its temporary
 * removed), puts directory modes back and rejects with the signal's reason.
 */
export async function materialiseAsync(manifest: unknown, newRoot: string, options: MaterialiseOptions & { signal?: AbortSignal } = {}): Promise<MaterialiseReport> {
  throwIfInterrupted(options.signal);
  const { plan, ordered, report } = prepare(manifest, newRoot, options);
  if (options.dryRun) return report;
  let sliceStart = Date.now();
  for (const _ of execute(plan, ordered, options)) {
    if (Date.now() - sliceStart < SLICE_MS) continue;
    await yieldToEvents();
    // Leaving the loop returns the generator, which runs its finally (directory modes).
    throwIfInterrupted(options.signal);
    sliceStart = Date.now();
  }
  throwIfInterrupted(options.signal);
  return report;
}
