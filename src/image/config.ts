/**
 * The image config (OCI image-spec config.md): platform, how a container
 * starts (Entrypoint, Cmd, Env, WorkingDir, User, Labels), `created`, and the
 * diff_ids of the layers. Everything comes from the manifest and the
 * options; nothing from the clock or the machine, so the same inputs give
 * the same bytes.
 */
import { ElfdepsError } from '../errors.js';
import { ROOT_PATH_CANDIDATES } from '../launch/plan.js';
import { generatedBytes, type FileEntry, type GeneratedEntry } from '../manifest/types.js';
import { checkSource, sourceChunks } from '../materialise/source.js';
import type { Platform } from './platform.js';
import type { RootView } from './root-view.js';

/** How a container of the image starts. */
export interface RunConfig {
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];
  workdir: string | null;
  user: string | null;
  labels: Record<string, string>;
}

export interface RunOptions {
  /** Default: the manifest's first program. An empty array: none. */
  entrypoint?: string[] | undefined;
  /** Arguments after the entrypoint (default none). */
  cmd?: string[] | undefined;
  /** K=V pairs; a PATH given here replaces the default. */
  env?: string[] | undefined;
  workdir?: string | undefined;
  /** UID[:GID], or names when the root has /etc/passwd (and /etc/group). */
  user?: string | undefined;
  labels?: Record<string, string> | undefined;
}

/** The largest user database read to check a --user name. */
const MAX_USER_DB_BYTES = 8 * 1024 * 1024;

/** PATH of the root's own bin directories, as `elfdeps run` gives a command. */
export function rootPath(view: RootView): string | null {
  const dirs = ROOT_PATH_CANDIDATES.filter((dir) => view.isDirectory(dir));
  return dirs.length > 0 ? dirs.join(':') : null;
}

/** Parses K=V (for --env and --label); `what` names the option. */
export function parseAssignment(text: string, what: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0 || text.includes('\0')) throw new ElfdepsError('USAGE', `${what} ${JSON.stringify(text)}: expected KEY=VALUE`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

function buildEnv(view: RootView, extra: string[]): string[] {
  const env = new Map<string, string>();
  const path = rootPath(view);
  if (path !== null) env.set('PATH', path);
  for (const kv of extra) {
    const [k, v] = parseAssignment(kv, '--env');
    env.set(k, v);
  }
  return [...env].map(([k, v]) => `${k}=${v}`);
}

/** The contents of a small file entry of the root, read and verified as every source is. */
function readEntry(file: FileEntry | GeneratedEntry): string {
  // A generated user database (the runtime-file rules write one) is inline.
  if (file.kind === 'generated') return generatedBytes(file).toString('utf8');
  if (file.size > MAX_USER_DB_BYTES) throw new ElfdepsError('USAGE', `${file.source}: ${file.path} is larger than ${MAX_USER_DB_BYTES} bytes`, { path: file.source });
  return Buffer.concat([...sourceChunks(file, checkSource(file))]).toString('utf8');
}

/** Whether `name` is the first field of a line of the colon-separated database at `dbPath` in the root. */
function nameInDatabase(view: RootView, dbPath: string, name: string, user: string): void {
  const walk = view.walk(dbPath);
  if (walk.kind !== 'file' || walk.file === undefined) {
    throw new ElfdepsError('USAGE', `--user ${user}: the image has no ${dbPath} to look up "${name}" in; give a number, or add ${dbPath} (--add ${dbPath})`);
  }
  const found = readEntry(walk.file)
    .split('\n')
    .some((line) => line.split(':')[0] === name);
  if (!found) throw new ElfdepsError('USAGE', `--user ${user}: no "${name}" in the image's ${dbPath} (${walk.file.kind === 'file' ? walk.file.source : 'generated'})`);
}

/**
 * --user as the runtime will resolve it inside the container: a number is
 * used as it is; a name needs the image's own user database (a runtime
 * fails with "no matching entries in passwd file" at start otherwise).
 */
export function checkUser(user: string, view: RootView): string {
  const parts = user.split(':');
  if (parts.length > 2 || parts.some((p) => p === '' || p.includes('\0'))) throw new ElfdepsError('USAGE', `--user ${JSON.stringify(user)}: expected USER[:GROUP]`);
  const [u, g] = parts as [string, string | undefined];
  if (!/^\d+$/.test(u)) nameInDatabase(view, '/etc/passwd', u, user);
  if (g !== undefined && !/^\d+$/.test(g)) nameInDatabase(view, '/etc/group', g, user);
  return user;
}

/** Checks the options and fills in the defaults. */
export function runConfig(options: RunOptions, firstProgram: string | undefined, view: RootView): RunConfig {
  const entrypoint = options.entrypoint ?? (firstProgram !== undefined ? [firstProgram] : []);
  const workdir = options.workdir ?? null;
  if (workdir !== null && (!workdir.startsWith('/') || workdir.includes('\0'))) {
    throw new ElfdepsError('USAGE', `--workdir ${JSON.stringify(workdir)}: must be an absolute path`);
  }
  for (const k of Object.keys(options.labels ?? {})) if (k === '' || k.includes('\0')) throw new ElfdepsError('USAGE', `--label ${JSON.stringify(k)}: empty or NUL key`);
  return {
    entrypoint: entrypoint.length > 0 ? entrypoint : null,
    cmd: options.cmd !== undefined && options.cmd.length > 0 ? options.cmd : null,
    env: buildEnv(view, options.env ?? []),
    workdir,
    user: options.user !== undefined ? checkUser(options.user, view) : null,
    labels: { ...(options.labels ?? {}) },
  };
}

/** RFC 3339 in UTC, whole seconds ("1970-01-01T00:00:00Z"). */
export function rfc3339(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The config document; serialise with canonicalJson. */
export function configDocument(platform: Platform, run: RunConfig, layers: Array<{ diffId: string; comment: string }>, epochSeconds: number): Record<string, unknown> {
  const created = rfc3339(epochSeconds);
  return {
    architecture: platform.architecture,
    variant: platform.variant,
    os: platform.os,
    created,
    config: {
      Entrypoint: run.entrypoint ?? undefined,
      Cmd: run.cmd ?? undefined,
      Env: run.env.length > 0 ? run.env : undefined,
      WorkingDir: run.workdir ?? undefined,
      User: run.user ?? undefined,
      Labels: Object.keys(run.labels).length > 0 ? run.labels : undefined,
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created, created_by: 'elfdeps image', comment: l.comment })),
  };
}
