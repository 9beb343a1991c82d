/**
 * Opening one candidate file the way the loader does (glibc open_verify,
 * dl-load.c; musl's map_library) and deciding between three outcomes:
 * use it, skip it and keep searching, or fail the whole load.
 *
 * glibc skips only files it cannot open (ENOENT, EACCES) and ELF files of
 * another class or machine; a text file, a wrong-endian or wrong-OSABI ELF,
 * a relocatable object or a directory named like the library is fatal.
 * musl uses the first file that opens, whatever it is.
 */
import { statSync } from 'node:fs';
import { ElfdepsError } from '../errors.js';
import * as C from '../elf/constants.js';
import { FileSource } from '../elf/file-source.js';
import { readElfDetails, readElfHeader, type ElfFile, type ElfHeader } from '../elf/reader.js';
import type { PathWalk, RootFs } from './rootfs.js';

/** What a loaded object must match: the interpreter's (the program's) ELF identity. */
export interface TargetIdentity {
  elfClass: 32 | 64;
  littleEndian: boolean;
  machine: number;
}

export type CandidateOutcome =
  | { kind: 'ok'; walk: PathWalk; elf: ElfFile }
  /** Keep searching this list (ENOENT, EACCES, wrong class or machine). */
  | { kind: 'skip'; reason: string; otherClass: boolean }
  /** Stop searching this list, try the next source (ELOOP, ENAMETOOLONG, ...). */
  | { kind: 'abandon'; reason: string }
  /** The loader would stop with this error. */
  | { kind: 'fatal'; message: string };

/** glibc's LIBC_ABI_MAX (x86): EI_ABIVERSION must stay below it with ELFOSABI_GNU. */
const LIBC_ABI_MAX = 4;

/** A file whose header could be read: its details, or why they could not. */
export interface ElfRead {
  header: ElfHeader;
  elf: ElfFile | null;
  error: ElfdepsError | null;
}

/** Parsed files by host path, shared by every lookup of one resolve() call. */
export class ElfCache {
  private readonly byPath = new Map<string, ElfRead | ElfdepsError>();
  readonly stats = { files: 0, bytesRead: 0 };

  /** Header and details of the regular file at hostPath; every outcome, errors included, is read once. */
  read(hostPath: string): ElfRead | ElfdepsError {
    let result = this.byPath.get(hostPath);
    if (result === undefined) {
      result = this.readUncached(hostPath);
      this.byPath.set(hostPath, result);
    }
    return result;
  }

  private readUncached(hostPath: string): ElfRead | ElfdepsError {
    let src: FileSource;
    try {
      src = FileSource.open(hostPath);
    } catch (err) {
      if (err instanceof ElfdepsError) return err;
      throw err;
    }
    try {
      const header = readElfHeader(src);
      try {
        return { header, elf: readElfDetails(src, header), error: null };
      } catch (err) {
        if (err instanceof ElfdepsError) return { header, elf: null, error: err };
        throw err;
      }
    } catch (err) {
      if (err instanceof ElfdepsError) return err;
      throw err;
    } finally {
      this.stats.files++;
      this.stats.bytesRead += src.bytesRead;
      src.close();
    }
  }
}

/** Resolves a path string (relative ones against the in-root cwd) and applies glibc's acceptance rules. */
export function openCandidateGlibc(
  fs: RootFs,
  cache: ElfCache,
  pathString: string,
  cwd: string,
  target: TargetIdentity,
  enotdirAbandons: boolean,
): CandidateOutcome {
  const walk = fs.walk(pathString, cwd);
  if (!walk.ok) {
    if (walk.errno === 'ENOENT' || walk.errno === 'EACCES') return { kind: 'skip', reason: walk.errno, otherClass: false };
    if (walk.errno === 'ENOTDIR' && !enotdirAbandons) return { kind: 'skip', reason: walk.errno, otherClass: false };
    return { kind: 'abandon', reason: walk.errno ?? 'error' };
  }
  // read() fails with EISDIR; ld.so's minimal strerror prints only the number (observed on 2.36).
  if (walk.kind === 'dir') return { kind: 'fatal', message: `${pathString}: cannot read file data: Error 21` };
  if (walk.kind !== 'file') return { kind: 'fatal', message: `${pathString}: not a regular file` };
  const r = cache.read(walk.hostPath);
  if (r instanceof ElfdepsError) {
    switch (r.code) {
      case 'ELF_TOO_SHORT':
        return { kind: 'fatal', message: `${pathString}: file too short` };
      case 'ELF_BAD_MAGIC':
        // open_verify checks the length against its own Elf_Ehdr before the magic.
        if (statSync(walk.hostPath).size < (target.elfClass === 64 ? 64 : 52)) return { kind: 'fatal', message: `${pathString}: file too short` };
        return { kind: 'fatal', message: `${pathString}: invalid ELF header` };
      case 'ELF_BAD_IDENT':
        // An EI_CLASS that is neither 32 nor 64 is "another class" to glibc;
        // a bad EI_DATA is fatal.
        if (r.message.includes('class')) return { kind: 'skip', reason: 'wrong ELF class', otherClass: true };
        return { kind: 'fatal', message: `${pathString}: ELF file data encoding not ${target.littleEndian ? 'little' : 'big'}-endian` };
      case 'ELF_IO':
        return { kind: 'skip', reason: 'cannot open', otherClass: false };
      default:
        return { kind: 'fatal', message: `${pathString}: ${r.message}` };
    }
  }
  const h = r.header;
  if (h.elfClass !== target.elfClass) return { kind: 'skip', reason: `wrong ELF class: ELFCLASS${h.elfClass}`, otherClass: true };
  if (h.littleEndian !== target.littleEndian) {
    return { kind: 'fatal', message: `${pathString}: ELF file data encoding not ${target.littleEndian ? 'little' : 'big'}-endian` };
  }
  if (h.identVersion !== C.EV_CURRENT) return { kind: 'fatal', message: `${pathString}: ELF file version ident does not match current one` };
  const armAbi = target.machine === C.EM_ARM && h.osAbi === C.ELFOSABI_ARM_AEABI;
  if (h.osAbi !== C.ELFOSABI_SYSV && h.osAbi !== C.ELFOSABI_GNU && !armAbi) return { kind: 'fatal', message: `${pathString}: ELF file OS ABI invalid` };
  if (!(h.abiVersion === 0 || (h.osAbi === C.ELFOSABI_GNU && h.abiVersion < LIBC_ABI_MAX))) {
    return { kind: 'fatal', message: `${pathString}: ELF file ABI version invalid` };
  }
  if (!h.identPadIsZero) return { kind: 'fatal', message: `${pathString}: nonzero padding in e_ident` };
  if (h.version !== C.EV_CURRENT) return { kind: 'fatal', message: `${pathString}: ELF file version does not match current one` };
  if (h.machine !== target.machine) {
    // glibc has no words for it (elf_machine_matches_host skips silently).
    const name = (m: number): string => `${C.machineName(m, h.elfClass, h.littleEndian)} (e_machine ${m})`;
    return { kind: 'skip', reason: `wrong machine: ${name(h.machine)}, not ${name(target.machine)}`, otherClass: false };
  }
  if (h.type !== C.ET_DYN && h.type !== C.ET_EXEC) return { kind: 'fatal', message: `${pathString}: only ET_DYN and ET_EXEC can be loaded` };
  if (r.error) return { kind: 'fatal', message: r.error.message };
  return { kind: 'ok', walk, elf: r.elf as ElfFile };
}

/**
 * musl (map_library in ldso/dynlink.c) uses the first file that opens and
 * checks little: at least an ELF header's worth of bytes and e_type ET_DYN or
 * ET_EXEC read in its own byte order. It never compares class or machine, so
 * an i386 library fails (its program headers make no sense: "Exec format
 * error") but an ELF64 of another machine is mapped (observed with e_machine
 * patched to aarch64). A directory opens and fails at read() (EISDIR). The
 * message is errno's text; the caller adds "Error loading shared library N: ".
 */
export function openCandidateMusl(fs: RootFs, cache: ElfCache, pathString: string, cwd: string, target: TargetIdentity): CandidateOutcome {
  const walk = fs.walk(pathString, cwd);
  if (!walk.ok) {
    if (walk.errno === 'ENOENT' || walk.errno === 'ENOTDIR' || walk.errno === 'EACCES' || walk.errno === 'ENAMETOOLONG') {
      return { kind: 'skip', reason: walk.errno, otherClass: false };
    }
    return { kind: 'abandon', reason: walk.errno ?? 'error' };
  }
  if (walk.kind === 'dir') return { kind: 'fatal', message: 'Is a directory' };
  if (walk.kind !== 'file') return { kind: 'fatal', message: 'Exec format error' };
  const r = cache.read(walk.hostPath);
  // Not ELF, truncated, or details we cannot read: musl finds no usable header or program headers either.
  if (r instanceof ElfdepsError || r.error || !r.elf) return { kind: 'fatal', message: 'Exec format error' };
  const h = r.header;
  if (h.elfClass !== target.elfClass || h.littleEndian !== target.littleEndian || (h.type !== C.ET_DYN && h.type !== C.ET_EXEC)) {
    return { kind: 'fatal', message: 'Exec format error' };
  }
  return { kind: 'ok', walk, elf: r.elf };
}
