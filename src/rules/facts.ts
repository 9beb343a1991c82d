/**
 * What a rule trigger can see of one resolved program (or module), without
 * running it: the symbols its objects import, the names they are loaded by,
 * the program's path, their dlopen notes; and the values rule paths use
 * ({libdir}, {multiarch}, {python}, {gcc-target}, {gcc-version}).
 */
import { posix } from 'node:path';
import { ElfdepsError } from '../errors.js';
import { readDlopenNotes, type DlopenNote } from '../elf/notes.js';
import * as C from '../elf/constants.js';
import { elfHash, gnuHash, SymbolTable } from '../elf/symbols.js';
import type { LoadedObject, ProgramResolution } from '../resolve/types.js';
import type { ImageCache } from '../verdict/link-map.js';

export interface ResolutionFacts {
  /** Imported symbol → the first object (in-root path) importing it. */
  imports: Map<string, string>;
  /** Names objects were loaded by (sonames, DT_NEEDED names, file names) → the object's path. */
  names: Map<string, string>;
  /** The same names → the object's real directory ({origin} of a needs trigger). */
  nameDirs: Map<string, string>;
  /** The program's in-root path as given and its real path. */
  programPaths: string[];
  /** Dlopen notes, with the object that carries them. */
  notes: Array<{ object: string; note: DlopenNote }>;
  /** Directories the objects were loaded from, in load order (where dlopen()ed names are looked for first). */
  objectDirs: string[];
  vars: Map<string, string>;
  /** Objects whose tables could not be read (a rule decision may be missing something). */
  unreadable: string[];
  /** The program's byte order is big-endian (a hash-based pyc holds its source hash in it). */
  bigEndian: boolean;
  /** Whether the program (or module) itself exports a definition of `name`. */
  defines(name: string): boolean;
  /** When the facts are of a #! script (which has no link map). */
  script?: ScriptInfo;
}

/** The first object's exported definition of `name`, looked up through its hash table as the loader would find it (version aside). */
function definesSymbol(images: ImageCache, o: LoadedObject | undefined, name: string): boolean {
  if (o === undefined) return false;
  const img = images.get(o.realPath);
  if (img instanceof ElfdepsError) return false;
  const table = SymbolTable.of(img);
  if (table === null || !table.hasHashTable) return false;
  for (const i of table.candidates(name, { gnu: gnuHash(name), sysv: () => elfHash(name) })) {
    const s = table.symbol(i);
    if (s.name !== name || s.shndx === C.SHN_UNDEF) continue;
    if ((s.bind === C.STB_GLOBAL || s.bind === C.STB_WEAK) && s.visibility !== C.STV_HIDDEN && s.visibility !== C.STV_INTERNAL) return true;
  }
  return false;
}

/** A #! script as the rules see it. */
export interface ScriptInfo {
  /** In-root path as named, and real path. */
  path: string;
  realPath: string;
  /** The #! interpreter, and the program of "#!/usr/bin/env NAME". */
  interpreter: string;
  envTarget: string | null;
}

/** The facts of a script: its paths, its interpreter; no imports, names or placeholders. */
export function scriptFacts(script: ScriptInfo): ResolutionFacts {
  const programPaths = [...new Set([script.path, script.realPath])];
  return { imports: new Map(), names: new Map(), nameDirs: new Map(), programPaths, notes: [], objectDirs: [], vars: new Map(), unreadable: [], bigEndian: false, defines: () => false, script };
}

/** A GCC driver's real name: TARGET-gcc-VERSION (Debian's x86_64-linux-gnu-gcc-12), or gcc-VERSION. */
const GCC_DRIVER = /^(?:([a-z0-9_]+-[a-z0-9_]+-[a-z0-9_-]+)-)?gcc-([0-9]+(?:\.[0-9]+)*)$/;

/** The facts of `objects`: p's link map, or the part of it the root gets. */
export function factsOf(p: ProgramResolution, images: ImageCache, objects: readonly LoadedObject[] = p.objects): ResolutionFacts {
  const main = p.objects[0];
  const facts: ResolutionFacts = {
    imports: new Map(),
    names: new Map(),
    nameDirs: new Map(),
    programPaths: [],
    notes: [],
    objectDirs: [],
    vars: new Map(),
    unreadable: [],
    bigEndian: false,
    defines: (name) => {
      try {
        return definesSymbol(images, main, name);
      } catch (err) {
        if (!(err instanceof ElfdepsError)) throw err;
        facts.unreadable.push(err.message);
        return false;
      }
    },
  };
  if (main) facts.programPaths.push(posix.resolve('/', p.path), main.realPath);
  for (const o of objects) {
    const dir = posix.dirname(o.realPath);
    for (const n of [o.soname, ...o.names, posix.basename(o.realPath)]) {
      if (n && !facts.names.has(n)) {
        facts.names.set(n, o.path);
        facts.nameDirs.set(n, dir);
      }
    }
    if (!facts.objectDirs.includes(dir)) facts.objectDirs.push(dir);
    try {
      const img = images.get(o.realPath);
      if (img instanceof ElfdepsError) throw img;
      if (o.index === 0) facts.bigEndian = !img.file.header.littleEndian;
      const imported = img.cached('imported-names', () => SymbolTable.of(img)?.importedNames() ?? []);
      for (const name of imported) if (!facts.imports.has(name)) facts.imports.set(name, o.path);
      for (const note of readDlopenNotes(img)) facts.notes.push({ object: o.path, note });
    } catch (err) {
      if (!(err instanceof ElfdepsError)) throw err;
      facts.unreadable.push(err.message);
    }
    if (/^(libc\.so\.6|libc\.musl-[^/]*\.so\.1|ld-musl-[^/]*\.so\.1)$/.test(o.soname ?? posix.basename(o.realPath))) {
      facts.vars.set('libdir', dir);
      facts.vars.set('multiarch', posix.basename(dir));
    }
    const gcc = o.index === 0 ? GCC_DRIVER.exec(posix.basename(o.realPath)) : null;
    if (gcc) {
      facts.vars.set('gcc-version', gcc[2] as string);
      if (gcc[1] !== undefined) facts.vars.set('gcc-target', gcc[1]);
    }
    const py = /^libpython(3\.[0-9]+)/.exec(o.soname ?? '') ?? (o.index === 0 ? /^python(3\.[0-9]+)$/.exec(posix.basename(o.realPath)) : null);
    if (py && !facts.vars.has('python')) facts.vars.set('python', `python${py[1]}`);
  }
  // A driver named gcc-VERSION targets its own libc's multiarch (Debian's layout).
  const multiarch = facts.vars.get('multiarch');
  if (facts.vars.has('gcc-version') && !facts.vars.has('gcc-target') && multiarch !== undefined) facts.vars.set('gcc-target', multiarch);
  return facts;
}
