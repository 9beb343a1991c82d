// Resolution benchmarks, all measured in the same run so that the ratios
// compare like with like on whatever machine runs them:
//  - every dynamically linked host ELF resolved by elfdeps in one process,
//    against an `ldd` loop and a `libtree` loop over the same files;
//  - the same set in one process each, interleaved round by round: the
//    resolver alone (the library's Resolver: the CLI has no mode without the
//    loader's verdict), `elfdeps --ldd F1 ... FN` (the CLI, verdict included),
//    and libtree's batch mode `libtree -p -vv F1 ... FN` (which prints each
//    file's tree, every library expanded once per file);
//  - peak memory of the resolver's whole-set run.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { listElfFiles } from './elf-bytes.mjs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// The program users run: the package's `bin`.
const cli = join(here, '..', JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')).bin.elfdeps);
const lib = join(here, '..', 'dist', 'src', 'index.js');

/** The dynamically linked x86_64 files of the conformance set. */
export async function dynamicHostFiles() {
  const { readElf } = await import(lib);
  const all = listElfFiles([
    { dir: '/usr/bin', recursive: false },
    { dir: '/usr/sbin', recursive: false },
    { dir: '/usr/lib/x86_64-linux-gnu', recursive: true },
    { dir: '/usr/libexec', recursive: true },
  ]).map((f) => f.path);
  return all.filter((f) => {
    try {
      const e = readElf(f);
      return e.header.machine === 62 && e.header.elfClass === 64 && e.dynamic !== null && e.dynamic.needed.length > 0;
    } catch {
      return false;
    }
  });
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeMs(fn) {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Runs a shell loop of `cmd FILE` over the files (one process per file, as a user's loop would). */
function loopMs(cmd, files) {
  const script = `for f in "$@"; do ${cmd} "$f" >/dev/null 2>&1; done`;
  return timeMs(() => spawnSync('bash', ['-c', script, 'bench', ...files], { stdio: 'ignore' }));
}

export function which(cmd) {
  const r = spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** Wall time of one process running `cmd args` with its output read through a pipe and dropped. */
function processMs(cmd, args) {
  let r;
  const ms = timeMs(() => (r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 })));
  if (r.error) throw r.error;
  return ms;
}

/**
 * The whole set in one process per tool, `rounds` times, the tools taking
 * turns in each round so that all see the same machine state: medians of the
 * wall times, and elfdeps' ratios against libtree's batch (above 1: faster).
 */
export function benchBatch(files, rounds = 5) {
  const runs = { resolver: [], cli: [], libtree: [], node: [] };
  let inner;
  const hasLibtree = which('libtree') !== null;
  for (let i = 0; i < rounds; i++) {
    runs.node.push(processMs(process.execPath, ['-e', '0']));
    let out;
    runs.resolver.push(timeMs(() => (out = execFileSync(process.execPath, ['--input-type=module', '-e', RESOLVER_BATCH, JSON.stringify(files)], { encoding: 'utf8', maxBuffer: 1 << 24 }))));
    inner = JSON.parse(out);
    runs.cli.push(processMs(process.execPath, [cli, '--ldd', ...files]));
    if (hasLibtree) runs.libtree.push(processMs('libtree', ['-p', '-vv', ...files]));
  }
  const ms = (xs) => (xs.length ? Math.round(median(xs)) : null);
  const result = {
    files: files.length,
    rounds,
    nodeStartMs: ms(runs.node),
    resolverBatchMs: ms(runs.resolver),
    resolverInProcessMs: Math.round(inner.ms),
    resolverPeakRssMiB: Math.round(inner.maxRssKiB / 1024),
    cliLddBatchMs: ms(runs.cli),
    libtreeBatchMs: ms(runs.libtree),
    resolverVsLibtreeBatch: null,
    cliLddVsLibtreeBatch: null,
  };
  if (result.libtreeBatchMs !== null) {
    result.resolverVsLibtreeBatch = +(result.libtreeBatchMs / result.resolverBatchMs).toFixed(2);
    result.cliLddVsLibtreeBatch = +(result.libtreeBatchMs / result.cliLddBatchMs).toFixed(2);
  }
  return result;
}

/** The resolver over the files given as JSON in argv[1], in one process: its time, memory and reads. */
const RESOLVER_BATCH = `
    const { Resolver } = await import(${JSON.stringify(lib)});
    const files = JSON.parse(process.argv[1]);
    const t = process.hrtime.bigint();
    const r = new Resolver({ root: '/', cwd: '/' });
    let objects = 0;
    for (const f of files) objects += r.resolveOne(f).objects.length;
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    console.log(JSON.stringify({ ms, objects, maxRssKiB: process.resourceUsage().maxRSS, elfFilesRead: r.elfCache.stats.files, elfBytesRead: r.elfCache.stats.bytesRead }));
  `;

export async function benchResolve({ files } = {}) {
  files ??= await dynamicHostFiles();
  // The whole set in one elfdeps process, with its peak memory.
  const script = RESOLVER_BATCH;
  const wall = [];
  let inner;
  for (let i = 0; i < 3; i++) {
    let out;
    wall.push(timeMs(() => (out = execFileSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(files)], { encoding: 'utf8', maxBuffer: 1 << 24 }))));
    inner = JSON.parse(out);
  }
  const elfdepsMs = median(wall);
  const result = {
    files: files.length,
    elfdepsWallMs: Math.round(elfdepsMs),
    elfdepsInProcessMs: Math.round(inner.ms),
    peakRssMiB: Math.round(inner.maxRssKiB / 1024),
    elfFilesRead: inner.elfFilesRead,
    averageBytesReadPerElf: Math.round(inner.elfBytesRead / Math.max(1, inner.elfFilesRead)),
    lddLoopMs: null,
    libtreeLoopMs: null,
    speedupVsLdd: null,
    speedupVsLibtree: null,
  };
  if (which('ldd')) {
    result.lddLoopMs = Math.round(loopMs('ldd', files));
    result.speedupVsLdd = +(result.lddLoopMs / elfdepsMs).toFixed(1);
  }
  if (which('libtree')) {
    result.libtreeLoopMs = Math.round(loopMs('libtree', files));
    result.speedupVsLibtree = +(result.libtreeLoopMs / elfdepsMs).toFixed(1);
  }
  return result;
}

/** benchBatch over the host set, for bench/run.mjs. */
export async function benchHostBatch() {
  return benchBatch(await dynamicHostFiles());
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!existsSync(lib)) throw new Error('run `npm run build` first');
  const files = await dynamicHostFiles();
  console.log(JSON.stringify({ resolve: await benchResolve({ files }), batch: benchBatch(files) }, null, 2));
}
