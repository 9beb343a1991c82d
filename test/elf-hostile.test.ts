/**
 * Hostile input: every case ends in an ElfdepsError with a specific code, or
 * in a correct answer read from a few kilobytes; never another exception, a
 * hang, or a read proportional to what a header claims.
 * (reliability-anchors.md §1.3 lists the cases and where other readers broke.)
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource } from '../src/elf/file-source.js';
import { LIMITS, readElf, readElfDetails, readElfHeader, type ElfFile } from '../src/elf/reader.js';
import { ElfdepsError, ElfIoError, type ErrorCode } from '../src/errors.js';
import {
  DT_NEEDED,
  DT_NULL,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  INTERPRETERS,
  PLATFORMS,
  PT_DYNAMIC,
  PT_INTERP,
  PT_LOAD,
  layoutElf,
  patchDyn,
  patchHeader,
  patchPhdr,
  type ElfLayout,
  type ElfSpec,
  type RawPhdr,
} from './helpers/elf-writer.js';

/** Where a result is returned, this is the most the reader may have read. */
const MAX_BYTES_READ = 256 * 1024;
const U64_MAX = (1n << 64n) - 1n;

let dir: string;
const scratch = (): string => join(dir, 'case');

type Outcome = { result: ElfFile } | { error: ElfdepsError };

/** Reads `path`; any exception that is not an ElfdepsError fails the test. */
function outcome(path: string): Outcome {
  try {
    const result = readElf(path);
    expect(result.bytesRead, `bytes read for ${path}`).to.be.below(MAX_BYTES_READ);
    return { result };
  } catch (err) {
    if (err instanceof ElfdepsError) {
      // One line, naming the file.
      expect(err.message).to.not.include('\n');
      expect(err.message).to.include(path);
      return { error: err };
    }
    throw new Error(`readElf(${path}) threw a ${(err as Error)?.constructor?.name}, not an ElfdepsError: ${String(err)}`);
  }
}

function readBytes(bytes: Buffer): Outcome {
  writeFileSync(scratch(), bytes);
  return outcome(scratch());
}

function expectError(o: Outcome, code: ErrorCode | ErrorCode[], context = ''): ElfdepsError {
  if ('result' in o) expect.fail(`${context}: expected ${String(code)}, got a result (kind ${o.result.kind})`);
  const codes = Array.isArray(code) ? code : [code];
  expect(codes, `${context}: ${o.error.code} ${o.error.message}`).to.include(o.error.code);
  return o.error;
}

function expectResult(o: Outcome, context = ''): ElfFile {
  if ('error' in o) expect.fail(`${context}: expected a result, got ${o.error.code}: ${o.error.message}`);
  return o.result;
}

const FULL: ElfSpec = {
  ...PLATFORMS.x86_64,
  type: 'DYN',
  pie: true,
  interpreter: INTERPRETERS.x86_64,
  needed: ['libc.so.6', 'libm.so.6'],
  runpath: '/opt/lib',
  phdrSegment: true,
};

/** Builds `spec`, lets `corrupt` patch the bytes, and reads the result. */
function corrupted(spec: ElfSpec, corrupt: (buf: Buffer, l: ElfLayout) => void): Outcome {
  const l = layoutElf(spec);
  const buf = Buffer.from(l.buffer);
  corrupt(buf, l);
  return readBytes(buf);
}

const indexOfType = (l: ElfLayout, type: number): number => l.programHeaders.findIndex((p) => p.type === type);

describe('ELF reader: hostile input', function () {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-hostile-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('truncation', () => {
    it('at every byte of the ELF header and program header table of /bin/ls', function () {
      let whole: Buffer;
      try {
        whole = readFileSync('/bin/ls');
      } catch {
        console.log('    skipped: /bin/ls not readable');
        this.skip();
      }
      const src = FileSource.open('/bin/ls');
      const h = readElfHeader(src);
      src.close();
      const ehsize = h.elfClass === 64 ? 64 : 52;
      const phEnd = Number(h.phoff) + h.phnum * h.phentsize;
      expect(phEnd).to.be.above(ehsize);
      for (let len = 0; len <= phEnd; len++) {
        const o = readBytes(whole.subarray(0, len));
        if (len < ehsize) expectError(o, 'ELF_TOO_SHORT', `length ${len}`);
        else if (len < phEnd) expectError(o, 'ELF_BAD_HEADER', `length ${len}`);
        // Complete header and table, nothing after: the first segment read fails.
        else expectError(o, ['ELF_BAD_INTERP', 'ELF_BAD_DYNAMIC', 'ELF_BAD_STRTAB', 'ELF_BAD_STRING'], `length ${len}`);
      }
    });

    for (const platform of ['x86_64', 'mips', 'ppc64', 'i386'] as const) {
      it(`at every byte of a synthetic ${platform} file`, () => {
        const l = layoutElf({ ...FULL, ...PLATFORMS[platform], interpreter: INTERPRETERS[platform] });
        const phEnd = l.phoff + l.phnum * l.phentsize;
        const interpEnd = l.interpOffset + l.interpSize;
        const dynEnd = l.dynamicOffset + l.dynamicSize;
        expect(l.fileSize).to.equal(dynEnd);
        for (let len = 0; len <= l.fileSize; len++) {
          const o = readBytes(l.buffer.subarray(0, len));
          const at = `${platform} length ${len}`;
          if (len < l.ehsize) expectError(o, 'ELF_TOO_SHORT', at);
          else if (len < phEnd) expectError(o, 'ELF_BAD_HEADER', at);
          else if (len < interpEnd) expectError(o, 'ELF_BAD_INTERP', at);
          else if (len < dynEnd) expectError(o, 'ELF_BAD_DYNAMIC', at);
          else expect(expectResult(o, at).dynamic?.needed).to.deep.equal(['libc.so.6', 'libm.so.6']);
        }
      });
    }
  });

  describe('identification', () => {
    it('rejects bad magic, class and data encoding with distinct codes', () => {
      const good = layoutElf(FULL).buffer;
      const patched = (i: number, v: number): Buffer => {
        const b = Buffer.from(good);
        b[i] = v;
        return b;
      };
      expectError(readBytes(Buffer.alloc(0)), 'ELF_TOO_SHORT');
      expectError(readBytes(Buffer.from('#!/bin/sh\necho hello, this is a script\n')), 'ELF_BAD_MAGIC');
      expectError(readBytes(patched(0, 0x7e)), 'ELF_BAD_MAGIC');
      for (const v of [0, 3, 255]) expectError(readBytes(patched(4, v)), 'ELF_BAD_IDENT', `EI_CLASS ${v}`);
      for (const v of [0, 3, 255]) expectError(readBytes(patched(5, v)), 'ELF_BAD_IDENT', `EI_DATA ${v}`);
    });

    it('reads an ELF64 file relabelled ELF32 as what it claims to be, or fails with a typed error', () => {
      const b = Buffer.from(layoutElf(FULL).buffer);
      b[4] = 1;
      const o = readBytes(b);
      if ('error' in o) expect(o.error.code).to.match(/^ELF_/);
      else expect(o.result.header.elfClass).to.equal(32);
    });
  });

  describe('file header', () => {
    it('e_phoff = 2^64-1, 2^63, the file size and past it', () => {
      for (const phoff of [U64_MAX, 1n << 63n, BigInt(layoutElf(FULL).fileSize), 1n << 40n]) {
        expectError(corrupted(FULL, (b, l) => patchHeader(b, l, 'phoff', phoff)), 'ELF_BAD_HEADER', `e_phoff ${phoff}`);
      }
      const elf32 = { ...FULL, ...PLATFORMS.mips, interpreter: INTERPRETERS.mips };
      expectError(corrupted(elf32, (b, l) => patchHeader(b, l, 'phoff', 0xffffffffn)), 'ELF_BAD_HEADER', 'ELF32 e_phoff 0xffffffff');
    });

    it('e_phnum = 0xffff (PN_XNUM) is over the 64 KiB table limit in both classes', () => {
      for (const platform of ['x86_64', 'ppc'] as const) {
        const err = expectError(
          corrupted({ ...FULL, ...PLATFORMS[platform] }, (b, l) => patchHeader(b, l, 'phnum', 0xffff)),
          'ELF_LIMIT',
          platform,
        );
        expect(err.message).to.include('program header table');
      }
    });

    it('e_phentsize 0, 1 and 57 are refused; e_phnum 0 means no segments', () => {
      for (const size of [0, 1, 57, 0xffff]) {
        expectError(corrupted(FULL, (b, l) => patchHeader(b, l, 'phentsize', size)), 'ELF_BAD_HEADER', `e_phentsize ${size}`);
      }
      const none = expectResult(corrupted(FULL, (b, l) => patchHeader(b, l, 'phnum', 0)));
      expect(none.programHeaders).to.deep.equal([]);
      expect(none.interpreter).to.equal(null);
      expect(none.dynamic).to.equal(null);
      // e_phentsize is irrelevant when there is no table.
      expectResult(corrupted(FULL, (b, l) => {
        patchHeader(b, l, 'phnum', 0);
        patchHeader(b, l, 'phentsize', 0);
      }));
    });

    it('ignores lying section header fields (the loader never reads them)', () => {
      const elf = expectResult(
        corrupted(FULL, (b, l) => {
          patchHeader(b, l, 'shoff', U64_MAX);
          patchHeader(b, l, 'shnum', 0xffff);
          patchHeader(b, l, 'shentsize', 0);
          patchHeader(b, l, 'shstrndx', 0xffff);
        }),
      );
      expect(elf.dynamic?.needed).to.deep.equal(['libc.so.6', 'libm.so.6']);
    });
  });

  describe('segments', () => {
    it('p_offset + p_filesz overflowing 64 bits, for PT_INTERP, PT_DYNAMIC and PT_LOAD', () => {
      const interp = (b: Buffer, l: ElfLayout): void => patchPhdr(b, l, indexOfType(l, PT_INTERP), 'offset', U64_MAX - 3n);
      expectError(corrupted(FULL, interp), 'ELF_BAD_INTERP', 'PT_INTERP');
      expectError(
        corrupted(FULL, (b, l) => patchPhdr(b, l, indexOfType(l, PT_DYNAMIC), 'offset', U64_MAX - 7n)),
        'ELF_BAD_DYNAMIC',
        'PT_DYNAMIC offset',
      );
      expectError(
        corrupted(FULL, (b, l) => patchPhdr(b, l, indexOfType(l, PT_DYNAMIC), 'filesz', U64_MAX)),
        'ELF_BAD_DYNAMIC',
        'PT_DYNAMIC filesz',
      );
      // PT_LOAD maps DT_STRTAB to an offset near 2^64.
      expectError(
        corrupted(FULL, (b, l) => patchPhdr(b, l, indexOfType(l, PT_LOAD), 'offset', U64_MAX - 0x10n)),
        'ELF_BAD_STRTAB',
        'PT_LOAD offset',
      );
      // PT_LOAD whose vaddr + filesz wraps around: maps nothing below its vaddr.
      expectError(
        corrupted(FULL, (b, l) => {
          patchPhdr(b, l, indexOfType(l, PT_LOAD), 'vaddr', U64_MAX - 0x10n);
          patchPhdr(b, l, indexOfType(l, PT_LOAD), 'filesz', U64_MAX);
        }),
        'ELF_BAD_STRTAB',
        'PT_LOAD vaddr wrap',
      );
      // The same in ELF32, where the fields are 32 bits wide.
      const mips = { ...FULL, ...PLATFORMS.mips, interpreter: INTERPRETERS.mips };
      expectError(corrupted(mips, (b, l) => patchPhdr(b, l, indexOfType(l, PT_DYNAMIC), 'offset', 0xfffffffcn)), 'ELF_BAD_DYNAMIC');
      expectError(corrupted(mips, (b, l) => patchPhdr(b, l, indexOfType(l, PT_INTERP), 'filesz', 0xffffffffn)), 'ELF_BAD_INTERP');
    });

    it('a PT_LOAD whose file bytes run past the end of the file bounds the string table', () => {
      const elf = expectResult(corrupted(FULL, (b, l) => patchPhdr(b, l, indexOfType(l, PT_LOAD), 'filesz', U64_MAX >> 1n)));
      expect(elf.dynamic?.runpath).to.equal('/opt/lib');
    });

    it('two PT_INTERP: the first is used, as the kernel does, even if the second is broken', () => {
      const spec: ElfSpec = {
        ...FULL,
        programHeaders: (_a, generated) => {
          const interp = generated.find((p) => p.type === PT_INTERP) as RawPhdr;
          return [...generated, { ...interp, offset: U64_MAX, filesz: 1n }];
        },
      };
      const elf = expectResult(corrupted(spec, () => {}));
      expect(elf.interpreter).to.equal(INTERPRETERS.x86_64);
    });

    it('two PT_DYNAMIC are refused', () => {
      const spec: ElfSpec = { ...FULL, programHeaders: (_a, generated) => [...generated, generated.find((p) => p.type === PT_DYNAMIC) as RawPhdr] };
      expectError(corrupted(spec, () => {}), 'ELF_BAD_HEADER');
    });

    it('PT_INTERP not NUL-terminated, empty, of size 0 or 1, or over PATH_MAX', () => {
      const interpIdx = (l: ElfLayout): number => indexOfType(l, PT_INTERP);
      expectError(corrupted(FULL, (b, l) => b.fill(0x41, l.interpOffset, l.interpOffset + l.interpSize)), 'ELF_BAD_INTERP', 'no NUL');
      expectError(corrupted(FULL, (b, l) => b.fill(0, l.interpOffset, l.interpOffset + l.interpSize)), 'ELF_BAD_INTERP', 'empty');
      for (const size of [0n, 1n, 4097n, 1n << 32n]) {
        expectError(corrupted(FULL, (b, l) => patchPhdr(b, l, interpIdx(l), 'filesz', size)), 'ELF_BAD_INTERP', `size ${size}`);
      }
      // Exactly PATH_MAX bytes with the NUL is still accepted, as by the kernel.
      const longest = '/' + 'x'.repeat(LIMITS.maxInterpBytes - 2);
      expect(expectResult(corrupted({ ...FULL, interpreter: longest }, () => {})).interpreter).to.equal(longest);
      expectError(corrupted({ ...FULL, interpreter: longest + 'x' }, () => {}), 'ELF_BAD_INTERP', 'PATH_MAX + 1');
    });

    it('an interpreter path that is not UTF-8 keeps its bytes', () => {
      const elf = expectResult(corrupted(FULL, (b, l) => (b[l.interpOffset + 1] = 0xff)));
      expect(Buffer.from(elf.interpreter as string, 'latin1')[1]).to.equal(0xff);
    });
  });

  describe('dynamic segment and string table', () => {
    const withEntries = (entries: ElfSpec['dynamicEntries'], extra: Partial<ElfSpec> = {}): ElfSpec => ({ ...FULL, dynamicEntries: entries, ...extra });
    const strtab = (a: { strtabAddr: bigint }): bigint => a.strtabAddr;
    const strsz = (a: { strtabSize: number }): bigint => BigInt(a.strtabSize);

    it('no DT_NULL before the end of PT_DYNAMIC', () => {
      expectError(corrupted(withEntries([[DT_NEEDED, 'libc.so.6'], [DT_STRTAB, strtab], [DT_STRSZ, strsz]]), () => {}), 'ELF_BAD_DYNAMIC');
      // PT_DYNAMIC smaller than one entry.
      expectError(corrupted(FULL, (b, l) => patchPhdr(b, l, indexOfType(l, PT_DYNAMIC), 'filesz', 15n)), 'ELF_BAD_DYNAMIC');
    });

    it('an empty PT_DYNAMIC (p_filesz 0) means no dynamic information', () => {
      const elf = expectResult(corrupted(FULL, (b, l) => patchPhdr(b, l, indexOfType(l, PT_DYNAMIC), 'filesz', 0n)));
      expect(elf.dynamic).to.equal(null);
    });

    it('names strings but has no DT_STRTAB', () => {
      expectError(corrupted(withEntries([[DT_NEEDED, 'libc.so.6'], [DT_NULL, 0n]]), () => {}), 'ELF_BAD_STRTAB');
    });

    it('DT_STRTAB outside every PT_LOAD, or in one that maps no file bytes there', () => {
      for (const addr of [0x7fff0000n, U64_MAX, 1n << 63n]) {
        expectError(corrupted(withEntries([[DT_NEEDED, 'libc.so.6'], [DT_STRTAB, addr], [DT_NULL, 0n]]), () => {}), 'ELF_BAD_STRTAB', `addr ${addr}`);
      }
      // The PT_LOAD ends before the string table and only its memsz (bss) covers it.
      expectError(
        corrupted(FULL, (b, l) => {
          const i = indexOfType(l, PT_LOAD);
          patchPhdr(b, l, i, 'filesz', l.strtabOffset);
          patchPhdr(b, l, i, 'memsz', 0x100000);
        }),
        'ELF_BAD_STRTAB',
        'strtab in bss',
      );
      // No PT_LOAD at all.
      expectError(corrupted(FULL, (b, l) => patchPhdr(b, l, indexOfType(l, PT_LOAD), 'type', 0x6474e551)), 'ELF_BAD_STRTAB', 'no PT_LOAD');
    });

    it('DT_STRSZ of 2^64-1 is bounded by the segment and the file', () => {
      const elf = expectResult(corrupted(withEntries([[DT_NEEDED, 'libc.so.6'], [DT_SONAME, 'libx.so'], [DT_STRTAB, strtab], [DT_STRSZ, U64_MAX], [DT_NULL, 0n]]), () => {}));
      expect(elf.dynamic?.needed).to.deep.equal(['libc.so.6']);
      expect(elf.dynamic?.soname).to.equal('libx.so');
    });

    it('string offsets at or beyond DT_STRSZ, including 2^64-1', () => {
      for (const off of [(a: { strtabSize: number }) => BigInt(a.strtabSize), () => U64_MAX, () => 1n << 32n]) {
        expectError(
          corrupted(withEntries([[DT_NEEDED, off], [DT_STRTAB, strtab], [DT_STRSZ, strsz], [DT_NULL, 0n]], { extraStrings: ['libc.so.6'] }), () => {}),
          'ELF_BAD_STRING',
        );
      }
      // DT_STRSZ smaller than the offset of the name.
      expectError(corrupted(withEntries([[DT_SONAME, 'libx.so'], [DT_STRTAB, strtab], [DT_STRSZ, 1n], [DT_NULL, 0n]]), () => {}), 'ELF_BAD_STRING');
    });

    it('unterminated strings: at the end of DT_STRSZ, of the segment, and of the file', () => {
      const entries = (size: (a: { strtabSize: number }) => bigint): ElfSpec['dynamicEntries'] => [
        [DT_NEEDED, 'libc.so.6'],
        [DT_RUNPATH, '/last/string'],
        [DT_STRTAB, strtab],
        [DT_STRSZ, size],
        [DT_NULL, 0n],
      ];
      // DT_STRSZ stops one byte short of the last NUL.
      expectError(corrupted(withEntries(entries((a) => BigInt(a.strtabSize - 1))), () => {}), 'ELF_BAD_STRING', 'strsz');
      // The PT_LOAD stops there.
      expectError(
        corrupted(withEntries(entries(strsz)), (b, l) => patchPhdr(b, l, indexOfType(l, PT_LOAD), 'filesz', l.strtabOffset + l.strtabSize - 1)),
        'ELF_BAD_STRING',
        'segment',
      );
      // The file stops there: a table placed at the very end, NUL removed.
      const l = layoutElf(withEntries(entries(strsz)));
      const b = Buffer.concat([l.buffer, Buffer.from('libtail.so')]);
      patchDyn(b, l, 0, 'val', l.fileSize - l.strtabOffset);
      patchPhdr(b, l, indexOfType(l, PT_LOAD), 'filesz', U64_MAX >> 8n);
      patchDyn(b, l, 3, 'val', U64_MAX);
      expectError(readBytes(b), 'ELF_BAD_STRING', 'file end');
    });

    it(`strings up to ${LIMITS.maxStringBytes} bytes are read, longer ones refused whatever the table size`, () => {
      const l = layoutElf(withEntries([[DT_NEEDED, 'libc.so.6'], [DT_STRTAB, strtab], [DT_STRSZ, strsz], [DT_NULL, 0n]]));
      for (const length of [LIMITS.maxStringBytes - 1, LIMITS.maxStringBytes, LIMITS.maxStringBytes + 1, LIMITS.maxStringBytes + 5000, 3 * LIMITS.maxStringBytes]) {
        const long = Buffer.concat([l.buffer, Buffer.alloc(length, 0x61), Buffer.alloc(1)]);
        patchDyn(long, l, 0, 'val', l.fileSize - l.strtabOffset);
        patchPhdr(long, l, indexOfType(l, PT_LOAD), 'filesz', long.length);
        patchDyn(long, l, 2, 'val', long.length);
        const o = readBytes(long);
        if (length <= LIMITS.maxStringBytes) {
          expect(expectResult(o, `length ${length}`).dynamic?.needed[0]).to.have.length(length);
        } else {
          const err = expectError(o, 'ELF_LIMIT', `length ${length}`);
          expect(err.message).to.include('longer than');
        }
      }
    });

    it('a name that is not UTF-8 keeps its bytes', () => {
      const elf = expectResult(corrupted(FULL, (b, l) => (b[l.strtabOffset + 1] = 0xc3)));
      expect(Buffer.from(elf.dynamic?.needed[0] as string, 'latin1')).to.deep.equal(Buffer.from('\xc3ibc.so.6', 'latin1'));
    });

    it(`more than ${LIMITS.maxNeeded} DT_NEEDED entries`, () => {
      const many: Array<[bigint, string]> = Array.from({ length: LIMITS.maxNeeded + 1 }, () => [DT_NEEDED, 'libc.so.6']);
      expectError(corrupted({ ...FULL, needed: [], extraDynamic: many }, () => {}), 'ELF_LIMIT');
      const ok = expectResult(corrupted({ ...FULL, needed: [], extraDynamic: many.slice(1) }, () => {}));
      expect(ok.dynamic?.needed).to.have.length(LIMITS.maxNeeded);
    });

    it('many names pointing into one long string cost a bounded number of bytes', () => {
      const long = 'a'.repeat(60000);
      const build = (offsetOf: (i: number) => bigint): string => {
        const needed: Array<[bigint, bigint]> = Array.from({ length: LIMITS.maxNeeded }, (_, i) => [DT_NEEDED, offsetOf(i)]);
        const l = layoutElf(withEntries([...needed, [DT_STRTAB, strtab], [DT_STRSZ, strsz], [DT_NULL, 0n]], { extraStrings: [long] }));
        writeFileSync(scratch(), l.buffer);
        return scratch();
      };
      // The same offset 4096 times: read once.
      const same = expectResult(outcome(build(() => 1n)));
      expect(same.dynamic?.needed).to.have.length(LIMITS.maxNeeded);
      // The dynamic array itself (64 KiB) plus the string once, plus the headers.
      expect(same.bytesRead).to.be.below(LIMITS.maxNeeded * 16 + long.length + 4096);
      // 4096 different offsets into it (4096 suffixes of ~60 KB each, 240 MB of
      // names from a 120 KB file): refused once the string budget is spent.
      const src = FileSource.open(build((i) => 1n + BigInt(i)));
      try {
        expect(() => readElfDetails(src, readElfHeader(src)))
          .to.throw(ElfdepsError)
          .with.property('code', 'ELF_LIMIT');
        expect(src.bytesRead).to.be.at.most(LIMITS.maxStringTableReadBytes + 256 * 1024);
      } finally {
        src.close();
      }
    });

    it('dynamic entries with tags and values at the extremes', () => {
      const extreme = [0n, 1n, 0x7fffffffn, 0xffffffffn, 1n << 63n, U64_MAX];
      for (const tag of extreme.slice(2)) {
        const o = corrupted(FULL, (b, l) => patchDyn(b, l, 0, 'tag', tag));
        // The first DT_NEEDED became an unknown tag: one fewer library, nothing else changes.
        expect(expectResult(o, `tag ${tag}`).dynamic?.needed).to.deep.equal(['libm.so.6']);
      }
      for (const val of extreme.slice(3)) {
        expectError(corrupted(FULL, (b, l) => patchDyn(b, l, 0, 'val', val)), 'ELF_BAD_STRING', `val ${val}`);
      }
    });
  });

  describe('the filesystem', () => {
    it('a 16 GiB sparse file whose segments all sit at its end', function () {
      const size = 16n << 30n;
      const far = size - 4096n;
      const l = layoutElf({
        ...FULL,
        programHeaders: (_a, generated) => generated.map((p) => ({ ...p, offset: p.offset + far })),
        header: { phoff: far + 64n },
      });
      const path = join(dir, 'sparse');
      const fd = openSync(path, 'w');
      try {
        try {
          ftruncateSync(fd, Number(size));
        } catch (err) {
          console.log(`    skipped: cannot make a 16 GiB sparse file here (${(err as Error).message})`);
          this.skip();
        }
        writeSync(fd, l.buffer, 0, l.ehsize, 0);
        writeSync(fd, l.buffer, l.ehsize, l.fileSize - l.ehsize, Number(far) + l.ehsize);
      } finally {
        closeSync(fd);
      }
      const elf = expectResult(outcome(path));
      expect(elf.size).to.equal(size);
      expect(elf.interpreter).to.equal(INTERPRETERS.x86_64);
      expect(elf.dynamic?.needed).to.deep.equal(['libc.so.6', 'libm.so.6']);
      expect(elf.bytesRead).to.be.below(8192);

      // A PT_DYNAMIC claiming the whole 16 GiB of zeros: the first entry is DT_NULL.
      const fd2 = openSync(path, 'r+');
      const patched = Buffer.from(l.buffer.subarray(0, l.ehsize + l.phnum * l.phentsize));
      const shape = { ...l, phoff: l.ehsize };
      const dynIdx = indexOfType(l, PT_DYNAMIC);
      patchPhdr(patched, shape, dynIdx, 'offset', 4096n);
      patchPhdr(patched, shape, dynIdx, 'filesz', size - 8192n);
      writeSync(fd2, patched, l.ehsize, patched.length - l.ehsize, Number(far) + l.ehsize);
      closeSync(fd2);
      const empty = expectResult(outcome(path));
      expect(empty.dynamic?.needed).to.deep.equal([]);
      expect(empty.bytesRead).to.be.below(MAX_BYTES_READ);

      // The same, with the first megabyte of that segment made of non-DT_NULL entries.
      const fd3 = openSync(path, 'r+');
      writeSync(fd3, Buffer.alloc(LIMITS.maxDynamicEntries * 16, 0x01), 0, LIMITS.maxDynamicEntries * 16, 4096);
      closeSync(fd3);
      expectError(outcome(path), 'ELF_LIMIT', 'no DT_NULL in 16 GiB');

      // e_phoff pointing at the last 10 bytes.
      const fd4 = openSync(path, 'r+');
      const h = Buffer.alloc(8);
      h.writeBigUInt64LE(size - 10n);
      writeSync(fd4, h, 0, 8, 32);
      closeSync(fd4);
      expectError(outcome(path), 'ELF_BAD_HEADER', 'phoff at the end');
      rmSync(path);
    });

    it('a directory', () => {
      const d = join(dir, 'a-directory');
      mkdirSync(d);
      const err = expectError(outcome(d), 'ELF_NOT_REGULAR');
      expect(err.message).to.include('directory');
    });

    it('a FIFO with no writer, without blocking', function () {
      this.timeout(3000);
      const fifo = join(dir, 'fifo');
      const r = spawnSync('mkfifo', [fifo]);
      if (r.status !== 0) {
        console.log(`    skipped: mkfifo failed (${r.error?.message ?? r.stderr.toString()})`);
        this.skip();
      }
      const err = expectError(outcome(fifo), 'ELF_NOT_REGULAR');
      expect(err.message).to.include('FIFO');
    });

    it('a Unix socket', async function () {
      this.timeout(3000);
      const sock = join(dir, 'sock');
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(sock, resolve);
      });
      try {
        expectError(outcome(sock), 'ELF_NOT_REGULAR');
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });

    it('/dev/zero and /dev/null', function () {
      this.timeout(3000);
      expectError(outcome('/dev/zero'), 'ELF_NOT_REGULAR');
      expectError(outcome('/dev/null'), 'ELF_NOT_REGULAR');
    });

    it('a symlink loop and a dangling symlink', () => {
      const a = join(dir, 'loop-a');
      const b = join(dir, 'loop-b');
      symlinkSync(b, a);
      symlinkSync(a, b);
      const loop = expectError(outcome(a), 'ELF_IO');
      expect(loop).to.be.instanceOf(ElfIoError);
      expect((loop as ElfIoError).errno).to.equal('ELOOP');
      const dangling = join(dir, 'dangling');
      symlinkSync(join(dir, 'nowhere'), dangling);
      const gone = expectError(outcome(dangling), 'ELF_IO');
      expect((gone as ElfIoError).errno).to.equal('ENOENT');
      // A path through a regular file.
      const file = join(dir, 'plain');
      writeFileSync(file, 'x');
      expect((expectError(outcome(join(file, 'child')), 'ELF_IO') as ElfIoError).errno).to.equal('ENOTDIR');
    });

    it('a symlink to a good file is followed', () => {
      const target = join(dir, 'target');
      writeFileSync(target, layoutElf(FULL).buffer);
      const link = join(dir, 'link');
      symlinkSync(target, link);
      expect(expectResult(outcome(link)).dynamic?.needed).to.deep.equal(['libc.so.6', 'libm.so.6']);
    });
  });
});
