// The loader's verdict (symbol versions, symbol lookup), measured in one run
// so that the ratios compare like with like on whatever machine runs them:
//  - `elfdeps -r F1 ... FN` over the whole host set (bench/resolve.mjs's
//    dynamicHostFiles) in one process, against an `ldd -r` loop over the same
//    files (one ldd per file, as a user's shell loop would);
//  - plain `elfdeps --ldd F1 ... FN` over the same set (version checks are the
//    CLI default: this is the figure to compare with the resolve section);
//  - for both CLI runs, what the process read (rchar of /proc/self/io, every
//    read(2): the node bundle included) and its peak memory, taken at exit by a
//    preloaded hook; and the reader's bytes per ELF file (bench/elf-bytes.mjs).
//
//   node bench/verdict.mjs        prints the measurement as JSON (build first)
//   import { benchVerdict }       for bench/run.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dynamicHostFiles } from './resolve.mjs';
import { measureElfBytes } from './elf-bytes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
// The program users run: the package's `bin`.
const cli = join(here, '..', JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')).bin.elfdeps);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function which(cmd) {
  const r = spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const progress = (msg) => process.stderr.write(`verdict: ${msg}\n`);

/** A hook preloaded into the CLI: at exit, its rchar, peak RSS and CPU time (every thread's, user and system) into $ELFDEPS_BENCH_STATS. */
export function writeHook(dir) {
  const hook = join(dir, 'stats-hook.cjs');
  writeFileSync(
    hook,
    `process.on('exit', () => {
  const io = require('fs').readFileSync('/proc/self/io', 'utf8');
  const rchar = Number(/^rchar: (\\d+)/m.exec(io)?.[1] ?? NaN);
  const u = process.resourceUsage();
  require('fs').writeFileSync(process.env.ELFDEPS_BENCH_STATS, JSON.stringify({ rchar, maxRssKiB: u.maxRSS, cpuUs: u.userCPUTime + u.systemCPUTime }));
});\n`,
  );
  return hook;
}

/**
 * Runs `elfdeps ARGS FILES` `rounds` times in one process each (stdout read
 * through a pipe, as a user's `| less` would); median wall time, and the
 * process's reads and memory of the last round.
 */
function timeCli(args, files, { rounds, hook, statsFile }) {
  const wall = [];
  let last;
  for (let i = 0; i < rounds; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, ['--require', hook, cli, ...args, ...files], {
      encoding: 'utf8',
      maxBuffer: 512 << 20,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ELFDEPS_BENCH_STATS: statsFile },
    });
    wall.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.error) throw r.error;
    if (r.status !== 0 && r.status !== 1) throw new Error(`elfdeps ${args.join(' ')}: exit status ${r.status}: ${r.stderr.split('\n')[0]}`);
    last = { status: r.status, stdout: r.stdout, stats: JSON.parse(readFileSync(statsFile, 'utf8')) };
  }
  return { ms: median(wall), runsMs: wall.map((x) => Math.round(x)), ...last };
}

/** `cmd FILE` once per file (one process per file, as a user's loop would), in chunks to show progress. */
function loopMs(cmd, files, chunk = 100) {
  const script = `for f in "$@"; do ${cmd} "$f" >/dev/null 2>&1; done`;
  const t = process.hrtime.bigint();
  for (let i = 0; i < files.length; i += chunk) {
    spawnSync('bash', ['-c', script, 'bench', ...files.slice(i, i + chunk)], { stdio: 'ignore' });
    const done = Math.min(files.length, i + chunk);
    progress(`${cmd} loop ${done}/${files.length} files, ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s`);
  }
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export async function benchVerdict({ files, rounds = 3 } = {}) {
  files ??= await dynamicHostFiles();
  const dir = mkdtempSync(join(tmpdir(), 'elfdeps-bench-verdict-'));
  try {
    const opts = { rounds, hook: writeHook(dir), statsFile: join(dir, 'stats.json') };
    // Whether this elfdeps knows -r at all (before the verdict landed, it did not).
    const probe = spawnSync(process.execPath, [cli, '-r', '/bin/true'], { encoding: 'utf8' });
    const cliError = probe.status === 0 ? null : `elfdeps -r /bin/true: exit status ${probe.status}: ${(probe.stderr || probe.stdout).split('\n')[0]}`;
    const result = { files: files.length };
    let r = null;
    if (cliError) result.elfdepsSkipped = cliError;
    else {
      progress(`elfdeps -r over ${files.length} files, ${rounds} rounds`);
      r = timeCli(['-r'], files, opts);
      progress(`elfdeps --ldd over ${files.length} files, ${rounds} rounds`);
      const plain = timeCli(['--ldd'], files, opts);
      const elfRead = await measureElfBytes();
      Object.assign(result, {
        elfdepsRelocsWallMs: Math.round(r.ms),
        elfdepsRelocsRunsMs: r.runsMs,
        elfdepsRelocsExit: r.status,
        elfdepsRelocsUndefinedLines: r.stdout.split('\n').filter((l) => l.startsWith('undefined symbol: ')).length,
        elfdepsRelocsReadMiB: +(r.stats.rchar / 2 ** 20).toFixed(1),
        elfdepsRelocsPeakRssMiB: Math.round(r.stats.maxRssKiB / 1024),
        elfdepsLddWallMs: Math.round(plain.ms),
        elfdepsLddRunsMs: plain.runsMs,
        elfdepsLddReadMiB: +(plain.stats.rchar / 2 ** 20).toFixed(1),
        elfdepsLddPeakRssMiB: Math.round(plain.stats.maxRssKiB / 1024),
        // The reader's figure (bench/elf-bytes.mjs): bytes read per ELF file of the host directories.
        readerAverageBytesPerElf: Math.round(elfRead.averageBytesRead),
        readerMaxBytesPerElf: elfRead.maxBytesRead,
      });
    }
    Object.assign(result, { lddRelocsLoopMs: null, lddRelocsUndefinedLines: null, speedupVsLddRelocs: null });
    if (which('ldd')) {
      progress(`ldd -r loop over ${files.length} files (one ldd per file; a minute or two)`);
      result.lddRelocsLoopMs = Math.round(loopMs('ldd -r', files));
      if (r) result.speedupVsLddRelocs = +(result.lddRelocsLoopMs / r.ms).toFixed(1);
      // The same files' undefined-symbol lines from ldd, in batches (not timed): a sanity check that both did the work.
      let undef = 0;
      for (let i = 0; i < files.length; i += 150) {
        const o = spawnSync('ldd', ['-r', ...files.slice(i, i + 150)], { encoding: 'utf8', maxBuffer: 256 << 20 });
        undef += o.stdout.split('\n').filter((l) => l.startsWith('undefined symbol: ')).length;
      }
      result.lddRelocsUndefinedLines = undef;
    }
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify({ verdict: await benchVerdict() }, null, 2));
}
