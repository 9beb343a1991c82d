/** SHA-256 of an open file, read sequentially in large blocks (the manifest records it, the copier verifies it). */
import { readSync } from 'node:fs';
import { createHash } from 'node:crypto';

const BLOCK = 1024 * 1024;
let shared: Buffer | undefined;

export interface Digest {
  sha256: string;
  size: number;
  /** The file starts with the ELF magic (the manifest resolves every ELF file it takes in). */
  elf: boolean;
  /** The file starts with "#!" (an executable one is a script: its interpreter and commands come too). */
  script: boolean;
}

/** Hashes `fd` from offset 0 to end of file. */
export function hashFd(fd: number): Digest {
  shared ??= Buffer.allocUnsafe(BLOCK);
  const hash = createHash('sha256');
  let size = 0;
  let elf = false;
  let script = false;
  for (;;) {
    const n = readSync(fd, shared, 0, BLOCK, size);
    if (n === 0) break;
    if (size === 0) {
      elf = n >= 4 && shared[0] === 0x7f && shared[1] === 0x45 && shared[2] === 0x4c && shared[3] === 0x46;
      script = n >= 2 && shared[0] === 0x23 && shared[1] === 0x21;
    }
    hash.update(shared.subarray(0, n));
    size += n;
  }
  return { sha256: hash.digest('hex'), size, elf, script };
}
