/**
 * The test ELF writer's own promises (its output is checked against readelf
 * in elf-readelf.test.ts): small files, mode 0755, and patch helpers that hit
 * exactly the field they name, in both classes and byte orders.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElf } from '../src/elf/reader.js';
import {
  DT_NEEDED,
  INTERPRETERS,
  PLATFORMS,
  PT_INTERP,
  PT_LOAD,
  layoutElf,
  patchDyn,
  patchHeader,
  patchPhdr,
  writeElf,
  type PlatformName,
} from './helpers/elf-writer.js';

describe('test ELF writer', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-writer-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes small executable files', () => {
    const path = join(dir, 'small');
    const l = writeElf(path, {
      ...PLATFORMS.x86_64,
      type: 'DYN',
      pie: true,
      interpreter: INTERPRETERS.x86_64,
      needed: ['libc.so.6', 'libm.so.6', 'libpthread.so.0'],
      soname: 'libsmall.so.1',
      rpath: '/a:/b',
      runpath: '$ORIGIN/../lib',
      phdrSegment: true,
      splitLoad: true,
    });
    const st = statSync(path);
    expect(st.size).to.equal(l.fileSize);
    expect(st.size).to.be.below(4096);
    expect(st.mode & 0o777).to.equal(0o755);
  });

  for (const name of ['x86_64', 'ppc', 's390x', 'mipsel'] as PlatformName[]) {
    it(`patch helpers change exactly the named field (${name})`, () => {
      const l = layoutElf({ ...PLATFORMS[name], type: 'EXEC', interpreter: INTERPRETERS[name], needed: ['liba.so', 'libb.so'], extraStrings: ['libz.so'] });
      const buf = Buffer.from(l.buffer);
      patchHeader(buf, l, 'machine', 0x1234);
      const interpIdx = l.programHeaders.findIndex((p) => p.type === PT_INTERP);
      // Point PT_INTERP at the string table's "liba.so" (not NUL-terminated at filesz 7, so give 8).
      patchPhdr(buf, l, interpIdx, 'offset', l.strtabOffset + (l.strings.get('liba.so') as number));
      patchPhdr(buf, l, interpIdx, 'filesz', 8);
      patchDyn(buf, l, 1, 'val', l.strings.get('libz.so') as number);
      const path = join(dir, `patched-${name}`);
      writeFileSync(path, buf);
      const elf = readElf(path);
      expect(elf.header.machine).to.equal(0x1234);
      expect(elf.header.elfClass).to.equal(PLATFORMS[name].elfClass);
      expect(elf.interpreter).to.equal('liba.so');
      expect(elf.dynamic?.needed).to.deep.equal(['liba.so', 'libz.so']);
      expect(l.dynamic[1]?.[0]).to.equal(DT_NEEDED);
    });
  }

  it('lays out after a program header override that changes the count', () => {
    const l = layoutElf({
      ...PLATFORMS.aarch64,
      type: 'DYN',
      soname: 'libx.so',
      programHeaders: (_a, generated) => [...generated, { type: 0x6474e551, offset: 0n, vaddr: 0n, filesz: 0n }, { type: 0x6474e550, offset: 0n, vaddr: 0n, filesz: 0n }],
    });
    expect(l.phnum).to.equal(4);
    // The string table moved past the longer table and DT_STRTAB followed it.
    expect(l.strtabOffset).to.be.at.least(l.phoff + 4 * l.phentsize);
    const path = join(dir, 'override');
    writeFileSync(path, l.buffer);
    const elf = readElf(path);
    expect(elf.programHeaders.map((p) => p.type)).to.deep.equal([PT_LOAD, 2, 0x6474e551, 0x6474e550]);
    expect(elf.dynamic?.soname).to.equal('libx.so');
  });

  it('truncates values wider than the field, as a corruption would', () => {
    const l = layoutElf({ ...PLATFORMS.i386, type: 'EXEC', noDynamic: true });
    const buf = Buffer.from(l.buffer);
    patchHeader(buf, l, 'phoff', (1n << 64n) - 1n);
    expect(buf.readUInt32LE(28)).to.equal(0xffffffff);
    expect(buf.readUInt16LE(42)).to.equal(32); // e_phentsize untouched
  });
});
