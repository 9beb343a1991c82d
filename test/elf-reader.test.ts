/**
 * The ELF reader on well-formed input: synthetic files for architectures the
 * host lacks (both classes, both byte orders), and the host's own binaries,
 * including ones built here with gcc in each linking mode.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource } from '../src/elf/file-source.js';
import { readElf, readElfDetails, readElfHeader, readProgramHeaders, type ElfFile } from '../src/elf/reader.js';
import { ElfdepsError } from '../src/errors.js';
import {
  DF_1_NODEFLIB,
  DF_1_NOW,
  DF_1_PIE,
  DF_BIND_NOW,
  DF_ORIGIN,
  DT_NEEDED,
  DT_NULL,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
  INTERPRETERS,
  MACHINES,
  PLATFORMS,
  PT_DYNAMIC,
  PT_LOAD,
  writeElf,
  type ElfSpec,
  type PlatformName,
} from './helpers/elf-writer.js';

/** Host binaries are read in kilobytes; libc.so.6 is ~2 MB. */
const MAX_BYTES_READ = 64 * 1024;

let dir: string;

let counter = 0;
function synth(spec: ElfSpec): ElfFile {
  const path = join(dir, `synth-${counter++}`);
  writeElf(path, spec);
  return readElf(path);
}

/** First existing path of a list, or null. */
function firstExisting(paths: string[]): string | null {
  for (const p of paths) if (existsSync(p)) return p;
  return null;
}

/** Compiles `source` with gcc and `flags`; null (and the reason) when the toolchain cannot. */
function gccBuild(name: string, source: string, flags: string[], compiler = 'gcc'): { path: string | null; reason: string } {
  const src = join(dir, `${name}.c`);
  const out = join(dir, name);
  writeFileSync(src, source);
  const r = spawnSync(compiler, [...flags, src, '-o', out], { encoding: 'utf8' });
  if (r.error) return { path: null, reason: `${compiler} not runnable: ${r.error.message}` };
  if (r.status !== 0) return { path: null, reason: `${compiler} ${flags.join(' ')} failed: ${r.stderr.trim().split('\n')[0]}` };
  return { path: out, reason: '' };
}

const HELLO = 'int main(void) { return 0; }\n';

describe('ELF reader', () => {
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-reader-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('ELF reader: synthetic files of foreign architectures', () => {
    const cases: Array<{ platform: PlatformName; elfClass: 32 | 64; littleEndian: boolean; machineName: string }> = [
      { platform: 'aarch64', elfClass: 64, littleEndian: true, machineName: 'aarch64' },
      { platform: 'i386', elfClass: 32, littleEndian: true, machineName: 'i386' },
      { platform: 'ppc64', elfClass: 64, littleEndian: false, machineName: 'ppc64' },
      { platform: 'ppc64le', elfClass: 64, littleEndian: true, machineName: 'ppc64le' },
      { platform: 'riscv64', elfClass: 64, littleEndian: true, machineName: 'riscv64' },
      { platform: 's390x', elfClass: 64, littleEndian: false, machineName: 's390x' },
      { platform: 'mips', elfClass: 32, littleEndian: false, machineName: 'mips' },
      { platform: 'ppc', elfClass: 32, littleEndian: false, machineName: 'ppc' },
      { platform: 'armhf', elfClass: 32, littleEndian: true, machineName: 'arm' },
    ];

    for (const c of cases) {
      describe(`${c.platform} (ELF${c.elfClass} ${c.littleEndian ? 'LE' : 'BE'})`, () => {
        const p = PLATFORMS[c.platform];

        it('reads a PIE executable: interpreter, needed in order, rpath, runpath, flags', () => {
          const elf = synth({
            ...p,
            type: 'DYN',
            pie: true,
            interpreter: INTERPRETERS[c.platform],
            needed: ['libz.so.1', 'libm.so.6', 'libc.so.6'],
            rpath: '/opt/rp',
            runpath: '$ORIGIN/../lib:/opt/run',
            flags: DF_BIND_NOW | DF_ORIGIN,
            flags1: DF_1_NOW,
            phdrSegment: true,
          });
          expect(elf.header.elfClass).to.equal(c.elfClass);
          expect(elf.header.littleEndian).to.equal(c.littleEndian);
          expect(elf.header.machine).to.equal(p.machine);
          expect(elf.machineName).to.equal(c.machineName);
          expect(elf.typeName).to.equal('DYN');
          expect(elf.kind).to.equal('pie-executable');
          expect(elf.interpreter).to.equal(INTERPRETERS[c.platform]);
          const { tables, ...strings } = elf.dynamic ?? { tables: null };
          // DF_BIND_NOW / DF_1_NOW make the loader bind every PLT slot at start (get-dynamic-info.h).
          expect(tables?.bindNow).to.equal(true);
          expect(tables?.strtab).to.be.a('bigint');
          expect(strings).to.deep.equal({
            needed: ['libz.so.1', 'libm.so.6', 'libc.so.6'],
            soname: null,
            rpath: '/opt/rp',
            runpath: '$ORIGIN/../lib:/opt/run',
            flags: DF_BIND_NOW | DF_ORIGIN,
            flags1: DF_1_NOW | DF_1_PIE,
            auxiliary: [],
            filter: [],
          });
        });

        it('reads a shared library with a SONAME and no interpreter', () => {
          const elf = synth({ ...p, type: 'DYN', soname: 'libfoo.so.1', needed: ['libc.so.6'], flags1: DF_1_NODEFLIB });
          expect(elf.kind).to.equal('shared-library');
          expect(elf.interpreter).to.equal(null);
          expect(elf.dynamic?.soname).to.equal('libfoo.so.1');
          expect(elf.dynamic?.needed).to.deep.equal(['libc.so.6']);
          expect(elf.dynamic?.flags).to.equal(null);
          expect(elf.dynamic?.flags1).to.equal(DF_1_NODEFLIB);
          expect(elf.dynamic?.rpath).to.equal(null);
          expect(elf.dynamic?.runpath).to.equal(null);
        });

        it('reads a non-PIE executable linked at 0x400000 (DT_STRTAB is a virtual address)', () => {
          const elf = synth({ ...p, type: 'EXEC', interpreter: INTERPRETERS[c.platform], needed: ['libc.so.6'] });
          expect(elf.typeName).to.equal('EXEC');
          expect(elf.kind).to.equal('executable');
          const load = elf.programHeaders.find((ph) => ph.type === PT_LOAD);
          expect(load?.vaddr).to.equal(0x400000n);
          expect(load?.offset).to.equal(0n);
          expect(elf.dynamic?.needed).to.deep.equal(['libc.so.6']);
        });

        it('classifies static executables and static PIEs', () => {
          expect(synth({ ...p, type: 'EXEC', noDynamic: true }).kind).to.equal('static-executable');
          const staticPie = synth({ ...p, type: 'DYN', pie: true });
          expect(staticPie.kind).to.equal('static-pie');
          expect(staticPie.interpreter).to.equal(null);
          expect(staticPie.dynamic?.needed).to.deep.equal([]);
        });
      });
    }
  });

  describe('ELF reader: loader rules on synthetic files', () => {
    const p = PLATFORMS.aarch64;

    it('keeps the last DT_SONAME, DT_RPATH and DT_RUNPATH, and every DT_NEEDED in order', () => {
      const elf = synth({
        ...p,
        type: 'DYN',
        needed: ['liba.so'],
        soname: 'libfirst.so.1',
        rpath: '/first/rpath',
        runpath: '/first/runpath',
        extraDynamic: [
          [DT_SONAME, 'libsecond.so.1'],
          [DT_NEEDED, 'libb.so'],
          [DT_RPATH, '/second/rpath'],
          [DT_RUNPATH, '/second/runpath'],
          [DT_SONAME, 'liblast.so.1'],
          [DT_NEEDED, 'liba.so'],
        ],
      });
      expect(elf.dynamic?.soname).to.equal('liblast.so.1');
      expect(elf.dynamic?.rpath).to.equal('/second/rpath');
      expect(elf.dynamic?.runpath).to.equal('/second/runpath');
      // Duplicates are kept: deciding what a repeated DT_NEEDED means is the resolver's job.
      expect(elf.dynamic?.needed).to.deep.equal(['liba.so', 'libb.so', 'liba.so']);
    });

    it('translates DT_STRTAB through the PT_LOAD that maps it, not the first one', () => {
      for (const platform of ['aarch64', 'mips', 's390x', 'i386'] as const) {
        const elf = synth({ ...PLATFORMS[platform], type: 'DYN', soname: 'libsplit.so', needed: ['libc.so.6'], splitLoad: true });
        const loads = elf.programHeaders.filter((ph) => ph.type === PT_LOAD);
        expect(loads).to.have.length(2);
        expect((loads[1] as (typeof loads)[number]).vaddr - (loads[1] as (typeof loads)[number]).offset).to.equal(0x10000n);
        expect(elf.dynamic?.soname, platform).to.equal('libsplit.so');
        expect(elf.dynamic?.needed, platform).to.deep.equal(['libc.so.6']);
      }
    });

    it('does not mistake DT_STRTAB for a file offset even when that offset holds a string table', () => {
      // The second PT_LOAD maps the real table at vaddr = offset + 0x100; a
      // decoy table with upper-cased names sits at file offset = that vaddr.
      const delta = 0x100n;
      const path = join(dir, 'decoy');
      const layout = writeElf(path, {
        ...PLATFORMS.ppc64,
        type: 'DYN',
        dynamicEntries: [
          [DT_NEEDED, 'libc.so.6'],
          [DT_SONAME, 'libreal.so'],
          [DT_STRTAB, (a) => BigInt(a.strtabOffset) + delta],
          [DT_STRSZ, (a) => BigInt(a.strtabSize)],
          [DT_NULL, 0n],
        ],
        programHeaders: (a) => [
          { type: PT_LOAD, offset: 0n, vaddr: 0n, filesz: BigInt(a.strtabOffset) },
          { type: PT_LOAD, offset: BigInt(a.strtabOffset), vaddr: BigInt(a.strtabOffset) + delta, filesz: BigInt(a.fileSize - a.strtabOffset) },
          { type: PT_DYNAMIC, offset: BigInt(a.dynamicOffset), vaddr: BigInt(a.dynamicOffset) + delta, filesz: BigInt(a.dynamicSize) },
        ],
        trailingBytes: 0x200,
      });
      const buf = layout.buffer;
      const decoyAt = layout.strtabOffset + Number(delta);
      Buffer.from(buf.subarray(layout.strtabOffset, layout.strtabOffset + layout.strtabSize).toString('latin1').toUpperCase(), 'latin1').copy(buf, decoyAt);
      writeFileSync(path, buf);
      const elf = readElf(path);
      expect(elf.dynamic?.needed).to.deep.equal(['libc.so.6']);
      expect(elf.dynamic?.soname).to.equal('libreal.so');
    });

    it('classifies a PIE without DF_1_PIE by its interpreter and missing SONAME, and libc-like libraries by their SONAME', () => {
      const oldPie = synth({ ...p, type: 'DYN', interpreter: INTERPRETERS.aarch64, needed: ['libc.so.6'] });
      expect(oldPie.kind).to.equal('pie-executable');
      const libcLike = synth({ ...p, type: 'DYN', interpreter: INTERPRETERS.aarch64, soname: 'libc.so.6' });
      expect(libcLike.kind).to.equal('shared-library');
      expect(libcLike.interpreter).to.equal(INTERPRETERS.aarch64);
    });

    it('reads ELF32 big-endian flags and the OS ABI byte', () => {
      const elf = synth({ ...PLATFORMS.ppc, type: 'EXEC', osAbi: 3, abiVersion: 1, interpreter: INTERPRETERS.ppc, needed: ['libc.so.6'], flags: DF_BIND_NOW, flags1: DF_1_NOW | DF_1_NODEFLIB });
      expect(elf.header.osAbi).to.equal(3);
      expect(elf.osAbiName).to.equal('GNU');
      expect(elf.header.abiVersion).to.equal(1);
      expect(elf.dynamic?.flags).to.equal(DF_BIND_NOW);
      expect(elf.dynamic?.flags1).to.equal(DF_1_NOW | DF_1_NODEFLIB);
    });

    it('returns names one char per byte (latin1), so their exact bytes are recoverable', () => {
      // The project's string convention (shared with the ld.so.cache parser):
      // Buffer.from(name, 'latin1') gives back the bytes of the ELF file.
      const name = 'libnaïve-µ.so.1';
      writeFileSync(join(dir, name), 'x');
      const elf = synth({ ...p, type: 'DYN', needed: [name], soname: 'libé.so' });
      const got = elf.dynamic?.needed[0] as string;
      expect(Buffer.from(got, 'latin1').equals(Buffer.from(name, 'utf8'))).to.equal(true);
      expect(existsSync(Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(got, 'latin1')]))).to.equal(true);
      expect(Buffer.from(elf.dynamic?.soname as string, 'latin1').toString('utf8')).to.equal('libé.so');
    });

    it('exposes the steps separately through FileSource', () => {
      const path = join(dir, 'steps');
      writeElf(path, { ...PLATFORMS.s390x, type: 'DYN', soname: 'libsteps.so', phdrSegment: true });
      const src = FileSource.open(path);
      try {
        const header = readElfHeader(src);
        expect(header.elfClass).to.equal(64);
        expect(header.littleEndian).to.equal(false);
        expect(header.machine).to.equal(MACHINES.s390);
        expect(header.phnum).to.equal(3);
        const phdrs = readProgramHeaders(src, header);
        expect(phdrs.map((ph) => ph.type)).to.deep.equal([6, PT_LOAD, PT_DYNAMIC]);
        const elf = readElfDetails(src, header);
        expect(elf.dynamic?.soname).to.equal('libsteps.so');
        expect(elf.bytesRead).to.equal(src.bytesRead);
        expect(elf.size).to.equal(src.size);
      } finally {
        src.close();
      }
    });
  });

  describe('ELF reader: host binaries', () => {
    it('/bin/ls is a PIE executable needing libc.so.6', function () {
      if (!existsSync('/bin/ls')) {
        console.log('    skipped: /bin/ls not present');
        this.skip();
      }
      const elf = readElf('/bin/ls');
      expect(elf.kind).to.equal('pie-executable');
      expect(elf.machineName).to.equal('x86_64');
      expect(elf.interpreter).to.match(/^\/lib(64)?\/ld-linux-x86-64\.so\.2$/);
      expect(elf.dynamic?.needed).to.include('libc.so.6');
      expect(elf.dynamic?.soname).to.equal(null);
      expect(elf.bytesRead).to.be.below(MAX_BYTES_READ);
      expect(Number(elf.size)).to.be.above(elf.bytesRead * 4);
    });

    it('libc.so.6 is a shared library although it has a PT_INTERP', function () {
      const libc = firstExisting(['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/lib64/libc.so.6']);
      if (!libc) {
        console.log('    skipped: no x86_64 glibc libc.so.6 on this host');
        this.skip();
      }
      const elf = readElf(realpathSync(libc));
      expect(elf.kind).to.equal('shared-library');
      expect(elf.interpreter).to.not.equal(null);
      expect(elf.dynamic?.soname).to.equal('libc.so.6');
      expect(elf.bytesRead).to.be.below(MAX_BYTES_READ);
    });

    it('busybox (static) is a static executable', function () {
      const busybox = firstExisting(['/bin/busybox', '/usr/bin/busybox']);
      if (!busybox) {
        console.log('    skipped: busybox not installed (apt-get install busybox-static)');
        this.skip();
      }
      const elf = readElf(busybox);
      if (elf.interpreter !== null) {
        console.log(`    skipped: ${busybox} is the dynamically linked busybox`);
        this.skip();
      }
      expect(elf.kind).to.equal('static-executable');
      expect(elf.dynamic).to.equal(null);
    });

    it('gcc -static-pie builds a static PIE', function () {
      const { path, reason } = gccBuild('static-pie', HELLO, ['-static-pie', '-O0']);
      if (!path) {
        console.log(`    skipped: ${reason}`);
        this.skip();
      }
      const elf = readElf(path);
      expect(elf.kind).to.equal('static-pie');
      expect(elf.interpreter).to.equal(null);
      expect(elf.dynamic?.needed).to.deep.equal([]);
      expect((elf.dynamic?.flags1 ?? 0n) & DF_1_PIE).to.equal(DF_1_PIE);
    });

    it('gcc -no-pie builds an ET_EXEC executable', function () {
      const { path, reason } = gccBuild('no-pie', HELLO, ['-no-pie', '-O0']);
      if (!path) {
        console.log(`    skipped: ${reason}`);
        this.skip();
      }
      const elf = readElf(path);
      expect(elf.typeName).to.equal('EXEC');
      expect(elf.kind).to.equal('executable');
      expect(elf.dynamic?.needed).to.deep.equal(['libc.so.6']);
    });

    it('gcc -shared with RPATH, then RUNPATH, as the linker writes them', function () {
      const rp = gccBuild('librp.so', 'int f(void) { return 1; }\n', ['-shared', '-fPIC', '-Wl,-soname,librp.so.1', '-Wl,--disable-new-dtags', '-Wl,-rpath,/opt/a:$ORIGIN/x', '-Wl,-z,nodelete']);
      if (!rp.path) {
        console.log(`    skipped: ${rp.reason}`);
        this.skip();
      }
      const rpElf = readElf(rp.path);
      expect(rpElf.kind).to.equal('shared-library');
      expect(rpElf.dynamic?.soname).to.equal('librp.so.1');
      expect(rpElf.dynamic?.rpath).to.equal('/opt/a:$ORIGIN/x');
      expect(rpElf.dynamic?.runpath).to.equal(null);
      expect((rpElf.dynamic?.flags1 ?? 0n) & 0x8n).to.equal(0x8n); // DF_1_NODELETE

      const run = gccBuild('librun.so', 'int f(void) { return 1; }\n', ['-shared', '-fPIC', '-Wl,--enable-new-dtags', '-Wl,-rpath,/opt/b']);
      if (!run.path) throw new Error(run.reason);
      const runElf = readElf(run.path);
      expect(runElf.dynamic?.runpath).to.equal('/opt/b');
      expect(runElf.dynamic?.rpath).to.equal(null);
      expect(runElf.dynamic?.soname).to.equal(null);
    });

    it('gcc -m32 builds an ELF32 i386 executable', function () {
      const { path, reason } = gccBuild('m32', HELLO, ['-m32', '-O0']);
      if (!path) {
        console.log(`    skipped: ${reason} (gcc-multilib missing?)`);
        this.skip();
      }
      const elf = readElf(path);
      expect(elf.header.elfClass).to.equal(32);
      expect(elf.machineName).to.equal('i386');
      expect(elf.interpreter).to.equal('/lib/ld-linux.so.2');
      expect(elf.dynamic?.needed).to.deep.equal(['libc.so.6']);
    });

    it('musl-gcc builds an executable with the musl interpreter', function () {
      const { path, reason } = gccBuild('musl', HELLO, ['-O0'], 'musl-gcc');
      if (!path) {
        console.log(`    skipped: ${reason} (musl-tools missing?)`);
        this.skip();
      }
      const elf = readElf(path);
      if (elf.interpreter === null) {
        // Some musl-gcc wrappers link statically by default: then there is no musl interpreter to check.
        expect(elf.kind).to.be.oneOf(['static-executable', 'static-pie']);
        console.log(`    skipped: this musl-gcc linked statically (${elf.kind}): no musl interpreter to check`);
        this.skip();
      }
      expect(elf.interpreter).to.match(/ld-musl-x86_64\.so\.1$/);
      expect(elf.dynamic?.needed).to.deep.equal(['libc.so']);
    });

    it('reports read failures of host paths as ElfdepsError', () => {
      try {
        readElf(join(dir, 'does-not-exist'));
        expect.fail('readElf returned for a missing file');
      } catch (err) {
        expect(err).to.be.instanceOf(ElfdepsError);
        expect((err as ElfdepsError).code).to.equal('ELF_IO');
      }
    });
  });
});
