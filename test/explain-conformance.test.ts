/**
 * `--explain` against the real loader on a sample of the host's own files:
 * the lookup trace the resolver gives (the trace the CLI prints, without the
 * "PID:\t" prefix) must equal LD_DEBUG=libs line for line (helpers/
 * explain-oracle.ts says which lines). Programs are started by the kernel in
 * trace mode (LD_TRACE_LOADED_OBJECTS=1), as ldd's list is made without
 * running them; libraries are given to ld.so as ldd does (originMode 'ldd').
 * The edge cases the tests build are compared in resolve-edge.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { expect } from 'chai';
import { readElf } from '../src/elf/reader.js';
import { EM_X86_64 } from '../src/elf/constants.js';
import { Resolver, type ResolveOptions } from '../src/resolve/index.js';
import { hostConformanceSet } from './helpers/conformance-set.js';
import { lookupTrace } from './helpers/explain-oracle.js';
import { cleanEnv, LoaderTally } from './helpers/build.js';

const LDSO = '/lib64/ld-linux-x86-64.so.2';

/** Every k-th of `files`, at most `n` of them (the same files on every run of one host). */
function sample(files: string[], n: number): string[] {
  const step = Math.max(1, Math.floor(files.length / n));
  return files.filter((_, i) => i % step === 0).slice(0, n);
}

/** Our trace of each file, one Resolver for the batch as the CLI uses one for its FILEs. */
function ourTraces(files: string[], options: ResolveOptions): Map<string, string[]> {
  let lines: string[] = [];
  const resolver = new Resolver({ root: '/', cwd: '/', preloadFile: true, ...options, trace: (l) => lines.push(l) });
  const out = new Map<string, string[]>();
  for (const f of files) {
    lines = [];
    resolver.resolveOne(f);
    // The same reduction as the loader's side: our lines carry glibc's prefix shape.
    out.set(f, lookupTrace(lines.map((l) => `1:\t${l}\n`).join('')));
  }
  return out;
}

function loaderTrace(file: string, kind: 'program' | 'library', libraryPath?: string): string[] {
  const env = cleanEnv({ LD_DEBUG: 'libs', LD_TRACE_LOADED_OBJECTS: '1', LD_LIBRARY_PATH: libraryPath });
  const r = kind === 'program' ? spawnSync(file, [], { cwd: '/', env, encoding: 'utf8', timeout: 60_000 }) : spawnSync(LDSO, [file], { cwd: '/', env, encoding: 'utf8', timeout: 60_000 });
  return lookupTrace(r.stderr ?? '');
}

describe('--explain against LD_DEBUG=libs on host files', function () {
  this.timeout(15 * 60 * 1000);
  const tally = new LoaderTally();
  const mismatches: string[] = [];
  after(function () {
    console.log(`      host sample: --explain against LD_DEBUG=libs: ${tally.equal} equal of ${tally.checked} compared`);
  });

  let searched = 0;
  const compare = (label: string, ours: string[], loader: string[]): void => {
    tally.checked++;
    if (loader.some((l) => l.startsWith('find library='))) searched++;
    if (JSON.stringify(ours) === JSON.stringify(loader)) tally.equal++;
    else {
      const at = ours.findIndex((l, i) => l !== loader[i]);
      mismatches.push(`${label}: first difference at line ${at}\n  loader:  ${JSON.stringify(loader[at])}\n  elfdeps: ${JSON.stringify(ours[at])}`);
    }
  };

  it('programs and libraries of the host: every lookup line equal, in order', function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      console.log(`      skipped: the sample is of x86_64 Linux files, this is ${process.platform}/${process.arch}`);
      this.skip();
    }
    const set = hostConformanceSet();
    const programs: string[] = [];
    const libraries: string[] = [];
    for (const f of set.files) {
      const elf = readElf(f);
      if (elf.header.machine !== EM_X86_64 || (elf.interpreter === null && elf.kind !== 'shared-library')) continue;
      // Set-id programs start in secure mode, where the loader ignores LD_DEBUG and LD_LIBRARY_PATH.
      if ((statSync(f).mode & 0o6000) !== 0) continue;
      if (elf.kind === 'executable' || elf.kind === 'pie-executable') programs.push(f);
      else if (elf.kind === 'shared-library' && elf.dynamic?.needed.length) libraries.push(f);
    }
    const progSample = sample(programs, 200);
    const libSample = sample(libraries, 60);
    const withPath = sample(progSample, 25);
    const libraryPath = '/nonexistent:/usr/local/lib::/usr/lib/x86_64-linux-gnu';

    const ours = ourTraces(progSample, { originMode: 'exec' });
    for (const f of progSample) compare(f, ours.get(f) ?? [], loaderTrace(f, 'program'));
    const oursLibs = ourTraces(libSample, { originMode: 'ldd' });
    for (const f of libSample) compare(`ld.so ${f}`, oursLibs.get(f) ?? [], loaderTrace(f, 'library'));
    const oursPath = ourTraces(withPath, { originMode: 'exec', libraryPath });
    for (const f of withPath) compare(`LD_LIBRARY_PATH=${libraryPath} ${f}`, oursPath.get(f) ?? [], loaderTrace(f, 'program', libraryPath));

    if (mismatches.length) console.log(mismatches.slice(0, 10).join('\n'));
    expect(progSample.length).to.be.greaterThan(50);
    // An oracle that printed nothing would agree with a resolver that printed nothing.
    expect(searched, 'traces in which the loader searched').to.be.greaterThan(tally.checked * 0.9);
    expect(mismatches, `${mismatches.length} traces differ`).to.deep.equal([]);
  });
});
