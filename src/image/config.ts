/**
 * The image config (OCI image-spec config.md): platform, how a container
 * starts (Entrypoint, Cmd, Env, WorkingDir, User, Labels, ExposedPorts,
 * Volumes, StopSignal), `created`, the diff_ids of the layers and their
 * history. Everything comes from the manifest, the options and, for an image
 * made from an image, the base image's config (carried, each field
 * overridable by its option); nothing from the clock or the machine, so the
 * same inputs give the same bytes.
 */
import { ElfdepsError } from '../errors.js';
import { ROOT_PATH_CANDIDATES } from '../launch/plan.js';
import { generatedBytes, type FileEntry, type GeneratedEntry } from '../manifest/types.js';
import { checkSource, sourceChunks } from '../materialise/source.js';
import type { BaseImage } from '../image-source/types.js';
import type { Platform } from './platform.js';
import type { RootView } from './root-view.js';
import { whyNotRunnable } from './runnable.js';

/** How a container of the image starts. */
export interface RunConfig {
  entrypoint: string[] | null;
  cmd: string[] | null;
  env: string[];
  workdir: string | null;
  user: string | null;
  labels: Record<string, string>;
  /** Carried from the base image only (no option sets them). */
  exposedPorts: string[];
  volumes: string[];
  stopSignal: string | null;
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

/**
 * Env: the base image's PATH first (else the root's own bin directories),
 * then the rest of the base's Env in its order, then --env (a key given
 * replaces the base's value where it stands).
 */
function buildEnv(view: RootView, extra: string[], baseEnv: string[], warnings: string[]): string[] {
  const env = new Map<string, string>();
  const carried = new Map<string, string>();
  for (const kv of baseEnv) {
    const eq = typeof kv === 'string' ? kv.indexOf('=') : -1;
    if (eq <= 0 || kv.includes('\0')) warnings.push(`the base image's Env entry ${JSON.stringify(kv)} is not KEY=VALUE: left out`);
    else carried.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  const path = carried.get('PATH') ?? rootPath(view);
  if (path !== null) env.set('PATH', path);
  for (const [k, v] of carried) env.set(k, v);
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

const nonEmpty = (list: string[] | null | undefined): string[] | null => (list !== undefined && list !== null && list.length > 0 ? list : null);

/** The PATH value of an Env list. */
function pathOf(env: string[]): string | null {
  const kv = env.find((e) => e.startsWith('PATH='));
  return kv === undefined ? null : kv.slice('PATH='.length);
}

/**
 * Entrypoint and Cmd: the options' when given (an --entrypoint drops the
 * base's Cmd, as a Dockerfile's ENTRYPOINT resets CMD), else the base's when
 * the program they start still starts in the new root, else the first
 * program (with a warning saying why the base's were not kept).
 */
function startCommand(
  options: RunOptions,
  firstProgram: string | undefined,
  base: BaseImage | undefined,
  view: RootView,
  env: string[],
  workdir: string | null,
  warnings: string[],
): { entrypoint: string[] | null; cmd: string[] | null } {
  const cmd = nonEmpty(options.cmd);
  const fallback = () => ({ entrypoint: nonEmpty(options.entrypoint ?? (firstProgram !== undefined ? [firstProgram] : [])), cmd });
  if (options.entrypoint !== undefined || base === undefined) return fallback();
  const baseEntrypoint = nonEmpty(base.config.config?.Entrypoint);
  const baseCmd = nonEmpty(base.config.config?.Cmd);
  const argv0 = (baseEntrypoint ?? baseCmd)?.[0];
  if (typeof argv0 !== 'string') return fallback();
  const why = whyNotRunnable(view, argv0, pathOf(env), workdir);
  if (why === null) return { entrypoint: baseEntrypoint, cmd: cmd ?? baseCmd };
  const kept = fallback();
  warnings.push(`the base image's ${baseEntrypoint !== null ? 'Entrypoint' : 'Cmd'} ${JSON.stringify(baseEntrypoint ?? baseCmd)} is not kept: ${why}; the entrypoint is ${JSON.stringify(kept.entrypoint)}`);
  return kept;
}

/**
 * The user name of the base image's User ("www-data" of "www-data:www-data"),
 * or undefined for none or a number: what the manifest's generated user
 * database must hold for the carried User to resolve in the new root (the
 * CLI passes it as `elfdeps manifest --user` does).
 */
export function baseUserName(base: BaseImage | undefined): string | undefined {
  const name = base?.config.config?.User?.split(':')[0];
  return name === undefined || name === '' || /^\d+$/.test(name) ? undefined : name;
}

/** --user, or the base image's User: the same check, but the base's only warns (a runtime would refuse to start the container). */
function runUser(options: RunOptions, base: BaseImage | undefined, view: RootView, warnings: string[]): string | null {
  if (options.user !== undefined) return checkUser(options.user, view);
  const user = base?.config.config?.User;
  if (user === undefined || user === '') return null;
  try {
    checkUser(user, view);
  } catch (err) {
    if (!(err instanceof ElfdepsError)) throw err;
    warnings.push(`the base image's User ${JSON.stringify(user)} is kept, but ${err.message.replace(/^--user [^:]*: /, '')}`);
  }
  return user;
}

/** The names of a base config's set (ExposedPorts, Volumes), sorted; a name with a NUL byte is left out. */
function carriedSet(set: Record<string, object> | undefined): string[] {
  return Object.keys(set ?? {})
    .filter((k) => k !== '' && !k.includes('\0'))
    .sort();
}

/** The base's labels a config can hold: an empty key, or a NUL byte (which --label refuses), is left out with a warning. */
function carriedLabels(labels: Record<string, string> | undefined, warnings: string[]): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (k === '' || k.includes('\0') || typeof v !== 'string' || v.includes('\0')) warnings.push(`the base image's label ${JSON.stringify(k)} is empty or holds a NUL byte: left out`);
    else kept[k] = v;
  }
  return kept;
}

/** Checks the options and fills in the defaults: the base image's config when there is one, else elfdeps' own. */
export function runConfig(options: RunOptions, firstProgram: string | undefined, view: RootView, base?: BaseImage): { run: RunConfig; warnings: string[] } {
  const warnings: string[] = [];
  const carried = base?.config.config ?? {};
  if (options.workdir !== undefined && (!options.workdir.startsWith('/') || options.workdir.includes('\0'))) {
    throw new ElfdepsError('USAGE', `--workdir ${JSON.stringify(options.workdir)}: must be an absolute path`);
  }
  const workdir = options.workdir ?? (carried.WorkingDir !== undefined && carried.WorkingDir !== '' && !carried.WorkingDir.includes('\0') ? carried.WorkingDir : null);
  for (const k of Object.keys(options.labels ?? {})) if (k === '' || k.includes('\0')) throw new ElfdepsError('USAGE', `--label ${JSON.stringify(k)}: empty or NUL key`);
  const env = buildEnv(view, options.env ?? [], carried.Env ?? [], warnings);
  const stopSignal = carried.StopSignal !== undefined && carried.StopSignal !== '' && !carried.StopSignal.includes('\0') ? carried.StopSignal : null;
  const run: RunConfig = {
    ...startCommand(options, firstProgram, base, view, env, workdir, warnings),
    env,
    workdir,
    user: runUser(options, base, view, warnings),
    labels: { ...carriedLabels(carried.Labels, warnings), ...(options.labels ?? {}) },
    exposedPorts: carriedSet(carried.ExposedPorts),
    volumes: carriedSet(carried.Volumes),
    stopSignal,
  };
  return { run, warnings };
}

/** For an image made from an image: the base's name (or digest) and how many of the new image's entries came from it. */
export interface KeptFromBase {
  from: string;
  kept: number;
  /** The base image's own history, as its config gives it. */
  history: NonNullable<BaseImage['config']['history']>;
}

/** RFC 3339 in UTC, whole seconds ("1970-01-01T00:00:00Z"). */
export function rfc3339(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The config's history: from an image, the base's own history first, every
 * entry marked `empty_layer` (its layers are not this image's: the image
 * spec counts the entries without it against rootfs.diff_ids), so that
 * `podman history` still says where the image came from; then one entry per
 * layer (none is empty), the first saying what elfdeps kept of the base, the
 * way a Dockerfile's step names its command: `elfdeps image --from NAME` and
 * the count of entries kept.
 */
function historyOf(layers: Array<{ comment: string }>, created: string, base: KeptFromBase | undefined): Array<Record<string, unknown>> {
  const carried = (base?.history ?? []).map((h) => ({
    ...(typeof h.created === 'string' ? { created: h.created } : {}),
    ...(typeof h.created_by === 'string' ? { created_by: h.created_by } : {}),
    ...(typeof h.author === 'string' ? { author: h.author } : {}),
    ...(typeof h.comment === 'string' ? { comment: h.comment } : {}),
    empty_layer: true,
  }));
  return [
    ...carried,
    ...layers.map((l, i) =>
      base !== undefined && i === 0
        ? { created, created_by: `elfdeps image --from ${base.from}`, comment: `${l.comment}: kept ${base.kept} entries of ${base.from}` }
        : { created, created_by: 'elfdeps image', comment: l.comment },
    ),
  ];
}

/** The config document; serialise with canonicalJson. */
export function configDocument(platform: Platform, run: RunConfig, layers: Array<{ diffId: string; comment: string }>, epochSeconds: number, base?: KeptFromBase): Record<string, unknown> {
  const created = rfc3339(epochSeconds);
  const set = (names: string[]) => (names.length > 0 ? Object.fromEntries(names.map((n) => [n, {}])) : undefined);
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
      ExposedPorts: set(run.exposedPorts),
      Volumes: set(run.volumes),
      StopSignal: run.stopSignal ?? undefined,
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: historyOf(layers, created, base),
  };
}
