// `elfdeps check` over the whole host /usr, measured in one run so that the
// ratios compare like with like on whatever machine runs them:
//  - `elfdeps check /usr`: the walk of every file under /usr (most are not
//    ELF: their first bytes are read and they are skipped), every ELF file
//    judged, every library symlink looked up, in one process;
//  - `elfdeps check F1 ... FN` over the dynamically linked ELF files of the
//    same walk, and libtree's batch mode `libtree -p -vv F1 ... FN` over
//    exactly those files, the three taking turns round by round (medians);
//  - an `ldd` loop over the same files (one ldd per file, as a user's shell
//    loop would), once.
//
//   node bench/check.mjs        prints the measurement as JSON (build first)
//   import { benchCheck }       for bench/run.mjs
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listElfFiles } from './elf-bytes.mjs';
import { median, which } from './resolve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
// The program users run: the package's `bin`.
const cli = join(here, '..', JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')).bin.elfdeps);
const lib = join(here, '..', 'dist', 'src', 'index.js');

const progress = (msg) => process.stderr.write(`check: ${msg}\n`);

/** Wall time (ms) and output of one process, stdout read through a pipe. */
function timed(cmd, args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.error) throw r.error;
  return { ms, status: r.status, stdout: r.stdout };
}

/** The dynamically linked ELF files under `dir` (regular files, each inode once), of any machine. */
async function dynamicFilesUnder(dir) {
  const { readElf } = await import(lib);
  return listElfFiles([{ dir, recursive: true }])
    .map((f) => f.path)
    .filter((f) => {
      try {
        return readElf(f).dynamic !== null;
      } catch {
        return false;
      }
    });
}

export async function benchCheck({ dir = '/usr', rounds = 3 } = {}) {
  const files = await dynamicFilesUnder(dir);
  const hasLibtree = which('libtree') !== null;
  const runs = { checkDir: [], checkFiles: [], libtree: [] };
  let report;
  for (let i = 0; i < rounds; i++) {
    progress(`round ${i + 1}/${rounds}: elfdeps check ${dir}, elfdeps check over ${files.length} files${hasLibtree ? ', libtree -p -vv over them' : ''}`);
    const whole = timed(process.execPath, [cli, 'check', '--json', dir]);
    if (whole.status !== 0 && whole.status !== 1) throw new Error(`elfdeps check ${dir}: exit status ${whole.status}`);
    runs.checkDir.push(whole.ms);
    report = JSON.parse(whole.stdout);
    runs.checkFiles.push(timed(process.execPath, [cli, 'check', ...files]).ms);
    if (hasLibtree) runs.libtree.push(timed('libtree', ['-p', '-vv', ...files]).ms);
  }
  const ms = (xs) => (xs.length ? Math.round(median(xs)) : null);
  const result = {
    dir,
    rounds,
    dynamicFiles: files.length,
    checked: report.counts,
    failing: report.failing,
    byCause: report.byCause,
    checkDirMs: ms(runs.checkDir),
    checkDirRunsMs: runs.checkDir.map(Math.round),
    checkFilesMs: ms(runs.checkFiles),
    libtreeBatchMs: ms(runs.libtree),
    lddLoopMs: null,
    checkDirVsLddLoop: null,
    checkFilesVsLibtreeBatch: null,
    checkDirVsLibtreeBatch: null,
  };
  if (result.libtreeBatchMs !== null) {
    result.checkFilesVsLibtreeBatch = +(result.libtreeBatchMs / result.checkFilesMs).toFixed(2);
    result.checkDirVsLibtreeBatch = +(result.libtreeBatchMs / result.checkDirMs).toFixed(2);
  }
  if (which('ldd')) {
    progress(`ldd loop over ${files.length} files (one ldd per file; a minute or two)`);
    const script = 'for f in "$@"; do ldd "$f" >/dev/null 2>&1; done';
    const t = process.hrtime.bigint();
    for (let i = 0; i < files.length; i += 200) spawnSync('bash', ['-c', script, 'bench', ...files.slice(i, i + 200)], { stdio: 'ignore' });
    result.lddLoopMs = Math.round(Number(process.hrtime.bigint() - t) / 1e6);
    result.checkDirVsLddLoop = +(result.lddLoopMs / result.checkDirMs).toFixed(1);
  }
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(JSON.stringify({ check: await benchCheck() }, null, 2));
}
