// Container images, timed against what people do without `elfdeps image`:
// `elfdeps copy` of the same manifest, then `tar --sort=name -c ... | gzip`
// of the copied root, in the same run, on the same files: the bash+ls root
// and a root for 50 programs (the first 50 dynamically linked files in
// /usr/bin, as bench/materialise.mjs picks them). Both sides gzip at
// level 6 (gzip's default); the image also hashes every source, the layer
// and the blobs. Medians of a few runs; read the ratios, not the
// milliseconds. Target (issue 9): the image at most as slow (ratio <= 1).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildImage, createManifest, materialise } from '../dist/src/index.js';
import { dynamicPrograms } from './materialise.mjs';

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function ms(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function benchRoot(programs, reps) {
  const manifest = createManifest(programs);
  const work = mkdtempSync(join(tmpdir(), 'elfdeps-bench-image-'));
  const times = { image: [], imageLayers: [], copyTarGzip: [] };
  let imageBytes = 0;
  let layerBytes = 0;
  let tarGzipBytes = 0;
  try {
    for (let i = 0; i < reps; i++) {
      const out = join(work, `img${i}.tar`);
      let report;
      times.image.push(await ms(async () => (report = await buildImage(manifest, { output: { kind: 'tar', path: out } }))));
      imageBytes = report.bytes;
      layerBytes = report.layers.reduce((s, l) => s + l.size, 0);
      times.imageLayers.push(await ms(() => buildImage(manifest, { output: { kind: 'tar', path: join(work, `lay${i}.tar`) }, layers: true })));
      const root = join(work, `root${i}`);
      const tgz = join(work, `root${i}.tar.gz`);
      times.copyTarGzip.push(
        await ms(() => {
          materialise(manifest, root);
          const r = spawnSync('sh', ['-c', 'tar --sort=name -C "$0" -c . | gzip -6 > "$1"', root, tgz]);
          if (r.status !== 0) throw new Error(`tar | gzip failed: ${r.stderr}`);
        }),
      );
      tarGzipBytes = statSync(tgz).size;
      for (const p of [out, join(work, `lay${i}.tar`), root, tgz]) rmSync(p, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Number(median(v).toFixed(1))]));
  const files = manifest.entries.filter((e) => e.kind === 'file');
  return {
    programs: programs.length,
    entries: manifest.entries.length,
    fileBytes: files.reduce((s, f) => s + f.size, 0),
    imageMs: m.image,
    imageLayersMs: m.imageLayers,
    copyThenTarGzipMs: m.copyTarGzip,
    imageTarBytes: imageBytes,
    layerBlobBytes: layerBytes,
    copyTarGzipBytes: tarGzipBytes,
    ratios: {
      // Below 1: faster than copy + tar | gzip.
      imageVsCopyTarGzip: Number((m.image / m.copyTarGzip).toFixed(3)),
      imageLayersVsCopyTarGzip: Number((m.imageLayers / m.copyTarGzip).toFixed(3)),
      imageSizeVsTarGzip: Number((imageBytes / tarGzipBytes).toFixed(3)),
    },
  };
}

export async function benchImage({ reps = 5, programs = 50 } = {}) {
  const bashLs = await benchRoot(['/bin/bash', '/bin/ls'], reps);
  const many = dynamicPrograms('/usr/bin', programs);
  const fifty = await benchRoot(many, Math.max(1, Math.ceil(reps / 2)));
  return { bashLs, fiftyPrograms: fifty };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await benchImage(), null, 2));
}
