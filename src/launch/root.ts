/**
 * Questions the launcher asks about the new root before spawning anything,
 * answered the way the kernel would answer them for a process chrooted there
 * (paths resolved inside the root by RootFs, symlinks included):
 *  - which of the usual bin directories exist (for PATH);
 *  - whether the command exists, is executable, and has its interpreter
 *    (PT_INTERP, or a script's `#!` line): a missing interpreter makes execve
 *    fail with a bare ENOENT, which chroot reports as if the command itself
 *    were missing;
 *  - whether NEWROOT/dev and NEWROOT/proc can serve as mount points.
 * Only reads the command's first bytes; never executes anything.
 */
import { closeSync, lstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { ElfFormatError, ElfIoError, errnoOf, errnoWords } from '../errors.js';
import { readElf } from '../elf/reader.js';
import { RootFs } from '../resolve/rootfs.js';
import { launchFailure } from './failure.js';
import { LAUNCH_EXIT, ROOT_PATH_CANDIDATES } from './plan.js';

/** The kernel reads this many bytes of a file to find a `#!` line (BINPRM_BUF_SIZE). */
const SHEBANG_BYTES = 256;

/** Opens the new root: realpath, must be a directory. Throws a 125 failure otherwise. */
export function openRoot(root: string): RootFs {
  try {
    return new RootFs(root);
  } catch (err) {
    throw launchFailure(LAUNCH_EXIT.FAILED, 'ROOT', err instanceof Error ? err.message : String(err), root);
  }
}

/** Host path of the root (RootFs keeps '' for the host's own root). */
export function rootHostPath(rootfs: RootFs): string {
  return rootfs.root === '' ? '/' : rootfs.root;
}

/** The ROOT_PATH_CANDIDATES that are directories inside the root (following in-root symlinks). */
export function rootBinDirs(rootfs: RootFs): string[] {
  return ROOT_PATH_CANDIDATES.filter((dir) => rootfs.isDirectory(dir));
}

/** execvp's search path when PATH is unset (glibc's _CS_PATH). */
const EXECVP_DEFAULT_PATH = '/bin:/usr/bin';

/**
 * Finds the command inside the root as execvp would after chroot and
 * chdir("/"): a name containing `/` is used as is (relative to `/`), any other
 * name is searched in `pathValue`. Returns the in-root canonical path, or
 * throws a 127 (not found) or 126 (not executable) failure.
 */
export function locateCommand(rootfs: RootFs, command: string, pathValue: string | undefined): string {
  const label = rootHostPath(rootfs);
  if (command.includes('/')) {
    const walk = rootfs.walk(command, '/');
    if (!walk.ok) throw launchFailure(LAUNCH_EXIT.NOT_FOUND, 'LAUNCH_FAILED', `${command}: not found in ${label}${walk.errno === 'ENOENT' ? '' : `: ${errnoWords(walk.errno)}`}`, command);
    checkExecutable(rootfs, command, walk.realPath, walk.kind);
    return walk.realPath;
  }
  let denied: string | null = null;
  for (const dir of (pathValue ?? EXECVP_DEFAULT_PATH).split(':')) {
    // An empty PATH element means the current directory, which is `/` here.
    const walk = rootfs.walk(`${dir === '' ? '/' : dir}/${command}`, '/');
    if (!walk.ok) continue;
    try {
      checkExecutable(rootfs, command, walk.realPath, walk.kind);
      return walk.realPath;
    } catch (err) {
      // Like execvp: remember a non-executable match but keep searching.
      denied ??= err instanceof Error ? err.message : String(err);
    }
  }
  if (denied !== null) throw launchFailure(LAUNCH_EXIT.CANNOT_EXECUTE, 'LAUNCH_FAILED', denied, command);
  throw launchFailure(LAUNCH_EXIT.NOT_FOUND, 'LAUNCH_FAILED', `${command}: not found in ${label} (PATH=${pathValue ?? `unset, so ${EXECVP_DEFAULT_PATH}`})`, command);
}

function checkExecutable(rootfs: RootFs, command: string, realPath: string, kind: string): void {
  const label = rootHostPath(rootfs);
  const fail = (why: string) => launchFailure(LAUNCH_EXIT.CANNOT_EXECUTE, 'LAUNCH_FAILED', `${command}: ${why} in ${label}`, command);
  if (kind === 'dir') throw fail('is a directory');
  const id = rootfs.identity(realPath);
  if (kind !== 'file' || id === null) throw fail('is not a regular file');
  if ((id.mode & 0o111) === 0) throw fail(`is not executable (mode ${(id.mode & 0o7777).toString(8).padStart(4, '0')})`);
}

/**
 * Checks that the interpreter the kernel will load for the command exists
 * inside the root: PT_INTERP for a dynamically linked ELF file, the `#!` path
 * for a script. Throws a 127 failure naming it when it is missing. Files that
 * are neither (or that cannot be read) are left for execve to judge.
 */
export function checkInterpreter(rootfs: RootFs, command: string, realPath: string): void {
  const host = rootfs.hostPath(realPath);
  const head = readHead(host, SHEBANG_BYTES);
  let interpreter: string | null = null;
  let what = '';
  const cannot = (why: string) => launchFailure(LAUNCH_EXIT.CANNOT_EXECUTE, 'LAUNCH_FAILED', `${command}: cannot execute in ${rootHostPath(rootfs)}: ${why}`, command);
  if (head.length >= 4 && head[0] === 0x7f && head.subarray(1, 4).toString('latin1') === 'ELF') {
    try {
      interpreter = readElf(host).interpreter;
      what = 'ELF interpreter';
    } catch (err) {
      // Malformed: execve would fail with ENOEXEC, and execvp would hand the file to /bin/sh.
      throw cannot(err instanceof ElfFormatError || err instanceof ElfIoError ? err.message.slice(host.length + 2) : String(err));
    }
  } else if (head.length >= 2 && head[0] === 0x23 && head[1] === 0x21) {
    interpreter = shebangInterpreter(head);
    what = 'script interpreter';
  } else {
    // execve says ENOEXEC, and execvp would then run the file with /bin/sh (usually absent: "No such file").
    throw cannot('neither an ELF file nor a #! script (Exec format error)');
  }
  if (interpreter === null || interpreter === '') return;
  // The kernel opens the interpreter relative to the caller's cwd, here `/`.
  const walk = rootfs.walk(interpreter, '/');
  if (walk.ok && walk.kind === 'file') return;
  throw launchFailure(LAUNCH_EXIT.NOT_FOUND, 'LAUNCH_FAILED', `${command}: its ${what} ${interpreter} is missing in ${rootHostPath(rootfs)}`, command);
}

/** glibc's _nl_normalize_codeset: "UTF-8" -> "utf8", "8859-1" -> "iso88591". */
function normalizeCodeset(codeset: string): string {
  const kept = codeset.toLowerCase().replace(/[^a-z0-9]/g, '');
  return /^[0-9]+$/.test(kept) ? `iso${kept}` : kept;
}

/**
 * Whether a locale (LANG or LC_* value) exists inside the root, where glibc's
 * setlocale looks for it: C and POSIX are built in; others are a directory
 * /usr/lib/locale/NAME (the codeset as written, or normalised) or an entry of
 * /usr/lib/locale/locale-archive (not read: its presence is taken as yes).
 */
export function rootHasLocale(rootfs: RootFs, value: string): boolean {
  if (value === 'C' || value === 'POSIX') return true;
  if (value === '' || value.includes('/')) return false;
  if (rootfs.walk('/usr/lib/locale/locale-archive', '/').ok) return true;
  const m = /^([^.@]*)(?:\.([^@]*))?(@.*)?$/.exec(value);
  const names = [value];
  if (m && m[2] !== undefined) names.push(`${m[1]}.${normalizeCodeset(m[2])}${m[3] ?? ''}`);
  return names.some((name) => rootfs.isDirectory(`/usr/lib/locale/${name}`));
}

/** The interpreter path of a `#!` line: the first word after `#!`, as binfmt_script takes it. */
export function shebangInterpreter(head: Buffer): string | null {
  const end = head.indexOf(0x0a);
  const line = head.subarray(2, end < 0 ? head.length : end).toString('latin1');
  const word = line.replace(/^[ \t]+/, '').split(/[ \t\0]/)[0] ?? '';
  return word === '' ? null : word;
}

function readHead(path: string, bytes: number): Buffer {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buf = Buffer.alloc(bytes);
    return buf.subarray(0, readSync(fd, buf, 0, bytes, 0));
  } catch {
    return Buffer.alloc(0);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Makes sure NEWROOT/<name> (dev or proc) is a real directory to mount on:
 * creates it, empty, when missing (that is the only thing the launcher ever
 * writes into a root); refuses a symlink, since the mount happens before
 * chroot and would follow it on the host.
 */
export function ensureMountPoint(root: string, name: 'dev' | 'proc'): void {
  const path = join(root, name);
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw launchFailure(LAUNCH_EXIT.FAILED, 'ROOT', `${path}: cannot inspect the mount point: ${errnoWords(err)}`, path);
    try {
      mkdirSync(path, { mode: name === 'proc' ? 0o555 : 0o755 });
    } catch (mkErr) {
      throw launchFailure(LAUNCH_EXIT.FAILED, 'ROOT', `${path}: cannot create the mount point: ${errnoWords(mkErr)}`, path);
    }
    return;
  }
  if (st.isSymbolicLink()) throw launchFailure(LAUNCH_EXIT.FAILED, 'ROOT', `${path}: is a symlink; refusing to mount over what it points to`, path);
  if (!st.isDirectory()) throw launchFailure(LAUNCH_EXIT.FAILED, 'ROOT', `${path}: is not a directory, cannot mount on it`, path);
}
