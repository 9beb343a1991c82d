/**
 * "#!" scripts: the kernel (fs/binfmt_script.c) reads the first line, up to
 * 256 bytes, takes the first word after "#!" as the interpreter and the rest,
 * trimmed, as one optional argument. The interpreter may itself be a script,
 * up to 4 levels (BINPRM_MAX_RECURSION); deeper fails with ELOOP.
 */
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';

/** binfmt_script's buffer (BINPRM_BUF_SIZE). */
const LINE_BYTES = 256;
/** Nested interpreters the kernel accepts. */
export const MAX_SCRIPT_DEPTH = 4;

export interface Shebang {
  interpreter: string;
  argument: string | null;
}

/** Reads the start of a host file: 'elf' | a Shebang | 'other'; null when the #! line is unusable. */
export function sniffExecutable(hostPath: string): 'elf' | 'other' | Shebang | null {
  const buf = Buffer.alloc(LINE_BYTES);
  let n = 0;
  const fd = openSync(hostPath, fsc.O_RDONLY | fsc.O_NONBLOCK);
  try {
    n = readSync(fd, buf, 0, LINE_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  return sniffHead(buf.subarray(0, n));
}

/** sniffExecutable() of a file's first bytes (at most 256 are looked at, as the kernel does). */
export function sniffHead(head: Buffer): 'elf' | 'other' | Shebang | null {
  const buf = head.subarray(0, LINE_BYTES);
  const n = buf.length;
  if (n >= 4 && buf[0] === 0x7f && buf[1] === 0x45 && buf[2] === 0x4c && buf[3] === 0x46) return 'elf';
  if (n < 2 || buf[0] !== 0x23 || buf[1] !== 0x21) return 'other';
  const text = buf.subarray(2, n).toString('latin1');
  const newline = text.indexOf('\n');
  const line = (newline < 0 ? text : text.slice(0, newline)).replace(/^[ \t]+/, '');
  const match = /^([^ \t]+)(?:[ \t]+(.*))?$/.exec(line.replace(/[ \t]+$/, ''));
  if (!match) return null;
  const interpreter = match[1] as string;
  // Without a newline the name may be cut at the buffer's end: the kernel refuses that (ENOEXEC).
  if (newline < 0 && match[2] === undefined && 2 + line.length >= LINE_BYTES) return null;
  return { interpreter, argument: match[2] === undefined || match[2] === '' ? null : match[2] };
}

/**
 * At most `maxBytes` from the start of a host file (a script to scan, a
 * header, a linker script): opened without following a symlink or waiting
 * on a FIFO, read once. Null when it cannot be read.
 */
export function readHead(hostPath: string, maxBytes: number): Buffer | null {
  let fd: number;
  try {
    fd = openSync(hostPath, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOFOLLOW);
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    const buf = Buffer.alloc(maxBytes);
    let n = 0;
    for (let r = 1; r > 0 && n < maxBytes; n += r) r = readSync(fd, buf, n, maxBytes - n, n);
    return buf.subarray(0, n);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** For "#!/usr/bin/env NAME" (or "env -S NAME ..."), the program env will look up in PATH. */
export function envTarget(shebang: Shebang): string | null {
  if (!/(^|\/)env$/.test(shebang.interpreter) || shebang.argument === null) return null;
  const words = shebang.argument.split(/[ \t]+/);
  let i = 0;
  if (words[0] === '-S' || words[0] === '--split-string') i = 1;
  else if (words[0]?.startsWith('-S')) return words[0].slice(2) || null;
  const name = words[i];
  if (name === undefined || name === '' || name.startsWith('-') || name.includes('=')) return null;
  return name;
}
