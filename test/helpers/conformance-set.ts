/**
 * The host files the ldd conformance tests compare (resolve-conformance and
 * verdict-conformance): every dynamically linked ELF file under /usr (all of
 * it: /usr/bin, /usr/sbin, /usr/lib with /usr/lib/gcc and the multiarch
 * directories, /usr/lib32, /usr/libexec, /usr/local, ...) of a kind this
 * kernel runs, because ldd's answer comes from the real loader running it:
 * x86_64 ELF64, and i386 ELF32 where the kernel runs i386 programs. Files of
 * other kinds (x32 in /usr/libx32 where the kernel lacks x32 support, other
 * machines) are counted, by kind, and left out: no loader can answer for them
 * here. A file has PT_DYNAMIC (ldd says "not a dynamic executable" otherwise).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { EM_386, EM_X86_64 } from '../../src/elf/constants.js';
import { readElf } from '../../src/elf/reader.js';
import { hostElfFiles } from './host-elves.js';

export interface ConformanceSet {
  files: string[];
  /** Compared files by kind ("x86_64 ELF64": n, "i386 ELF32": n). */
  byKind: Record<string, number>;
  /** Dynamically linked ELF files no loader runs here, by kind ("x32 ELF32 (the kernel does not run it)": n), left out. */
  leftOut: Record<string, number>;
  /** ELF files without PT_DYNAMIC (static programs, objects, firmware), left out. */
  notDynamic: number;
  /** Files the reader refuses, left out. */
  unreadable: number;
}

/** Whether the kernel starts the loader at `ldso` (an i386 or x32 one) here: asked by running it with --help. */
function kernelRuns(ldso: string): boolean {
  if (!existsSync(ldso)) return false;
  const r = spawnSync(ldso, ['--help'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, timeout: 30_000 });
  return r.error === undefined && r.status === 0;
}

function kindOf(machine: number, elfClass: 32 | 64): string {
  if (machine === EM_X86_64) return elfClass === 64 ? 'x86_64 ELF64' : 'x32 ELF32';
  if (machine === EM_386) return 'i386 ELF32';
  return `machine ${machine} ELF${elfClass}`;
}

export function hostConformanceSet(): ConformanceSet {
  const runs: Record<string, boolean> = {
    'x86_64 ELF64': true,
    'i386 ELF32': kernelRuns('/lib/ld-linux.so.2'),
    'x32 ELF32': kernelRuns('/libx32/ld-linux-x32.so.2'),
  };
  const candidates = hostElfFiles([{ dir: '/usr', recursive: true }]);
  const set: ConformanceSet = { files: [], byKind: {}, leftOut: {}, notDynamic: 0, unreadable: 0 };
  for (const f of candidates) {
    try {
      const elf = readElf(f);
      const dynamic = elf.dynamic !== null && (elf.kind === 'executable' || elf.kind === 'pie-executable' || elf.kind === 'shared-library' || elf.kind === 'static-pie');
      const kind = kindOf(elf.header.machine, elf.header.elfClass);
      if (!dynamic) set.notDynamic++;
      else if (runs[kind] === true) {
        set.files.push(f);
        set.byKind[kind] = (set.byKind[kind] ?? 0) + 1;
      } else {
        const why = `${kind} (the kernel does not run it)`;
        set.leftOut[why] = (set.leftOut[why] ?? 0) + 1;
      }
    } catch {
      set.unreadable++;
    }
  }
  return set;
}

/** One line for the test log: what was compared and what was left out, by kind. */
export function describeConformanceSet(set: ConformanceSet): string {
  const list = (r: Record<string, number>) => Object.entries(r).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  return `${set.files.length} dynamically linked files under /usr (${list(set.byKind)}); left out: ${list(set.leftOut)}, ${set.notDynamic} not dynamically linked, ${set.unreadable} unreadable`;
}
