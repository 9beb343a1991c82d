/**
 * Test helpers for `elfdeps image`: run the shipped CLI, unpack an image tar
 * with GNU tar and read its layout, list a layer as `tar -tv` shows it, and
 * find the real consumers (skopeo, podman, runc, umoci), which a test needs:
 * a missing one skips the test with the reason printed, except under CI,
 * where .ci/run installs them all and a missing one fails.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { hasTool } from './build.js';
import { elfdepsCommand } from './cli.js';

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Runs the shipped `elfdeps` with `args`. */
export function elfdeps(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: Buffer } = {}): SpawnSyncReturns<Buffer> {
  const [node, bin] = elfdepsCommand();
  return spawnSync(node, [bin, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env },
    maxBuffer: 1 << 30,
    input: options.input,
  });
}

/** Runs `elfdeps image ARGS` and throws with its stderr unless it exits 0. */
export function image(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = elfdeps(['image', ...args], { env });
  if (r.status !== 0) throw new Error(`elfdeps image ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

export interface Layout {
  dir: string;
  index: { manifests: Array<{ digest: string; size: number; mediaType: string; annotations: Record<string, string> }> };
  dockerManifest: Array<{ Config: string; RepoTags: string[]; Layers: string[] }>;
  manifest: { config: { digest: string; size: number }; layers: Array<{ digest: string; size: number; mediaType: string }> };
  config: {
    architecture: string;
    variant?: string;
    os: string;
    created: string;
    config: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string; User?: string; Labels?: Record<string, string> };
    rootfs: { diff_ids: string[] };
  };
  /** Host paths of the layer blobs, in order. */
  layerFiles: string[];
}

/** Reads an unpacked layout (a --oci-dir, or an image tar extracted). */
export function readLayout(dir: string): Layout {
  const json = (p: string) => JSON.parse(readFileSync(join(dir, p), 'utf8'));
  const blob = (digest: string) => join(dir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  const index = json('index.json');
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
  return {
    dir,
    index,
    dockerManifest: json('manifest.json'),
    manifest,
    config: JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')),
    layerFiles: manifest.layers.map((l: { digest: string }) => blob(l.digest)),
  };
}

/** Extracts an image tar with GNU tar into `dir` and reads its layout. */
export function unpackImage(tarPath: string, dir: string): Layout {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync('tar', ['-xf', tarPath, '-C', dir]);
  if (r.status !== 0) throw new Error(`tar -xf ${tarPath}: ${r.stderr.toString()}`);
  return readLayout(dir);
}

/** A layer's uncompressed tar. */
export function layerTar(path: string): Buffer {
  const bytes = readFileSync(path);
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
}

/** `tar -tv` of a layer in UTC with numeric owners: [mode, owner, size, date, time, name, ...]. */
export function listLayer(path: string): string[] {
  const r = spawnSync('tar', ['-tv', '--numeric-owner', '--full-time', '-f', path], { env: { TZ: 'UTC', LC_ALL: 'C.UTF-8' }, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`tar -tvf ${path}: ${r.stderr.toString()}`);
  return r.stdout.toString().trimEnd().split('\n');
}

/**
 * Skips the current test, printing why, when a tool is missing; under CI
 * (which installs every consumer) a missing tool is a failure instead.
 */
export function requireTools(ctx: Mocha.Context, ...tools: string[]): void {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return;
  const why = `${missing.join(', ')} not installed (.ci/run installs ${missing.length > 1 ? 'them' : 'it'})`;
  if (process.env.CI) throw new Error(`CI: ${why}`);
  console.log(`      skipped: ${why}`);
  ctx.skip();
}

/** podman as it works on these machines: private storage, vfs, cgroupfs, runc, no network, explicit ulimits. */
export class Podman {
  constructor(private readonly dir: string) {}

  private base(): string[] {
    return ['--root', join(this.dir, 'root'), '--runroot', join(this.dir, 'runroot'), '--storage-driver=vfs', '--cgroup-manager=cgroupfs', '--events-backend=file'];
  }

  load(tarPath: string): string {
    const r = spawnSync('podman', [...this.base(), 'load', '-i', tarPath], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`podman load -i ${tarPath} exited ${r.status}: ${r.stderr}`);
    const m = /Loaded image(?:\(s\))?: (\S+)/.exec(r.stdout);
    if (!m) throw new Error(`podman load said: ${r.stdout}`);
    return m[1] as string;
  }

  /** `podman image inspect` of one image: the first (only) object of its JSON array. */
  inspect(imageName: string): Record<string, unknown> {
    const r = spawnSync('podman', [...this.base(), 'image', 'inspect', imageName], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`podman image inspect ${imageName} exited ${r.status}: ${r.stderr}`);
    return (JSON.parse(r.stdout) as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
  }

  /** `extra`: further `podman run` options (--read-only). */
  run(imageName: string, args: string[], entrypoint?: string, extra: string[] = []): SpawnSyncReturns<string> {
    const opts = ['--rm', '--runtime', 'runc', '--network=none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024', ...extra];
    if (entrypoint !== undefined) opts.push('--entrypoint', entrypoint);
    return spawnSync('podman', [...this.base(), 'run', ...opts, imageName, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, timeout: 120_000 });
  }

  /** Why containers cannot run here, or null when a trivial one does (probed with `image`). */
  probe(imageName: string, args: string[]): string | null {
    const r = this.run(imageName, args);
    return r.status === 0 ? null : `podman run exited ${r.status}: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-1)[0]}`;
  }
}
