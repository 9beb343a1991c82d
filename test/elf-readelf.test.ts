/**
 * The reader against GNU readelf, the independent oracle: every regular ELF
 * file of the host's /usr/bin, /usr/sbin and /usr/lib/x86_64-linux-gnu, and
 * synthetic files of every platform the test writer knows. readelf is run on
 * many files per invocation (its output is split on the "File: " headers),
 * which keeps the whole comparison to a few seconds.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as C from '../src/elf/constants.js';
import { readElf, type ElfFile } from '../src/elf/reader.js';
import { ElfdepsError } from '../src/errors.js';
import { hostElfFiles } from './helpers/host-elves.js';
import { DF_1_NOW, DF_1_NODEFLIB, DF_BIND_NOW, DF_ORIGIN, DT_RUNPATH, DT_SONAME, INTERPRETERS, PLATFORMS, writeElf, type PlatformName } from './helpers/elf-writer.js';

/** What both sides report about one file, in one comparable shape. */
interface Facts {
  elfClass: 32 | 64;
  littleEndian: boolean;
  type: string;
  machine: number | string;
  interpreter: string | null;
  /** null when there is no dynamic section. */
  dynamic: {
    needed: string[];
    soname: string | null;
    rpath: string | null;
    runpath: string | null;
    flags: string[] | null;
    flags1: string[] | null;
  } | null;
  kind: string;
}

/** readelf's "Machine:" text -> e_machine, for the machines this suite meets. */
const READELF_MACHINES: ReadonlyMap<string, number> = new Map([
  ['Advanced Micro Devices X86-64', C.EM_X86_64],
  ['Intel 80386', C.EM_386],
  ['AArch64', C.EM_AARCH64],
  ['ARM', C.EM_ARM],
  ['RISC-V', C.EM_RISCV],
  ['PowerPC64', C.EM_PPC64],
  ['PowerPC', C.EM_PPC],
  ['IBM S/390', C.EM_S390],
  ['MIPS R3000', C.EM_MIPS],
  ['LoongArch', C.EM_LOONGARCH],
]);

/**
 * The kind the project's definitions give for what readelf reports (see
 * ElfKind in src/elf/reader.ts): readelf labels an ET_DYN file
 * "Position-Independent Executable" exactly when DF_1_PIE is set.
 */
function kindFromReadelf(type: string, pie: boolean, interpreter: string | null, soname: string | null): string {
  if (type === 'EXEC') return interpreter !== null ? 'executable' : 'static-executable';
  if (type === 'DYN') {
    if (pie) return interpreter !== null ? 'pie-executable' : 'static-pie';
    if (interpreter !== null && soname === null) return 'pie-executable';
    return 'shared-library';
  }
  return type === 'REL' ? 'relocatable' : type === 'CORE' ? 'core' : 'other';
}

/** Parses the `readelf -W -h -l -d` report of one file. Returns a reason string when it is unusable. */
function parseReadelf(text: string): Facts | string {
  const field = (name: string): string | undefined => new RegExp(`^\\s*${name}:\\s+(.*)$`, 'm').exec(text)?.[1]?.trim();
  const cls = field('Class');
  const data = field('Data');
  const typeLine = field('Type');
  const machineText = field('Machine');
  if (!cls || !data || !typeLine || !machineText) return 'no ELF header in readelf output';
  const type = typeLine.split(' ')[0] ?? '';
  const interpreter = /\[Requesting program interpreter: (.*)\]$/m.exec(text)?.[1] ?? null;
  let dynamic: Facts['dynamic'] = null;
  const dynStart = text.search(/^Dynamic section at offset/m);
  if (dynStart >= 0) {
    dynamic = { needed: [], soname: null, rpath: null, runpath: null, flags: null, flags1: null };
    for (const line of text.slice(dynStart).split('\n').slice(2)) {
      const m = /^\s*0x[0-9a-f]+ \(([A-Z_0-9]+)\)\s*(.*)$/.exec(line);
      if (!m) break;
      const [, tag = '', rest = ''] = m;
      const bracket = /\[(.*)\]$/.exec(rest)?.[1] ?? '';
      // Several entries of one tag: the last wins, as in the loader.
      if (tag === 'NEEDED') dynamic.needed.push(bracket);
      else if (tag === 'SONAME') dynamic.soname = bracket;
      else if (tag === 'RPATH') dynamic.rpath = bracket;
      else if (tag === 'RUNPATH') dynamic.runpath = bracket;
      else if (tag === 'FLAGS') dynamic.flags = rest.split(/\s+/).filter(Boolean);
      else if (tag === 'FLAGS_1') dynamic.flags1 = rest.replace(/^Flags:/, '').split(/\s+/).filter(Boolean);
    }
  }
  const pie = typeLine.includes('Position-Independent Executable');
  return {
    elfClass: cls === 'ELF64' ? 64 : 32,
    littleEndian: data.includes('little endian'),
    type,
    machine: READELF_MACHINES.get(machineText) ?? `readelf:${machineText}`,
    interpreter,
    dynamic,
    kind: kindFromReadelf(type, pie, interpreter, dynamic?.soname ?? null),
  };
}

function factsFromReader(elf: ElfFile): Facts {
  const d = elf.dynamic;
  return {
    elfClass: elf.header.elfClass,
    littleEndian: elf.header.littleEndian,
    type: elf.typeName,
    machine: elf.header.machine,
    interpreter: elf.interpreter,
    dynamic: d && {
      needed: d.needed,
      soname: d.soname,
      rpath: d.rpath,
      runpath: d.runpath,
      flags: d.flags === null ? null : C.flagNames(d.flags, C.DF_NAMES),
      flags1: d.flags1 === null ? null : C.flagNames(d.flags1, C.DF_1_NAMES),
    },
    kind: elf.kind,
  };
}

function readelfAvailable(): string | null {
  const r = spawnSync('readelf', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? null : `readelf not available (${r.error?.message ?? `exit ${r.status}`}); install binutils`;
}

interface ReadelfRun {
  /** path -> readelf's report of it */
  reports: Map<string, string>;
  /** path -> why readelf could not be used on it */
  failures: Map<string, string>;
}

function runReadelf(files: string[]): { stdout: string; stderr: string } {
  const r = spawnSync('readelf', ['-W', '-h', '-l', '-d', ...files], { encoding: 'latin1', maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  return { stdout: r.stdout, stderr: r.stderr };
}

/** readelf over many files at once; a batch that complains is rerun file by file to attribute the complaint. */
function readelfReports(files: string[], batchSize = 250): ReadelfRun {
  const reports = new Map<string, string>();
  const failures = new Map<string, string>();
  const single = (file: string): void => {
    const { stdout, stderr } = runReadelf([file]);
    if (/Error:/.test(stderr) || !stdout.includes('ELF Header:')) failures.set(file, stderr.trim().split('\n')[0] ?? 'no output');
    else reports.set(file, stdout);
  };
  for (let i = 0; i < files.length; i += batchSize) {
    const batch = files.slice(i, i + batchSize);
    if (batch.length === 1) {
      single(batch[0] as string);
      continue;
    }
    const { stdout, stderr } = runReadelf(batch);
    if (/Error:/.test(stderr)) {
      for (const f of batch) single(f);
      continue;
    }
    const parts = stdout.split(/^File: (.*)$/m);
    // parts = [preamble, name1, body1, name2, body2, ...]
    for (let j = 1; j + 1 < parts.length; j += 2) reports.set(parts[j] as string, parts[j + 1] as string);
    for (const f of batch) if (!reports.has(f)) failures.set(f, 'missing from readelf output');
  }
  return { reports, failures };
}

/** Compares reader and readelf on `files`; returns the disagreements as printable lines. */
function compareAll(files: string[]): { compared: number; equal: number; readelfFailures: Map<string, string>; diffs: string[]; seen: Record<string, number> } {
  const { reports, failures } = readelfReports(files);
  const diffs: string[] = [];
  // How often readelf reported each field, to show the comparison is not vacuous.
  const seen: Record<string, number> = { interpreter: 0, needed: 0, soname: 0, runpath: 0, flags: 0, flags1: 0 };
  let compared = 0;
  let equal = 0;
  for (const file of files) {
    const report = reports.get(file);
    if (report === undefined) continue;
    const expected = parseReadelf(report);
    if (typeof expected === 'string') {
      failures.set(file, expected);
      continue;
    }
    compared++;
    if (expected.interpreter !== null) seen.interpreter = (seen.interpreter ?? 0) + 1;
    for (const k of ['needed', 'soname', 'runpath', 'flags', 'flags1'] as const) {
      const v = expected.dynamic?.[k];
      if (v !== null && v !== undefined && (!Array.isArray(v) || v.length > 0)) seen[k] = (seen[k] ?? 0) + 1;
    }
    let actual: Facts;
    try {
      actual = factsFromReader(readElf(file));
    } catch (err) {
      diffs.push(`${file}: reader failed: ${err instanceof ElfdepsError ? `${err.code} ${err.message}` : String(err)}`);
      continue;
    }
    const a = JSON.stringify(actual);
    const e = JSON.stringify(expected);
    if (a === e) equal++;
    else diffs.push(`${file}:\n    reader  ${a}\n    readelf ${e}`);
  }
  return { compared, equal, readelfFailures: failures, diffs, seen };
}

describe('ELF reader agrees with readelf', function () {
  before(function () {
    const missing = readelfAvailable();
    if (missing) {
      console.log(`    skipped: ${missing}`);
      this.skip();
    }
  });

  it('on every regular ELF file in /usr/bin, /usr/sbin and /usr/lib/x86_64-linux-gnu', function () {
    const files = hostElfFiles([
      { dir: '/usr/bin', recursive: false },
      { dir: '/usr/sbin', recursive: false },
      { dir: '/usr/lib/x86_64-linux-gnu', recursive: true },
    ]);
    if (files.length === 0) {
      console.log('    skipped: no ELF files in the host directories');
      this.skip();
    }
    const { compared, equal, readelfFailures, diffs, seen } = compareAll(files);
    console.log(`    readelf agreement: ${compared} files compared, ${equal} equal (${files.length} ELF files found, ${readelfFailures.size} readelf could not parse)`);
    console.log(`    files with: ${Object.entries(seen).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    for (const [f, why] of readelfFailures) console.log(`    readelf could not parse ${f}: ${why}`);
    expect(diffs, diffs.slice(0, 20).join('\n')).to.deep.equal([]);
    expect(equal).to.equal(compared);
    // The host corpus must actually exercise the interesting fields.
    expect(compared).to.be.greaterThan(50);
    expect(seen.interpreter).to.be.greaterThan(0);
    expect(seen.needed).to.be.greaterThan(0);
    expect(seen.soname).to.be.greaterThan(0);
  });

  it('on synthetic files of every platform, both classes and byte orders', function () {
    const dir = mkdtempSync(join(tmpdir(), 'elfdeps-readelf-'));
    try {
      const files: string[] = [];
      for (const name of Object.keys(PLATFORMS) as PlatformName[]) {
        const p = PLATFORMS[name];
        const variants = [
          { type: 'EXEC' as const, interpreter: INTERPRETERS[name], needed: ['libc.so.6', 'libfoo.so.1'], rpath: '/opt/lib:$ORIGIN', flags: DF_BIND_NOW | DF_ORIGIN },
          { type: 'DYN' as const, interpreter: INTERPRETERS[name], needed: ['libc.so.6'], pie: true, flags1: DF_1_NOW, phdrSegment: true, splitLoad: true },
          { type: 'DYN' as const, needed: ['libbar.so.2', 'libc.so.6'], soname: 'libfoo.so.1', runpath: '$ORIGIN/../lib', flags1: DF_1_NODEFLIB },
          // Two SONAMEs and two RUNPATHs: readelf prints both, the last one counts.
          { type: 'DYN' as const, soname: 'libfirst.so', runpath: '/first', extraDynamic: [[DT_SONAME, 'liblast.so'], [DT_RUNPATH, '/last']] as const },
          { type: 'DYN' as const, pie: true },
          { type: 'EXEC' as const, noDynamic: true },
        ];
        variants.forEach((v, i) => {
          const path = join(dir, `${name}-${i}`);
          writeElf(path, { ...p, ...v });
          files.push(path);
        });
      }
      const { compared, equal, readelfFailures, diffs, seen } = compareAll(files);
      for (const k of Object.keys(seen)) expect(seen[k], k).to.be.greaterThan(0);
      console.log(`    readelf agreement (synthetic): ${compared} files compared, ${equal} equal`);
      expect([...readelfFailures]).to.deep.equal([]);
      expect(diffs, diffs.join('\n')).to.deep.equal([]);
      expect(compared).to.equal(files.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
