/**
 * Mutation testing of the reader: thousands of corrupted copies of real
 * binaries and of small synthetic big-endian files. Every mutant must give a
 * result or an ElfdepsError, never another exception, and a result must have
 * been read from a bounded number of bytes.
 *
 * The PRNG is seeded: a fixed seed under CI, a random one otherwise
 * (test/helpers/seed.ts); the seed is printed and can be replayed with
 * ELFDEPS_MUTATION_SEED=<n>. ELFDEPS_MUTATIONS=<n> changes the count (default 3000).
 */
import { expect } from 'chai';
import { mutationSeed } from './helpers/seed.js';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource } from '../src/elf/file-source.js';
import { LIMITS, readElf, readElfHeader, readProgramHeaders } from '../src/elf/reader.js';
import { ElfdepsError } from '../src/errors.js';
import {
  DF_BIND_NOW,
  DT_RPATH,
  DT_STRSZ,
  DT_STRTAB,
  HEADER_FIELDS,
  INTERPRETERS,
  PHDR_FIELDS,
  PLATFORMS,
  PT_DYNAMIC,
  PT_LOAD,
  buildElf,
  patchDyn,
  patchHeader,
  patchPhdr,
  type ElfShape,
  type HeaderFieldName,
  type PhdrFieldName,
} from './helpers/elf-writer.js';
import { Rng } from './helpers/seed.js';

/** A file to mutate, with the regions worth aiming at. */
interface Base {
  name: string;
  bytes: Buffer;
  shape: ElfShape;
  phnum: number;
  dynCount: number;
  regions: { head: [number, number]; dynamic: [number, number] | null; strtab: [number, number] | null };
}

/** Finds the dynamic array and string table of a trusted base by the reader's own program headers. */
function describeBase(name: string, path: string): Base {
  const bytes = readFileSync(path);
  const src = FileSource.open(path);
  try {
    const header = readElfHeader(src);
    const phdrs = readProgramHeaders(src, header);
    const dyn = phdrs.find((p) => p.type === PT_DYNAMIC);
    const entSize = header.elfClass === 64 ? 16 : 8;
    const word = (off: number): bigint => {
      if (header.elfClass === 64) return header.littleEndian ? bytes.readBigUInt64LE(off) : bytes.readBigUInt64BE(off);
      return BigInt(header.littleEndian ? bytes.readUInt32LE(off) : bytes.readUInt32BE(off));
    };
    let dynCount = 0;
    let strtab: [number, number] | null = null;
    if (dyn) {
      let strAddr: bigint | null = null;
      let strSize = 4096n;
      for (let off = Number(dyn.offset); off + entSize <= Number(dyn.offset + dyn.filesz); off += entSize) {
        const tag = word(off);
        dynCount++;
        if (tag === 0n) break;
        if (tag === DT_STRTAB) strAddr = word(off + entSize / 2);
        if (tag === DT_STRSZ) strSize = word(off + entSize / 2);
      }
      const load = phdrs.find((p) => p.type === PT_LOAD && strAddr !== null && strAddr >= p.vaddr && strAddr < p.vaddr + p.filesz);
      if (load && strAddr !== null) {
        const start = Number(strAddr - load.vaddr + load.offset);
        strtab = [start, Math.min(bytes.length, start + Number(strSize))];
      }
    }
    return {
      name,
      bytes,
      shape: { elfClass: header.elfClass, littleEndian: header.littleEndian, phoff: Number(header.phoff), dynamicOffset: dyn ? Number(dyn.offset) : undefined },
      phnum: header.phnum,
      dynCount,
      regions: {
        head: [0, Math.min(4096, bytes.length)],
        dynamic: dyn ? [Number(dyn.offset), Number(dyn.offset + dyn.filesz)] : null,
        strtab,
      },
    };
  } finally {
    src.close();
  }
}

/** A mutant: the bytes and a replayable description. */
interface Mutant {
  bytes: Buffer;
  steps: string[];
}

function extremes(rng: Rng, size: number): bigint[] {
  const s = BigInt(size);
  return [0n, 1n, 2n, 0x7fn, 0xffn, 0x7fffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 32n, 1n << 53n, (1n << 53n) + 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n, s, s - 1n, s + 1n, s - 8n, rng.u64()];
}

function flipBits(rng: Rng, base: Base, buf: Buffer, steps: string[]): void {
  const n = rng.int(1, 9);
  for (let i = 0; i < n; i++) {
    const { head, dynamic, strtab } = base.regions;
    const roll = rng.int(0, 10);
    const region = roll < 5 ? head : roll < 8 && dynamic ? dynamic : roll < 9 && strtab ? strtab : ([0, buf.length] as [number, number]);
    if (region[1] <= region[0]) continue;
    const at = rng.int(region[0], Math.min(region[1], buf.length));
    const bit = rng.int(0, 8);
    buf[at] = (buf[at] ?? 0) ^ (1 << bit);
    steps.push(`flip ${at}:${bit}`);
  }
}

function overwriteField(rng: Rng, base: Base, buf: Buffer, steps: string[]): void {
  const value = rng.pick(extremes(rng, buf.length));
  const target = rng.int(0, 3);
  try {
    if (target === 0) {
      const field = rng.pick(Object.keys(HEADER_FIELDS[base.shape.elfClass]) as HeaderFieldName[]);
      patchHeader(buf, base.shape, field, value);
      steps.push(`header.${field}=${value}`);
    } else if (target === 1 && base.phnum > 0) {
      const index = rng.int(0, base.phnum);
      const field = rng.pick(Object.keys(PHDR_FIELDS[base.shape.elfClass]) as PhdrFieldName[]);
      patchPhdr(buf, base.shape, index, field, value);
      steps.push(`phdr[${index}].${field}=${value}`);
    } else if (base.dynCount > 0) {
      const index = rng.int(0, base.dynCount);
      const field = rng.chance(0.3) ? 'tag' : 'val';
      patchDyn(buf, base.shape, index, field, value);
      steps.push(`dyn[${index}].${field}=${value}`);
    }
  } catch (err) {
    // The field lies beyond a buffer already truncated by an earlier step.
    if (!(err instanceof RangeError)) throw err;
  }
}

function truncation(rng: Rng, base: Base, buf: Buffer, steps: string[]): Buffer {
  const roll = rng.int(0, 10);
  const dyn = base.regions.dynamic;
  let len: number;
  if (roll < 5) len = rng.int(0, Math.min(4097, buf.length + 1));
  else if (roll < 8 && dyn) len = Math.max(0, Math.min(buf.length, rng.int(dyn[0] - 64, dyn[1] + 64)));
  else len = rng.int(0, buf.length + 1);
  steps.push(`truncate ${len}`);
  return buf.subarray(0, len);
}

function mutate(rng: Rng, base: Base): Mutant {
  let buf: Buffer = Buffer.from(base.bytes);
  const steps: string[] = [];
  const roll = rng.int(0, 20);
  if (roll < 7) flipBits(rng, base, buf, steps);
  else if (roll < 14) overwriteField(rng, base, buf, steps);
  else if (roll < 18) buf = truncation(rng, base, buf, steps);
  else {
    // A combination; truncation last so that the other steps still find their fields.
    const k = rng.int(2, 5);
    for (let i = 0; i < k; i++) (rng.chance(0.5) ? flipBits : overwriteField)(rng, base, buf, steps);
    if (rng.chance(0.5)) buf = truncation(rng, base, buf, steps);
  }
  return { bytes: buf, steps };
}

/**
 * The most a successful read can cost: ELF header, the 64 KiB program header
 * table, PT_INTERP, 65536 dynamic entries, and the string budget.
 */
const MAX_BYTES_FOR_A_RESULT = 64 + LIMITS.maxProgramHeaderBytes + LIMITS.maxInterpBytes + LIMITS.maxDynamicEntries * 16 + LIMITS.maxStringTableReadBytes;

describe('ELF reader: mutation testing', function () {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-mutation-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('every mutant of real and synthetic binaries gives a result or an ElfdepsError', function () {
    const seed = mutationSeed();
    const count = Number(process.env.ELFDEPS_MUTATIONS ?? 3000);
    expect(Number.isInteger(count) && count > 0, 'ELFDEPS_MUTATIONS').to.equal(true);
    console.log(`    mutation seed: ${seed} (replay with ELFDEPS_MUTATION_SEED=${seed})`);
    const rng = new Rng(seed);

    const sources: Array<[string, string]> = [];
    if (existsSync('/bin/ls')) sources.push(['/bin/ls', '/bin/ls']);
    const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/lib64/libc.so.6'].find((p) => existsSync(p));
    if (libc) sources.push(['libc.so.6', realpathSync(libc)]);
    const synthetic: Array<[string, Buffer]> = [
      [
        'synthetic ppc64 (BE64)',
        buildElf({ ...PLATFORMS.ppc64, type: 'DYN', pie: true, interpreter: INTERPRETERS.ppc64, needed: ['libc.so.6', 'libm.so.6'], runpath: '$ORIGIN/../lib', flags: DF_BIND_NOW, phdrSegment: true, splitLoad: true }),
      ],
      ['synthetic mips (BE32)', buildElf({ ...PLATFORMS.mips, type: 'DYN', soname: 'libx.so.1', needed: ['libc.so.6'], extraDynamic: [[DT_RPATH, '/opt/lib']] })],
    ];
    for (const [name, bytes] of synthetic) {
      const path = join(dir, name.replace(/\W+/g, '-'));
      writeFileSync(path, bytes);
      sources.push([name, path]);
    }
    const bases = sources.map(([name, path]) => describeBase(name, path));

    const mutantPath = join(dir, 'mutant');
    let results = 0;
    const errors = new Map<string, number>();
    const untyped: string[] = [];
    for (let i = 0; i < count; i++) {
      const base = bases[i % bases.length] as Base;
      const m = mutate(rng, base);
      writeFileSync(mutantPath, m.bytes);
      const what = `mutant #${i} of ${base.name} [${m.steps.join(', ')}]`;
      try {
        const elf = readElf(mutantPath);
        results++;
        if (elf.bytesRead > MAX_BYTES_FOR_A_RESULT) untyped.push(`${what}: read ${elf.bytesRead} bytes`);
      } catch (err) {
        if (err instanceof ElfdepsError && !err.message.includes('\n')) {
          errors.set(err.code, (errors.get(err.code) ?? 0) + 1);
        } else {
          untyped.push(`${what}: ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`);
        }
      }
    }
    const byCode = [...errors].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${n}`);
    const errorTotal = [...errors.values()].reduce((a, b) => a + b, 0);
    console.log(`    mutation summary: ${count} mutants of ${bases.length} files, ${results} results, ${errorTotal} typed errors (${byCode.join(', ')}), ${untyped.length} failures`);
    expect(untyped, `seed ${seed}:\n${untyped.slice(0, 10).join('\n')}`).to.deep.equal([]);
    // The mutants must reach past the header checks, or the test proves little.
    expect(results).to.be.greaterThan(count / 20);
    expect(errors.size).to.be.greaterThan(5);
  });
});
