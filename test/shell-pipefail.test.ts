/**
 * No shell script of the repository pipes a command into a reader that exits
 * early (`grep -q`, `grep -m N`, `grep -l`, `head`) while `pipefail` is on:
 * the reader stops at its first match or line, the writer's next write gets
 * SIGPIPE, and the pipeline fails with 141 although the check succeeded. That
 * failed .ci/run about half the time (issue 21, item 12: the loader's --list
 * under qemu piped into `grep -q`); the fix is to capture the output whole
 * (`out=$(cmd)`) and search the variable.
 *
 * Scanned: every file under the repository (node_modules, .git and dist
 * aside) whose name ends in .sh or whose first line is a shell's `#!` (.ci/run,
 * scripts/*.sh ...), and every JavaScript or TypeScript source that mentions
 * `pipefail` (a shell snippet a test helper or benchmark runs). The oracle for
 * the rule is bash itself: each reader the scanner flags is shown to fail a
 * pipeline under pipefail, and to pass without it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { earlyExit, findPipefailHazards } from './helpers/shell-pipefail.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist']);

/** The repository's shell scripts, and the JS/TS sources with a shell snippet that sets pipefail. */
function scriptsOfRepo(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        if (!SKIP_DIRS.has(name)) walk(p);
        continue;
      }
      if (!st.isFile() || st.size > 1 << 20) continue;
      const text = readFileSync(p, 'utf8');
      if (name.endsWith('.sh') || /^#!\s*\S*\b(ba|da|k|z)?sh\b/.test(text) || /^#!\s*\/usr\/bin\/env\s+(ba|da|k|z)?sh\b/.test(text)) out.push(p);
      else if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(name) && text.includes('pipefail') && p !== fileURLToPath(import.meta.url)) out.push(p);
    }
  };
  walk(REPO);
  return out;
}

describe('shell scripts: no pipeline into an early-exiting reader under pipefail (issue 21, item 12)', function () {
  it('bash itself fails such pipelines with SIGPIPE (141) under pipefail, and not without it', function () {
    // A writer with far more than a pipe buffer of output: it is still writing when the reader exits.
    // The reader writes to a file: GNU grep -l reads on to the end when its output is /dev/null.
    const dir = mkdtempSync(join(tmpdir(), 'elfdeps-pipefail-'));
    const pipeline = (reader: string, pipefail: boolean): number | null =>
      spawnSync('bash', ['-c', `${pipefail ? 'set -o pipefail; ' : ''}seq 1 3000000 | ${reader} > "$1"`, 'bash', join(dir, 'out')]).status;
    try {
      for (const reader of ['grep -q 1', 'grep -m1 1', 'grep -l 1', 'grep -L 1', 'head -n1']) {
        expect(earlyExit(reader), reader).to.not.equal(null);
        expect([pipeline(reader, true), pipeline(reader, false)], reader).to.deep.equal([141, 0]);
      }
      // Readers that consume all their input are no hazard, and are not flagged.
      for (const reader of ['grep -c 1', 'grep 1', 'wc -l']) {
        expect(earlyExit(reader), reader).to.equal(null);
        expect(pipeline(reader, true), reader).to.equal(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('flags the lines that failed CI before the fix, and leaves the fixed forms alone', function () {
    // Verbatim from before commit 6e44481 (.ci/run, scripts/fetch-foreign-root.sh, scripts/fetch-older-root.sh).
    const before = [
      '#!/usr/bin/env bash',
      'set -euo pipefail',
      'for p in "${packages[@]}"; do',
      "  dpkg-query -W -f='${Status}' \"$p\" 2>/dev/null | grep -q 'install ok installed' || missing+=(\"$p\")",
      'done',
      'chroot "$stage" "/$qemu" "$interp" --list /usr/bin/true | grep -q "libc.so.6 => /lib/$triplet/libc.so.6" ||',
      '  die "the loader $interp does not work inside the new root"',
      'chroot "$stage" "$interp" --list /usr/bin/true | grep -q "libc.so.6 => /lib/$triplet/libc.so.6" ||',
      '  die "the loader $interp does not work inside the new root"',
      'version=$(chroot "$stage" "/lib/$triplet/libc.so.6" | head -n1)',
      'x=$(some command |',
      '    grep --max-count=1 pattern)',
      'ldd "$f" | grep "x" -q && echo "a grep with -q after its pattern"',
    ].join('\n');
    const found = findPipefailHazards(before);
    expect(found.map((f) => [f.line, f.reader])).to.deep.equal([
      [4, 'grep -q'],
      [6, 'grep -q'],
      [8, 'grep -q'],
      [10, 'head'],
      [11, 'grep --max-count=1'],
      [13, 'grep -q'],
    ]);
    const fixedOrHarmless = [
      '#!/bin/sh',
      'set -euo pipefail',
      'status=$(dpkg-query -W -f=\'${Status}\' "$p" 2>/dev/null) || status=',
      'if [ -f "$marker" ] && [ "$(head -n1 "$marker")" = "$want_marker" ]; then :; fi',
      'true || grep -q x file',
      'echo "a | head in quotes" \'and | grep -q here\'',
      '# a comment: cmd | grep -q x',
      'cmd | grep -c x',
      'cmd | grep -e -q x',
    ].join('\n');
    expect(findPipefailHazards(fixedOrHarmless)).to.deep.equal([]);
    // Without pipefail the reader's status is the pipeline's: no hazard.
    expect(findPipefailHazards(before.replace('set -euo pipefail', 'set -eu'))).to.deep.equal([]);
  });

  it('no script of the repository has one', function () {
    const scripts = scriptsOfRepo();
    const names = scripts.map((p) => relative(REPO, p));
    // The scan must see the scripts CI runs, or it proves nothing.
    expect(names).to.include.members(['.ci/run', 'scripts/fetch-foreign-root.sh', 'scripts/fetch-older-root.sh', 'scripts/debian-root-lib.sh']);
    const findings = scripts.flatMap((p) => findPipefailHazards(readFileSync(p, 'utf8')).map((f) => `${relative(REPO, p)}:${f.line}: ${f.reader} after a pipe under pipefail (capture the output, then search it): ${f.text}`));
    console.log(`      ${scripts.length} scripts scanned: ${names.join(', ')}`);
    expect(findings, findings.join('\n')).to.deep.equal([]);
  });
});
