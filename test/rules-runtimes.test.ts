/**
 * Rules for runtimes and plugin hosts (docs/rules.md: jdk, openssl-builtin,
 * tcl, imagemagick) judged by real work: each task of RUNTIME_TASKS runs in
 * its own root made by plain `elfdeps copy PROGRAMS NEWROOT` and
 * `elfdeps run --dev --proc`, with the host's output and exit status as
 * the oracle (test/helpers/task-runner.ts).
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNTIME_TASKS } from './helpers/real-tasks.js';
import { skipOrFail } from './helpers/skip.js';
import { launcherProblem, report, runTasks } from './helpers/task-runner.js';

describe('runtime-file rules: runtimes and plugin hosts in roots made by elfdeps copy', function () {
  this.timeout(1_800_000);
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-runtimes-'));
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it(`${RUNTIME_TASKS.length} tasks of java, node, tclsh and ImageMagick give the host's output and exit status`, async function () {
    const problem = await launcherProblem(dir);
    if (problem !== null) skipOrFail(this, problem);
    const outcomes = await runTasks(RUNTIME_TASKS, dir);
    const { ran, failed } = report(outcomes);
    expect(failed, failed.join('\n')).to.deep.equal([]);
    const skipped = outcomes.filter((o) => o.skipped !== undefined);
    if (skipped.length > 0) skipOrFail(this, `not installed: ${[...new Set(skipped.map((o) => o.skipped))].join('; ')}`, '.ci/run installs default-jre-headless, tcl and imagemagick');
    expect(ran.length).to.equal(RUNTIME_TASKS.length);
  });
});
