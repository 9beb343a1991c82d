/**
 * `elfdeps check` on the host against ldd, file by file: every dynamically
 * linked x86_64 ELF file in /usr/bin, and the host's libraries that do fail
 * when loaded on their own (the JDK's, which need libjvm.so from a directory
 * only the java launcher's RUNPATH names; systemd's private ones), so that
 * failing verdicts are compared too, not only passing ones.
 *
 * One definition of failure on both sides (docs/check.md): ldd -d prints what
 * the loader finds at start, and a file fails when it prints a library
 * `=> not found`, a non-weak `version ... not found`, an `error while loading
 * shared libraries`, or, for a program with every library found (not a
 * shared library: a library's undefined symbols are the loading program's to
 * define), an `undefined symbol:` (-d: the relocations the loader processes
 * at start). The names not found and the version lines must be the same too.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { EM_X86_64 } from '../src/elf/constants.js';
import { readElf } from '../src/elf/reader.js';
import { cleanEnv, run } from './helpers/build.js';
import { elfdepsCommand } from './helpers/cli.js';
import { hostElfFiles } from './helpers/host-elves.js';
import { mapPool } from './helpers/map-pool.js';
import { skipOrFail } from './helpers/skip.js';

const LDD = '/usr/bin/ldd';
const PARALLEL = 2;
const EXTRA_DIRS = ['/usr/lib/jvm', '/usr/lib/x86_64-linux-gnu/systemd'];

/** What the loader says at start about one file, as both sides are compared. */
interface Said {
  notFound: string[];
  versions: string[];
  undefinedAtStart: boolean;
  fatal: boolean;
}

const fails = (s: Said): boolean => s.notFound.length > 0 || s.versions.length > 0 || s.undefinedAtStart || s.fatal;
const uniqueSorted = (xs: string[]): string[] => [...new Set(xs)].sort();

/** ldd -d FILE, stdout and stderr together (never rejects). */
async function lddOf(file: string): Promise<string> {
  return promisify(execFile)(LDD, ['-d', file], { env: cleanEnv(), maxBuffer: 64 << 20 }).then(
    (r) => r.stdout + r.stderr,
    (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
  );
}

function fromLdd(file: string, output: string, program: boolean): Said {
  const lines = output.split('\n');
  const prefix = `${file}: `;
  return {
    notFound: uniqueSorted(lines.flatMap((l) => /^\t(.*) => not found$/.exec(l)?.[1] ?? [])),
    versions: uniqueSorted(lines.filter((l) => l.startsWith(prefix) && / version `[^']*' not found \(required by /.test(l) && !/: weak version `/.test(l)).map((l) => l.slice(prefix.length))),
    undefinedAtStart: program && !lines.some((l) => / => not found$/.test(l)) && lines.some((l) => l.startsWith('undefined symbol: ')),
    fatal: lines.some((l) => /error while loading shared libraries: /.test(l)),
  };
}

function fromCheck(problems: Array<{ cause: string; message: string }>): Said {
  return {
    notFound: uniqueSorted(problems.filter((p) => p.cause === 'library-not-found').map((p) => /^(.*?): (?:not found|wrong ELF class: ELFCLASS\d+) \(needed by /.exec(p.message)?.[1] ?? `?${p.message}`)),
    versions: uniqueSorted(problems.filter((p) => p.cause === 'version-not-found').map((p) => p.message)),
    undefinedAtStart: problems.some((p) => p.cause === 'undefined-symbol'),
    fatal: problems.some((p) => p.cause === 'bad-library' || p.cause === 'interpreter'),
  };
}

describe('elfdeps check agrees with ldd on the host', function () {
  this.timeout(20 * 60 * 1000);

  it('fails exactly the files ldd -d reports a loader error for, in /usr/bin and in libraries that fail here', async function () {
    if (!existsSync(LDD)) skipOrFail(this, `${LDD} is missing: the check has no oracle`);
    if (process.arch !== 'x64') {
      // Not a missing oracle: the comparison is defined for x86_64 hosts (as the conformance tests are).
      console.log(`      skipped: the comparison is for x86_64 hosts, this is ${process.arch}`);
      this.skip();
    }
    const dirs = ['/usr/bin', ...EXTRA_DIRS.filter((d) => existsSync(d))];
    const candidates = hostElfFiles(dirs.map((dir) => ({ dir, recursive: dir !== '/usr/bin' })));
    // Dynamically linked x86_64 files: what ldd (this kernel, this loader) can answer for.
    const files: Array<{ path: string; program: boolean }> = [];
    let leftOut = 0;
    for (const path of candidates) {
      const elf = readElf(path);
      if (elf.dynamic !== null && elf.header.machine === EM_X86_64 && elf.header.elfClass === 64 && elf.kind !== 'relocatable' && elf.kind !== 'core') {
        files.push({ path, program: elf.kind !== 'shared-library' });
      } else leftOut++;
    }
    const inUsrBin = files.filter((f) => f.path.startsWith('/usr/bin/')).length;
    expect(inUsrBin).to.be.greaterThan(100);

    const [node, bin] = elfdepsCommand();
    const t0 = Date.now();
    const checked = run(node, [bin, 'check', '--json', ...dirs], { env: cleanEnv() });
    const checkMs = Date.now() - t0;
    expect(checked.stderr).to.equal('');
    const doc = JSON.parse(checked.stdout) as { failures: Array<{ path: string; type: string; problems: Array<{ cause: string; message: string }> }> };
    const ours = new Map(doc.failures.map((f) => [f.path, f.problems]));
    const t1 = Date.now();
    const outputs = await mapPool(files, PARALLEL, (f) => lddOf(f.path));
    const lddMs = Date.now() - t1;

    const compared = new Set(files.map((f) => f.path));
    const mismatches: string[] = [];
    let agree = 0;
    let failing = 0;
    for (const [i, f] of files.entries()) {
      const want = fromLdd(f.path, outputs[i] as string, f.program);
      const got = fromCheck(ours.get(f.path) ?? []);
      if (fails(want)) failing++;
      if (JSON.stringify(want) === JSON.stringify(got)) agree++;
      else mismatches.push(`${f.path}:\n  ldd -d:  ${JSON.stringify(want)}\n  check:   ${JSON.stringify(got)}\n  ldd output:\n${(outputs[i] as string).trimEnd().replace(/^/gm, '    ')}`);
    }
    // What check fails outside the compared files (dangling library links, files ldd cannot answer for) is shown, not compared.
    const outside = doc.failures.filter((f) => !compared.has(f.path));
    for (const f of outside) console.log(`      not compared: ${f.path}: ${f.problems.map((p) => p.message).join('; ')}`);
    console.log(
      `      ${files.length} files compared (${inUsrBin} in /usr/bin, ${files.length - inUsrBin} in ${EXTRA_DIRS.join(', ')}), ${leftOut} ELF files left out (not dynamic or not x86_64): ` +
        `${agree} agree with ldd -d, ${failing} fail by ldd; check ${(checkMs / 1000).toFixed(1)} s, ldd loop ${(lddMs / 1000).toFixed(1)} s`,
    );
    if (mismatches.length) console.log(mismatches.slice(0, 10).join('\n'));
    expect(mismatches.length, `${mismatches.length} files differ; the first ${Math.min(10, mismatches.length)} are printed above`).to.equal(0);
    expect(agree).to.equal(files.length);
  });
});
