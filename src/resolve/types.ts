/**
 * The resolver's result: what the dynamic loader would load for each input,
 * in its order, and why. This is the data the CLI prints (--ldd, --tree,
 * --json) and the manifest builder consumes.
 */
import type { ElfKind } from '../elf/reader.js';

/** How a DT_NEEDED name (or an input) came to be satisfied. */
export type FoundBy =
  | 'input' // one of the files asked about
  | 'interpreter' // PT_INTERP of the program
  | 'preload' // LD_PRELOAD or /etc/ld.so.preload
  | 'direct' // the name contains '/', opened as given
  | 'rpath' // DT_RPATH of `via` (the requester or one of its first loaders)
  | 'ld-library-path'
  | 'runpath' // DT_RUNPATH of the requester
  | 'ld-so-cache'
  | 'ld-so-conf' // a directory of ld.so.conf, used when there is no cache
  | 'default' // the loader's default directories
  | 'musl-libc'; // a name musl reserves for itself (libc.so, libpthread.so.0, ...)

/** The loader flavour whose rules were applied. */
export type LoaderFlavour = 'glibc' | 'musl' | 'none';

/** One object in the loader's link map (the program, the interpreter, a library). */
export interface LoadedObject {
  /** Position in load order (0 = the program). */
  index: number;
  /** The path string the loader opened it by: in-root, absolute unless an empty search element made it relative; not normalised. */
  path: string;
  /** In-root canonical path (symlinks and `..` resolved). */
  realPath: string;
  /** Every symlink followed on the way from `path` (and from aliases) to `realPath`. */
  links: Array<{ path: string; target: string }>;
  soname: string | null;
  /** DT_NEEDED names and other names that resolved to this object, first one first. */
  names: string[];
  /** Other path strings the loader opened that turned out to be this same file (dev/ino). */
  aliasPaths: string[];
  /** How it was found the first time. */
  foundBy: FoundBy;
  /** For 'rpath': the index of the object whose DT_RPATH held the directory. */
  via: number | null;
  /** The first loader (glibc l_loader): the object whose DT_NEEDED mapped it; null for the program and preloads' requester chain root. */
  loader: number | null;
  /** Summary of the ELF file. */
  elf: {
    class: 32 | 64;
    machine: string;
    kind: ElfKind;
    needed: string[];
    rpath: string | null;
    runpath: string | null;
    nodeflib: boolean;
  };
  /** Whether this is the program's interpreter (ldd lists it only when something needs it by name). */
  isInterpreter: boolean;
}

/** One line of the loader's link map as ldd prints it: an object, or a name it could not find. */
export type LinkMapEntry =
  /** `as`: for musl's own names (libc.so, libpthread.so.0...), the name it printed. */
  | { kind: 'object'; object: number; as?: string }
  | { kind: 'not-found'; name: string }
  | { kind: 'vdso'; name: string };

/** One DT_NEEDED (or preload) request and its outcome. */
export interface Dependency {
  /** Index of the requesting object. */
  requester: number;
  /** The DT_NEEDED string as written (before $ORIGIN expansion). */
  name: string;
  /** Index of the object that satisfies it, or null. */
  object: number | null;
  /** 'loaded' when an already-loaded object matched by name, SONAME or file identity. */
  how: FoundBy | 'loaded' | 'not-found' | 'error';
  /** Candidate paths tried, in order (for not-found diagnostics). */
  tried: string[];
  /** When how === 'error': what the loader would say (e.g. "invalid ELF header"). */
  error?: string;
  /** With a trace (--explain): every candidate the loader tries, hwcaps subdirectories included, in order. */
  candidates?: Candidate[];
}

/** One file the loader tries for a request (`trying file=` of LD_DEBUG=libs). */
export interface Candidate {
  path: string;
  /** The list being searched ('direct' for a name with '/'). */
  list: FoundBy;
  /**
   * 'found': used; 'absent': cannot be opened (ENOENT, EACCES); 'rejected': exists but is
   * skipped (another ELF class or machine); 'failed': an open error that may end the list;
   * 'fatal': the loader stops; 'not-used': a cache answer the requester's DF_1_NODEFLIB refuses.
   */
  outcome: 'found' | 'absent' | 'rejected' | 'failed' | 'fatal' | 'not-used';
  reason?: string;
}

export interface ProgramResolution {
  /** The input as given. */
  input: string;
  /** In-root path used for it. */
  path: string;
  kind: ElfKind;
  flavour: LoaderFlavour;
  /** PT_INTERP string, or null for static programs and libraries without one. */
  interpreter: string | null;
  /** The link map in load order: objects[0] is the input. */
  objects: LoadedObject[];
  /** Every DT_NEEDED edge, in the order the loader resolved them. */
  dependencies: Dependency[];
  /** The vDSO name ldd prints first for this machine, or null. It is never a file. */
  vdso: string | null;
  /** The link map in ldd's order after the program: the vDSO, loaded objects and not-found names. */
  linkMap: LinkMapEntry[];
  /** Every in-root path the loader opens (program, interpreter, libraries, second names), deduplicated, in load order. */
  openedPaths: string[];
  /** Requests that could not be satisfied (not found, or a candidate the loader would reject fatally), in order. */
  missing: Dependency[];
  /** The first fatal loader error (e.g. "libfoo.so.1: invalid ELF header"): the real program would not start. */
  fatal: string | null;
  /** Non-fatal notes: ignored preloads, dropped path elements, ... */
  warnings: string[];
}

export interface ResolveResult {
  root: string;
  programs: ProgramResolution[];
}
