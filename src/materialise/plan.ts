/**
 * Phase one of materialising: look at the manifest and at NEWROOT and decide
 * what to do with every entry, before anything is written. Every refusal that
 * needs no file contents (unsafe path, symlink in the way, conflicting file, a
 * source gone, no longer a regular file, reached through a symlink or of
 * another size) happens here, so a hostile manifest writes nothing at all.
 * A source's sha256 is checked only while it is copied (hashing it here too
 * would read every source twice); each source's device and inode are recorded
 * so that the writer can tell when the file was swapped after this check.
 */
import { closeSync, constants as fsc, lstatSync, openSync, readdirSync, readlinkSync, realpathSync, type Stats } from 'node:fs';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { ElfdepsError, errnoOf, errnoWords } from '../errors.js';
import { parentOf, TEMP_PREFIX, withParentDirectories } from '../manifest/entry-path.js';
import { hashFd } from '../manifest/hash.js';
import { formatMode, parseMode, SETID_BITS } from '../manifest/mode.js';
import { generatedContent, type DirectoryEntry, type FileEntry, type GeneratedEntry, type Manifest, type ManifestEntry } from '../manifest/types.js';
import { isMergeableMd5sums, mergedMd5sums } from './merge-md5sums.js';
import { staleTempNames } from './temp-files.js';
import { describeFileType } from '../file-type.js';
import { checkSource, type SourceIdentity } from './source.js';
import type { MaterialiseOptions, PlannedAction } from './types.js';

export interface Plan {
  /** Host path of NEWROOT. */
  root: string;
  rootExists: boolean;
  /** Sorted by path: every directory before its contents. */
  actions: PlannedAction[];
  /** Host paths of leftover temporaries to remove first. */
  staleTemps: string[];
  /** Bytes of file content to write. */
  bytes: number;
  /** By in-root path, for each file to write: the source file checked here. */
  sources: Map<string, SourceIdentity>;
  warnings: string[];
}

type Existing =
  | { type: 'absent' }
  | { type: 'dir'; mode: number }
  | { type: 'file'; mode: number; size: number; seconds: number }
  | { type: 'symlink'; target: string }
  | { type: 'other'; what: string };

/** What a file that is not a regular file is, for messages ("a FIFO"). */

function inspect(host: string): Existing {
  let st: Stats;
  try {
    st = lstatSync(host);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return { type: 'absent' };
    throw new ElfdepsError('COPY_FAILED', `${host}: cannot inspect: ${errnoWords(err)}`, { path: host, cause: err });
  }
  if (st.isDirectory()) return { type: 'dir', mode: st.mode & 0o7777 };
  if (st.isFile()) return { type: 'file', mode: st.mode & 0o7777, size: st.size, seconds: Math.floor(st.mtimeMs / 1000) };
  if (st.isSymbolicLink()) return { type: 'symlink', target: readlinkSync(host, 'utf8') };
  return { type: 'other', what: describeFileType(st) };
}

/** Whether a host path is NEWROOT or inside it. */
export function inside(root: string, host: string): boolean {
  return host === root || host.startsWith(root === '/' ? '/' : root + '/');
}

/** The mode a file or directory gets in the new root. */
export function writtenMode(entry: FileEntry | DirectoryEntry | GeneratedEntry, options: MaterialiseOptions): number {
  const mode = parseMode(entry.mode);
  return options.keepSetuid ? mode : mode & ~SETID_BITS;
}

function sameContent(host: string, entry: FileEntry | GeneratedEntry): boolean {
  let fd: number;
  try {
    fd = openSync(host, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    throw new ElfdepsError('COPY_FAILED', `${host}: cannot read existing file: ${errnoWords(err)}`, { path: host, cause: err });
  }
  try {
    return hashFd(fd).sha256 === entry.sha256;
  } finally {
    closeSync(fd);
  }
}

/** NEWROOT may be created, but only in a directory that exists, as mkdir without -p. */
function newRootInExistingParent(newRoot: string): string {
  const wanted = resolvePath(newRoot);
  let parent: string;
  try {
    parent = realpathSync.native(dirname(wanted));
  } catch (err) {
    throw new ElfdepsError('ROOT', `${newRoot}: cannot create the new root: directory ${dirname(wanted)}: ${errnoWords(err)}`, { path: newRoot, cause: err });
  }
  if (!lstatSync(parent).isDirectory()) throw new ElfdepsError('ROOT', `${newRoot}: cannot create the new root: ${dirname(wanted)} is not a directory`, { path: newRoot });
  return parent === '/' ? `/${basename(wanted)}` : `${parent}/${basename(wanted)}`;
}

function resolveRoot(newRoot: string): { root: string; exists: boolean } {
  let root: string;
  try {
    root = realpathSync.native(newRoot);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return { root: newRootInExistingParent(newRoot), exists: false };
    throw new ElfdepsError('ROOT', `${newRoot}: cannot use as the new root: ${errnoWords(err)}`, { path: newRoot, cause: err });
  }
  if (!lstatSync(root).isDirectory()) throw new ElfdepsError('ROOT', `${newRoot}: the new root is not a directory`, { path: newRoot });
  if (root === '/') throw new ElfdepsError('ROOT', `${newRoot}: refusing to materialise into the host's own root`, { path: newRoot });
  return { root, exists: true };
}

function symlinkInTheWay(root: string, path: string, target: string): ElfdepsError {
  const host = root + path;
  const lands = resolvePath(dirname(host), target);
  const where = inside(root, lands) ? '' : `, which leads outside ${root}`;
  return new ElfdepsError('ROOT', `${host} is a symlink (-> ${target})${where}; refusing to write through a symlink (--force replaces it with a directory)`, {
    path: host,
  });
}

function conflict(root: string, path: string, what: string): ElfdepsError {
  return new ElfdepsError('TARGET_CONFLICT', `${root}${path}: ${what} (use --force to replace it)`, { path: root + path });
}

/** Decides, for one entry whose parent is (or will be) a real directory, what to do. */
function decide(root: string, entry: ManifestEntry, state: Existing, hasChildren: boolean, options: MaterialiseOptions): PlannedAction {
  const host = root + entry.path;
  const base = { kind: entry.kind, path: entry.path, entry } as const;
  const replaceOr = (what: string): PlannedAction => {
    if (!options.force) throw conflict(root, entry.path, what);
    return { ...base, op: 'replace', detail: what };
  };
  switch (entry.kind) {
    case 'directory': {
      const mode = formatMode(writtenMode(entry, options));
      if (state.type === 'absent') return { ...base, op: 'create', mode };
      if (state.type === 'dir') {
        // Modes converge: a killed run leaves its directories 0700.
        return state.mode === parseMode(mode) ? { ...base, op: 'unchanged', mode } : { ...base, op: 'replace', mode, detail: `mode ${formatMode(state.mode)}` };
      }
      if (state.type === 'symlink') {
        if (hasChildren && !options.force) throw symlinkInTheWay(root, entry.path, state.target);
        return { ...replaceOr(`symlink -> ${state.target} where the manifest has a directory`), mode };
      }
      return { ...replaceOr(`${state.type === 'file' ? 'a file' : state.what} where the manifest has a directory`), mode };
    }
    case 'file': {
      const mode = formatMode(writtenMode(entry, options));
      const method = options.link && parseMode(mode) === parseMode(entry.mode) ? 'link' : 'copy';
      if (state.type === 'absent') return { ...base, op: 'create', mode, method };
      if (state.type === 'dir') throw new ElfdepsError('TARGET_CONFLICT', `${host}: is a directory where the manifest has a file; remove it first`, { path: host });
      if (state.type === 'file') {
        if (state.size === entry.size && state.mode === parseMode(mode) && sameContent(host, entry)) {
          // Same bytes, another mtime (a pyc checks it): written again, as a directory's mode converges, without --force.
          if (entry.mtime === undefined || entry.mtime === state.seconds) return { ...base, op: 'unchanged', mode };
          return { ...base, op: 'replace', mode, method, detail: `mtime ${state.seconds}, manifest says ${entry.mtime}` };
        }
        const why = state.size !== entry.size ? `${state.size} bytes, manifest says ${entry.size}` : state.mode !== parseMode(mode) ? `mode ${formatMode(state.mode)}, manifest says ${mode}` : 'different contents';
        return { ...replaceOr(`existing file differs (${why})`), mode, method };
      }
      if (state.type === 'symlink') return { ...replaceOr(`symlink -> ${state.target} where the manifest has a file`), mode, method };
      return { ...replaceOr(`${state.what} where the manifest has a file`), mode, method };
    }
    case 'generated': {
      // Written from the manifest itself: never a link, no source to check.
      const mode = formatMode(writtenMode(entry, options));
      if (state.type === 'absent') return { ...base, op: 'create', mode, method: 'copy' };
      if (state.type === 'dir') throw new ElfdepsError('TARGET_CONFLICT', `${host}: is a directory where the manifest has a file; remove it first`, { path: host });
      if (state.type === 'file') {
        if (state.size === entry.size && state.mode === parseMode(mode) && sameContent(host, entry)) return { ...base, op: 'unchanged', mode };
        // An earlier copy's list of the same package's kept files: both lists are kept (merge-md5sums.ts).
        const merged = isMergeableMd5sums(entry) ? mergedMd5sums(host, entry) : null;
        if (merged !== null) {
          const union: GeneratedEntry = { ...entry, ...generatedContent(merged) };
          if (state.size === union.size && state.mode === parseMode(mode) && sameContent(host, union)) return { ...base, entry: union, op: 'unchanged', mode };
          return { ...base, entry: union, op: 'replace', mode, method: 'copy', detail: 'merged with the earlier copy\'s list' };
        }
        // The loader's cache an earlier copy generated for its own libraries: this manifest's
        // replaces it (it lists this manifest's libraries; the loader still finds the earlier
        // ones in its default directories, docs/ldconfig.md).
        if (entry.why?.by === 'ldconfig') return { ...base, op: 'replace', mode, method: 'copy', detail: 'the loader cache regenerated for this manifest' };
        return { ...replaceOr(`existing file differs from the generated ${entry.path}`), mode, method: 'copy' };
      }
      if (state.type === 'symlink') return { ...replaceOr(`symlink -> ${state.target} where the manifest has a file`), mode, method: 'copy' };
      return { ...replaceOr(`${state.what} where the manifest has a file`), mode, method: 'copy' };
    }
    case 'symlink': {
      if (state.type === 'absent') return { ...base, op: 'create' };
      if (state.type === 'symlink') {
        return state.target === entry.target ? { ...base, op: 'unchanged' } : replaceOr(`existing symlink -> ${state.target}, manifest says -> ${entry.target}`);
      }
      if (state.type === 'dir') throw new ElfdepsError('TARGET_CONFLICT', `${host}: is a directory where the manifest has a symlink; remove it first`, { path: host });
      return replaceOr(`${state.type === 'file' ? 'a file' : state.what} where the manifest has a symlink`);
    }
  }
}

/** --link: every file to link must be on NEWROOT's filesystem, found before anything is written. */
function checkLinkable(root: string, rootExists: boolean, actions: PlannedAction[], sources: Map<string, SourceIdentity>): void {
  const rootDev = lstatSync(rootExists ? root : dirname(root), { bigint: true }).dev;
  for (const a of actions) {
    if (a.kind !== 'file' || a.method !== 'link' || a.op === 'unchanged' || a.op === 'conflict') continue;
    const source = (a.entry as FileEntry).source;
    if (sources.get(a.path)?.dev !== rootDev) {
      throw new ElfdepsError('COPY_FAILED', `${root}: --link needs the new root on the same filesystem as ${source}: ${errnoWords('EXDEV')}`, { path: root });
    }
  }
}

/** Inspects NEWROOT and returns what materialising `manifest` (already validated) would do. */
/**
 * A NEWROOT that already holds something must look like a root: every name at
 * its top level is one this manifest places there too (usr, etc, lib64, ...),
 * as in an earlier copy of these programs or of others of the same system.
 * `elfdeps copy /bin/bash /usr/bin` (NEWROOT forgotten: the last FILE taken
 * for it) would otherwise plan /usr/bin/usr/..., /usr/bin/etc/... among the
 * host's programs. `--into-existing` writes into it anyway.
 */
function checkExistingRoot(root: string, manifest: Manifest): void {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch (err) {
    throw new ElfdepsError('ROOT', `${root}: cannot list the new root: ${errnoWords(err)}`, { path: root, cause: err });
  }
  const placed = new Set(manifest.entries.map((e) => e.path.split('/')[1] as string));
  const foreign = names.filter((name) => !name.startsWith(TEMP_PREFIX) && !placed.has(name)).sort();
  if (foreign.length === 0) return;
  const shown = foreign.slice(0, 3).map((n) => `'${n}'`).join(', ') + (foreign.length > 3 ? ` and ${foreign.length - 3} more` : '');
  throw new ElfdepsError(
    'TARGET_CONFLICT',
    `${root}: is not empty and does not look like a root elfdeps wrote (it holds ${shown}, which this manifest does not place at its top level); was NEWROOT left out? --into-existing writes into it anyway`,
    { path: root },
  );
}

export function planMaterialise(manifest: Manifest, newRoot: string, options: MaterialiseOptions): Plan {
  const { root, exists } = resolveRoot(newRoot);
  if (exists && options.intoExisting !== true) checkExistingRoot(root, manifest);
  // NEWROOT itself is never touched; directories some entry needs but the manifest does not list are created 0755.
  const entries = new Map<string, ManifestEntry>();
  const listed = new Set<string>();
  for (const { entry, implicit } of withParentDirectories(manifest.entries)) {
    entries.set(entry.path, entry);
    if (!implicit) listed.add(entry.path);
  }
  const paths = [...entries.keys()];

  const absent = new Set<string>(); // paths known not to exist (or to be replaced), so their contents are absent too
  const actions: PlannedAction[] = [];
  const staleTemps: string[] = [];
  const sources = new Map<string, SourceIdentity>();
  let bytes = 0;
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i] as string;
    const entry = entries.get(path) as ManifestEntry;
    const parentAbsent = !exists || absent.has(parentOf(path));
    const state: Existing = parentAbsent ? { type: 'absent' } : inspect(root + path);
    const next = paths[i + 1];
    const hasChildren = next !== undefined && next.startsWith(path + '/');
    let action: PlannedAction;
    try {
      action = decide(root, entry, state, hasChildren, options);
    } catch (err) {
      // A dry run shows the whole plan with every conflict marked; a real run stops at the first.
      if (!options.dryRun || !(err instanceof ElfdepsError) || (err.code !== 'TARGET_CONFLICT' && err.code !== 'ROOT')) throw err;
      action = { kind: entry.kind, path, entry, op: 'conflict', detail: err.message };
    }
    if (!listed.has(path)) action.implicit = true;
    if (entry.kind === 'directory' && (state.type === 'absent' || action.op === 'replace' || action.op === 'conflict') && state.type !== 'dir') absent.add(path);
    if (entry.kind === 'directory' && state.type === 'dir') {
      for (const name of staleTempNames(root + path)) staleTemps.push(`${root}${path}/${name}`);
    }
    if (entry.kind === 'file' && action.op !== 'unchanged' && action.op !== 'conflict') {
      sources.set(path, checkSource(entry));
      bytes += entry.size;
    }
    if (action.entry.kind === 'generated' && action.op !== 'unchanged') bytes += action.entry.size;
    actions.push(action);
  }
  if (exists) for (const name of staleTempNames(root)) staleTemps.push(`${root}/${name}`);
  if (options.link) checkLinkable(root, exists, actions, sources);
  const warnings: string[] = [];
  if (options.link) {
    const copied = actions.filter((a) => a.kind === 'file' && a.op !== 'unchanged' && a.method === 'copy').length;
    if (copied > 0) warnings.push(`${copied} file(s) copied instead of hard-linked: their setuid/setgid bits are dropped, which must not change the host's file`);
  }
  return { root, rootExists: exists, actions, staleTemps, bytes, sources, warnings };
}
