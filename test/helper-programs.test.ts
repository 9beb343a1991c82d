/**
 * Programs that run other programs, judged by real work: each task runs in
 * its own root made by plain `elfdeps copy PROGRAMS NEWROOT` and `elfdeps
 * run --dev --proc`, and must print what it prints on the host, with the
 * same exit status. Two oracles: the host's own run of the same command,
 * and strace on that run, whose every successful execve() names a file the
 * root must hold (the scan and the helper rules may bring more, never less
 * than the host really ran). Tasks: tar compressing and decompressing with
 * gzip and xz, git's shell helper `git submodule status` and a local clone,
 * gcc compiling and linking a C program that then runs, and a #!/bin/sh
 * script given as the only input that runs sed, basename, env, xargs...
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfdepsCommand } from './helpers/cli.js';
import { HOST_PATH, launcherProblem, spawnAsync, which } from './helpers/root-run.js';
import { skipOrFail } from './helpers/skip.js';

const PARALLEL = 2;

interface HelperTask {
  name: string;
  /** Programs named by the user (found in PATH), or paths as they are. */
  inputs: string[];
  command: string;
  /** Environment of both runs; `$HERE` stands for where the task's files are (host dir, or /data in the root). */
  env?: Record<string, string>;
  /** Host files the task reads, copied into the root's /data after `copy` (as a user would place them). */
  data?: string;
}

/** A shell script of the kind users write: commands by PATH, through $( ), backquotes, env and xargs, a function, a here-document. */
const SCRIPT = `#!/bin/sh
# Report on a file name.
set -e
show() { printf '%s\\n' "$1"; }
name=$(basename "$1" .txt)
show "$name" | sed 's/^/name: /'
printf 'b\\na\\nc\\n' | env LC_ALL=C sort -r
printf 'x y\\n' | xargs -n 1 echo
upper=\`echo "$name" | tr a-z A-Z\`
show "$upper"
cat <<EOF
no-such-command in a here-document
EOF
exit 4
`;

/** Successful execve() paths in an strace -f -e trace=execve output. */
function execedPaths(trace: string): string[] {
  const out = new Set<string>();
  for (const line of trace.split('\n')) {
    const m = /execve\("((?:[^"\\]|\\.)*)",.*\) = 0$/.exec(line);
    if (m) out.add(m[1] as string);
  }
  return [...out];
}

function sizeOf(root: string): string {
  const r = spawnSync('du', ['-sk', root], { encoding: 'utf8' });
  const kib = Number(r.stdout.split('\t')[0]);
  return `${(kib / 1024).toFixed(1)} MiB`;
}

describe('helper programs: real tasks in roots made by elfdeps copy', function () {
  this.timeout(1_200_000);
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-helpers-'));
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  /** A repository with a submodule, made by the host's git (the task's data). */
  function makeRepos(): string {
    const repos = join(dir, 'repos');
    mkdirSync(repos);
    const env = { PATH: HOST_PATH, HOME: repos, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'A', GIT_AUTHOR_EMAIL: 'a@example.org', GIT_COMMITTER_NAME: 'A', GIT_COMMITTER_EMAIL: 'a@example.org', GIT_AUTHOR_DATE: '2020-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2020-01-01T00:00:00Z' };
    const git = (cwd: string, ...args: string[]): void => {
      const r = spawnSync('git', ['-c', 'init.defaultBranch=main', '-c', 'protocol.file.allow=always', ...args], { cwd, env, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
    };
    for (const name of ['sub', 'top']) {
      mkdirSync(join(repos, name));
      git(join(repos, name), 'init', '-q');
      writeFileSync(join(repos, name, `${name}.txt`), `${name}\n`);
      git(join(repos, name), 'add', `${name}.txt`);
      git(join(repos, name), 'commit', '-qm', name);
    }
    git(join(repos, 'top'), 'submodule', 'add', '-q', '../sub', 'sub');
    git(join(repos, 'top'), 'commit', '-qm', 'add sub');
    return repos;
  }

  it('tar, git, gcc and a #!/bin/sh script do their work in their roots as on the host, and the root holds every program the host run executed', async function () {
    if (which('strace') === null) skipOrFail(this, 'strace is not installed (the oracle for what the host run executes)');
    const problem = await launcherProblem(dir, { PATH: HOST_PATH });
    if (problem !== null) skipOrFail(this, problem);
    const repos = makeRepos();
    const script = join(dir, 'report.sh');
    writeFileSync(script, SCRIPT);
    chmodSync(script, 0o755);
    const tasks: HelperTask[] = [
      {
        name: 'tar with gzip and xz',
        inputs: ['tar'],
        command: "printf 'hello\\n' > f && tar -czf a.tgz f && tar -cJf a.txz f && tar -xzOf a.tgz && tar -xJOf a.txz && tar -xOf a.txz && tar -tzf a.tgz",
      },
      {
        name: 'git submodule status and a local clone',
        inputs: ['git'],
        data: repos,
        env: { HOME: '$HERE', GIT_CONFIG_NOSYSTEM: '1' },
        command: '(cd "$HOME/top" && git submodule status) && git clone -q "$HOME/top" clone && git -C clone log --format=%s && git -C clone submodule status && git -C clone show HEAD:top.txt',
      },
      {
        name: 'gcc compiles and links a C program that runs',
        inputs: ['gcc'],
        command:
          "printf '%s\\n' '#include <stdio.h>' '#include <math.h>' '#include <string.h>' 'int main(int argc, char **argv) { volatile double x = 2.0; printf(\"%s %.6f %zu\\n\", \"hello\", sqrt(x), strlen(argv[0])); return 3; }' > h.c && gcc -O2 -Wall -o h h.c -lm && ./h",
      },
      { name: 'a #!/bin/sh script as the only input', inputs: [script], command: `${script} /some/dir/report.txt` },
    ];

    const [node, bin] = elfdepsCommand();
    const run = async (task: HelperTask, index: number): Promise<string | null> => {
      const inputs: string[] = [];
      for (const p of task.inputs) {
        const found = p.startsWith('/') ? p : which(p);
        if (found === null) skipOrFail(this, `${p} is not installed here`);
        inputs.push(found);
      }
      const work = join(dir, `host-${index}`);
      mkdirSync(work);
      const envFor = (here: string): string[] => Object.entries(task.env ?? {}).map(([k, v]) => `${k}=${v.replace('$HERE', here)}`);
      const hostEnv = Object.fromEntries([`PATH=${HOST_PATH}`, 'LANG=C.UTF-8', ...envFor(task.data ?? work)].map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string]));
      const trace = join(dir, `trace-${index}`);
      const host = await spawnAsync('strace', ['-f', '-qq', '-e', 'trace=execve', '-o', trace, '/bin/sh', '-c', task.command], hostEnv, work);
      const root = join(dir, `root-${index}`);
      const copy = await spawnAsync(node, [bin, 'copy', ...(task.inputs[0]?.startsWith('/') ? [] : ['/bin/sh']), ...inputs, root], { PATH: HOST_PATH });
      if (copy.status !== 0) return `${task.name}: copy exited ${copy.status}: ${copy.stderr.trim().split('\n').slice(-2).join(' / ')}`;
      console.log(`      ${task.name}: root ${sizeOf(root)}`);
      if (task.data) cpSync(task.data, join(root, 'data'), { recursive: true });
      const envArgs = ['LANG=C.UTF-8', ...envFor('/data')].flatMap((kv) => ['--env', kv]);
      const inRoot = await spawnAsync(node, [bin, 'run', '--dev', '--proc', ...envArgs, root, '/bin/sh', '-c', task.command], { PATH: HOST_PATH });
      const absent = execedPaths(readFileSync(trace, 'utf8')).filter((p) => {
        if (p.startsWith(work) || p.startsWith('./')) return false; // made by the task itself
        try {
          lstatSync(join(root, p));
          return false;
        } catch {
          return true;
        }
      });
      rmSync(root, { recursive: true, force: true });
      const problems: string[] = [];
      if (inRoot.status !== host.status || inRoot.stdout !== host.stdout) {
        problems.push(`host: exit ${host.status} ${JSON.stringify(host.stdout.slice(0, 300))} ${JSON.stringify(host.stderr.slice(0, 200))}; root: exit ${inRoot.status} ${JSON.stringify(inRoot.stdout.slice(0, 300))} stderr ${JSON.stringify(inRoot.stderr.slice(0, 400))}`);
      }
      if (host.status === null || host.stdout === '') problems.push(`the host run itself did nothing (exit ${host.status}): ${host.stderr.slice(0, 200)}`);
      if (absent.length > 0) problems.push(`executed on the host, not in the root: ${absent.join(', ')}`);
      return problems.length === 0 ? null : `${task.name}: ${problems.join('; ')}`;
    };

    const failures: Array<string | null> = new Array(tasks.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < tasks.length) {
        const i = next++;
        failures[i] = await run(tasks[i] as HelperTask, i);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const failed = failures.filter((f): f is string => f !== null);
    console.log(`      helper-program tasks: ${tasks.length - failed.length}/${tasks.length} matched the host`);
    expect(failed, failed.join('\n')).to.deep.equal([]);
  });
});
