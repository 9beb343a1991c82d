/**
 * What a file is: a non-regular file in words, for error messages ("not a
 * regular file (a FIFO)"), one wording for the reader, the copier and the
 * CLI; and whether a file starts with the ELF magic.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** Whether the file at `path` opens and starts with \x7fELF (false when it cannot be read). */
export function startsWithElfMagic(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.equals(ELF_MAGIC);
  } catch {
    return false;
  } finally {
    closeSync(fd);
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
