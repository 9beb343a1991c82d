/**
 * Whether a command the base image's config names (Entrypoint[0], or Cmd[0]
 * without an Entrypoint) still starts in the new root: found as a runtime
 * finds it (runc and crun look a name without a slash up in the config's
 * PATH, a relative path from WorkingDir), a file entry with an execute bit,
 * and, for a `#!` script, its interpreter (and the program `#!/usr/bin/env
 * NAME` looks up) a file entry too, as the kernel's binfmt_script needs.
 * Nothing is run; the walk is RootView's, through the manifest's own symlinks.
 */
import { posix } from 'node:path';
import { envTarget, readHead, sniffHead } from '../manifest/script.js';
import { generatedBytes, type FileEntry, type GeneratedEntry } from '../manifest/types.js';
import { parseMode } from '../manifest/mode.js';
import type { RootView } from './root-view.js';

/** binfmt_script's buffer (BINPRM_BUF_SIZE). */
const HEAD_BYTES = 256;

function executable(file: FileEntry | GeneratedEntry): boolean {
  return (parseMode(file.mode) & 0o111) !== 0;
}

/** The file entry `name` names, looked up as a runtime does; null when none. */
export function findCommand(view: RootView, name: string, path: string | null, workdir: string | null): FileEntry | GeneratedEntry | null {
  const from = (p: string) => (p.startsWith('/') ? p : posix.join(workdir ?? '/', p));
  const at = (p: string) => {
    const walk = view.walk(from(p));
    return walk.kind === 'file' && walk.file !== undefined && executable(walk.file) ? walk.file : null;
  };
  if (name.includes('/')) return at(name);
  for (const dir of (path ?? '').split(':')) {
    const found = at(posix.join(dir === '' ? '.' : dir, name));
    if (found !== null) return found;
  }
  return null;
}

function head(file: FileEntry | GeneratedEntry): Buffer | null {
  return file.kind === 'generated' ? generatedBytes(file).subarray(0, HEAD_BYTES) : readHead(file.source, HEAD_BYTES);
}

/** Null when `argv0` starts in the new root; otherwise why not ("/usr/bin/python3 is not in the new root"). */
export function whyNotRunnable(view: RootView, argv0: string, path: string | null, workdir: string | null): string | null {
  const file = findCommand(view, argv0, path, workdir);
  if (file === null) return `${argv0} is not an executable file of the new root${argv0.includes('/') ? '' : ` (PATH ${path ?? 'unset'})`}`;
  const bytes = head(file);
  const sniffed = bytes === null ? null : sniffHead(bytes);
  if (sniffed === null || typeof sniffed === 'string') return null; // ELF (the manifest resolved what it needs), or left to the kernel
  if (findCommand(view, sniffed.interpreter, null, null) === null) return `${argv0} is a script whose interpreter ${sniffed.interpreter} is not in the new root`;
  const viaEnv = envTarget(sniffed);
  if (viaEnv !== null && findCommand(view, viaEnv, path, workdir) === null) return `${argv0} is a script run by env ${viaEnv}, which is not in the new root's PATH`;
  return null;
}
