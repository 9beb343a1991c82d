// Package data's cost (issue 18), in one run: manifests for the Python root
// and for the 50-program root of bench/materialise.mjs with package data (the
// default: owners from the host's dpkg database, copyright files, status.d/
// and md5sums for the files kept) against --no-package-metadata, runs
// interleaved. Target: at most 1.2x the time. Measured two ways: inside one
// warm process (createManifest, the library's cost alone) and as the whole
// `elfdeps manifest ... -o FILE` command a user runs (Node's start, the cold
// first run and writing the manifest included).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createManifest } from '../dist/src/index.js';
import { dynamicPrograms } from './materialise.mjs';

const CLI = fileURLToPath(new URL('../dist/src/cli/elfdeps.cjs', import.meta.url));

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function once(programs, options) {
  const t0 = process.hrtime.bigint();
  const manifest = createManifest(programs, options);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, manifest };
}

function compare(programs, reps) {
  const off = [];
  const on = [];
  let with_;
  let without;
  once(programs, {}); // warm the page cache for both
  for (let i = 0; i < reps; i++) {
    const a = once(programs, { packageMetadata: false });
    off.push(a.ms);
    without = a.manifest;
    const b = once(programs, {});
    on.push(b.ms);
    with_ = b.manifest;
  }
  const offMs = median(off);
  const onMs = median(on);
  const owned = with_.entries.filter((e) => e.package !== undefined).length;
  return {
    programs: programs.length,
    withoutMs: Math.round(offMs),
    withMs: Math.round(onMs),
    entriesWithout: without.entries.length,
    entriesWith: with_.entries.length,
    packages: with_.packages.length,
    ownedEntries: owned,
    ratio: Math.round((onMs / offMs) * 100) / 100,
  };
}

/** The whole command, with and without package data, interleaved: medians and their ratio. */
function compareCommand(programs, reps) {
  const dir = mkdtempSync(join(tmpdir(), 'elfdeps-bench-packages-'));
  const time = (extra) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [CLI, 'manifest', ...programs, '-o', join(dir, 'm.json'), ...extra], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`elfdeps manifest exited ${r.status}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  try {
    time([]);
    const off = [];
    const on = [];
    for (let i = 0; i < reps; i++) {
      off.push(time(['--no-package-metadata']));
      on.push(time([]));
    }
    return { withoutMs: Math.round(median(off)), withMs: Math.round(median(on)), ratio: Math.round((median(on) / median(off)) * 100) / 100 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchPackages({ reps = 9 } = {}) {
  const fiftyPrograms = dynamicPrograms('/usr/bin', 50);
  process.stderr.write('packages: python root\n');
  const python = { ...compare(['/usr/bin/python3'], reps), command: compareCommand(['/usr/bin/python3'], reps) };
  process.stderr.write('packages: 50 programs\n');
  const fifty = { ...compare(fiftyPrograms, reps), command: compareCommand(fiftyPrograms, reps) };
  return { python, fiftyPrograms: fifty };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await benchPackages(), null, 2));
