/**
 * The host files the ldd conformance tests compare (resolve-conformance and
 * verdict-conformance): every dynamically linked x86_64 ELF64 file under
 * /usr/bin, /usr/sbin, /usr/lib/x86_64-linux-gnu and /usr/libexec. It has
 * PT_DYNAMIC (ldd says "not a dynamic executable" otherwise) and is of this
 * machine (ldd cannot trace other machines here; the kernel cannot even run
 * i386 programs).
 */
import { EM_X86_64 } from '../../src/elf/constants.js';
import { readElf } from '../../src/elf/reader.js';
import { hostElfFiles } from './host-elves.js';

export interface ConformanceSet {
  files: string[];
  /** ELF files of other machines or classes, left out. */
  otherMachine: number;
  /** Files the reader refuses, left out. */
  unreadable: number;
}

export function hostConformanceSet(): ConformanceSet {
  const candidates = hostElfFiles([
    { dir: '/usr/bin', recursive: false },
    { dir: '/usr/sbin', recursive: false },
    { dir: '/usr/lib/x86_64-linux-gnu', recursive: true },
    { dir: '/usr/libexec', recursive: true },
  ]);
  const set: ConformanceSet = { files: [], otherMachine: 0, unreadable: 0 };
  for (const f of candidates) {
    try {
      const elf = readElf(f);
      if (elf.header.machine !== EM_X86_64 || elf.header.elfClass !== 64) set.otherMachine++;
      else if (elf.dynamic !== null && (elf.kind === 'executable' || elf.kind === 'pie-executable' || elf.kind === 'shared-library' || elf.kind === 'static-pie')) set.files.push(f);
    } catch {
      set.unreadable++;
    }
  }
  return set;
}
