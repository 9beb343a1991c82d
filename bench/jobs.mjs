// `check --jobs` (docs/jobs.md) and cold caches, measured in one run so that
// the ratios compare like with like on whatever machine runs them, each pair
// interleaved round by round (A B A B ...) and quoted as the median of the
// pairwise ratios:
//  - warm: `elfdeps check /usr` with --jobs 1 against the default --jobs (the
//    number of CPUs: a scout thread beside the main one), their stdout
//    compared byte for byte;
//  - cold (root only: the page cache is dropped before every run with
//    `sync; echo 3 > /proc/sys/vm/drop_caches`): `check /usr` with both; and
//    the default mode over the whole host set (bench/resolve.mjs's
//    dynamicHostFiles) against libtree's batch `libtree -p -vv FILES...`.
//  - each CLI run's peak RSS and CPU time (user + system, the whole process,
//    every thread) from a hook preloaded with --require: on a busy machine
//    the wall-clock ratio says what the other processes left, the CPU time
//    what spreading the work costs.
//
// Dropping the page cache slows every other process on the machine for a
// while: the cold section runs only as root and only when asked
// (ELFDEPS_BENCH_COLD=1, or `node bench/jobs.mjs --cold`).
//
//   node bench/jobs.mjs [--cold] [--rounds N]   prints the measurement as JSON (build first)
//   import { benchJobs }                        for bench/run.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dynamicHostFiles, median, which } from './resolve.mjs';
import { writeHook } from './verdict.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')).bin.elfdeps);
const progress = (msg) => process.stderr.write(`jobs: ${msg}\n`);

function dropCaches() {
  const r = spawnSync('sh', ['-c', 'sync; echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error('cannot drop the page cache (root only)');
}

/** One run of a command: wall time (ms), stdout, status, and for elfdeps its peak RSS (MiB). */
function runOnce(cmd, args, { cold, stats, hook }) {
  if (cold) dropCaches();
  const node = cmd === 'elfdeps';
  const argv = node ? ['--require', hook, cli, ...args] : args;
  const t = process.hrtime.bigint();
  const r = spawnSync(node ? process.execPath : cmd, argv, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 1 << 29,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ELFDEPS_BENCH_STATS: stats },
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.error) throw r.error;
  if (node && r.status !== 0 && r.status !== 1) throw new Error(`elfdeps ${args.slice(0, 3).join(' ')}...: exit status ${r.status}`);
  const used = node ? JSON.parse(readFileSync(stats, 'utf8')) : null;
  return { ms, stdout: r.stdout, rssMiB: used ? Math.round(used.maxRssKiB / 1024) : null, cpuMs: used ? Math.round(used.cpuUs / 1000) : null };
}

/**
 * The commands of `pairs` in turn, `rounds` times; for each: median wall
 * time, runs, peak RSS; whether the elfdeps runs' stdout agreed; and each
 * named ratio as the median of its round-by-round ratios.
 */
function interleave(commands, ratios, { rounds, cold, stats, hook, label }) {
  const runs = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  const out = {};
  for (let i = 0; i < rounds; i++) {
    progress(`${label} round ${i + 1}/${rounds}${cold ? ' (page cache dropped before each run)' : ''}`);
    for (const [name, [cmd, args]] of Object.entries(commands)) {
      const r = runOnce(cmd, args, { cold, stats, hook });
      runs[name].push(r);
      if (cmd === 'elfdeps') out[name] = r.stdout;
    }
  }
  const elfdepsOutputs = Object.values(out);
  const result = { sameOutput: elfdepsOutputs.every((o) => o === elfdepsOutputs[0]) };
  for (const [name, rs] of Object.entries(runs)) {
    result[name] = { ms: Math.round(median(rs.map((r) => r.ms))), runsMs: rs.map((r) => Math.round(r.ms)), ...(rs[0].rssMiB !== null ? { peakRssMiB: Math.max(...rs.map((r) => r.rssMiB)), cpuMs: Math.round(median(rs.map((r) => r.cpuMs))) } : {}) };
  }
  for (const [ratio, [slow, fast]] of Object.entries(ratios)) {
    if (runs[slow] && runs[fast]) result[ratio] = +median(runs[slow].map((r, i) => r.ms / runs[fast][i].ms)).toFixed(2);
  }
  return result;
}

export async function benchJobs({ rounds = 5, cold = process.env.ELFDEPS_BENCH_COLD === '1' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'elfdeps-bench-jobs-'));
  const opts = { rounds, stats: join(dir, 'stats'), hook: writeHook(dir) };
  try {
    const files = await dynamicHostFiles();
    const libtree = which('libtree') !== null;
    const result = { cpus: availableParallelism(), hostFiles: files.length, note: 'medians of interleaved runs on a shared machine: other processes compete for the same cores' };
    result.checkUsrWarm = interleave(
      { jobs1: ['elfdeps', ['check', '--jobs', '1', '/usr']], jobsDefault: ['elfdeps', ['check', '/usr']] },
      { speedup: ['jobs1', 'jobsDefault'] },
      { ...opts, cold: false, label: 'check /usr, warm' },
    );
    if (cold && process.getuid?.() === 0) {
      const resolveCommands = { elfdeps: ['elfdeps', files], ...(libtree ? { libtreeBatch: ['libtree', ['-p', '-vv', ...files]] } : {}) };
      result.hostSetCold = interleave(resolveCommands, { vsLibtreeBatch: ['libtreeBatch', 'elfdeps'] }, { ...opts, rounds: Math.min(rounds, 3), cold: true, label: `default mode over ${files.length} files, cold` });
      result.checkUsrCold = interleave(
        { jobs1: ['elfdeps', ['check', '--jobs', '1', '/usr']], jobsDefault: ['elfdeps', ['check', '/usr']] },
        { speedup: ['jobs1', 'jobsDefault'] },
        { ...opts, rounds: Math.min(rounds, 3), cold: true, label: 'check /usr, cold' },
      );
    } else result.cold = cold ? 'skipped: dropping the page cache needs root' : 'not asked (ELFDEPS_BENCH_COLD=1 or --cold)';
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--rounds');
  console.log(JSON.stringify({ jobs: await benchJobs({ rounds: at >= 0 ? Number(args[at + 1]) : 5, cold: args.includes('--cold') || process.env.ELFDEPS_BENCH_COLD === '1' }) }, null, 2));
}
