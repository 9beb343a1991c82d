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
import { REAL_TASKS } from './helpers/real-tasks.js';
import { launcherProblem } from './helpers/root-run.js';
import { report, runTasks } from './helpers/task-runner.js';

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
    const problem = await launcherProblem(dir);
    if (problem !== null) {
      if (process.env['CI']) throw new Error(problem);
      console.log(`      skipped: ${problem}`);
      this.skip();
    }
    const { ran, failed } = report(await runTasks(REAL_TASKS, dir));
    const programs = new Set(ran.flatMap((o) => o.task.programs));
    expect(failed, failed.join('\n')).to.deep.equal([]);
    expect(ran.length, 'tasks run').to.be.at.least(40);
    expect(programs.size, 'programs covered').to.be.at.least(25);
  });
});
