/**
 * The tables the loader reads after mapping (src/elf/versions.ts,
 * symbols.ts, relocations.ts through src/elf/image.ts):
 *
 * (a) round trip: files written by the test ELF writer (an independent
 *     oracle with its own gABI constants and hash functions) for several
 *     platforms, both classes and both byte orders; what was put in comes
 *     back out, and hash lookups find exactly the defined symbols;
 * (b) agreement with `readelf --dyn-syms -V -r -W` on a sample of the host's
 *     own ELF files.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElfImage } from '../src/elf/image.js';
import { readRelocations } from '../src/elf/relocations.js';
import { SymbolTable, gnuHash } from '../src/elf/symbols.js';
import { elfHash, readVersionDefs, readVersionIndexes, readVersionNeeds } from '../src/elf/versions.js';
import { ElfdepsError } from '../src/errors.js';
import {
  PLATFORMS,
  SHN_ABS,
  SHN_UNDEF,
  STB_GLOBAL,
  STB_GNU_UNIQUE,
  STB_WEAK,
  STT_FUNC,
  STT_GNU_IFUNC,
  STT_OBJECT,
  STT_TLS,
  STV_DEFAULT,
  STV_PROTECTED,
  VERSYM_HIDDEN,
  VER_FLG_BASE,
  VER_FLG_WEAK,
  gnuHashOf,
  sysvHashOf,
  writeElf,
  type ElfLayout,
  type ElfSpec,
  type PlatformName,
  type SymbolSpec,
  type TablesSpec,
} from './helpers/elf-writer.js';
import { hostElfFiles } from './helpers/host-elves.js';
import { skipOrFail } from './helpers/skip.js';

/** Relocation types of each platform used below: a symbol one, the PLT one, the relative one, and the REL/RELA format its ABI uses. */
const RELOC_TYPES: Record<string, { glob: number; jump: number; relative: number; format: 'rel' | 'rela' }> = {
  x86_64: { glob: 6, jump: 7, relative: 8, format: 'rela' },
  i386: { glob: 6, jump: 7, relative: 8, format: 'rel' },
  aarch64: { glob: 1025, jump: 1026, relative: 1027, format: 'rela' },
  ppc64: { glob: 20, jump: 21, relative: 22, format: 'rela' },
  s390x: { glob: 10, jump: 11, relative: 12, format: 'rela' },
  armhf: { glob: 21, jump: 22, relative: 23, format: 'rel' },
  ppc: { glob: 20, jump: 21, relative: 22, format: 'rela' },
  riscv64: { glob: 2, jump: 5, relative: 3, format: 'rela' },
};

/** Symbols of a small library: undefined imports (versioned, weak), its own definitions of several kinds, and filler for longer chains. */
function librarySymbols(): SymbolSpec[] {
  const syms: SymbolSpec[] = [
    { name: 'puts', shndx: SHN_UNDEF, version: 4 },
    { name: 'cos', shndx: SHN_UNDEF, bind: STB_WEAK, version: 6 },
    { name: 'memcpy', shndx: SHN_UNDEF, version: 5 },
    { name: 'tbl_func', version: 2, value: 0x1234n, size: 42n },
    { name: 'tbl_func2', version: 3, value: 0x2000n, size: 7n },
    { name: 'tbl_data', type: STT_OBJECT, version: 2, value: 0x3000n, size: 8n },
    { name: 'tbl_old', version: 2 | VERSYM_HIDDEN, value: 0x1000n },
    { name: 'tbl_protected', visibility: STV_PROTECTED, version: 3 },
    { name: 'tbl_weak', bind: STB_WEAK, version: 1 },
    { name: 'tbl_tls', type: STT_TLS, version: 2, value: 0x10n, size: 4n },
    { name: 'tbl_ifunc', type: STT_GNU_IFUNC, version: 2 },
    { name: 'tbl_unique', type: STT_OBJECT, bind: STB_GNU_UNIQUE, version: 2 },
    { name: 'tbl_abs', shndx: SHN_ABS, type: STT_OBJECT, value: 0xdeadn, version: 1 },
  ];
  for (let i = 0; i < 40; i++) syms.push({ name: `filler_${i}_${'x'.repeat(i % 7)}`, version: i % 2 === 0 ? 2 : 3, value: BigInt(0x4000 + i * 16) });
  return syms;
}

function tablesFor(platform: PlatformName, extra: Partial<TablesSpec> = {}): TablesSpec {
  const r = RELOC_TYPES[platform] ?? RELOC_TYPES.x86_64;
  if (!r) throw new Error('no relocation types');
  const addr = PLATFORMS[platform].elfClass === 64 ? 0x10000n : 0x8000n;
  return {
    symbols: librarySymbols(),
    verneed: [
      {
        file: 'libc.so.6',
        versions: [
          { name: 'GLIBC_2.2.5', other: 4 },
          { name: 'GLIBC_2.34', other: 5, flags: VER_FLG_WEAK },
        ],
      },
      { file: 'libm.so.6', versions: [{ name: 'GLIBC_2.29', other: 6 | VERSYM_HIDDEN }] },
    ],
    verdef: [{ name: 'TBL_1.0' }, { name: 'TBL_2.0', parents: ['TBL_1.0'], flags: VER_FLG_WEAK }],
    relocationFormat: r.format,
    relocations: [
      { type: r.glob, symbol: 'tbl_data' },
      { type: r.glob, symbol: 'cos' },
      { type: r.relative, addend: 16n },
    ],
    pltRelocations: [
      { type: r.jump, symbol: 'puts' },
      { type: r.jump, symbol: 'memcpy' },
    ],
    relr: [addr, (0x5n << 1n) | 1n, addr + 0x100n],
    ...extra,
  };
}

/** The defined symbols' names (what lookups must find). */
const definedNames = (tables: TablesSpec): string[] => (tables.symbols ?? []).filter((s) => (s.shndx ?? 1) !== SHN_UNDEF).map((s) => s.name);

/** The indexes `candidates` offers for `name` whose symbol really has that name. */
function lookup(symtab: SymbolTable, name: string): number[] {
  return symtab.candidates(name, { gnu: gnuHash(name), sysv: () => elfHash(name) }).filter((i) => symtab.symbol(i).name === name);
}

const ROUND_TRIP_PLATFORMS: PlatformName[] = ['x86_64', 'i386', 'aarch64', 'ppc64', 's390x', 'armhf', 'ppc', 'riscv64'];

describe('ELF tables: round trip through the test writer', function () {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'elfdeps-tables-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  const build = (spec: ElfSpec): { layout: ElfLayout; image: ElfImage } => {
    const path = join(dir, `t${n++}.so`);
    const layout = writeElf(path, spec);
    return { layout, image: ElfImage.open(path) };
  };

  it('the writer hashes agree with the reader hashes on known values', function () {
    // Values from the gABI and from the GNU hash's definition (h*33+c from 5381).
    expect(sysvHashOf('')).to.equal(0);
    expect(sysvHashOf('printf')).to.equal(0x077905a6);
    expect(gnuHashOf('')).to.equal(5381);
    expect(gnuHashOf('printf')).to.equal(0x156b2bb8);
    for (const name of ['GLIBC_2.2.5', 'a', 'xyzzy_with_a_long_name_0123456789', 'GLIBC_PRIVATE', '_ZNSt6vectorIiSaIiEE9push_backERKi']) {
      expect(elfHash(name), name).to.equal(sysvHashOf(name));
      expect(gnuHash(name), name).to.equal(gnuHashOf(name));
    }
  });

  for (const platform of ROUND_TRIP_PLATFORMS) {
    const p = PLATFORMS[platform];
    describe(`${platform} (ELF${p.elfClass}, ${p.littleEndian ? 'little' : 'big'}-endian)`, function () {
      for (const hash of ['both', 'gnu', 'sysv'] as const) {
        it(`symbols, versions and relocations come back (hash tables: ${hash})`, function () {
          const tables = tablesFor(platform, { hash });
          const { layout, image } = build({ ...p, type: 'DYN', soname: 'libtbl.so.1', needed: ['libc.so.6', 'libm.so.6'], splitLoad: platform === 'ppc64', tables });
          const t = layout.tables;
          if (!t) throw new Error('no tables layout');
          if (platform === 's390x' && hash !== 'gnu') {
            // 64-bit s390 writes DT_HASH with 8-byte entries.
            expect(t.hash?.size).to.equal((2 + Math.max(1, Math.floor(t.symbolCount / 2)) + t.symbolCount) * 8);
          }

          // Versions needed.
          const needs = readVersionNeeds(image);
          expect(needs).to.deep.equal(
            (tables.verneed ?? []).map((n) => ({
              version: 1,
              file: n.file,
              versions: n.versions.map((v) => ({ name: v.name, hash: sysvHashOf(v.name), flags: v.flags ?? 0, other: v.other })),
            })),
          );
          expect(needs.flatMap((n) => n.versions.map((v) => v.hash))).to.deep.equal(needs.flatMap((n) => n.versions.map((v) => elfHash(v.name))));
          const weak = needs.flatMap((n) => n.versions).filter((v) => (v.flags & VER_FLG_WEAK) !== 0);
          expect(weak.map((v) => v.name)).to.deep.equal(['GLIBC_2.34']);

          // Versions defined: the base entry first.
          const defs = readVersionDefs(image);
          expect(defs).to.deep.equal([
            { version: 1, flags: VER_FLG_BASE, index: 1, hash: elfHash('libtbl.so.1'), names: ['libtbl.so.1'] },
            { version: 1, flags: 0, index: 2, hash: elfHash('TBL_1.0'), names: ['TBL_1.0'] },
            { version: 1, flags: VER_FLG_WEAK, index: 3, hash: elfHash('TBL_2.0'), names: ['TBL_2.0', 'TBL_1.0'] },
          ]);

          // Symbols.
          const symtab = SymbolTable.of(image);
          if (!symtab) throw new Error('no symbol table');
          const specs = tables.symbols ?? [];
          expect(symtab.count).to.equal(specs.length + 1);
          expect(symtab.count).to.equal(t.symbolCount);
          expect(symtab.hasHashTable).to.equal(true);
          expect(symtab.symbol(0)).to.include({ index: 0, name: '', bind: 0, type: 0, shndx: 0, value: 0n });
          const versym = readVersionIndexes(image, symtab.count);
          if (!versym) throw new Error('no DT_VERSYM');
          expect(versym.length).to.equal(symtab.count);
          expect(versym[0]).to.equal(0);
          const seen = new Set<number>();
          specs.forEach((s, position) => {
            const i = layout.symbolIndex.get(s.name);
            if (i === undefined) throw new Error(`writer lost ${s.name}`);
            seen.add(i);
            const shndx = s.shndx ?? 1;
            expect(symtab.symbol(i), s.name).to.deep.equal({
              index: i,
              name: s.name,
              value: s.value ?? (shndx === 0 ? 0n : 0x1000n + 16n * BigInt(position)),
              size: s.size ?? 0n,
              bind: s.bind ?? STB_GLOBAL,
              type: s.type ?? STT_FUNC,
              visibility: s.visibility ?? STV_DEFAULT,
              shndx,
            });
            expect(versym[i], `${s.name} version`).to.equal(s.version ?? 1);
          });
          expect(seen.size).to.equal(specs.length);
          // Past the hashed symbols the loader indexes DT_SYMTAB directly (relocations may name
          // undefined symbols no hash chain holds); only an index outside the segment is refused.
          expect(() => symtab.symbol(1 << 24)).to.throw(ElfdepsError).with.property('code', 'ELF_BAD_SYMTAB');
          expect(() => symtab.symbol(-1)).to.throw(ElfdepsError).with.property('code', 'ELF_BAD_SYMTAB');

          // Lookups through the hash table the loader would use (GNU when present).
          for (const name of definedNames(tables)) expect(lookup(symtab, name), name).to.deep.equal([layout.symbolIndex.get(name)]);
          for (const name of ['absent', 'tbl_func3', 'puts_', 'TBL_1.0', 'filler_99', '']) expect(lookup(symtab, name), name).to.deep.equal([]);
          if (hash !== 'sysv') {
            // GNU hash tables hold no undefined symbols (they sit below symoffset).
            expect(t.symoffset).to.equal(4);
            for (const name of ['puts', 'cos', 'memcpy']) expect(symtab.candidates(name, { gnu: gnuHash(name), sysv: () => elfHash(name) }), name).to.deep.equal([]);
          } else {
            for (const name of ['puts', 'cos', 'memcpy']) expect(lookup(symtab, name), name).to.deep.equal([layout.symbolIndex.get(name)]);
          }

          // Relocations: data range, then PLT range, in the file's format.
          const r = RELOC_TYPES[platform];
          if (!r) throw new Error('no relocation types');
          const rel = readRelocations(image);
          const idx = (name: string): number => layout.symbolIndex.get(name) ?? -1;
          expect(rel.ranges.map((x) => ({ kind: x.kind, format: x.format, types: [...x.types], symbols: [...x.symbols] }))).to.deep.equal([
            { kind: 'data', format: r.format, types: [r.glob, r.glob, r.relative], symbols: [idx('tbl_data'), idx('cos'), 0] },
            { kind: 'plt', format: r.format, types: [r.jump, r.jump], symbols: [idx('puts'), idx('memcpy')] },
          ]);
          expect(rel.relrEntries).to.equal(3);
          expect(image.bytesRead).to.be.lessThan(layout.buffer.length * 4);
        });
      }

      it('PLT relocations counted inside DT_RELASZ are processed once', function () {
        const { image } = build({ ...p, type: 'DYN', soname: 'libtbl.so.1', tables: tablesFor(platform, { pltInsideData: true }) });
        const rel = readRelocations(image);
        expect(rel.ranges.map((x) => [x.kind, x.types.length])).to.deep.equal([
          ['data', 3],
          ['plt', 2],
        ]);
      });

      it('DT_RELACOUNT / DT_RELCOUNT: the leading entries are counted as relative and never read, as do-rel.h skips them', function () {
        const tag = tablesFor(platform).relocationFormat === 'rel' ? 0x6ffffffan : 0x6ffffff9n;
        const plain = readRelocations(build({ ...p, type: 'DYN', soname: 'libtbl.so.1', tables: tablesFor(platform) }).image);
        const all = plain.ranges[0];
        if (!all) throw new Error('no data range');
        const { image } = build({ ...p, type: 'DYN', soname: 'libtbl.so.1', tables: tablesFor(platform), extraDynamic: [[tag, 2n]] });
        const rel = readRelocations(image);
        const data = rel.ranges[0];
        if (!data) throw new Error('no data range');
        // The loader takes the first two as relative whatever their type: the symbol of the first is never looked up.
        expect({ relative: data.relative, types: [...data.types], symbols: [...data.symbols] }).to.deep.equal({ relative: 2, types: [...all.types].slice(2), symbols: [...all.symbols].slice(2) });
        expect(rel.ranges[1]).to.deep.equal(plain.ranges[1]);
        // A count past the range leaves nothing to look up in it, and is not an error.
        const over = readRelocations(build({ ...p, type: 'DYN', soname: 'libtbl.so.1', tables: tablesFor(platform), extraDynamic: [[tag, 1000n]] }).image);
        expect(over.ranges[0]?.relative).to.equal(all.types.length);
        expect(over.ranges[0]?.types).to.have.length(0);
      });

      it('an unversioned library with only a symbol table: no DT_VERDEF, no DT_VERSYM, no relocations', function () {
        const { image } = build({ ...p, type: 'DYN', soname: 'libplain.so', tables: { symbols: [{ name: 'only' }, { name: 'two' }] } });
        expect(readVersionDefs(image)).to.equal(null);
        expect(readVersionNeeds(image)).to.deep.equal([]);
        const symtab = SymbolTable.of(image);
        if (!symtab) throw new Error('no symbol table');
        expect(symtab.count).to.equal(3);
        expect(readVersionIndexes(image, symtab.count)).to.equal(null);
        expect(lookup(symtab, 'only')).to.have.length(1);
        expect(lookup(symtab, 'two')).to.have.length(1);
        expect(readRelocations(image)).to.deep.equal({ ranges: [], relrEntries: 0 });
      });
    });
  }

  it('hash tables of many shapes: every defined symbol is found, nothing else is', function () {
    const names = Array.from({ length: 300 }, (_, i) => `sym${i}_${(i * 7919) % 1000}`);
    const symbols: SymbolSpec[] = names.map((name, i) => ({ name, shndx: i % 10 === 0 ? SHN_UNDEF : 1 }));
    const defined = names.filter((_, i) => i % 10 !== 0);
    for (const platform of ['x86_64', 'i386', 's390x', 'ppc'] as const) {
      for (const [gnuBuckets, gnuBloomWords, gnuBloomShift, sysvBuckets] of [
        [1, 1, 5, 1],
        [3, 4, 6, 7],
        [64, 16, 11, 97],
        [997, 64, 26, 1031],
      ] as const) {
        for (const hash of ['gnu', 'sysv'] as const) {
          const { layout, image } = build({ ...PLATFORMS[platform], type: 'DYN', tables: { symbols, hash, gnuBuckets, gnuBloomWords, gnuBloomShift, sysvBuckets } });
          const symtab = SymbolTable.of(image);
          if (!symtab) throw new Error('no symbol table');
          expect(symtab.count).to.equal(names.length + 1);
          const what = `${platform} ${hash} ${gnuBuckets}/${gnuBloomWords}/${gnuBloomShift}/${sysvBuckets}`;
          for (const name of defined) expect(lookup(symtab, name), `${what}: ${name}`).to.deep.equal([layout.symbolIndex.get(name)]);
          for (const name of ['nope', 'sym1_', 'sym300_0', 'SYM1_7919']) expect(lookup(symtab, name), `${what}: ${name}`).to.deep.equal([]);
          if (hash === 'gnu') {
            // Every GNU candidate has the name's hash (bit 0 aside); a missing name rarely passes the Bloom filter at all.
            for (const name of defined.slice(0, 20)) {
              for (const i of symtab.candidates(name, { gnu: gnuHash(name), sysv: () => elfHash(name) })) {
                expect((gnuHash(symtab.symbol(i).name) ^ gnuHash(name)) >>> 1, `${what}: ${name}`).to.equal(0);
              }
            }
          }
        }
      }
    }
  });
});

// ---------------------------------------------------------------------------
// (b) readelf on host files.

interface TableFacts {
  verneed: Array<{ file: string; versions: Array<{ name: string; flags: number; other: number }> }>;
  verdef: Array<{ flags: number; index: number; names: string[] }> | null;
  symbols: string[];
  versym: number[] | null;
  relocations: { data: number; plt: number; relr: number };
}

const FLAG_WORDS: Record<string, number> = { none: 0, BASE: VER_FLG_BASE, WEAK: VER_FLG_WEAK, INFO: 4 };
function parseFlags(text: string): number {
  let f = 0;
  for (const w of text.split('|').map((s) => s.trim())) {
    const v = FLAG_WORDS[w];
    if (v === undefined) throw new Error(`unknown readelf version flag ${w}`);
    f |= v;
  }
  return f;
}

/**
 * One line of readelf's .dynsym table: Num, Value, Size, Type, Bind, Vis (and
 * readelf's notes on st_other, `[VARIANT_PCS]`...), Ndx, Name. A type or
 * binding without a name of its own for the file's OS ABI is printed in words
 * with a space, `<OS specific>: 10`: STB_GNU_UNIQUE is `UNIQUE` only where
 * EI_OSABI is ELFOSABI_GNU (binutils readelf.c get_symbol_binding), and
 * GCC's unique symbols (C++ inline function statics, libcc1's
 * `_ZZNSt8__detail18__to_chars_10_impl...E8__digits`) live in files whose
 * EI_OSABI is ELFOSABI_NONE. Same for STT_GNU_IFUNC (`IFUNC`).
 */
const READELF_WORD = String.raw`(<[^>]*>: (?:\d+|0x[0-9a-f]+)|\S+)`;
const DYNSYM_LINE = new RegExp(
  String.raw`^\s*(\d+): [0-9a-f]+\s+(?:\d+|0x[0-9a-f]+)\s+${READELF_WORD}\s+${READELF_WORD}\s+${READELF_WORD}(?:\s+\[[^\]]*\])?\s+${READELF_WORD} ?(.*)$`,
);
const BIND_WORDS: Record<string, number> = { LOCAL: 0, GLOBAL: 1, WEAK: 2, UNIQUE: STB_GNU_UNIQUE };
const TYPE_WORDS: Record<string, number> = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, COMMON: 5, TLS: 6, IFUNC: STT_GNU_IFUNC };
const VIS_WORDS: Record<string, number> = { DEFAULT: 0, INTERNAL: 1, HIDDEN: 2, PROTECTED: 3 };
const NDX_WORDS: Record<string, number> = { UND: SHN_UNDEF, ABS: SHN_ABS, COM: 0xfff2 };

/** A readelf word as its number: a name of `words`, `<... specific>: N`, or a section index. */
function readelfNumber(word: string, words: Record<string, number>): number {
  const named = words[word];
  if (named !== undefined) return named;
  const m = /^(?:<[^>]*>: )?(\d+|0x[0-9a-f]+)$/.exec(word);
  if (!m) throw new Error(`readelf word not understood: ${word}`);
  return Number(m[1]);
}

/** A symbol as both sides give it: name, binding, type, visibility and section index. */
function symbolFacts(name: string, bind: number, type: number, visibility: number, shndx: number): string {
  return `${name} bind ${bind} type ${type} vis ${visibility} ndx ${shndx}`;
}

/** Parses `readelf --dyn-syms -V -r -W` of one file. */
function parseReadelf(out: string): TableFacts {
  const facts: TableFacts = { verneed: [], verdef: null, symbols: [], versym: null, relocations: { data: 0, plt: 0, relr: 0 } };
  let mode: 'none' | 'dynsym' | 'versym' | 'verneed' | 'verdef' = 'none';
  for (const line of out.split('\n')) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^Relocation section '([^']+)' at offset 0x[0-9a-f]+ contains (\d+) entr/))) {
      mode = 'none';
      const name = m[1] as string;
      const n = Number(m[2]);
      if (name.startsWith('.relr')) facts.relocations.relr += n;
      else if (name.includes('plt')) facts.relocations.plt += n;
      else facts.relocations.data += n;
      continue;
    }
    // readelf -D (files without section headers, as the test writer writes them): the table DT_SYMTAB points to.
    if (/^Symbol table '\.dynsym'/.test(line) || /^Symbol table for image /.test(line)) {
      mode = 'dynsym';
      continue;
    }
    if (/^Symbol table /.test(line)) {
      mode = 'none';
      continue;
    }
    if (/^Version symbols section/.test(line)) {
      mode = 'versym';
      facts.versym = [];
      continue;
    }
    if (/^Version needs section/.test(line)) {
      mode = 'verneed';
      continue;
    }
    if (/^Version definition section/.test(line)) {
      mode = 'verdef';
      facts.verdef = [];
      continue;
    }
    if (line === '' || /^There are no/.test(line) || /^No version/.test(line)) continue;
    if (mode === 'dynsym' && (m = line.match(DYNSYM_LINE))) {
      if (Number(m[1]) !== facts.symbols.length) throw new Error(`readelf symbol ${m[1]} out of order`);
      // readelf appends @VERSION or @@VERSION and " (index)" for versioned symbols.
      const name = (m[6] as string).replace(/ \(\d+\)$/, '').replace(/@@?[^@]*$/, '');
      facts.symbols.push(symbolFacts(name, readelfNumber(m[3] as string, BIND_WORDS), readelfNumber(m[2] as string, TYPE_WORDS), readelfNumber(m[4] as string, VIS_WORDS), readelfNumber(m[5] as string, NDX_WORDS)));
    } else if (mode === 'versym' && /^\s+[0-9a-f]+:/.test(line)) {
      for (const v of line.replace(/^\s+[0-9a-f]+:/, '').matchAll(/([0-9a-f]+)([h ])\(/g)) {
        (facts.versym as number[]).push(parseInt(v[1] as string, 16) | (v[2] === 'h' ? VERSYM_HIDDEN : 0));
      }
    } else if (mode === 'verneed') {
      if ((m = line.match(/^\s+[0-9a-fx]+: Version: \d+\s+File: (\S+)\s+Cnt: \d+/))) facts.verneed.push({ file: m[1] as string, versions: [] });
      else if ((m = line.match(/^\s+0x[0-9a-f]+:\s+Name: (\S+)\s+Flags: (.+?)\s+Version: (\d+)/))) {
        facts.verneed.at(-1)?.versions.push({ name: m[1] as string, flags: parseFlags(m[2] as string), other: Number(m[3]) });
      }
    } else if (mode === 'verdef' && facts.verdef) {
      if ((m = line.match(/^\s+[0-9a-fx]+: Rev: \d+\s+Flags: (.+?)\s+Index: (\d+)\s+Cnt: \d+\s+Name: (\S+)/))) {
        facts.verdef.push({ flags: parseFlags(m[1] as string), index: Number(m[2]), names: [m[3] as string] });
      } else if ((m = line.match(/^\s+0x[0-9a-f]+: Parent \d+: (\S+)/))) facts.verdef.at(-1)?.names.push(m[1] as string);
    }
  }
  return facts;
}

function factsFromReader(path: string): TableFacts {
  const image = ElfImage.open(path);
  try {
    const symtab = SymbolTable.of(image);
    const symbols: string[] = [];
    if (symtab)
      for (let i = 0; i < symtab.count; i++) {
        const sym = symtab.symbol(i);
        symbols.push(symbolFacts(sym.name, sym.bind, sym.type, sym.visibility, sym.shndx));
      }
    const versym = symtab ? readVersionIndexes(image, symtab.count) : null;
    const defs = readVersionDefs(image);
    const rel = readRelocations(image);
    const count = (kind: 'data' | 'plt'): number => rel.ranges.filter((r) => r.kind === kind).reduce((n, r) => n + r.relative + r.types.length, 0);
    return {
      verneed: readVersionNeeds(image).map((n) => ({ file: n.file, versions: n.versions.map((v) => ({ name: v.name, flags: v.flags, other: v.other })) })),
      verdef: defs && defs.map((d) => ({ flags: d.flags, index: d.index, names: d.names })),
      symbols,
      versym: versym && [...versym],
      relocations: { data: count('data'), plt: count('plt'), relr: rel.relrEntries },
    };
  } finally {
    image.close();
  }
}

/** Where the reader and readelf disagree (empty when they agree). */
function compareFacts(actual: TableFacts, expected: TableFacts): string[] {
  const problems: string[] = [];
  for (const k of ['verneed', 'verdef', 'versym', 'relocations'] as const) {
    const a = JSON.stringify(actual[k]);
    const e = JSON.stringify(expected[k]);
    if (a !== e) problems.push(`${k}: reader ${a.slice(0, 300)} readelf ${e.slice(0, 300)}`);
  }
  if (actual.symbols.length !== expected.symbols.length) problems.push(`symbol count: reader ${actual.symbols.length} readelf ${expected.symbols.length}`);
  const first = actual.symbols.findIndex((s, i) => s !== expected.symbols[i]);
  if (first >= 0 && first < expected.symbols.length) problems.push(`symbol ${first}: reader ${actual.symbols[first]} readelf ${expected.symbols[first]}`);
  return problems;
}

function readelfMissing(): string | null {
  const r = spawnSync('readelf', ['--version'], { encoding: 'utf8' });
  if (r.error) return `readelf is not available (${r.error.message})`;
  if (r.status !== 0) return `readelf --version exited with ${r.status}`;
  return null;
}

describe('ELF tables agree with readelf on host files', function () {
  this.timeout(180_000);

  it('symbols readelf names only for some OS ABIs (STB_GNU_UNIQUE, STT_GNU_IFUNC), in files written by the test writer', function () {
    const missing = readelfMissing();
    if (missing) skipOrFail(this, missing);
    // GCC marks files with unique symbols ELFOSABI_NONE (readelf: "<OS specific>: 10") or,
    // with IFUNCs, ELFOSABI_GNU ("UNIQUE", "IFUNC"); both, and big-endian ELF32 too.
    const dir = mkdtempSync(join(tmpdir(), 'elfdeps-tables-readelf-'));
    try {
      const problems: string[] = [];
      for (const platform of ['x86_64', 'ppc'] as const) {
        for (const osAbi of [0, 3]) {
          const path = join(dir, `lib-${platform}-${osAbi}.so`);
          writeElf(path, { ...PLATFORMS[platform], osAbi, type: 'DYN', soname: 'libtbl.so.1', needed: ['libc.so.6', 'libm.so.6'], tables: tablesFor(platform) });
          // The writer writes no section headers: readelf -D reads the symbols through the dynamic section, as the loader does.
          const r = spawnSync('readelf', ['-D', '--syms', '-W', path], { encoding: 'utf8' });
          if (r.status !== 0 || r.error) throw new Error(`readelf ${path}: ${r.error?.message ?? r.stderr}`);
          const expected = parseReadelf(r.stdout).symbols;
          // The oracle must really see the unique symbol, in the form this OS ABI gets.
          const unique = r.stdout.split('\n').find((l) => / tbl_unique(@|$)/.test(l)) ?? '';
          expect(unique, `readelf's line for tbl_unique (${platform}, EI_OSABI ${osAbi})`).to.match(osAbi === 3 ? / UNIQUE / : / <OS specific>: 10 /);
          expect(expected.filter((x) => x.startsWith(`tbl_unique bind ${STB_GNU_UNIQUE} type ${STT_OBJECT} `)).length, 'tbl_unique parsed').to.equal(1);
          expect(expected.filter((x) => x.startsWith(`tbl_ifunc bind ${STB_GLOBAL} type ${STT_GNU_IFUNC} `)).length, 'tbl_ifunc parsed').to.equal(1);
          const actual = factsFromReader(path).symbols;
          expect(actual.length, `${platform}, EI_OSABI ${osAbi}: symbols`).to.be.greaterThan(40);
          problems.push(...actual.flatMap((x, i) => (x === expected[i] ? [] : [`${platform}, EI_OSABI ${osAbi}: symbol ${i}: reader ${x} readelf ${expected[i]}`])));
          if (expected.length !== actual.length) problems.push(`${platform}, EI_OSABI ${osAbi}: reader ${actual.length} symbols, readelf ${expected.length}`);
        }
      }
      expect(problems).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Verneed, Verdef, dynamic symbols and relocation counts of ~200 host files', function () {
    const missing = readelfMissing();
    if (missing) skipOrFail(this, missing);
    const all = hostElfFiles([
      { dir: '/usr/bin', recursive: false },
      { dir: '/usr/lib/x86_64-linux-gnu', recursive: true },
    ]);
    // Only files the loader would map: those with a dynamic section.
    const dynamic = all.filter((f) => {
      try {
        const image = ElfImage.open(f);
        image.close();
        return image.file.dynamic !== null && (image.file.header.type === 2 || image.file.header.type === 3);
      } catch {
        return false;
      }
    });
    if (dynamic.length === 0) skipOrFail(this, 'no dynamic ELF files in /usr/bin or /usr/lib/x86_64-linux-gnu');
    // An even spread over the sorted list, plus libc (versions defined and needed, RELR on newer glibc).
    const step = Math.max(1, Math.floor(dynamic.length / 200));
    const sample = dynamic.filter((_, i) => i % step === 0).slice(0, 200);
    const libc = dynamic.find((f) => /\/libc\.so\.6$/.test(f));
    if (libc && !sample.includes(libc)) sample.push(libc);

    let equal = 0;
    const diffs: string[] = [];
    const tally = { verneed: 0, verdef: 0, versym: 0, relr: 0, symbols: 0 };
    for (const file of sample) {
      const r = spawnSync('readelf', ['--dyn-syms', '-V', '-r', '-W', file], { encoding: 'utf8', maxBuffer: 512 << 20 });
      if (r.status !== 0 || r.error) {
        diffs.push(`${file}: readelf failed: ${r.error?.message ?? r.stderr}`);
        continue;
      }
      const expected = parseReadelf(r.stdout);
      if (expected.verneed.length > 0) tally.verneed++;
      if (expected.verdef) tally.verdef++;
      if (expected.versym) tally.versym++;
      if (expected.relocations.relr > 0) tally.relr++;
      tally.symbols += expected.symbols.length;
      let actual: TableFacts;
      try {
        actual = factsFromReader(file);
      } catch (err) {
        diffs.push(`${file}: reader failed: ${err instanceof ElfdepsError ? `${err.code} ${err.message}` : String(err)}`);
        continue;
      }
      const problems = compareFacts(actual, expected);
      if (problems.length === 0) equal++;
      else diffs.push(`${file}:\n    ${problems.join('\n    ')}`);
    }
    console.log(`      readelf agreement: ${equal}/${sample.length} files (versions, symbols, relocations)`);
    console.log(`      files with: Verneed ${tally.verneed}, Verdef ${tally.verdef}, DT_VERSYM ${tally.versym}, DT_RELR ${tally.relr}; ${tally.symbols} dynamic symbols`);
    expect(diffs, diffs.slice(0, 10).join('\n')).to.deep.equal([]);
    expect(sample.length).to.be.greaterThan(20);
    expect(tally.verneed).to.be.greaterThan(0);
  });
});
