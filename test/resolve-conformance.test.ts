/**
 * Conformance with the real loader: for every dynamically linked ELF file of
 * the host's architecture under /usr/bin, /usr/sbin, /usr/lib/x86_64-linux-gnu
 * and /usr/libexec, `elfdeps --ldd` must print exactly what `ldd` prints with
 * the load addresses removed. ldd is the oracle only on the host's own,
 * trusted files.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { readElf } from '../src/elf/reader.js';
import { EM_X86_64 } from '../src/elf/constants.js';
import { Resolver } from '../src/resolve/index.js';
import { formatLdd } from '../src/cli/format.js';
import { hostElfFiles } from './helpers/host-elves.js';

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

  it('gives ldd output for every dynamically linked host ELF file', async function () {
    if (!existsSync(LDD)) {
      console.log('      skipped: ldd is not installed');
      this.skip();
    }
    if (process.arch !== 'x64') {
      console.log(`      skipped: the conformance set is for x86_64 hosts, this is ${process.arch}`);
      this.skip();
    }
    const candidates = hostElfFiles([
      { dir: '/usr/bin', recursive: false },
      { dir: '/usr/sbin', recursive: false },
      { dir: '/usr/lib/x86_64-linux-gnu', recursive: true },
      { dir: '/usr/libexec', recursive: true },
    ]);
    // Dynamically linked, for this machine: has PT_DYNAMIC (ldd says "not a
    // dynamic executable" otherwise) and is x86_64 ELF64 (ldd cannot trace
    // other machines here; the kernel cannot even run i386 programs).
    const files: string[] = [];
    let otherMachine = 0;
    let unreadable = 0;
    for (const f of candidates) {
      try {
        const elf = readElf(f);
        if (elf.header.machine !== EM_X86_64 || elf.header.elfClass !== 64) otherMachine++;
        else if (elf.dynamic !== null && (elf.kind === 'executable' || elf.kind === 'pie-executable' || elf.kind === 'shared-library' || elf.kind === 'static-pie')) files.push(f);
      } catch {
        unreadable++;
      }
    }
    const resolver = new Resolver({ root: '/', cwd: '/', originMode: 'ldd' });
    const mismatches: string[] = [];
    let equal = 0;
    const batchSize = 150;
    const batches: string[][] = [];
    for (let i = 0; i < files.length; i += batchSize) batches.push(files.slice(i, i + batchSize));
    // Two ldd runs at a time: this machine has two cores.
    for (let i = 0; i < batches.length; i += 2) {
      const results = await Promise.all(batches.slice(i, i + 2).map((b) => lddBatch(b)));
      for (const [j, batch] of batches.slice(i, i + 2).entries()) {
        const expected = results[j] as Map<string, string[]>;
        for (const f of batch) {
          const want = expected.get(f) ?? [];
          const p = resolver.resolveOne(f);
          // When the loader would fail (e.g. a non-ELF file named like a library),
          // ldd prints nothing for that file; so do we.
          const got = p.fatal !== null ? [] : formatLdd(p);
          if (JSON.stringify(got) === JSON.stringify(want)) equal++;
          else mismatches.push(`${f}\n  ldd:     ${want.join(' | ')}\n  elfdeps: ${got.join(' | ')}`);
        }
      }
    }
    console.log(
      `      conformance: ${files.length} dynamically linked files compared, ${equal} equal` +
        ` (${otherMachine} of other machines and ${unreadable} unreadable skipped)`,
    );
    if (mismatches.length) console.log(mismatches.slice(0, 20).join('\n'));
    expect(files.length).to.be.greaterThan(100);
    expect(mismatches, `${mismatches.length} files differ`).to.deep.equal([]);
  });
});
