/**
 * The first look at a regular file met by check's walk: what needs no
 * resolver, only the file's path and its first four bytes. Most files of a
 * root are not ELF, and this is most of a check's system calls (an open, a
 * read and a close per file), so it is the part another thread can do
 * (scout.ts) while the main thread judges the ELF files it finds.
 */
import { errnoOf, errnoWords } from '../errors.js';
import { hasElfMagic } from '../file-type.js';

/** Where distributions put separate debug files (gdb's default debug-file-directory). */
const DEBUG_FILE_DIRECTORY = '/usr/lib/debug/';

/** A name the loader might open: NAME.so or NAME.so.VERSION (libfoo.so.1, ld-linux-x86-64.so.2; not ld.so.conf). */
export const LIBRARY_NAME = /\.so(\.[0-9][^/]*)?$/;

/**
 * What a regular file is before anything reads it as ELF: 'elf' (it starts
 * with the magic: the resolver's turn), 'not-elf', 'not-loadable' (a separate
 * debug file), 'vanished' (gone since its directory was listed), or the
 * words of why it cannot be read.
 */
export type Sighting = 'elf' | 'not-elf' | 'not-loadable' | 'vanished' | { unreadable: string };

/** The sighting of the regular file at in-root `path`, host path `hostPath`. */
export function sightFile(path: string, hostPath: string): Sighting {
  // Separate debug files (gdb's debug-file-directory) copy a program's headers without its contents: nothing loads them.
  if (path.startsWith(DEBUG_FILE_DIRECTORY)) return 'not-loadable';
  // The magic first: four bytes say "not ELF" without the reader's error values.
  try {
    return hasElfMagic(hostPath) ? 'elf' : 'not-elf';
  } catch (err) {
    // Gone since its directory was listed: nothing left to check.
    if (errnoOf(err) === 'ENOENT') return 'vanished';
    return { unreadable: errnoWords(err) };
  }
}

/** Whether a symlink's name is one check looks up (library symlinks only: `libfoo.so.1 -> libfoo.so.1.2`). */
export function isLibraryLink(path: string): boolean {
  return LIBRARY_NAME.test(path.slice(path.lastIndexOf('/') + 1));
}
