/**
 * The base images of issue 17's tests (an image as the root, `--from`),
 * built by scripts/build-base-image.sh from real Debian 12 packages: one OCI
 * image index of linux/amd64 and linux/arm64/v8, each platform two gzip
 * layers, the upper one deleting files (whiteouts), replacing a directory
 * (opaque) and adding files owned by www-data. `requireBaseImage` finds it
 * (building it when it is missing and this process may: the script does
 * nothing when it is already built), `umociUnpack` gives each platform's
 * merged tree as `umoci unpack` makes it (the `--root` a `--from` result is
 * compared with), and `BaseImageRunner` runs `BASE_TASKS` in an image under
 * podman, the oracle of what a container of the image does.
 *
 * What layer 2 does, for tests to name (`BASE_LAYER2`), is what the script's
 * header says; test/base-image.test.ts proves it with podman and umoci.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './cli.js';
import { Podman, requireTools } from './image.js';
import { skipOrFail } from './skip.js';

/** Where .ci/run builds it (next to the foreign roots); ELFDEPS_BASE_IMAGE overrides. */
export const BASE_IMAGE_DIR = process.env.ELFDEPS_BASE_IMAGE ?? '/var/cache/elfdeps-test/base-image';
const SCRIPT = join(REPO, 'scripts', 'build-base-image.sh');
const MARKER = '.elfdeps-base-image';

export type BaseArch = 'amd64' | 'arm64';
export const BASE_ARCHES: readonly BaseArch[] = ['amd64', 'arm64'];
/** Each platform as the index says it (arm64 with variant v8, as Docker Hub's images do). */
export const BASE_PLATFORMS: Record<BaseArch, { os: 'linux'; architecture: BaseArch; variant?: string }> = {
  amd64: { os: 'linux', architecture: 'amd64' },
  arm64: { os: 'linux', architecture: 'arm64', variant: 'v8' },
};
const TRIPLETS: Record<BaseArch, string> = { amd64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

export interface BaseImagePaths {
  dir: string;
  /** The OCI layout directory; refs (org.opencontainers.image.ref.name): `base` (the index), `base-amd64`, `base-arm64`. */
  oci: string;
  /** That layout as one oci-archive tar (ref `base`: the index of both platforms). */
  allOciArchive: string;
  /** The amd64 image as an oci-archive (ref `base`). */
  amd64OciArchive: string;
  /** The amd64 image as a docker-archive (RepoTags: [BASE_DOCKER_TAG]), uncompressed layers. */
  amd64DockerArchive: string;
  /** The gzip blob of layer n (1 or 2) of one platform's image, as `tar -t` reads it. */
  layerBlob(arch: BaseArch, n: 1 | 2): string;
}

export const BASE_REF = 'base';
export const baseRef = (arch: BaseArch) => `base-${arch}`;
export const BASE_DOCKER_TAG = 'localhost/base:amd64';

/** The config every platform's image has (scripts/base-image-layout.py). */
export const BASE_CONFIG = {
  User: 'www-data',
  ExposedPorts: { '8080/tcp': {} },
  Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'APP_MODE=base'],
  Entrypoint: ['/usr/bin/python3'],
  Cmd: ['-c', "print('hello from base')"],
  Volumes: { '/data': {} },
  WorkingDir: '/srv/www',
  Labels: { 'org.opencontainers.image.title': 'elfdeps test base', 'com.example.elfdeps.fixture': 'base-image' },
  StopSignal: 'SIGINT',
} as const;

/** What layer 2 does to layer 1, per platform (in-image paths). */
export function baseLayer2(arch: BaseArch) {
  return {
    /** Regular files layer 1 has and `.wh.NAME` entries delete: a program, and a library passwd's useradd, userdel and usermod need. */
    whitedOutFiles: ['/usr/bin/tac', `/usr/lib/${TRIPLETS[arch]}/libsemanage.so.2`],
    /** Programs of layer 1 that need a whited-out library: `check` must report it missing. */
    brokenPrograms: ['/usr/sbin/useradd', '/usr/sbin/userdel', '/usr/sbin/usermod'],
    missingLibrary: 'libsemanage.so.2',
    /** A whole directory of layer 1 deleted by one whiteout. */
    whitedOutDirectory: '/usr/lib/python3.11/concurrent',
    /** Opaque in layer 2 (`.wh..wh..opq`): layer 1 had a, b, sub/d; the merged tree has only c. */
    opaqueDirectory: '/opt/app',
    opaqueBefore: ['a', 'b', 'sub'],
    opaqueAfter: ['c'],
    /** Owned by www-data (33:33) in layer 2. */
    ownedBy33: ['/srv/www', '/srv/www/index.html', '/srv/www/default.html', '/data'],
    /** A hard link pair of layer 2: the file, then the entry that links to it (tar writes them in name order). */
    hardLink: ['/srv/www/default.html', '/srv/www/index.html'] as const,
  };
}

let found: BaseImagePaths | undefined;

function paths(dir: string): BaseImagePaths {
  return {
    dir,
    oci: join(dir, 'oci'),
    allOciArchive: join(dir, 'all.oci-archive.tar'),
    amd64OciArchive: join(dir, 'amd64.oci-archive.tar'),
    amd64DockerArchive: join(dir, 'amd64.docker-archive.tar'),
    layerBlob: (arch, n) => {
      const oci = join(dir, 'oci');
      const blob = (digest: string) => join(oci, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
      const index = JSON.parse(readFileSync(join(oci, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
      const ref = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === baseRef(arch));
      if (!ref) throw new Error(`${oci}/index.json names no ${baseRef(arch)}`);
      const manifest = JSON.parse(readFileSync(blob(ref.digest), 'utf8')) as { layers: Array<{ digest: string }> };
      return blob((manifest.layers[n - 1] as { digest: string }).digest);
    },
  };
}

/**
 * The base images, built first when missing: the script is idempotent (a
 * no-op when its marker names the same recipe) and builds in ~2 minutes
 * when it must, as root with the Debian registry reachable. When it cannot,
 * the test skips with the script's reason (fails under CI).
 */
export function requireBaseImage(ctx: Mocha.Context): BaseImagePaths {
  if (found) return found;
  const dir = BASE_IMAGE_DIR;
  const fix = `.ci/run builds it: bash scripts/build-base-image.sh ${dir}`;
  if (!existsSync(join(dir, MARKER))) ctx.timeout(Math.max(ctx.timeout(), 900_000));
  const r = spawnSync('bash', [SCRIPT, dir], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').slice(-1)[0];
    skipOrFail(ctx, `no base image in ${dir}: ${why}`, fix);
  }
  found = paths(dir);
  return found;
}

const unpacked = new Map<BaseArch, string>();
let privateUnpacks: string | undefined;

/**
 * The merged root file system of one platform's image as `umoci unpack`
 * makes it (whiteouts applied, owners kept when run as root): the one the
 * script unpacked, or, when that is gone, a fresh unpack in a temporary
 * directory removed when the process exits (`--rootless` when not root).
 */
export function umociUnpack(ctx: Mocha.Context, arch: BaseArch): string {
  const base = requireBaseImage(ctx);
  const cached = unpacked.get(arch);
  if (cached) return cached;
  let rootfs = join(base.dir, 'unpacked', arch, 'rootfs');
  if (!existsSync(join(rootfs, 'usr'))) {
    requireTools(ctx, 'umoci');
    if (!privateUnpacks) {
      privateUnpacks = mkdtempSync(join(tmpdir(), 'elfdeps-base-unpack-'));
      const dir = privateUnpacks;
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
    const bundle = join(privateUnpacks, arch);
    const rootless = process.getuid?.() === 0 ? [] : ['--rootless'];
    const r = spawnSync('umoci', ['unpack', ...rootless, '--image', `${base.oci}:${baseRef(arch)}`, bundle], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`umoci unpack ${base.oci}:${baseRef(arch)} exited ${r.status}: ${r.stderr}`);
    rootfs = join(bundle, 'rootfs');
  }
  unpacked.set(arch, rootfs);
  return rootfs;
}

/** One real task users run in the base image, with deterministic output. */
export interface BaseTask {
  name: string;
  /** The programs (in-image paths) it runs: what `elfdeps image --from BASE PROGRAMS` names. */
  programs: string[];
  /** argv[0] becomes the container's entrypoint, the rest its command (keep it non-empty, or the image's Cmd follows). */
  argv: string[];
  /** `podman run --user`; without it the image's User (www-data). */
  user?: string;
  /** The kind of output the full base image gives (the slim image's must then equal the base's, byte for byte). */
  expect: RegExp;
}

export const BASE_TASKS: BaseTask[] = [
  {
    name: 'python3 with ssl and sqlite3',
    programs: ['/usr/bin/python3'],
    argv: [
      '/usr/bin/python3',
      '-c',
      "import ssl, sqlite3, hashlib; c = ssl.create_default_context(); print(ssl.OPENSSL_VERSION.split()[0], ssl.HAS_TLSv1_3, c.check_hostname); db = sqlite3.connect(':memory:'); db.execute('create table t (x)'); db.executemany('insert into t values (?)', [(6,), (7,)]); print('sqlite', db.execute('select x * 7 from t order by x').fetchall()); print(hashlib.sha256(b'elfdeps').hexdigest()[:16])",
    ],
    expect: /^OpenSSL True True\nsqlite \[\(42,\), \(49,\)\]\n[0-9a-f]{16}\n$/,
  },
  {
    name: 'python3 as the image user, in its working directory, with its environment',
    programs: ['/usr/bin/python3'],
    argv: ['/usr/bin/python3', '-c', "import os, pwd, json, zlib, decimal; print(pwd.getpwuid(os.getuid()).pw_name, os.getcwd(), os.environ['APP_MODE'], os.environ['LANG']); print(json.dumps({'crc': zlib.crc32(b'a'), 'd': str(decimal.Decimal(1) / 8)}))"],
    expect: /^www-data \/srv\/www base C\.UTF-8\n\{"crc": 3904355907, "d": "0\.125"\}\n$/,
  },
  {
    name: 'curl fetching a file:// URL',
    programs: ['/usr/bin/curl'],
    argv: ['/usr/bin/curl', '-sS', 'file:///srv/www/index.html'],
    expect: /<p>hello from \/srv\/www<\/p>\n$/,
  },
  {
    name: 'curl --version',
    programs: ['/usr/bin/curl'],
    argv: ['/usr/bin/curl', '--version'],
    expect: /^curl 7\.\d+\.\d+ \(x86_64-pc-linux-gnu\) libcurl\/[\d.]+ OpenSSL\/3\./,
  },
  {
    name: 'perl with XS modules (POSIX, Digest::MD5, List::Util)',
    programs: ['/usr/bin/perl'],
    argv: ['/usr/bin/perl', '-MPOSIX=floor', '-MDigest::MD5=md5_hex', '-MList::Util=sum', '-e', 'print md5_hex("a"), " ", floor(2.5), " ", sum(1..10), "\\n"'],
    expect: /^0cc175b9c0f1b6a831c399e269772661 2 55\n$/,
  },
  {
    name: 'bash with coreutils',
    programs: ['/usr/bin/bash', '/usr/bin/sort', '/usr/bin/tr', '/usr/bin/sha256sum', '/usr/bin/cut', '/usr/bin/id'],
    argv: ['/usr/bin/bash', '-c', 'declare -A m=([x]=1 [y]=2); echo "${#m[@]} $((6 * 7)) ${BASH_VERSINFO[0]}"; printf "b\\na\\n" | sort | tr a-z A-Z; echo elfdeps | sha256sum | cut -c1-16; id -un'],
    expect: /^2 42 5\nA\nB\n[0-9a-f]{16}\nwww-data\n$/,
  },
  {
    name: 'id as root',
    programs: ['/usr/bin/id'],
    argv: ['/usr/bin/id', '-un'],
    user: 'root',
    expect: /^root\n$/,
  },
];

export interface TaskResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** podman with a private storage (test/helpers/image.ts's flags), removed by `close()`. */
export class BaseImageRunner {
  readonly dir: string;
  readonly podman: Podman;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'elfdeps-base-podman-'));
    this.podman = new Podman(this.dir);
  }

  /** `podman load -i TAR`; the loaded image's id (the sha256 of its config). */
  loadImage(tarPath: string): string {
    const name = this.podman.load(tarPath);
    return String(this.podman.inspect(name).Id);
  }

  /** Runs argv in a container of `image` (entrypoint argv[0], command the rest). */
  runTask(image: string, argv: string[], options: { user?: string } = {}): TaskResult {
    const [entrypoint, ...args] = argv;
    if (entrypoint === undefined) throw new Error('runTask: empty argv');
    const r = this.podman.run(image, args, entrypoint, options.user === undefined ? [] : ['--user', options.user]);
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr || r.error?.message || '' };
  }

  /** Runs the image as it is configured (its Entrypoint and Cmd). */
  runDefault(image: string): TaskResult {
    const r = this.podman.run(image, []);
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr || r.error?.message || '' };
  }

  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The ELF machine (e_machine) of a file: 62 x86-64, 183 AArch64. */
export function elfMachine(path: string): number {
  const head = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  return head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
}
