/**
 * Runs real tasks (test/helpers/real-tasks.ts) the way a user would: each in
 * its own fresh root made by plain `elfdeps copy PROGRAMS NEWROOT` (rules
 * on, as by default) and `elfdeps run --dev --proc`, and on the host with the
 * same command and environment, in a directory of its own. The oracle is the
 * host's run: output and exit status must be equal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { elfdepsCommand } from './cli.js';
import type { RealTask } from './real-tasks.js';
import { HOST_PATH, spawnAsync, which } from './root-run.js';

const ENV = { LANG: 'C.UTF-8', TERM: 'xterm' };

export interface Outcome {
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

/** Runs `tasks`, `parallel` at a time, in roots under `dir`; the outcomes come in the tasks' order. */
export async function runTasks(tasks: readonly RealTask[], dir: string, parallel = 2): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const i = next++;
      outcomes[i] = await runTask(tasks[i] as RealTask, dir, i);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return outcomes;
}

/** Prints matched/total and the skipped tasks; returns the tasks run and the failures, one text each. */
export function report(outcomes: readonly Outcome[]): { ran: Outcome[]; failed: string[] } {
  const ran = outcomes.filter((o) => o.skipped === undefined);
  const matched = ran.filter((o) => o.equal);
  const programs = new Set(ran.flatMap((o) => o.task.programs));
  console.log(`      real tasks: ${matched.length}/${ran.length} matched the host (${programs.size} programs, ${new Set(ran.map((o) => o.task.area)).size} areas)`);
  for (const o of outcomes) if (o.skipped) console.log(`      skipped: ${o.task.command}: ${o.skipped}`);
  return { ran, failed: ran.filter((o) => !o.equal).map((o) => `${o.task.command}\n        ${o.detail}`) };
}
