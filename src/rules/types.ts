/**
 * Runtime-file rules as data (rules.json, checked against rules.schema.json):
 * what a program opens after start, keyed by what can be seen without
 * running it. docs/rules.md lists them and explains the format.
 */

export interface RuleTrigger {
  /** Symbols some loaded object imports (undefined in its dynamic symbol table). */
  imports?: string[];
  /**
   * Names of loaded objects (soname or DT_NEEDED name); * and ? match within
   * the name, and {name} captures a part of it as a placeholder
   * ("libtcl{tcl}.so" sets {tcl} to 8.6). The matched object's directory is {origin}.
   */
  needs?: string[];
  /** Symbols the program (or module) itself defines and exports: a runtime linked into it (Node.js exports OpenSSL's). */
  defines?: string[];
  /** In-root paths of the program (* and ? match within a component), or its file name (a pattern without '/'). */
  programs?: string[];
  /** Some loaded object has .note.dlopen entries. */
  dlopenNotes?: boolean;
  /** Never applies by itself: only --with NAME applies the rule (python-build). */
  optIn?: true;
  /** A #! script whose interpreter (or env's target) has one of these names (sh, bash, ...). */
  scripts?: string[];
}

/** Items naming paths of the root. */
export type PathItem =
  | { path: string; optional?: boolean }
  | { tree: string; optional?: boolean; exclude?: string[]; pycache?: string }
  | { glob: string; tree?: boolean; optional?: boolean; exclude?: string[]; pycache?: string };

/**
 * A small file of the root the program reads to decide what it loads (the
 * JDK's jvm.cfg): the file is added, and for each line matching `match`
 * (only the first with `first`), `then` is added with the line's {name}
 * captures as placeholders.
 */
export interface ReadItem {
  read: string;
  match: string;
  first?: boolean;
  optional?: boolean;
  then: PathItem[];
}

export type RuleItem =
  | PathItem
  | ReadItem
  | { generate: 'user-database' | 'tmp' }
  | { nss: string[] }
  | { locales: true }
  | { zones: true }
  | { dlopen: true }
  /** Programs the program runs: names looked up in PATH, or in-root paths (patterns allowed); each enters as a program. */
  | { runs: string[]; optional?: boolean }
  /** The commands a shell script runs (its command words looked up in PATH), each entering as a program. */
  | { commands: true }
  /** Headers and every header they include, found through `dirs` (a compiler's search list). */
  | { includes: string[]; dirs: string[] }
  /** A GNU ld script and the files it names (others found in `dirs`). */
  | { linkerScript: string; dirs?: string[]; optional?: boolean };

export interface Rule {
  name: string;
  why: string;
  when: RuleTrigger;
  add: RuleItem[];
}

export interface RuleSet {
  elfdepsRules: 1;
  description?: string;
  rules: Rule[];
}

export type DlopenLevel = 'required' | 'recommended' | 'suggested' | 'none';

/** What the user chose about rules (CLI: --loader-only, --with, --without, --rules, --dlopen, --locale, --tz, --user). */
export interface RuleOptions {
  /** No rules at all: exactly what the loader opens (and --add). */
  loaderOnly?: boolean;
  /** Rules applied whatever their triggers say. */
  with?: string[];
  /** Rules never applied. */
  without?: string[];
  /** Further rule files (their rules come after the built-in ones; a rule of the same name replaces the built-in one). */
  rulesFiles?: string[];
  /** The lowest dlopen-note priority taken; default 'recommended'. */
  dlopen?: DlopenLevel;
  /** Locales setlocale() should find; default ['C.UTF-8']. */
  locales?: string[];
  /** Time zones to take instead of the whole database. */
  zones?: string[];
  /** Users (names or numeric ids) the generated user database holds besides root and nobody. */
  users?: string[];
}
