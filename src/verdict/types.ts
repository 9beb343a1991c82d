/**
 * The loader's verdict on one program's link map: what glibc checks after
 * mapping every object and before running anything (symbol versions,
 * elf/dl-version.c; symbol lookup for relocations, elf/dl-lookup.c), and
 * what ldd's -v, -u, -d and -r print about it. musl has no symbol
 * versioning and its verdict is empty.
 */

/** One line the loader would print about versions (print_missing_version in rtld.c). */
export interface VersionProblem {
  kind: 'version-not-found' | 'weak-version-not-found' | 'no-version-information' | 'unsupported-verdef' | 'unsupported-verneed';
  /** Index (in ProgramResolution.objects) of the object that needs the version. */
  requester: number;
  /** Index of the provider, the object the message is about. */
  provider: number;
  /** The version asked for (empty for no-version-information and the unsupported record kinds). */
  version: string;
  /** Whether the loader refuses to start the program because of it. */
  fatal: boolean;
  /** The object the message is about, as the loader names it (objname): the provider, or the requester for Verneed problems. */
  about: string;
  /** The loader's message (errstring): "version `X' not found (required by REQUESTER)". */
  message: string;
}

/** One Vernaux of one object: a version it needs from one of its DT_NEEDED files. */
export interface VersionNeed {
  requester: number;
  /** vn_file: the name of the provider as written. */
  file: string;
  /** The object with that name in the link map, or null (not found, or a name nothing was loaded as). */
  provider: number | null;
  version: string;
  weak: boolean;
  /** Whether the provider defines the version (what ldd -v prints as "=> PATH"). */
  satisfied: boolean;
}

/** The highest version needed in one version namespace (GLIBC_, GLIBCXX_, CXXABI_, GCC_, ...). */
export interface HighestVersion {
  /** The prefix before the first digit, e.g. "GLIBC_". */
  namespace: string;
  version: string;
  /** Objects that need exactly that version. */
  neededBy: number[];
}

/** A symbol the loader looked up and found nowhere in the scope. */
export interface UndefinedSymbol {
  /** The object whose relocation needs it. */
  object: number;
  symbol: string;
  /** The version the reference asks for, or null. */
  version: string | null;
  /** 'function' for a PLT relocation, 'data' otherwise. */
  relocation: 'function' | 'data';
  /** Whether the loader resolves it at start (non-PLT, or PLT of a BIND_NOW object): then the program does not start. */
  atStart: boolean;
  /** The loader's message: "undefined symbol: NAME, version V". */
  message: string;
}

export interface Verdict {
  /** Whether the loader would start the program (libraries found, versions present, no undefined symbol it resolves at start). */
  starts: boolean;
  /** Why it would not start, in the loader's words, or null. */
  refusal: string | null;
  /** Version problems, in the loader's order. */
  versionProblems: VersionProblem[];
  /** Every version needed, per object and provider, in link-map order. */
  versionNeeds: VersionNeed[];
  /** The highest version needed in each namespace. */
  highest: HighestVersion[];
  /** Undefined symbols found by the relocation walk that was asked for (at least the one done at start). */
  undefinedSymbols: UndefinedSymbol[];
  /** Which relocations were looked at: 'start' (what the loader resolves at start), 'data' (ldd -d), 'all' (ldd -r). */
  relocations: 'start' | 'data' | 'all' | 'none';
  /** Direct dependencies of the program no symbol of it binds to (ldd -u), by path; null when not asked for. */
  unused: string[] | null;
  /** Problems reading the tables the checks need (malformed input), one line each; a problem makes the verdict "does not start". */
  unreadable: string[];
  /** Checks that could not be made (e.g. relocation types of an unknown machine). */
  notes: string[];
}
