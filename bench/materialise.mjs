// Materialising a root, timed against the shell loop people write by hand
// (`cp --parents -P` once per file), in the same run, on the same files:
// the bash+ls root and a root for 50 programs (the first 50 dynamically
// linked files in /usr/bin, sorted), each copied, hard-linked (--link) and
// re-run over a complete root (a no-op). Numbers are medians of a few runs;
// read the ratios, not the milliseconds.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createManifest, isDynamicallyLinked, materialise, readElf } from '../dist/src/index.js';

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function ms(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** The first `n` dynamically linked ELF files in `dir`, by name. */
export function dynamicPrograms(dir, n) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    if (out.length === n) break;
    const path = join(dir, name);
    try {
      if (!lstatSync(path).isFile()) continue;
      if (isDynamicallyLinked(readElf(path))) out.push(path);
    } catch {
      // not ELF: a script, or unreadable
    }
  }
  return out;
}

/** Times each way of building the root for `programs`, `reps` times each, in fresh directories. */
function benchRoot(programs, reps) {
  let manifest;
  const createMs = median(Array.from({ length: reps }, () => ms(() => (manifest = createManifest(programs)))));
  // The same files the copier writes: every file and every symlink (cp -P keeps links), by host path.
  const paths = manifest.entries.filter((e) => e.kind !== 'directory').map((e) => e.source ?? e.path);
  const files = manifest.entries.filter((e) => e.kind === 'file');
  const work = mkdtempSync(join(tmpdir(), 'elfdeps-bench-'));
  let n = 0;
  const fresh = () => join(work, `r${n++}`);
  const times = { materialise: [], link: [], noop: [], cpLoop: [], cpOnce: [] };
  try {
    for (let i = 0; i < reps; i++) {
      const a = fresh();
      times.materialise.push(ms(() => materialise(manifest, a)));
      times.noop.push(ms(() => materialise(manifest, a)));
      const b = fresh();
      times.link.push(ms(() => materialise(manifest, b, { link: true })));
      const c = fresh();
      times.cpLoop.push(
        ms(() => {
          const r = spawnSync('sh', ['-c', 'mkdir -p "$0" && for f in "$@"; do cp --parents -P "$f" "$0" || exit 1; done', c, ...paths]);
          if (r.status !== 0) throw new Error(`cp loop failed: ${r.stderr}`);
        }),
      );
      const d = fresh();
      times.cpOnce.push(
        ms(() => {
          const r = spawnSync('sh', ['-c', 'mkdir -p "$0" && cp --parents -P "$@" "$0"', d, ...paths]);
          if (r.status !== 0) throw new Error(`cp failed: ${r.stderr}`);
        }),
      );
      for (const dir of [a, b, c, d]) rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Number(median(v).toFixed(2))]));
  return {
    programs: programs.length,
    entries: manifest.entries.length,
    files: files.length,
    bytes: files.reduce((s, f) => s + f.size, 0),
    missing: manifest.missing.length,
    createManifestMs: Number(createMs.toFixed(2)),
    materialiseMs: m.materialise,
    materialiseLinkMs: m.link,
    secondRunNoopMs: m.noop,
    cpParentsLoopMs: m.cpLoop,
    cpParentsOnceMs: m.cpOnce,
    ratios: {
      // Below 1: faster than the hand-written loop.
      materialiseVsCpLoop: Number((m.materialise / m.cpLoop).toFixed(3)),
      linkVsCpLoop: Number((m.link / m.cpLoop).toFixed(3)),
      createPlusMaterialiseVsCpLoop: Number(((createMs + m.materialise) / m.cpLoop).toFixed(3)),
      materialiseVsCpOnce: Number((m.materialise / m.cpOnce).toFixed(3)),
    },
  };
}

export async function benchMaterialise({ reps = 5, programs = 50 } = {}) {
  const bashLs = benchRoot(['/bin/bash', '/bin/ls'], reps);
  const many = dynamicPrograms('/usr/bin', programs);
  const fifty = benchRoot(many, Math.max(1, Math.ceil(reps / 2)));
  return { bashLs, fiftyPrograms: { ...fifty, list: many } };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await benchMaterialise();
  const { list: _list, ...fifty } = result.fiftyPrograms;
  console.log(JSON.stringify({ bashLs: result.bashLs, fiftyPrograms: fifty }, null, 2));
}
