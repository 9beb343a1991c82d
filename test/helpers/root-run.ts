/**
 * Running real commands on the host and in roots made by `elfdeps copy`, for
 * the end-to-end tests of the rules (test/rules-tasks.test.ts,
 * test/helper-programs.test.ts, test/rules-runtimes.test.ts, and the task
 * runner test/helpers/task-runner.ts): a child process with its output gathered,
 * PATH lookups on the host, and a probe of whether `elfdeps run --dev
 * --proc` can run anything on this machine.
 */
import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { elfdepsCommand } from './cli.js';

export const HOST_PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function spawnAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd = '/', timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Where `name` is in the host's PATH, or null. */
export function which(name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8', env: { PATH: HOST_PATH } });
  const p = r.stdout.trim();
  return r.status === 0 && p.startsWith('/') ? p : null;
}

/** Can this machine run a program in a root with --dev --proc at all? Probed with a root of sh alone. */
export async function launcherProblem(dir: string, env: NodeJS.ProcessEnv = { PATH: HOST_PATH }): Promise<string | null> {
  const [node, bin] = elfdepsCommand();
  const root = join(dir, 'probe');
  const copy = await spawnAsync(node, [bin, 'copy', '--loader-only', '/bin/sh', root], env);
  if (copy.status !== 0) return `elfdeps copy /bin/sh failed: ${copy.stderr.trim()}`;
  const r = await spawnAsync(node, [bin, 'run', '--dev', '--proc', root, '/bin/sh', '-c', 'echo ok'], env);
  rmSync(root, { recursive: true, force: true });
  return r.stdout === 'ok\n' ? null : `elfdeps run --dev --proc cannot run here: ${r.stderr.trim().split('\n')[0]}`;
}
