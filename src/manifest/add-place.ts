/**
 * `--add SRC=DEST`: a host file or directory placed at an in-root path, as a
 * Dockerfile's COPY places it. The root is looked at through it from the
 * start (RootFs.mount, a bind mount), so programs, rules and the resolver
 * all see the file where the new root will have it: an ELF file among them
 * finds its libraries from DEST ($ORIGIN is DEST's directory).
 *
 * A directory placed on a directory the root has is merged into it, entry by
 * entry (each name the root lacks, or a file over a file, is placed on its
 * own); the root's other contents stay and are not added. Refused with one
 * line (USAGE, exit 2): a DEST that is not absolute and canonical (relative,
 * `.`, `..`, `//`, a trailing `/`, the root itself), a DEST whose directories
 * pass through a symlink or a file of the root (the manifest would have to
 * write through it), a DEST that is a symlink, or an entry of another kind
 * than what is placed over it (a file over a directory and the reverse), and
 * the same DEST twice.
 */
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { ElfdepsError, errnoWords } from '../errors.js';
import type { RootFs } from '../resolve/rootfs.js';
import { ancestorsOf, PATH_LIMITS, pathProblem } from './entry-path.js';

/** One --add argument: a plain in-root path, or a host path and where it goes. */
export type AddSpec = { path: string } | { src: string; dest: string };

/**
 * Splits an --add argument at its first `=` not preceded by a backslash
 * (`\=` stands for a literal `=`, in either part): `./app=/app` is SRC=DEST,
 * `a\=b` the plain path `a=b`. Only `\=` is an escape: other backslashes stay.
 */
export function parseAdd(arg: string): AddSpec {
  let cut = -1;
  for (let i = 0; i < arg.length; i++) {
    if (arg[i] === '\\' && arg[i + 1] === '=') i++;
    else if (arg[i] === '=') {
      cut = i;
      break;
    }
  }
  const unescape = (s: string) => s.replace(/\\=/g, '=');
  if (cut < 0) return { path: unescape(arg) };
  const src = unescape(arg.slice(0, cut));
  const dest = unescape(arg.slice(cut + 1));
  const bad = (why: string) => new ElfdepsError('USAGE', `--add ${arg}: ${why} (write \\= for an = in a path)`);
  if (src === '') throw bad('SRC is empty');
  const problem = pathProblem(dest);
  if (problem) throw bad(`DEST ${JSON.stringify(dest)} ${problem}; it must be an absolute, canonical path in the new root`);
  if (dest === '/') throw bad('DEST is the root itself; give a path inside it');
  return { src, dest };
}

/** Where an added host path lands: the host path and the in-root path placed, one per mount point. */
export interface Placement {
  src: string;
  dest: string;
}

type HostKind = 'file' | 'dir' | 'link' | 'other';

function hostKind(path: string): HostKind {
  const st = lstatSync(path);
  return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
}

const KIND_WORDS: Record<string, string> = { file: 'a file', dir: 'a directory', link: 'a symlink', other: 'a device node, FIFO or socket' };

/**
 * Mounts `spec` (SRC resolved from `cwd` on the host) in `fs` and returns the
 * mount points, for the collector to add. Throws USAGE for what the module
 * comment lists, and when SRC cannot be read.
 */
export function placeAdd(fs: RootFs, spec: { src: string; dest: string }, cwd: string, arg: string): Placement[] {
  const bad = (why: string) => new ElfdepsError('USAGE', `--add ${arg}: ${why}`);
  let src: string;
  try {
    src = realpathSync(posix.resolve(cwd, spec.src)); // SRC itself may be a symlink: what it names is copied
  } catch (err) {
    throw bad(`cannot read SRC ${spec.src}: ${errnoWords(err)}`);
  }
  const top = hostKind(src);
  if (top !== 'file' && top !== 'dir') throw bad(`SRC ${spec.src} is ${KIND_WORDS[top]}; only a file or a directory can be added`);

  // DEST's directories: real directories of the root, or absent (then new 0755 directories).
  const implied: string[] = [];
  for (const dir of ancestorsOf(spec.dest)) {
    if (dir === '/') continue;
    if (implied.length > 0) {
      implied.push(dir);
      continue;
    }
    const kind = fs.kindAt(dir);
    if (kind === 'missing') implied.push(dir);
    else if (kind === 'link') throw bad(`DEST passes through ${dir}, a symlink in the root (-> ${fs.walk(dir).realPath}); give the path it leads to`);
    else if (kind !== 'dir') throw bad(`DEST passes through ${dir}, ${KIND_WORDS[kind]} in the root`);
  }

  const out: Placement[] = [];
  const place = (from: string, at: string, kind: HostKind, depth: number): void => {
    if (depth > PATH_LIMITS.maxDepth) throw bad(`${from}: directories nested deeper than ${PATH_LIMITS.maxDepth} levels`);
    const there = implied.length > 0 ? 'missing' : fs.kindAt(at);
    if (there === 'missing') {
      out.push({ src: from, dest: at });
      return;
    }
    if (there === 'link') throw bad(`${at} is a symlink in the root; refusing to place ${from} over it`);
    if (there !== kind || (kind !== 'file' && kind !== 'dir')) throw bad(`${at} is ${KIND_WORDS[there]} in the root; refusing to place ${KIND_WORDS[kind]} (${from}) over it`);
    if (kind === 'file') {
      out.push({ src: from, dest: at });
      return;
    }
    let names: string[];
    try {
      names = readdirSync(from).sort();
    } catch (err) {
      throw bad(`cannot list ${from}: ${errnoWords(err)}`);
    }
    for (const name of names) place(`${from}/${name}`, `${at}/${name}`, hostKind(`${from}/${name}`), depth + 1);
  };
  place(src, spec.dest, top, 0);
  for (const p of out) fs.mount(p.dest, p.src, implied);
  return out;
}
