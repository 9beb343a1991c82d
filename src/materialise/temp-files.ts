/**
 * Temporary names for files being written. Every file and symlink is first
 * created under a temporary name in its final directory, then renamed over
 * the final name (atomic within one filesystem), so a copy killed part-way
 * never leaves a truncated file under a final name. A killed run leaves its
 * temporaries behind; the next run removes them (those of a process that is
 * still alive are left alone).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { TEMP_PREFIX } from '../manifest/entry-path.js';

/** `.elfdeps-tmp-<pid>-<random>-<name>`: the pid tells a later run whether the writer is gone. */
export function tempName(finalName: string): string {
  const hint = Buffer.byteLength(finalName) <= 64 ? finalName : '';
  return `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}-${hint}`;
}

/** Whether the process that named a temporary after itself may still be writing it. */
export function writerAlive(pid: number): boolean {
  if (pid === process.pid) return false; // ours from an earlier, failed call: nobody is writing it now
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Names of leftover temporaries in a host directory whose writer is gone. */
export function staleTempNames(hostDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(hostDir);
  } catch {
    return [];
  }
  return names.filter((name) => {
    if (!name.startsWith(TEMP_PREFIX)) return false;
    const pid = Number.parseInt(name.slice(TEMP_PREFIX.length), 10);
    return !Number.isFinite(pid) || pid <= 0 || !writerAlive(pid);
  });
}
