// Reading an image as a root (src/image-source/), timed against `umoci
// unpack` of the same image in the same run: a ~100 MB two-layer image built
// here with umoci from host trees (Python's standard library, Perl's, some
// shared libraries). Both sides read the gzip layers, verify digests and
// write the merged tree; umoci (as root) also chowns and mknods, elfdeps
// keeps owners as data. Medians of a few runs; read the ratio.
// Run: npm run build && node bench/image-source.mjs
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { choosePlatform, openSourceImage, unpackImage } from '../dist/src/image-source/index.js';
import { median } from './resolve.mjs';

function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Builds the image: layer 1 from `first`, layer 2 from `second` (host directories copied under the same paths). */
function buildImage(work, first, second) {
  const layout = join(work, 'oci');
  sh('umoci', ['init', '--layout', layout]);
  sh('umoci', ['new', '--image', `${layout}:b`]);
  const bundle = join(work, 'bundle');
  sh('umoci', ['unpack', '--image', `${layout}:b`, bundle]);
  for (const [i, dirs] of [first, second].entries()) {
    for (const d of dirs.filter(existsSync)) {
      mkdirSync(join(bundle, 'rootfs', d, '..'), { recursive: true });
      cpSync(d, join(bundle, 'rootfs', d), { recursive: true, verbatimSymlinks: true });
    }
    sh('umoci', ['repack', '--image', `${layout}:b`, bundle]);
    if (i === 0) {
      rmSync(bundle, { recursive: true, force: true });
      sh('umoci', ['unpack', '--image', `${layout}:b`, bundle]);
    }
  }
  rmSync(bundle, { recursive: true, force: true });
  return layout;
}

export async function benchImageSource(reps = 3) {
  const work = mkdtempSync(join(tmpdir(), 'elfdeps-bench-imgsrc-'));
  try {
    const layout = buildImage(work, ['/usr/lib/python3.11', '/usr/share/perl'], ['/usr/lib/python3', '/usr/lib/x86_64-linux-gnu/perl-base', '/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1']);
    const bytes = Number(sh('du', ['-sb', join(layout, 'blobs')]).split('\t')[0]);
    const times = { elfdeps: [], umoci: [] };
    let files = 0;
    for (let i = 0; i < reps; i++) {
      let t0 = performance.now();
      sh('umoci', ['unpack', '--image', `${layout}:b`, join(work, `u${i}`)]);
      times.umoci.push(performance.now() - t0);
      rmSync(join(work, `u${i}`), { recursive: true, force: true });
      t0 = performance.now();
      const image = await openSourceImage(layout);
      const u = await unpackImage(image, choosePlatform(image, undefined), { tmpDir: work });
      times.elfdeps.push(performance.now() - t0);
      files = Number(sh('sh', ['-c', `find "${u.dir}" | wc -l`]));
      image.close();
      u.dispose();
    }
    const m = { elfdeps: Number(median(times.elfdeps).toFixed(1)), umoci: Number(median(times.umoci).toFixed(1)) };
    return { imageBytes: bytes, entries: files, ms: m, ratio: Number((m.elfdeps / m.umoci).toFixed(2)) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) console.log(JSON.stringify(await benchImageSource(), null, 2));
