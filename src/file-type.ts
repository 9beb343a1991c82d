/**
 * What a file is: a non-regular file in words, for error messages ("not a
 * regular file (a FIFO)"), one wording for the reader, the copier and the
 * CLI; and whether a file starts with the ELF magic.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';

/** One buffer for every magic read: reads are synchronous. */
const magic = Buffer.alloc(4);

/**
 * Whether the file at `path` starts with \x7fELF. Throws what open and read
 * throw; opened non-blocking, so a FIFO put in a regular file's place cannot
 * hang the caller.
 */
export function hasElfMagic(path: string): boolean {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.readUInt32BE(0) === 0x7f454c46;
  } finally {
    closeSync(fd);
  }
}

/** hasElfMagic, false when the file cannot be read. */
export function startsWithElfMagic(path: string): boolean {
  try {
    return hasElfMagic(path);
  } catch {
    return false;
  }
}

export interface FileTypeTests {
  isSymbolicLink(): boolean;
  isDirectory(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
}

export function describeFileType(st: FileTypeTests): string {
  if (st.isSymbolicLink()) return 'a symlink';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}
