/**
 * Conformance of the loader's verdict with the real loader: for every
 * dynamically linked ELF file under /usr that this kernel runs (x86_64, and
 * i386 where it runs i386 programs: the set of resolve-conformance.test.ts,
 * helpers/conformance-set.ts), the shipped CLI must print what ldd prints
 * (load addresses removed) on stdout, and the same stderr (call for call), with
 *  - `-v`: exactly, line for line, Version information block and any version
 *    error lines included;
 *  - `-u`: the same lines in any order (pids of the loader's debug lines
 *    normalised on both sides);
 *  - `-r`: the same lines in any order (the `undefined symbol:` lines after the
 *    list, whose order follows the relocation records).
 * Both tools are run with many files per call (ldd's `FILE:` headers split the
 * output), two calls at a time: this machine has two cores. elfdeps gets
 * `--ldd-origin`, so that $ORIGIN of a program reached through a symlink is
 * computed as ldd computes it. ldd -r and -u of a shared library relocate that
 * library: plugins list many undefined symbols, as expected; they are compared
 * like the rest.
 *
 * A versioned reference to a library that was not found gets no version
 * when its index is above every index of the found libraries and of the
 * object's own definitions (_dl_check_map_versions counts ndx_high over
 * found dependencies only): ldd -r prints `undefined symbol: X` there, and so
 * does elfdeps (the JDK's libraries, whose libjvm.so is not on the search
 * path, are such files).
 */
import { existsSync } from 'node:fs';
import { expect } from 'chai';
import { hostConformanceSet } from './helpers/conformance-set.js';
import { elfdepsCommand } from './helpers/cli.js';
import { runAll, stderrMismatch, type BatchOutput } from './helpers/ldd-batch.js';
import { skipOrFail } from './helpers/skip.js';

const LDD = '/usr/bin/ldd';
const BATCH = 150;
const PARALLEL = 2;

type Flag = '-v' | '-u' | '-r';

function sameMultiset(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((l, i) => l === y[i]);
}

/** The lines of `want` missing from `got` and those in excess, as multisets. */
function multisetDiff(want: string[], got: string[]): { missing: string[]; extra: string[] } {
  const count = new Map<string, number>();
  for (const l of got) count.set(l, (count.get(l) ?? 0) + 1);
  const missing: string[] = [];
  for (const l of want) {
    const n = count.get(l) ?? 0;
    if (n > 0) count.set(l, n - 1);
    else missing.push(l);
  }
  const extra: string[] = [];
  for (const [l, n] of count) for (let i = 0; i < n; i++) extra.push(l);
  return { missing, extra };
}

const show = (lines: string[]): string => (lines.length ? lines.map((l) => `    ${JSON.stringify(l)}`).join('\n') : '    (nothing)');

describe('conformance of the verdict (versions, unused, relocations) with ldd on the host', function () {
  this.timeout(20 * 60 * 1000);

  it('gives the output of ldd -v, ldd -u and ldd -r for every dynamically linked host ELF file', async function () {
    if (!existsSync(LDD)) skipOrFail(this, `${LDD} is missing: the verdict conformance test has no oracle`);
    if (process.arch !== 'x64') {
      console.log(`      skipped: the conformance set is for x86_64 hosts, this is ${process.arch}`);
      this.skip();
    }
    // The set of resolve-conformance.test.ts.
    const { files } = hostConformanceSet();
    expect(files.length).to.be.greaterThan(100);
    const batches: string[][] = [];
    for (let i = 0; i < files.length; i += BATCH) batches.push(files.slice(i, i + BATCH));
    const [node, bin] = elfdepsCommand();

    const mismatches: string[] = [];
    const counts: Record<Flag, number> = { '-v': 0, '-u': 0, '-r': 0 };
    const timings: string[] = [];
    let undefinedLines = 0;
    for (const flag of ['-v', '-u', '-r'] as Flag[]) {
      let t = Date.now();
      const want = await runAll(LDD, [flag], batches, PARALLEL);
      const lddMs = Date.now() - t;
      t = Date.now();
      const got = await runAll(node, [bin, '--ldd', '--ldd-origin', flag], batches, PARALLEL);
      timings.push(`ldd ${flag} ${(lddMs / 1000).toFixed(1)} s, elfdeps ${flag} ${((Date.now() - t) / 1000).toFixed(1)} s`);
      for (const [i, batch] of batches.entries()) {
        const w = want[i] as BatchOutput;
        const g = got[i] as BatchOutput;
        // ldd exits 0 whenever its trace ran (even with "not found" and version
        // errors), so its status says nothing per file; but every file of the set
        // is readable, so elfdeps must never say 2 (bad usage or unreadable).
        if (g.code === 2) mismatches.push(`elfdeps ${flag} batch ${i + 1} (${batch[0]} ...): exit status 2`);
        // Both streams are ldd's: no line of elfdeps' own on stderr either.
        const err = stderrMismatch(`ldd ${flag} batch ${i + 1} (${batch[0]} ...)`, w.stderr, g.stderr);
        if (err) mismatches.push(err);
        for (const f of batch) {
          const wl = w.perFile.get(f) ?? [];
          const gl = g.perFile.get(f) ?? [];
          if (flag === '-r') undefinedLines += wl.filter((l) => l.startsWith('undefined symbol: ')).length;
          if (flag === '-v') {
            if (JSON.stringify(wl) === JSON.stringify(gl)) counts[flag]++;
            else {
              const at = wl.findIndex((l, k) => gl[k] !== l);
              const k = at === -1 ? wl.length : at;
              mismatches.push(
                `ldd -v ${f}: first difference at line ${k + 1} (ldd ${wl.length} lines, elfdeps ${gl.length})\n  ldd:\n${show(wl)}\n  elfdeps:\n${show(gl)}`,
              );
            }
          } else if (sameMultiset(wl, gl)) counts[flag]++;
          else {
            const d = multisetDiff(wl, gl);
            // Short outputs in full; long ones (plugins with hundreds of undefined symbols) as the difference.
            const full = wl.length + gl.length <= 80 ? `\n  ldd:\n${show(wl)}\n  elfdeps:\n${show(gl)}` : '';
            const cap = (lines: string[]): string => `${show(lines.slice(0, 25))}${lines.length > 25 ? `\n    ... ${lines.length - 25} more` : ''}`;
            mismatches.push(
              `ldd ${flag} ${f}: ${d.missing.length} lines only in ldd, ${d.extra.length} only in elfdeps (ldd ${wl.length} lines, elfdeps ${gl.length})` +
                `\n  only in ldd:\n${cap(d.missing)}\n  only in elfdeps:\n${cap(d.extra)}${full}`,
            );
          }
        }
      }
    }
    const n = files.length;
    console.log(
      `      ldd -v: ${counts['-v']}/${n} equal; ldd -u: ${counts['-u']}/${n} same lines; ldd -r: ${counts['-r']}/${n} same lines (${undefinedLines} undefined-symbol lines compared)`,
    );
    console.log(`      ${batches.length} batches of up to ${BATCH} files, ${PARALLEL} at a time: ${timings.join('; ')}`);
    if (mismatches.length) console.log(mismatches.slice(0, 15).join('\n'));
    expect(mismatches.length, `${mismatches.length} (file, flag) pairs differ; the first ${Math.min(15, mismatches.length)} are printed above`).to.equal(0);
  });
});
