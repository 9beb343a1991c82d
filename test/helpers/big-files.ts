/**
 * Large files of distinct, incompressible contents (per file and per MiB), for
 * tests that need a copy or an image build to take long enough to be killed
 * or interrupted part-way, and where a partial or misplaced copy must not
 * match a hash by accident.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const MIB = 1024 * 1024;

/** Writes `count` files `${prefix}${i}.bin` of `mib` MiB each into `dir`. */
export function writeIncompressibleFiles(dir: string, prefix: string, count: number, mib: number): void {
  const block = randomBytes(MIB);
  for (let f = 0; f < count; f++) {
    const fd = openSync(join(dir, `${prefix}${f}.bin`), 'w');
    try {
      for (let i = 0; i < mib; i++) {
        block.writeUInt32LE(f, 0);
        block.writeUInt32LE(i, 4);
        writeSync(fd, block);
      }
    } finally {
      closeSync(fd);
    }
  }
}
