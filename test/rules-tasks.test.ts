/**
 * The runtime-file rules judged the only way that counts: real one-line
 * tasks of this host's programs, each in its own fresh root made by plain
 * `elfdeps copy PROGRAMS NEWROOT` (rules on, as by default) and run with
 * `elfdeps run --dev --proc`. Output and exit status must equal the host's
 * (same command, same environment). Tasks whose programs the host lacks are
 * skipped with the reason printed.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfdepsCommand } from './helpers/cli.js';
import { REAL_TASKS, type RealTask } from './helpers/real-tasks.js';
import { HOST_PATH, launcherProblem, spawnAsync, which } from './helpers/root-run.js';

const ENV = { LANG: 'C.UTF-8', TERM: 'xterm' };
const PARALLEL = 2;

interface Outcome {
  task: RealTask;
  skipped?: string;
  equal?: boolean;
  detail?: string;
}

async function runTask(task: RealTask, dir: string, index: number): Promise<Outcome> {
  const paths: string[] = ['/bin/sh'];
  for (const p of task.programs) {
    const found = which(p);
    if (found === null) return { task, skipped: `${p} is not installed here` };
    paths.push(found);
  }
  // The host runs it in a directory of its own, as the root's run has the new root's / to itself.
  const work = mkdtempSync(join(dir, `host-${index}-`));
  const host = await spawnAsync('/bin/sh', ['-c', task.command], { PATH: HOST_PATH, ...ENV }, work);
  rmSync(work, { recursive: true, force: true });
  const [node, bin] = elfdepsCommand();
  const root = join(dir, `task-${index}`);
  const env = { PATH: HOST_PATH, ...ENV };
  const copy = await spawnAsync(node, [bin, 'copy', ...paths, root], env);
  if (copy.status !== 0) return { task, equal: false, detail: `copy exited ${copy.status}: ${copy.stderr.trim().split('\n').slice(-2).join(' / ')}` };
  const inRoot = await spawnAsync(node, [bin, 'run', '--dev', '--proc', root, '/bin/sh', '-c', task.command], env);
  rmSync(root, { recursive: true, force: true });
  const equal = inRoot.status === host.status && inRoot.stdout === host.stdout;
  return {
    task,
    equal,
    detail: equal
      ? undefined
      : `host: exit ${host.status} ${JSON.stringify(host.stdout.slice(0, 200))}; root: exit ${inRoot.status} ${JSON.stringify(inRoot.stdout.slice(0, 200))} stderr ${JSON.stringify(inRoot.stderr.slice(0, 300))}`,
  };
}

describe('runtime-file rules: real tasks in roots made by elfdeps copy', function () {
  this.timeout(1_800_000);
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-tasks-'));
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${REAL_TASKS.length} one-line tasks of ${new Set(REAL_TASKS.flatMap((t) => t.programs)).size} programs give the host's output and exit status`, async function () {
    const problem = await launcherProblem(dir, { PATH: HOST_PATH, ...ENV });
    if (problem !== null) {
      if (process.env['CI']) throw new Error(problem);
      console.log(`      skipped: ${problem}`);
      this.skip();
    }
    const outcomes: Outcome[] = new Array(REAL_TASKS.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < REAL_TASKS.length) {
        const i = next++;
        outcomes[i] = await runTask(REAL_TASKS[i] as RealTask, dir, i);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const ran = outcomes.filter((o) => o.skipped === undefined);
    const matched = ran.filter((o) => o.equal);
    const programs = new Set(ran.flatMap((o) => o.task.programs));
    console.log(`      real tasks: ${matched.length}/${ran.length} matched the host (${programs.size} programs, ${new Set(ran.map((o) => o.task.area)).size} areas)`);
    for (const o of outcomes) if (o.skipped) console.log(`      skipped: ${o.task.command}: ${o.skipped}`);
    const failed = ran.filter((o) => !o.equal).map((o) => `${o.task.command}\n        ${o.detail}`);
    expect(failed, failed.join('\n')).to.deep.equal([]);
    expect(ran.length, 'tasks run').to.be.at.least(40);
    expect(programs.size, 'programs covered').to.be.at.least(25);
  });
});
