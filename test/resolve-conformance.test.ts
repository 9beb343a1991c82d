/**
 * Conformance with the real loader: for every dynamically linked ELF file
 * under /usr that this kernel runs (x86_64, and i386 where it runs i386
 * programs; see helpers/conformance-set.ts), `elfdeps --ldd` must print
 * exactly what `ldd` prints with the load addresses removed, the vDSO line
 * included, on stdout and on stderr. ldd is the oracle only on the host's own, trusted files.
 */
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { readElf } from '../src/elf/reader.js';
import { EM_X86_64 } from '../src/elf/constants.js';
import { Resolver } from '../src/resolve/index.js';
import { formatLdd } from '../src/cli/format.js';
import { describeConformanceSet, hostConformanceSet } from './helpers/conformance-set.js';
import { elfdepsCommand } from './helpers/cli.js';
import { runAll, stderrMismatch, type BatchOutput } from './helpers/ldd-batch.js';
import { skipOrFail } from './helpers/skip.js';

const run = promisify(execFile);
const LDD = '/usr/bin/ldd';

/** ldd's stdout for many files at once, split per file ("FILE:" headers), addresses stripped. */
async function lddBatch(files: string[]): Promise<Map<string, string[]>> {
  const { stdout } = await run(LDD, files, { maxBuffer: 64 << 20, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  );
  const out = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('\t') && line.endsWith(':') && files.includes(line.slice(0, -1))) {
      current = [];
      out.set(line.slice(0, -1), current);
    } else if (current && line !== '') current.push(line.replace(/ \(0x[0-9a-f]+\)$/, ''));
  }
  return out;
}

describe('conformance with ldd on the host', function () {
  this.timeout(20 * 60 * 1000);

  it('gives ldd output for every dynamically linked host ELF file, on both streams', async function () {
    if (!existsSync(LDD)) skipOrFail(this, `${LDD} is missing: the host conformance test has no oracle`);
    if (process.arch !== 'x64') {
      console.log(`      skipped: the conformance set is for x86_64 hosts, this is ${process.arch}`);
      this.skip();
    }
    const set = hostConformanceSet();
    const { files } = set;
    expect(files.length).to.be.greaterThan(100);
    const batchSize = 150;
    const batches: string[][] = [];
    for (let i = 0; i < files.length; i += batchSize) batches.push(files.slice(i, i + batchSize));
    // The shipped CLI, as a user runs it; two calls at a time: this machine has two cores.
    const [node, bin] = elfdepsCommand();
    const want = await runAll(LDD, [], batches, 2);
    const got = await runAll(node, [bin, '--ldd', '--ldd-origin'], batches, 2);
    const mismatches: string[] = [];
    let equal = 0;
    for (const [i, batch] of batches.entries()) {
      const w = want[i] as BatchOutput;
      const g = got[i] as BatchOutput;
      // ldd's stderr has only ldd's own lines (the loader's are merged into its stdout): elfdeps adds none.
      const err = stderrMismatch(`batch ${i + 1} (${batch[0]} ...)`, w.stderr, g.stderr);
      if (err) mismatches.push(err);
      if (g.code === 2) mismatches.push(`batch ${i + 1} (${batch[0]} ...): elfdeps exit status 2`);
      for (const f of batch) {
        // When the loader would fail (e.g. a non-ELF file named like a library), both print its error line.
        const wl = w.perFile.get(f) ?? [];
        const gl = g.perFile.get(f) ?? [];
        if (JSON.stringify(gl) === JSON.stringify(wl)) equal++;
        else mismatches.push(`${f}\n  ldd:     ${wl.join(' | ')}\n  elfdeps: ${gl.join(' | ')}`);
      }
    }
    console.log(
      `      conformance: ${describeConformanceSet(set)}; ${equal} of ${files.length} equal to ldd on stdout (the vDSO line included), ` +
        `stderr equal for ${batches.length - mismatches.filter((m) => m.includes(': stderr differs')).length} of ${batches.length} calls`,
    );
    if (mismatches.length) console.log(mismatches.slice(0, 20).join('\n'));
    expect(mismatches, `${mismatches.length} differences`).to.deep.equal([]);
  });

  it('follows the loader for programs reached through symlinks, and ldd with --ldd-origin', async function () {
    if (!existsSync(LDD) || process.arch !== 'x64') {
      console.log('      skipped: needs ldd on an x86_64 host');
      this.skip();
    }
    // Symlinks in the program directories whose target is a dynamically linked
    // x86_64 program (/etc/alternatives chains, ../lib/foo/bin/foo ...): where
    // glibc 2.36's ldd and a real start disagree about $ORIGIN.
    const links: string[] = [];
    for (const dir of ['/usr/bin', '/usr/sbin']) {
      for (const name of readdirSync(dir).sort()) {
        const p = join(dir, name);
        try {
          if (!lstatSync(p).isSymbolicLink()) continue;
          const elf = readElf(realpathSync(p));
          if (elf.header.machine === EM_X86_64 && elf.header.elfClass === 64 && (elf.kind === 'executable' || elf.kind === 'pie-executable')) links.push(p);
        } catch {
          // dangling link, or not ELF
        }
      }
    }
    const asLdd = new Resolver({ root: '/', cwd: '/', originMode: 'ldd' });
    const asExec = new Resolver({ root: '/', cwd: '/' });
    const expectedLdd = await lddBatch(links);
    const diffs: string[] = [];
    let equalLdd = 0;
    let equalExec = 0;
    for (const f of links) {
      const viaLdd = formatLdd(asLdd.resolveOne(f));
      if (JSON.stringify(viaLdd) === JSON.stringify(expectedLdd.get(f) ?? [])) equalLdd++;
      else diffs.push(`${f} (--ldd-origin vs ldd)`);
      // The real start: the loader in trace mode, through the kernel, so the
      // program's $ORIGIN is its real directory. It loads nothing but maps.
      const { stdout } = await run(f, [], { env: { PATH: '/usr/bin:/bin', LD_TRACE_LOADED_OBJECTS: '1' } }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
      const real = stdout.split('\n').filter((l) => l !== '').map((l) => l.replace(/ \(0x[0-9a-f]+\)$/, ''));
      const viaExec = formatLdd(asExec.resolveOne(f));
      if (JSON.stringify(viaExec) === JSON.stringify(real)) equalExec++;
      else diffs.push(`${f} (default vs LD_TRACE_LOADED_OBJECTS=1)\n  loader:  ${real.join(' | ')}\n  elfdeps: ${viaExec.join(' | ')}`);
    }
    console.log(`      symlinked programs: ${links.length} compared; ${equalLdd} equal to ldd with --ldd-origin, ${equalExec} equal to the real loader by default`);
    if (diffs.length) console.log(diffs.slice(0, 10).join('\n'));
    expect(links.length).to.be.greaterThan(10);
    expect(diffs).to.deep.equal([]);
  });

  it('gives a library reached through a symlink the $ORIGIN of the path given, as dlopen and ldd do', async function () {
    if (!existsSync(LDD) || process.arch !== 'x64') {
      console.log('      skipped: needs ldd on an x86_64 host');
      this.skip();
    }
    // Symlinks under /usr/lib to x86_64 libraries whose search paths use
    // $ORIGIN (LLVM's gold plugin, the JDK's libraries...): nothing starts a
    // library through the kernel, so its origin is never the resolved path.
    const links: string[] = [];
    const visit = (dir: string, depth: number): void => {
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        return;
      }
      for (const name of names) {
        const p = join(dir, name);
        let st;
        try {
          st = lstatSync(p);
        } catch {
          continue;
        }
        if (st.isDirectory() && depth < 6) visit(p, depth + 1);
        if (!st.isSymbolicLink()) continue;
        try {
          const elf = readElf(realpathSync(p));
          const paths = `${elf.dynamic?.rpath ?? ''}:${elf.dynamic?.runpath ?? ''}`;
          if (elf.header.machine === EM_X86_64 && elf.kind === 'shared-library' && paths.includes('ORIGIN')) links.push(p);
        } catch {
          // dangling, a directory, or not ELF
        }
      }
    };
    visit('/usr/lib', 0);
    if (links.length === 0) {
      console.log('      skipped: no symlinked library with an $ORIGIN search path on this host');
      this.skip();
    }
    const resolver = new Resolver({ root: '/', cwd: '/' });
    const expected = await lddBatch(links);
    const diffs = links.filter((f) => JSON.stringify(formatLdd(resolver.resolveOne(f))) !== JSON.stringify(expected.get(f) ?? []));
    console.log(`      symlinked libraries with $ORIGIN: ${links.length} compared, ${links.length - diffs.length} equal to ldd`);
    expect(diffs).to.deep.equal([]);
  });
});
