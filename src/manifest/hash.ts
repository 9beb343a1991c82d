/** SHA-256 of an open file, read sequentially in large blocks (the manifest records it, the copier verifies it). */
import { readSync } from 'node:fs';
import { createHash } from 'node:crypto';

const BLOCK = 1024 * 1024;
let shared: Buffer | undefined;

export interface Digest {
  sha256: string;
  size: number;
}

/** Hashes `fd` from offset 0 to end of file. */
export function hashFd(fd: number): Digest {
  shared ??= Buffer.allocUnsafe(BLOCK);
  const hash = createHash('sha256');
  let size = 0;
  for (;;) {
    const n = readSync(fd, shared, 0, BLOCK, size);
    if (n === 0) break;
    hash.update(shared.subarray(0, n));
    size += n;
  }
  return { sha256: hash.digest('hex'), size };
}
