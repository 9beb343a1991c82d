// Single-shot start (issue 20, item 3): one short command as a user types it,
// against a bare `node -e 0` (Node's own floor) and `ldd /bin/ls`, all
// interleaved round by round (each round in a rotated order) so that every
// command sees the same machine state; medians (and minimums) of wall time,
// with the output read through a pipe as a shell pipeline would; and the
// mean CPU time per run of each (see childTicks).
//
// Target: `elfdeps --ldd /bin/ls` within 15 ms of `node -e 0`. Also reported:
// `elfdeps /bin/ls` (default mode, the loader's verdict included) and
// `elfdeps --version` (the start alone: launcher, bundle, code cache).
//
// `node bench/startup.mjs [ROUNDS] [OTHER_BIN...]`: each OTHER_BIN (another
// build's dist/src/cli/elfdeps.cjs, e.g. a checkout of main) is measured in
// the same rounds, for a before/after in one run. On a shared machine the
// absolute times move a lot between runs; compare only figures of one run.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './resolve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
// The program users run: the package's `bin`.
const cli = join(here, '..', JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')).bin.elfdeps);

/**
 * CPU time (user + system) of this process's waited-for children so far, in
 * clock ticks (/proc/self/stat cutime + cstime; USER_HZ is 100 on Linux). A
 * tick is 10 ms, so only sums over many runs mean anything: the mean per run
 * is reported beside the wall-time medians, being far less disturbed than
 * wall time by other work on a shared machine.
 */
function childTicks() {
  const fields = readFileSync('/proc/self/stat', 'latin1').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[13]) + Number(fields[14]);
}
const MS_PER_TICK = 10;

function timeMs(argv) {
  const ticks = childTicks();
  const start = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error) throw r.error;
  return { ms, cpuMs: (childTicks() - ticks) * MS_PER_TICK, status: r.status };
}

/** The commands of one measurement: name -> argv. */
function commands(others) {
  const node = process.execPath;
  const cmds = { 'node -e 0': [node, '-e', '0'] };
  if (existsSync('/usr/bin/ldd')) cmds['ldd /bin/ls'] = ['/usr/bin/ldd', '/bin/ls'];
  const bins = [['', cli], ...others.map((b, i) => [` [other ${i + 1}]`, b])];
  for (const [tag, bin] of bins) {
    cmds[`elfdeps --ldd /bin/ls${tag}`] = [node, bin, '--ldd', '/bin/ls'];
    cmds[`elfdeps /bin/ls${tag}`] = [node, bin, '/bin/ls'];
    cmds[`elfdeps --version${tag}`] = [node, bin, '--version'];
  }
  return cmds;
}

/** Interleaved medians; `others` are other builds' launchers measured alongside. */
export function benchStartup(rounds = 31, others = []) {
  const cmds = commands(others);
  const names = Object.keys(cmds);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const cpu = Object.fromEntries(names.map((n) => [n, 0]));
  const statuses = {};
  // One unmeasured round first: page cache and dentries warm for every command alike.
  for (const n of names) timeMs(cmds[n]);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(round + k) % names.length];
      const { ms, cpuMs, status } = timeMs(cmds[n]);
      times[n].push(ms);
      cpu[n] += cpuMs;
      statuses[n] = status;
    }
  }
  const node = median(times['node -e 0']);
  const nodeCpu = cpu['node -e 0'] / rounds;
  const result = { rounds, medianMs: {}, minMs: {}, overNodeMs: {}, meanCpuMs: {}, cpuOverNodeMs: {}, statuses };
  for (const n of names) {
    result.medianMs[n] = +median(times[n]).toFixed(1);
    result.minMs[n] = +Math.min(...times[n]).toFixed(1);
    result.meanCpuMs[n] = +(cpu[n] / rounds).toFixed(1);
    if (n !== 'node -e 0') {
      result.overNodeMs[n] = +(median(times[n]) - node).toFixed(1);
      result.cpuOverNodeMs[n] = +(cpu[n] / rounds - nodeCpu).toFixed(1);
    }
  }
  result.lddModeOverNodeMs = result.overNodeMs['elfdeps --ldd /bin/ls'];
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (!existsSync(cli)) throw new Error('run `npm run build` first');
  const [rounds, ...others] = process.argv.slice(2);
  const r = benchStartup(rounds ? Number(rounds) : undefined, others);
  console.log(JSON.stringify(r, null, 2));
  console.log(`\nelfdeps --ldd /bin/ls: +${r.lddModeOverNodeMs} ms over node -e 0, wall-time medians (target: at most 15 ms) ${r.lddModeOverNodeMs <= 15 ? 'met' : 'MISSED'}; CPU +${r.cpuOverNodeMs['elfdeps --ldd /bin/ls']} ms`);
}
