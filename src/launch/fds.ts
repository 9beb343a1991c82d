/**
 * No file descriptor beyond 0-2 may reach the command: an open directory or
 * file of the host inside a chroot is a way out of it (runc CVE-2024-21626).
 *
 * Node opens every descriptor of its own with O_CLOEXEC, and at start-up
 * marks the ones it inherited close-on-exec too, but only from 0 up to the
 * first gap after 15 (libuv's uv_disable_stdio_inheritance). A descriptor
 * inherited above such a gap (a shell's `251>file`, a supervisor's pipe)
 * stays inheritable and would pass through child_process.spawn into the new
 * root. Such a descriptor cannot be one Node uses, so it is closed before
 * spawning. (Node's own IPC channel, when it has one, is close-on-exec.)
 */
import { closeSync, readdirSync, readFileSync } from 'node:fs';

/** O_CLOEXEC as it appears in the octal `flags:` line of /proc/self/fdinfo/N. */
const O_CLOEXEC = 0o2000000;

/** Descriptors above 2 of this process that an exec would keep open. */
export function inheritableFds(): number[] {
  let names: string[];
  try {
    names = readdirSync('/proc/self/fdinfo');
  } catch {
    return []; // no /proc: nothing we can inspect
  }
  const found: number[] = [];
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${name}`, 'utf8');
    } catch {
      continue; // closed meanwhile (e.g. the directory stream of readdirSync itself)
    }
    const flags = /^flags:\s*([0-7]+)/m.exec(info)?.[1];
    if (flags !== undefined && (parseInt(flags, 8) & O_CLOEXEC) === 0) found.push(fd);
  }
  return found.sort((a, b) => a - b);
}

/** Closes every inheritable descriptor above 2 (see the module comment); returns them. */
export function closeInheritedFds(): number[] {
  const closed: number[] = [];
  for (const fd of inheritableFds()) {
    try {
      closeSync(fd);
      closed.push(fd);
    } catch {
      // already closed: nothing leaks
    }
  }
  return closed;
}
