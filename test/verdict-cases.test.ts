/**
 * The loader's verdict (symbol versions, glibc elf/dl-version.c; symbol
 * lookup, elf/dl-lookup.c) on small programs built here with gcc and linker
 * version scripts, compared with the real loader:
 *
 * - `elfdeps --ldd [FLAG] FILE...` against `ldd [FLAG] FILE...` for FLAG in
 *   (none), -v, -u, -d, -r: stdout exactly, after removing the load addresses
 *   and replacing the pid of LD_DEBUG lines (ldd -u) on both sides, and stderr
 *   exactly (ldd's text is all there is: no line of elfdeps' own);
 * - elfdeps' exit status against the program's real start (LD_BIND_NOW unset):
 *   0 when it starts, 1 when the loader refuses it; `elfdeps --verdict`'s
 *   line per file against the same: `starts`, or the reason the real start
 *   printed. Every main() here returns
 *   0 and prints nothing, and calls nothing it references (the calls sit
 *   behind `argc > 5`), so a start is recognisable and lazy PLT binding never
 *   runs.
 *
 * Each case first checks that the real loader really shows what the case is
 * about (so a toolchain that builds something else fails loudly instead of
 * comparing the wrong thing), then compares elfdeps and lists every
 * difference. Set VERDICT_DUMP=1 to print the real loader's outputs.
 *
 * Observations on this loader (glibc 2.36) that the cases rely on:
 * - a missing version stops the start with exit status 1 (rtld's
 *   `_exit (1)` after _dl_check_all_versions), not 127: the message is
 *   "PROG: LIB: version `V' not found (required by OBJ)";
 * - an undefined symbol stops it with 127: "PROG: symbol lookup error: OBJ:
 *   undefined symbol: S" (not "error while loading shared libraries");
 * - GNU ld (2.40) never sets VER_FLG_WEAK on a Vernaux, not even when every
 *   reference to the version is a weak undefined symbol; case 5 therefore
 *   patches vna_flags in the built file (patchVernaux below);
 * - a weak version that is missing is reported ("weak version `V' not found")
 *   by plain ldd and on the real start's stderr too, and does not stop it; "no
 *   version information available" comes once per Vernaux of that library;
 * - with -u (LD_DEBUG=unused) ldd prints no list; a missing version gives the
 *   pid-prefixed debug line "(continued)", the message, and no "Unused" block;
 *   a library the program reaches only through lazy PLT slots counts as unused.
 */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { expect } from 'chai';
import { elfdepsCommand } from './helpers/cli.js';
import { cleanEnv, hasTool, mkexe, mklib, mustRun, run, useFixtures, writeText } from './helpers/build.js';

const FLAGS = ['', '-v', '-u', '-d', '-r'] as const;
type Flag = (typeof FLAGS)[number];

const canRun = process.platform === 'linux' && process.arch === 'x64' && hasTool('gcc') && hasTool('ldd') && hasTool('readelf');
const DUMP = process.env.VERDICT_DUMP === '1';

// ---------------------------------------------------------------------------
// Byte patching of .gnu.version_r

/** glibc's _dl_elf_hash (the SysV ELF hash), which vna_hash must hold. */
export function elfHash(name: string): number {
  let h = 0;
  for (const c of Buffer.from(name, 'latin1')) {
    h = ((h << 4) + c) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h &= ~g >>> 0;
    h >>>= 0;
  }
  return h >>> 0;
}

/**
 * Finds the Vernaux named `name` in an ELF64 little-endian file (through the
 * section headers: SHT_GNU_verneed and its sh_link string table) and patches
 * it in place: `orFlags` is OR-ed into vna_flags; `rename` (same length)
 * overwrites the name in the string table and sets vna_hash to its hash.
 * Throws when the entry is not there (the patch must not silently do nothing).
 */
export function patchVernaux(path: string, name: string, patch: { orFlags?: number; rename?: string }): void {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error(`${path}: not ELF64 little-endian`);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const sec = (i: number) => {
    const o = shoff + i * shentsize;
    return { type: b.readUInt32LE(o + 4), offset: Number(b.readBigUInt64LE(o + 0x18)), link: b.readUInt32LE(o + 0x28) };
  };
  let patched = 0;
  for (let i = 0; i < shnum; i++) {
    const s = sec(i);
    if (s.type !== 0x6ffffffe) continue; // SHT_GNU_verneed
    const strOff = sec(s.link).offset;
    const str = (o: number) => b.toString('latin1', strOff + o, b.indexOf(0, strOff + o));
    let vn = s.offset;
    for (;;) {
      const cnt = b.readUInt16LE(vn + 2);
      let aux = vn + b.readUInt32LE(vn + 8);
      for (let k = 0; k < cnt; k++) {
        const nameOff = b.readUInt32LE(aux + 8);
        if (str(nameOff) === name) {
          if (patch.orFlags !== undefined) b.writeUInt16LE(b.readUInt16LE(aux + 4) | patch.orFlags, aux + 4);
          if (patch.rename !== undefined) {
            if (patch.rename.length !== name.length) throw new Error('patchVernaux: the new name must have the same length');
            b.write(patch.rename, strOff + nameOff, 'latin1');
            b.writeUInt32LE(elfHash(patch.rename), aux);
          }
          patched++;
        }
        aux += b.readUInt32LE(aux + 12);
      }
      const next = b.readUInt32LE(vn + 12);
      if (next === 0) break;
      vn += next;
    }
  }
  if (patched === 0) throw new Error(`${path}: no Vernaux named ${name}`);
  writeFileSync(path, b);
}

const DT_BIND_NOW = 24;
const DT_FLAGS = 30;
const DT_FLAGS_1 = 0x6ffffffb;
const DF_BIND_NOW = 0x8;
const DF_1_NOW = 0x1;

/**
 * Edits the dynamic array (SHT_DYNAMIC) of an ELF64 little-endian file in
 * place: `edit(tag, value)` returns a new value, 'delete' (the entry is
 * removed, the rest shifted up and a DT_NULL appended), or undefined (kept).
 * Throws when no entry was touched.
 */
export function patchDynamic(path: string, edit: (tag: number, value: bigint) => bigint | 'delete' | undefined): void {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error(`${path}: not ELF64 little-endian`);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  let touched = 0;
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    if (b.readUInt32LE(o + 4) !== 6) continue; // SHT_DYNAMIC
    const start = Number(b.readBigUInt64LE(o + 0x18));
    const end = start + Number(b.readBigUInt64LE(o + 0x20));
    for (let e = start; e + 16 <= end; ) {
      const tag = Number(b.readBigInt64LE(e));
      if (tag === 0) break;
      const r = edit(tag, b.readBigUInt64LE(e + 8));
      if (r === 'delete') {
        b.copy(b, e, e + 16, end);
        b.fill(0, end - 16, end);
        touched++;
        continue;
      }
      if (r !== undefined) {
        b.writeBigUInt64LE(r, e + 8);
        touched++;
      }
      e += 16;
    }
  }
  if (touched === 0) throw new Error(`${path}: patchDynamic changed nothing`);
  writeFileSync(path, b);
}

// ---------------------------------------------------------------------------
// The cases

interface Entry {
  /** Short label: case number and program. */
  label: string;
  /** Program paths relative to the fixture dir, as given to ldd and elfdeps ('./c1/prog'). */
  files: string[];
  /** LD_LIBRARY_PATH for ldd and the real start; --library-path for elfdeps. */
  libraryPath?: string;
}

interface Case {
  id: string;
  title: string;
  entries: Entry[];
  /** Checks that the real loader shows what the case is about (ldd outputs by entry and flag; real starts by file). */
  oracle: (o: OracleView) => void;
}

interface RealStart {
  starts: boolean;
  status: number | null;
  stderr: string;
}

interface OracleView {
  ldd: (entry: number, flag: Flag) => string;
  start: (file: string) => RealStart;
}

const PID_LINE = /^ *\d+:\t/gm;

/** ldd's stdout without load addresses and with LD_DEBUG pids replaced. */
function normalise(s: string): string {
  return s.replace(/ \(0x[0-9a-f]+\)$/gm, '').replace(PID_LINE, '<pid>:\t');
}

function lddOut(dir: string, e: Entry, flag: Flag): { stdout: string; stderr: string } {
  const r = run('ldd', [...(flag ? [flag] : []), ...e.files], { cwd: dir, env: cleanEnv({ LD_LIBRARY_PATH: e.libraryPath }) });
  return { stdout: normalise(r.stdout), stderr: r.stderr };
}

function elfdepsRun(dir: string, e: Entry, flag: Flag, mode: '--ldd' | '--verdict' = '--ldd'): { stdout: string; stderr: string; status: number | null } {
  const [node, bin] = elfdepsCommand();
  const args = [bin, mode, ...(flag ? [flag] : []), ...(e.libraryPath !== undefined ? ['--library-path', e.libraryPath] : []), ...e.files];
  const r = run(node, args, { cwd: dir, env: cleanEnv() });
  return { stdout: normalise(r.stdout), stderr: r.stderr, status: r.status };
}

const LOADER_REFUSAL = /error while loading shared libraries|symbol lookup error|version `[^']*' not found/;

/** The program's real start, LD_BIND_NOW unset (cleanEnv has no LD_* but what we give). */
function realStart(dir: string, file: string, libraryPath?: string): RealStart {
  const r = run(file, [], { cwd: dir, env: cleanEnv({ LD_LIBRARY_PATH: libraryPath }) });
  if (r.status === 0) return { starts: true, status: 0, stderr: r.stderr };
  if (r.status !== null && LOADER_REFUSAL.test(r.stderr)) return { starts: false, status: r.status, stderr: r.stderr };
  throw new Error(`${file}: neither started nor refused by the loader (status ${r.status}):\n${r.stderr}`);
}

const C_FOO = (n: number) => `int foo${n}(void) { return ${n}; }\n`;
/** A main that references `refs` (called behind argc > 5: never at run time) and returns 0. */
const MAIN = (decls: string, use: string) => `${decls}\nint main(int argc, char **argv) { (void)argv; if (argc > 5) return ${use}; return 0; }\n`;

function buildFixtures(D: string): { dir: string; cases: Case[] } {
  // libv: VERS_1 { foo1 }, VERS_2 { foo2 }, VERS_3 { foo3 } (new); VERS_1 only (old); no versions at all (nover).
  const mapNew = writeText(`${D}/v/new.map`, 'VERS_1 { global: foo1; local: *; };\nVERS_2 { global: foo2; } VERS_1;\nVERS_3 { global: foo3; } VERS_2;\n');
  const mapOld = writeText(`${D}/v/old.map`, 'VERS_1 { global: foo1; local: *; };\n');
  const libvNew = mklib(`${D}/v/new/libv.so.1`, { source: C_FOO(1) + C_FOO(2) + C_FOO(3), args: [`-Wl,--version-script=${mapNew}`] });
  mklib(`${D}/v/old/libv.so.1`, { source: C_FOO(1), args: [`-Wl,--version-script=${mapOld}`] });
  mklib(`${D}/v/nover/libv.so.1`, { source: C_FOO(1) + C_FOO(2) + C_FOO(3) });
  const vOld = `${D}/v/old`;

  const F12 = MAIN('int foo1(void); int foo2(void);', 'foo1() + foo2()');

  // 1. A missing version in the library found through DT_RPATH.
  mkexe(`${D}/c1/prog`, { source: F12, needs: [libvNew], rpath: vOld });
  //    And the versioned library not found at all (the Vernaux of a missing library: "not found" under -v, the lookups still run).
  mkexe(`${D}/c1/prog-missing`, { source: F12, needs: [libvNew], rpath: `${D}/nowhere` });
  // 2. Two versions missing from one library.
  mkexe(`${D}/c2/prog`, { source: MAIN('int foo1(void); int foo2(void); int foo3(void);', 'foo1() + foo2() + foo3()'), needs: [libvNew], rpath: vOld });
  // 3. A library (not the program) needs the missing version: prog -> liba -> libv (libv found through prog's inherited RPATH).
  const liba = mklib(`${D}/c3/liba.so`, { source: 'int foo2(void);\nint afunc(void) { return foo2(); }\n', needs: [libvNew] });
  mkexe(`${D}/c3/prog`, { source: MAIN('int afunc(void);', 'afunc()'), needs: [liba], rpath: `${D}/c3:${vOld}` });
  // 4. The provider has no version information at all (non-fatal warning).
  mkexe(`${D}/c4/prog`, { source: F12, needs: [libvNew], rpath: `${D}/v/nover` });
  // 5. A weak version reference (vna_flags VER_FLG_WEAK, patched in: GNU ld does not set it, see the header),
  //    with the symbol itself a weak undefined one; against the old libv (not found) and the new one (found).
  const W = MAIN('int foo1(void);\n__attribute__((weak)) int foo2(void);', 'foo1() + (foo2 ? foo2() : 0)');
  for (const [name, rpath] of [
    ['prog', vOld],
    ['prog-new', `${D}/v/new`],
  ] as const) {
    const p = mkexe(`${D}/c5/${name}`, { source: W, needs: [libvNew], rpath });
    const before = mustRun('readelf', ['-V', '--wide', p]);
    if (/Name: VERS_2\s+Flags: WEAK/.test(before)) throw new Error('GNU ld set VER_FLG_WEAK itself: drop the patch');
    patchVernaux(p, 'VERS_2', { orFlags: 0x2 /* VER_FLG_WEAK */ });
    if (!/Name: VERS_2\s+Flags: WEAK/.test(mustRun('readelf', ['-V', '--wide', p]))) throw new Error(`${p}: the VER_FLG_WEAK patch did not take`);
  }
  //    The same weak version, but foo2 a strong reference (lazy: starts; -z now: the lookup of foo2@VERS_2 fails at start).
  for (const [name, args] of [
    ['prog-strong', []],
    ['prog-strong-now', ['-Wl,-z,now']],
  ] as const) {
    const p = mkexe(`${D}/c5/${name}`, { source: F12, args: [...args], needs: [libvNew], rpath: vOld });
    patchVernaux(p, 'VERS_2', { orFlags: 0x2 /* VER_FLG_WEAK */ });
  }
  // 6. An older copy first on the search path (LD_LIBRARY_PATH old:new): the loader takes it and does not search on.
  mkexe(`${D}/c6/prog`, { source: F12, needs: [libvNew] });
  // 7. A GLIBC_ version no libc defines: GLIBC_2.34 renamed in place to GLIBC_9.99 (same length), vna_hash recomputed.
  //    (Before glibc 2.34 programs need no GLIBC_2.34: GLIBC_2.2.5 becomes GLIBC_9.9.9 then.)
  const p7 = mkexe(`${D}/c7/prog`, {});
  const glibcFrom = /Name: GLIBC_2\.34\b/.test(mustRun('readelf', ['-V', '--wide', p7])) ? 'GLIBC_2.34' : 'GLIBC_2.2.5';
  const glibcTo = glibcFrom.replace(/\d/g, (d, i: number) => (i < 6 ? d : '9'));
  patchVernaux(p7, glibcFrom, { rename: glibcTo });
  if (!mustRun('readelf', ['-V', '--wide', p7]).includes(`Name: ${glibcTo} `)) throw new Error(`${p7}: the rename did not take`);
  // 8. Versions the rtld defines: a library using __tls_get_addr (GLIBC_2.3), _dl_argv (GLIBC_PRIVATE) and
  //    __rseq_offset (GLIBC_2.35) from ld-linux-x86-64.so.2, and _dl_find_object (GLIBC_2.35, libc); the
  //    program (-fPIC: through the GOT, no copy relocation of ld.so data) reads _dl_argv itself too.
  const librtld = mklib(`${D}/c8/librtld.so`, {
    source:
      '#define _GNU_SOURCE\n#include <dlfcn.h>\n#include <stddef.h>\n' +
      '__thread int tlsv;\nextern char **_dl_argv;\n' +
      '#if __GLIBC__ > 2 || __GLIBC_MINOR__ >= 35\n' +
      'extern const ptrdiff_t __rseq_offset;\n' +
      'int rfunc(void *pc) { struct dl_find_object r; return _dl_find_object(pc, &r) + tlsv + (_dl_argv != 0) + (int)__rseq_offset; }\n' +
      '#else\nint rfunc(void *pc) { return tlsv + (_dl_argv != 0) + (pc != 0); }\n#endif\n',
  });
  mkexe(`${D}/c8/prog`, {
    source: MAIN('int rfunc(void *);\nextern char **_dl_argv;', 'rfunc(0) + (_dl_argv != 0)'),
    args: ['-fPIC'],
    needs: [librtld, '/lib64/ld-linux-x86-64.so.2'],
    rpath: `${D}/c8`,
  });

  //    And a copy of the library asking ld.so for a version it lacks (GLIBC_2.3 of ld-linux-x86-64.so.2 renamed GLIBC_9.9).
  copyFileSync(librtld, writeText(`${D}/c8/bad/librtld.so`, ''));
  patchVernaux(`${D}/c8/bad/librtld.so`, 'GLIBC_2.3', { rename: 'GLIBC_9.9' });
  mkexe(`${D}/c8/prog-bad`, { source: MAIN('int rfunc(void *);', 'rfunc(0)'), needs: [librtld], rpath: `${D}/c8/bad` });
  // libs: sfunc and sdata (full); neither (old). No versioning.
  const libsFull = mklib(`${D}/s/full/libs.so`, { source: 'int sfunc(void) { return 1; }\nint sdata = 5;\n' });
  mklib(`${D}/s/old/libs.so`, { source: 'int other(void) { return 0; }\n' });
  const sOld = `${D}/s/old`;
  const FD = MAIN('int sfunc(void); extern int sdata;', 'sfunc() + sdata');
  // 9. Undefined function and data symbols (-fPIC: sdata through the GOT, R_X86_64_GLOB_DAT); and the function alone.
  mkexe(`${D}/c9/prog`, { source: FD, args: ['-fPIC'], needs: [libsFull], rpath: sOld });
  mkexe(`${D}/c9/prog-func`, { source: MAIN('int sfunc(void);', 'sfunc()'), needs: [libsFull], rpath: sOld });
  //    A library's undefined data symbol besides the program's own (whose line comes first?), and a library's
  //    data symbol that only the executable defines (the lookup starts at the executable: no line).
  const libud = mklib(`${D}/c9/libud.so`, { source: 'extern int sdata;\nint *udp(void) { return &sdata; }\n', needs: [libsFull] });
  mkexe(`${D}/c9/prog-lib`, { source: MAIN('int *udp(void); extern int sdata;', '*udp() + sdata'), args: ['-fPIC'], needs: [libud, libsFull], rpath: `${D}/c9:${sOld}` });
  const libhost = mklib(`${D}/c9/libhost.so`, { source: 'extern int hostdata;\nint *hostp(void) { return &hostdata; }\n' });
  mkexe(`${D}/c9/prog-host`, { source: MAIN('int *hostp(void);\nint hostdata = 7;', '*hostp()'), needs: [libhost], rpath: `${D}/c9` });
  if (!/ hostdata$/m.test(mustRun('readelf', ['--dyn-syms', '--wide', `${D}/c9/prog-host`]))) throw new Error('c9/prog-host does not export hostdata');
  // 10. Weak undefined symbols: no line.
  mkexe(`${D}/c10/prog`, {
    source: MAIN('__attribute__((weak)) int sfunc(void); __attribute__((weak)) extern int sdata;', '(sfunc ? sfunc() : 0) + (&sdata ? sdata : 0)'),
    args: ['-fPIC'],
    needs: [libsFull],
    rpath: sOld,
  });
  // 11. BIND_NOW (-z now) and the function symbol gone.
  //     ld (old dtags, as with -rpath here) writes DT_BIND_NOW and DF_1_NOW in DT_FLAGS_1: the variants keep one of them
  //     (the other removed by patchDynamic), and a library linked -z now (new dtags: DF_BIND_NOW in DT_FLAGS) under a lazy program.
  const SF = MAIN('int sfunc(void);', 'sfunc()');
  mkexe(`${D}/c11/prog`, { source: SF, args: ['-Wl,-z,now'], needs: [libsFull], rpath: sOld });
  const p11a = mkexe(`${D}/c11/prog-flags1-only`, { source: SF, args: ['-Wl,-z,now'], needs: [libsFull], rpath: sOld });
  patchDynamic(p11a, (tag) => (tag === DT_BIND_NOW ? 'delete' : undefined));
  const p11b = mkexe(`${D}/c11/prog-bindnow-only`, { source: SF, args: ['-Wl,-z,now'], needs: [libsFull], rpath: sOld });
  patchDynamic(p11b, (tag, v) => (tag === DT_FLAGS_1 ? v & ~BigInt(DF_1_NOW) : undefined));
  const libnow = mklib(`${D}/c11/libnow.so`, {
    source: 'int sfunc(void);\nint nowfunc(int x) { if (x > 5) return sfunc(); return 0; }\n',
    args: ['-Wl,-z,now', '-Wl,--enable-new-dtags'],
    needs: [libsFull],
  });
  mkexe(`${D}/c11/prog-lib`, { source: MAIN('int nowfunc(int);', 'nowfunc(argc)'), needs: [libnow], rpath: `${D}/c11:${sOld}` });
  const dyn11 = (f: string) => mustRun('readelf', ['-d', f]);
  if (/\(BIND_NOW\)/.test(dyn11(p11a)) || !/\(FLAGS_1\).*\bNOW\b/.test(dyn11(p11a))) throw new Error(`${p11a}: patch failed:\n${dyn11(p11a)}`);
  if (!/\(BIND_NOW\)/.test(dyn11(p11b)) || /\(FLAGS_1\).*\bNOW\b/.test(dyn11(p11b))) throw new Error(`${p11b}: patch failed:\n${dyn11(p11b)}`);
  if (!/\(FLAGS\)\s+BIND_NOW/.test(dyn11(libnow))) throw new Error(`${libnow}: no DF_BIND_NOW in DT_FLAGS:\n${dyn11(libnow)}`);

  // libh: foo@VERS_1 (hidden, .symver foo_old) and foo@@VERS_2 (new); foo@VERS_1 hidden and VERS_2 holding only bar (old);
  // foo@@VERS_1 only (v1, to link a program that needs foo@VERS_1).
  const mapH = writeText(`${D}/h/h.map`, 'VERS_1 { global: foo; local: *; };\nVERS_2 { global: foo; bar; } VERS_1;\n');
  const mapH1 = writeText(`${D}/h/h1.map`, 'VERS_1 { global: foo; local: *; };\n');
  const OLD = 'int foo_old(void) { return 1; }\n__asm__(".symver foo_old,foo@VERS_1");\n';
  mklib(`${D}/h/new/libh.so.1`, { source: OLD + 'int foo_new(void) { return 2; }\n__asm__(".symver foo_new,foo@@VERS_2");\n', args: [`-Wl,--version-script=${mapH}`] });
  const libhNew = `${D}/h/new/libh.so.1`;
  mklib(`${D}/h/old/libh.so.1`, { source: OLD + 'int bar(void) { return 3; }\n', args: [`-Wl,--version-script=${mapH}`] });
  const libhV1 = mklib(`${D}/h/v1/libh.so.1`, { source: 'int foo(void) { return 1; }\n', args: [`-Wl,--version-script=${mapH1}`] });
  const dyn = mustRun('readelf', ['--dyn-syms', '--wide', `${D}/h/old/libh.so.1`]);
  if (!/ foo@VERS_1$/m.test(dyn) || / foo@@/m.test(dyn)) throw new Error(`h/old/libh.so.1 should define foo only at the hidden VERS_1:\n${dyn}`);
  // 12. foo needed at VERS_2, the library found defines it only at the hidden VERS_1 (lazy, and -z now);
  //     and a program needing foo@VERS_1 against the new library, where that one is hidden: it matches.
  const FOO = MAIN('int foo(void);', 'foo()');
  mkexe(`${D}/c12/prog`, { source: FOO, needs: [libhNew], rpath: `${D}/h/old` });
  mkexe(`${D}/c12/prog-now`, { source: FOO, args: ['-Wl,-z,now'], needs: [libhNew], rpath: `${D}/h/old` });
  mkexe(`${D}/c12/prog-v1`, { source: FOO, needs: [libhV1], rpath: `${D}/h/new` });
  //     An unversioned reference (program linked against an unversioned libh) against versioned providers
  //     (dl-lookup.c check_match): foo only hidden at version index 3 (rejected: undefined); foo hidden at index 2
  //     (the first defined version: accepted); foo default at index 3 and hidden at 4 (the one non-hidden: accepted).
  const libhUnv = mklib(`${D}/u/nover/libh.so.1`, { source: 'int foo(void) { return 0; }\n' });
  const mapU = writeText(`${D}/u/u.map`, 'VERS_1 { global: bar; foo; local: *; };\nVERS_2 { global: foo; } VERS_1;\nVERS_3 { global: foo; } VERS_2;\n');
  const uLib = (sub: string, symvers: string[]) =>
    mklib(`${D}/u/${sub}/libh.so.1`, {
      source: 'int bar(void) { return 0; }\n' + symvers.map((v, i) => `int foo_${i}(void) { return ${i}; }\n__asm__(".symver foo_${i},foo${v}");\n`).join(''),
      args: [`-Wl,--version-script=${mapU}`],
    });
  uLib('hidden3', ['@VERS_2']);
  uLib('hidden2', ['@VERS_1', '@VERS_3']);
  uLib('default3', ['@@VERS_2', '@VERS_3']);
  for (const sub of ['hidden3', 'hidden2', 'default3']) mkexe(`${D}/c12/prog-unv-${sub}`, { source: FOO, needs: [libhUnv], rpath: `${D}/u/${sub}` });
  const dynU = mustRun('readelf', ['--dyn-syms', '--wide', `${D}/u/default3/libh.so.1`]);
  if (!/ foo@@VERS_2$/m.test(dynU) || !/ foo@VERS_3$/m.test(dynU)) throw new Error(`u/default3/libh.so.1:\n${dynU}`);
  // 13. Copy relocations (-no-pie): sdata copied from the library; the library found lacks it.
  mkexe(`${D}/c13/prog-ok`, { source: FD, args: ['-no-pie', '-fno-pic'], needs: [libsFull], rpath: `${D}/s/full` });
  mkexe(`${D}/c13/prog-gone`, { source: FD, args: ['-no-pie', '-fno-pic'], needs: [libsFull], rpath: sOld });
  for (const p of ['prog-ok', 'prog-gone']) {
    const rel = mustRun('readelf', ['-r', '--wide', `${D}/c13/${p}`]);
    if (!/R_X86_64_COPY\s+\S+\s+sdata/.test(rel)) throw new Error(`c13/${p}: no copy relocation of sdata:\n${rel}`);
  }
  // 15. A versioned library not found, whose version index is above every found one's: glibc
  //     (_dl_check_map_versions) counts the highest index over found files only, so the
  //     reference has no version slot and ldd -r names no version. Both link orders, so
  //     that one of them puts the missing library's version last.
  const mapG = writeText(`${D}/g/gone.map`, 'VERS_G { global: gfunc; local: *; };\n');
  const mapF = writeText(`${D}/g/found.map`, 'VERS_F { global: ffunc; local: *; };\n');
  const libGone = mklib(`${D}/g/gone/libgone.so.1`, { source: 'int gfunc(void) { return 1; }\n', args: [`-Wl,--version-script=${mapG}`] });
  const libFound = mklib(`${D}/g/found/libfound.so.1`, { source: 'int ffunc(void) { return 2; }\n', args: [`-Wl,--version-script=${mapF}`] });
  //     Programs without libc (-nostdlib, their own _start), so that only these two files have versions.
  const G =
    'int gfunc(void); int ffunc(void);\n' +
    'void _start(void) { volatile int never = 0; if (never) gfunc(); ffunc(); __asm__ volatile("mov $60, %eax\\n\\txor %edi, %edi\\n\\tsyscall"); }\n';
  mkexe(`${D}/c15/prog-gone-last`, { source: G, args: ['-nostdlib', '-nostartfiles'], needs: [libFound, libGone], rpath: `${D}/g/found` });
  mkexe(`${D}/c15/prog-gone-first`, { source: G, args: ['-nostdlib', '-nostartfiles'], needs: [libGone, libFound], rpath: `${D}/g/found` });
  // 16. The loader stops outright: the first file by the library's name (through DT_RPATH) is not an ELF file.
  //     Its message goes to the loader's stderr, which ldd merges into its stdout.
  writeText(`${D}/c16/bad/libv.so.1`, `${'this is not an ELF file, but it is named like the library\n'.repeat(4)}`);
  mkexe(`${D}/c16/prog`, { source: F12, needs: [libvNew], rpath: `${D}/c16/bad` });
  const rel9 = mustRun('readelf', ['-r', '--wide', `${D}/c9/prog`]);
  if (!/R_X86_64_GLOB_DAT\s+\S+\s+sdata/.test(rel9)) throw new Error(`c9/prog: sdata is not a GLOB_DAT relocation:\n${rel9}`);
  for (const p of ['c11/prog', 'c12/prog-now']) {
    if (!/\(FLAGS\)\s+BIND_NOW|\(FLAGS_1\).*\bNOW\b/.test(mustRun('readelf', ['-d', `${D}/${p}`]))) throw new Error(`${p}: not linked with BIND_NOW`);
  }
  for (const p of ['c1/prog', 'c9/prog', 'c9/prog-func', 'c12/prog']) {
    if (/BIND_NOW|\bNOW\b/.test(mustRun('readelf', ['-d', `${D}/${p}`]))) throw new Error(`${p}: linked with BIND_NOW by default; the lazy cases need -z lazy`);
  }

  const has = (s: string, needle: string, what: string) => expect(s, what).to.include(needle);
  const hasNot = (s: string, needle: string, what: string) => expect(s, what).to.not.include(needle);
  const refused = (o: OracleView, f: string, re: RegExp) => {
    const s = o.start(f);
    expect(s.starts, `${f} should not start`).to.equal(false);
    expect(s.stderr, `${f} start`).to.match(re);
  };
  const starts = (o: OracleView, f: string) => expect(o.start(f).starts, `${f} should start (stderr: ${o.start(f).stderr})`).to.equal(true);

  const cases: Case[] = [
    {
      id: '1',
      title: 'a missing version in the library found through DT_RPATH',
      entries: [
        { label: '1', files: ['./c1/prog'] },
        { label: '1 (the versioned library not found at all)', files: ['./c1/prog-missing'] },
      ],
      oracle: (o) => {
        has(o.ldd(0, ''), `./c1/prog: ${vOld}/libv.so.1: version \`VERS_2' not found (required by ./c1/prog)\n`, 'ldd');
        has(o.ldd(0, '-v'), `\t\tlibv.so.1 (VERS_2) => not found\n`, 'ldd -v');
        has(o.ldd(0, '-r'), 'undefined symbol: foo2, version VERS_2\t(./c1/prog)\n', 'ldd -r');
        refused(o, './c1/prog', /version `VERS_2' not found/);
        has(o.ldd(1, ''), '\tlibv.so.1 => not found\n', 'ldd (missing)');
        has(o.ldd(1, '-r'), 'undefined symbol: foo1, version VERS_1\t(./c1/prog-missing)\n', 'ldd -r (missing)');
        refused(o, './c1/prog-missing', /error while loading shared libraries: libv\.so\.1/);
      },
    },
    {
      id: '2',
      title: 'two versions missing from one library',
      entries: [{ label: '2', files: ['./c2/prog'] }],
      oracle: (o) => {
        has(o.ldd(0, ''), `version \`VERS_2' not found (required by ./c2/prog)\n`, 'ldd');
        has(o.ldd(0, ''), `version \`VERS_3' not found (required by ./c2/prog)\n`, 'ldd');
        refused(o, './c2/prog', /version `VERS_\d' not found/);
      },
    },
    {
      id: '3',
      title: 'a library (not the program) needs the missing version: prog -> liba -> libv',
      entries: [{ label: '3', files: ['./c3/prog'] }],
      oracle: (o) => {
        has(o.ldd(0, ''), `./c3/prog: ${vOld}/libv.so.1: version \`VERS_2' not found (required by ${D}/c3/liba.so)\n`, 'ldd');
        expect(o.ldd(0, '-v'), 'ldd -v').to.match(new RegExp(`\\t${D}/c3/liba\\.so:\\n(\\t\\t.*\\n)*\\t\\tlibv\\.so\\.1 \\(VERS_2\\) => not found\\n`));
        has(o.ldd(0, '-r'), `undefined symbol: foo2, version VERS_2\t(${D}/c3/liba.so)\n`, 'ldd -r');
        refused(o, './c3/prog', /version `VERS_2' not found/);
      },
    },
    {
      id: '4',
      title: 'a provider without any version information (non-fatal warning)',
      entries: [{ label: '4', files: ['./c4/prog'] }],
      oracle: (o) => {
        has(o.ldd(0, ''), `./c4/prog: ${D}/v/nover/libv.so.1: no version information available (required by ./c4/prog)\n`, 'ldd');
        starts(o, './c4/prog');
      },
    },
    {
      id: '5',
      title: 'a weak version reference (VER_FLG_WEAK patched into vna_flags)',
      entries: [
        { label: '5 (old libv)', files: ['./c5/prog'] },
        { label: '5 (new libv)', files: ['./c5/prog-new'] },
        { label: '5 (weak version, strong symbol)', files: ['./c5/prog-strong'] },
        { label: '5 (weak version, strong symbol, BIND_NOW)', files: ['./c5/prog-strong-now'] },
      ],
      oracle: (o) => {
        has(o.ldd(0, '-v'), '\t\tlibv.so.1 (VERS_2) [WEAK] => not found\n', 'ldd -v');
        has(o.ldd(0, ''), `./c5/prog: ${vOld}/libv.so.1: weak version \`VERS_2' not found (required by ./c5/prog)\n`, 'ldd');
        has(o.ldd(1, '-v'), `\t\tlibv.so.1 (VERS_2) [WEAK] => ${D}/v/new/libv.so.1\n`, 'ldd -v (new)');
        hasNot(o.ldd(0, '-r'), 'undefined symbol', 'ldd -r');
        starts(o, './c5/prog');
        starts(o, './c5/prog-new');
        has(o.ldd(2, '-r'), 'undefined symbol: foo2, version VERS_2\t(./c5/prog-strong)\n', 'ldd -r (strong)');
        starts(o, './c5/prog-strong');
        refused(o, './c5/prog-strong-now', /undefined symbol: foo2, version VERS_2/);
      },
    },
    {
      id: '6',
      title: 'an older copy first on the search path: the loader takes it and does not search on',
      entries: [{ label: '6', files: ['./c6/prog'], libraryPath: `${vOld}:${D}/v/new` }],
      oracle: (o) => {
        has(o.ldd(0, ''), `\tlibv.so.1 => ${vOld}/libv.so.1\n`, 'ldd');
        has(o.ldd(0, ''), `./c6/prog: ${vOld}/libv.so.1: version \`VERS_2' not found (required by ./c6/prog)\n`, 'ldd');
        refused(o, './c6/prog', /version `VERS_2' not found/);
      },
    },
    {
      id: '7',
      title: 'a GLIBC_ version no libc defines (GLIBC_2.34 patched to GLIBC_9.99)',
      entries: [{ label: '7', files: ['./c7/prog'] }],
      oracle: (o) => {
        has(o.ldd(0, ''), `/libc.so.6: version \`${glibcTo}' not found (required by ./c7/prog)\n`, 'ldd');
        refused(o, './c7/prog', new RegExp(`version \`${glibcTo.replace(/\./g, '\\.')}' not found`));
      },
    },
    {
      id: '8',
      title: 'versions the rtld defines (GLIBC_2.3, GLIBC_2.35, GLIBC_PRIVATE from ld-linux-x86-64.so.2)',
      entries: [
        { label: '8', files: ['./c8/prog'] },
        { label: '8 (a version ld.so lacks)', files: ['./c8/prog-bad'] },
      ],
      oracle: (o) => {
        const v = o.ldd(0, '-v');
        has(v, '\t\tld-linux-x86-64.so.2 (GLIBC_PRIVATE) => /lib64/ld-linux-x86-64.so.2\n', 'ldd -v');
        has(v, `\t${D}/c8/librtld.so:\n`, 'ldd -v');
        has(v, 'ld-linux-x86-64.so.2 (GLIBC_2.3) => /lib64/ld-linux-x86-64.so.2\n', 'ldd -v');
        hasNot(o.ldd(0, '-r'), 'undefined symbol', 'ldd -r');
        hasNot(o.ldd(0, ''), 'not found', 'ldd');
        starts(o, './c8/prog');
        has(o.ldd(1, ''), `version \`GLIBC_9.9' not found (required by ${D}/c8/bad/librtld.so)\n`, 'ldd (bad)');
        refused(o, './c8/prog-bad', /version `GLIBC_9\.9' not found/);
      },
    },
    {
      id: '9',
      title: 'undefined function and data symbols (unversioned)',
      entries: [
        { label: '9 (function and data)', files: ['./c9/prog'] },
        { label: '9 (function only)', files: ['./c9/prog-func'] },
        { label: '9 (a library lacks data too)', files: ['./c9/prog-lib'] },
        { label: '9 (a library data symbol defined by the executable)', files: ['./c9/prog-host'] },
      ],
      oracle: (o) => {
        has(o.ldd(0, '-d'), 'undefined symbol: sdata\t(./c9/prog)\n', 'ldd -d');
        hasNot(o.ldd(0, '-d'), 'undefined symbol: sfunc', 'ldd -d');
        has(o.ldd(0, '-r'), 'undefined symbol: sfunc\t(./c9/prog)\n', 'ldd -r');
        hasNot(o.ldd(1, '-d'), 'undefined symbol', 'ldd -d (function only)');
        has(o.ldd(1, '-r'), 'undefined symbol: sfunc\t(./c9/prog-func)\n', 'ldd -r (function only)');
        refused(o, './c9/prog', /symbol lookup error: .*undefined symbol: sdata/);
        starts(o, './c9/prog-func');
        has(o.ldd(2, '-d'), `undefined symbol: sdata\t(${D}/c9/libud.so)\n`, 'ldd -d (lib)');
        has(o.ldd(2, '-d'), 'undefined symbol: sdata\t(./c9/prog-lib)\n', 'ldd -d (lib)');
        refused(o, './c9/prog-lib', /undefined symbol: sdata/);
        hasNot(o.ldd(3, '-r'), 'undefined symbol', 'ldd -r (host)');
        starts(o, './c9/prog-host');
      },
    },
    {
      id: '10',
      title: 'weak undefined symbols (no line)',
      entries: [{ label: '10', files: ['./c10/prog'] }],
      oracle: (o) => {
        hasNot(o.ldd(0, '-r'), 'undefined symbol', 'ldd -r');
        starts(o, './c10/prog');
      },
    },
    {
      id: '11',
      title: 'BIND_NOW and the function symbol gone',
      entries: [
        { label: '11 (DT_BIND_NOW and DF_1_NOW)', files: ['./c11/prog'] },
        { label: '11 (DF_1_NOW only)', files: ['./c11/prog-flags1-only'] },
        { label: '11 (DT_BIND_NOW only)', files: ['./c11/prog-bindnow-only'] },
        { label: '11 (a BIND_NOW library under a lazy program)', files: ['./c11/prog-lib'] },
      ],
      oracle: (o) => {
        has(o.ldd(0, '-r'), 'undefined symbol: sfunc\t(./c11/prog)\n', 'ldd -r');
        refused(o, './c11/prog', /symbol lookup error: .*undefined symbol: sfunc/);
        refused(o, './c11/prog-flags1-only', /undefined symbol: sfunc/);
        refused(o, './c11/prog-bindnow-only', /undefined symbol: sfunc/);
        has(o.ldd(3, '-d'), `undefined symbol: sfunc\t(${D}/c11/libnow.so)\n`, 'ldd -d (lib)');
        refused(o, './c11/prog-lib', /undefined symbol: sfunc/);
      },
    },
    {
      id: '12',
      title: 'a symbol defined only at a hidden version',
      entries: [
        { label: '12 (lazy)', files: ['./c12/prog'] },
        { label: '12 (BIND_NOW)', files: ['./c12/prog-now'] },
        { label: '12 (needs foo@VERS_1, hidden in the new libh)', files: ['./c12/prog-v1'] },
        { label: '12 (unversioned foo, only hidden at index 3)', files: ['./c12/prog-unv-hidden3'] },
        { label: '12 (unversioned foo, hidden at index 2)', files: ['./c12/prog-unv-hidden2'] },
        { label: '12 (unversioned foo, default at index 3)', files: ['./c12/prog-unv-default3'] },
      ],
      oracle: (o) => {
        has(o.ldd(0, '-r'), 'undefined symbol: foo, version VERS_2\t(./c12/prog)\n', 'ldd -r');
        hasNot(o.ldd(0, ''), 'not found', 'ldd');
        has(o.ldd(1, '-r'), 'undefined symbol: foo, version VERS_2\t(./c12/prog-now)\n', 'ldd -r (now)');
        hasNot(o.ldd(2, '-r'), 'undefined symbol', 'ldd -r (v1)');
        starts(o, './c12/prog');
        refused(o, './c12/prog-now', /undefined symbol: foo, version VERS_2/);
        starts(o, './c12/prog-v1');
        has(o.ldd(3, '-r'), 'undefined symbol: foo\t(./c12/prog-unv-hidden3)\n', 'ldd -r (unversioned, hidden3)');
        hasNot(o.ldd(4, '-r'), 'undefined symbol', 'ldd -r (unversioned, hidden2)');
        hasNot(o.ldd(5, '-r'), 'undefined symbol', 'ldd -r (unversioned, default3)');
      },
    },
    {
      id: '13',
      title: 'copy relocations (-no-pie)',
      entries: [
        { label: '13 (copy found)', files: ['./c13/prog-ok'] },
        { label: '13 (copy source gone)', files: ['./c13/prog-gone'] },
      ],
      oracle: (o) => {
        hasNot(o.ldd(0, '-r'), 'undefined symbol', 'ldd -r (ok)');
        has(o.ldd(1, '-d'), 'undefined symbol: sdata\t(./c13/prog-gone)\n', 'ldd -d (gone)');
        starts(o, './c13/prog-ok');
        refused(o, './c13/prog-gone', /undefined symbol: sdata/);
      },
    },
    {
      id: '14',
      title: 'two programs at once',
      entries: [{ label: '14', files: ['./c1/prog', './c9/prog'] }],
      oracle: (o) => {
        const r = o.ldd(0, '-r');
        has(r, './c1/prog:\n', 'ldd -r');
        has(r, './c9/prog:\n', 'ldd -r');
        has(r, 'undefined symbol: sdata\t(./c9/prog)\n', 'ldd -r');
      },
    },
    {
      id: '15',
      title: 'a versioned library not found: its versions get no slot above the found ones',
      entries: [
        { label: '15 (libgone linked last)', files: ['./c15/prog-gone-last'] },
        { label: '15 (libgone linked first)', files: ['./c15/prog-gone-first'] },
      ],
      oracle: (o) => {
        has(o.ldd(0, ''), 'libgone.so.1 => not found', 'ldd');
        // At least one order puts VERS_G above GLIBC_* and VERS_F: there ldd -r names no version.
        const unversioned = [0, 1].filter((i) => o.ldd(i, '-r').includes('undefined symbol: gfunc\t'));
        expect(unversioned.length, `a link order where ldd -r gives gfunc no version:\n${o.ldd(0, '-r')}\n${o.ldd(1, '-r')}`).to.be.at.least(1);
      },
    },
    {
      id: '16',
      title: 'a file the loader stops at (not ELF, named like the library): its error on stdout, as ldd merges it',
      entries: [
        { label: '16', files: ['./c16/prog'] },
        { label: '16 (with another program after it)', files: ['./c16/prog', './c1/prog'] },
      ],
      oracle: (o) => {
        has(o.ldd(0, ''), `./c16/prog: error while loading shared libraries: ${D}/c16/bad/libv.so.1: invalid ELF header\n`, 'ldd');
        has(o.ldd(1, ''), `./c1/prog:\n`, 'ldd (two programs)');
        refused(o, './c16/prog', /error while loading shared libraries: .*invalid ELF header/);
      },
    },
  ];
  return { dir: D, cases };
}

// ---------------------------------------------------------------------------

const outputs = { checked: 0, equal: 0 };
const verdicts = { checked: 0, equal: 0 };

describe('loader verdict cases (symbol versions and lookup) against ldd and the real start', function () {
  this.timeout(10 * 60 * 1000);
  const fixtures = useFixtures({
    prefix: 'elfdeps-verdict-',
    skipReason: canRun ? null : 'needs an x86_64 Linux host with gcc, ldd and readelf',
    build: buildFixtures,
    summary: () =>
      `verdict cases: ${outputs.equal}/${outputs.checked} outputs equal to ldd, ${verdicts.equal}/${verdicts.checked} start verdicts equal to the real start`,
  });

  for (let n = 1; n <= 16; n++) {
    it(`case ${n}`, function () {
      const { dir, cases } = fixtures();
      const c = cases[n - 1] as Case;
      this.test!.title = `case ${c.id}: ${c.title}`;

      // The real loader, computed once.
      const lddCache = new Map<string, { stdout: string; stderr: string }>();
      const lddBoth = (i: number, flag: Flag): { stdout: string; stderr: string } => {
        const k = `${i}:${flag}`;
        if (!lddCache.has(k)) lddCache.set(k, lddOut(dir, c.entries[i] as Entry, flag));
        return lddCache.get(k) as { stdout: string; stderr: string };
      };
      const ldd = (i: number, flag: Flag): string => lddBoth(i, flag).stdout;
      const startCache = new Map<string, RealStart>();
      const libraryPathOf = (file: string) => c.entries.find((e) => e.files.includes(file))?.libraryPath;
      const start = (file: string): RealStart => {
        if (!startCache.has(file)) startCache.set(file, realStart(dir, file, libraryPathOf(file)));
        return startCache.get(file) as RealStart;
      };
      if (DUMP) {
        c.entries.forEach((e, i) => {
          for (const f of FLAGS) console.log(`----- case ${e.label}: ldd ${f} ${e.files.join(' ')}${e.libraryPath ? ` (LD_LIBRARY_PATH=${e.libraryPath})` : ''}\n${ldd(i, f)}`);
          for (const file of e.files) {
            const s = start(file);
            console.log(`----- case ${e.label}: real start of ${file}: status ${s.status}, stderr:\n${s.stderr}`);
          }
        });
      }
      c.oracle({ ldd, start });

      // elfdeps, every flag, against the same.
      const diffs: string[] = [];
      c.entries.forEach((e, i) => {
        const wantStatus = e.files.every((f) => start(f).starts) ? 0 : 1;
        const statuses: string[] = [];
        let statusOk = true;
        for (const flag of FLAGS) {
          const ours = elfdepsRun(dir, e, flag);
          const want = ldd(i, flag);
          const wantErr = lddBoth(i, flag).stderr;
          outputs.checked++;
          const cmd = `elfdeps --ldd ${flag ? `${flag} ` : ''}${e.libraryPath ? `--library-path ${e.libraryPath} ` : ''}${e.files.join(' ')}`;
          if (ours.stdout === want && ours.stderr === wantErr) outputs.equal++;
          else if (ours.stdout === want)
            diffs.push(
              `case ${e.label}, flag '${flag || '(none)'}': stderr differs from ldd's\n` +
                `  command: ${cmd}\n  --- expected (ldd ${flag} stderr):\n${indent(wantErr)}\n  --- actual (elfdeps stderr):\n${indent(ours.stderr)}\n`,
            );
          else
            diffs.push(
              `case ${e.label}, flag '${flag || '(none)'}': stdout differs from ldd\n` +
                `  command: ${cmd}\n` +
                `  --- expected (ldd ${flag}):\n${indent(want)}\n  --- actual (elfdeps):\n${indent(ours.stdout)}\n` +
                `  --- line diff (- ldd only, + elfdeps only):\n${lineDiff(want, ours.stdout)}\n` +
                (ours.stderr ? `  --- elfdeps stderr:\n${indent(ours.stderr)}\n` : ''),
            );
          statuses.push(`${flag || '(none)'}:${ours.status}`);
          if (ours.status !== wantStatus) {
            statusOk = false;
            diffs.push(
              `case ${e.label}, flag '${flag || '(none)'}': exit status ${ours.status}, the real start says ${wantStatus} ` +
                `(${e.files.map((f) => `${f}: ${start(f).starts ? 'starts' : `refused, status ${start(f).status}: ${start(f).stderr.trim()}`}`).join('; ')})\n` +
                `  command: ${cmd}` +
                (ours.stderr ? `\n  --- elfdeps stderr:\n${indent(ours.stderr)}` : ''),
            );
          }
        }
        // --verdict: one line per file, 'starts' as the real start, else the loader's own reason,
        // which its real start printed (after "PROG: " or "PROG: error while loading shared libraries: ").
        const judged = elfdepsRun(dir, e, '', '--verdict');
        const lines = judged.stdout.split('\n').filter(Boolean);
        const wrong = e.files.filter((f, k) => {
          const line = lines[k] ?? '';
          if (start(f).starts) return line !== `${f}: starts`;
          const reason = line.startsWith(`${f}: would not start: `) ? line.slice(`${f}: would not start: `.length) : '';
          return reason === '' || !start(f).stderr.includes(reason);
        });
        if (wrong.length || lines.length !== e.files.length || judged.stderr !== '' || judged.status !== wantStatus) {
          statusOk = false;
          diffs.push(
            `case ${e.label}, --verdict: status ${judged.status} (want ${wantStatus})\n${indent(judged.stdout)}\n  --- stderr:\n${indent(judged.stderr)}\n` +
              `  --- the real starts:\n${e.files.map((f) => `    ${f}: ${start(f).starts ? 'starts' : start(f).stderr.trim()}`).join('\n')}`,
          );
        }
        verdicts.checked++;
        if (statusOk) verdicts.equal++;
      });
      if (diffs.length) expect.fail(`${diffs.length} difference(s):\n\n${diffs.join('\n')}`);
    });
  }
});

function indent(s: string): string {
  return s === '' ? '    (empty)' : s.replace(/\n$/, '').split('\n').map((l) => `    |${l}`).join('\n');
}

/** A line diff (longest common subsequence): '-' lines only ldd printed, '+' lines only elfdeps printed. */
function lineDiff(want: string, got: string): string {
  const a = want.replace(/\n$/, '').split('\n');
  const b = got.replace(/\n$/, '').split('\n');
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      i++;
      j++;
    } else if (j < b.length && (i >= a.length || lcs[i]![j + 1]! >= lcs[i + 1]![j]!)) out.push(`    +${JSON.stringify(b[j++])}`);
    else out.push(`    -${JSON.stringify(a[i++])}`);
  }
  return out.length ? out.join('\n') : '    (only a trailing newline differs)';
}
