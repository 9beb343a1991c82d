// Slimming an image (issue 17): `elfdeps image --from BASE /usr/bin/python3`
// against what a user does without --from: `umoci unpack` of the same image
// and `elfdeps image --root` of the unpacked tree. Same run, interleaved,
// whole commands (each side's start-up, digest checks, unpack and image
// writing included), medians. Target: --from at most as slow. Also the sizes:
// the base image's layers (as stored, gzip) and uncompressed, against the
// slim image's. The base is scripts/build-base-image.sh's amd64 image (real
// Debian 12 packages, two layers).
// Run: npm run build && node bench/from-image.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { median } from './resolve.mjs';

const BASE = process.env.ELFDEPS_BASE_IMAGE ?? '/var/cache/elfdeps-test/base-image';
const CLI = join(import.meta.dirname, '..', 'dist', 'src', 'cli', 'bin.js');

function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** The compressed and uncompressed sizes of one image of the layout (by ref name), from its manifest and config. */
function imageSizes(layout, ref) {
  const blob = (d) => join(layout, 'blobs', 'sha256', d.replace(/^sha256:/, ''));
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref) ?? index.manifests[0];
  const manifest = JSON.parse(readFileSync(blob(desc.digest), 'utf8'));
  const uncompressed = manifest.layers.reduce((n, l) => {
    const r = spawnSync('sh', ['-c', `gzip -dc < '${blob(l.digest)}' | wc -c`], { encoding: 'utf8' });
    return n + Number(r.stdout.trim());
  }, 0);
  return { layers: manifest.layers.length, compressedBytes: manifest.layers.reduce((n, l) => n + l.size, 0), uncompressedBytes: uncompressed };
}

export async function benchFromImage(reps = 5) {
  const layout = join(BASE, 'oci');
  if (!existsSync(join(layout, 'index.json'))) return { skipped: `no base image in ${BASE} (bash scripts/build-base-image.sh ${BASE})` };
  const work = mkdtempSync(join(tmpdir(), 'elfdeps-bench-from-'));
  try {
    const fromTar = join(work, 'from.tar');
    const rootTar = join(work, 'root.tar');
    const from = () => timed(process.execPath, [CLI, 'image', '--from', layout, '--image-platform', 'linux/amd64', '/usr/bin/python3', '--compress', 'gzip', '-o', fromTar, '-q']);
    const viaUmoci = () => {
      const bundle = join(work, 'bundle');
      rmSync(bundle, { recursive: true, force: true });
      rmSync(rootTar, { force: true });
      const unpack = timed('umoci', ['unpack', '--image', `${layout}:base-amd64`, bundle]);
      const image = timed(process.execPath, [CLI, 'image', '--root', join(bundle, 'rootfs'), '/usr/bin/python3', '--compress', 'gzip', '-o', rootTar, '-q']);
      rmSync(bundle, { recursive: true, force: true });
      return { unpack, image, total: unpack + image };
    };
    rmSync(fromTar, { force: true });
    from(); // warm the page cache for both
    const fromMs = [];
    const umoci = [];
    for (let i = 0; i < reps; i++) {
      rmSync(fromTar, { force: true });
      fromMs.push(from());
      umoci.push(viaUmoci());
    }
    const fromMedian = median(fromMs);
    const umociMedian = median(umoci.map((u) => u.total));
    // The slim image's tar is an OCI layout (and a docker-archive) itself.
    const slimDir = join(work, 'slim');
    mkdirSync(slimDir);
    timed('tar', ['-xf', fromTar, '-C', slimDir]);
    const slim = imageSizes(slimDir, null);
    return {
      program: '/usr/bin/python3',
      fromMs: Math.round(fromMedian),
      umociUnpackMs: Math.round(median(umoci.map((u) => u.unpack))),
      imageRootMs: Math.round(median(umoci.map((u) => u.image))),
      umociPlusImageMs: Math.round(umociMedian),
      ratio: Math.round((fromMedian / umociMedian) * 100) / 100,
      base: imageSizes(layout, 'base-amd64'),
      slim: { ...slim, tarBytes: statSync(fromTar).size },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(JSON.stringify(await benchFromImage(), null, 2));
