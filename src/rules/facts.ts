/**
 * What a rule trigger can see of one resolved program (or module), without
 * running it: the symbols its objects import, the names they are loaded by,
 * the program's path, their dlopen notes; and the values rule paths use
 * ({libdir}, {multiarch}, {python}).
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
    const py = /^libpython(3\.[0-9]+)/.exec(o.soname ?? '') ?? (o.index === 0 ? /^python(3\.[0-9]+)$/.exec(posix.basename(o.realPath)) : null);
    if (py && !facts.vars.has('python')) facts.vars.set('python', `python${py[1]}`);
  }
  return facts;
}
