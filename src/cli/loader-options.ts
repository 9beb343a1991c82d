/**
 * The options that describe the loader's environment, shared by every command
 * that resolves (`elfdeps`, `elfdeps manifest`, `elfdeps copy FILE...`), and
 * their translation into ResolveOptions.
 */
import { ElfdepsError } from '../errors.js';
import type { ResolveOptions } from '../resolve/index.js';
import { escapeControls, type CliIo } from './io.js';
import type { TraceSink } from '../resolve/explain.js';
import type { ImageRoot } from './from-image.js';

/** node:util parseArgs specs. */
export const LOADER_OPTIONS = {
  root: { type: 'string' },
  from: { type: 'string' },
  'image-platform': { type: 'string' },
  'library-path': { type: 'string' },
  preload: { type: 'string' },
  'no-preload-file': { type: 'boolean' },
  'no-cache': { type: 'boolean' },
  'ldd-origin': { type: 'boolean' },
  platform: { type: 'string' },
  hwcaps: { type: 'string' },
  'legacy-hwcaps': { type: 'string' },
  'default-path': { type: 'string' },
  'glibc-version': { type: 'string' },
  explain: { type: 'boolean' },
} as const;

export interface LoaderOptionValues {
  root?: string;
  from?: string;
  'image-platform'?: string;
  /** Set by withImageRoots() (from-image.ts), not by an argument: the image --from unpacked, whose staging directory is `root`. */
  imageRoot?: ImageRoot | null;
  'library-path'?: string;
  preload?: string;
  'no-preload-file'?: boolean;
  'no-cache'?: boolean;
  'ldd-origin'?: boolean;
  platform?: string;
  hwcaps?: string;
  'legacy-hwcaps'?: string;
  'default-path'?: string;
  'glibc-version'?: string;
  explain?: boolean;
}

export const LOADER_OPTIONS_HELP = `  --root DIR             resolve inside DIR as if it were / (FILEs are paths inside it)
  --from IMAGE           resolve inside a container image (OCI layout directory,
                         oci-archive or docker-archive tar), as its runtime sees it
  --image-platform P     with --from: OS/ARCH[/VARIANT] of a multi-platform image
                         (default: this machine's, else the only one)
  --library-path PATH    LD_LIBRARY_PATH to apply (default: the environment's, only without --root)
  --preload LIST         LD_PRELOAD to apply (default: the environment's, only without --root)
  --no-preload-file      ignore /etc/ld.so.preload
  --no-cache             ignore /etc/ld.so.cache; use ld.so.conf's directories instead
  --ldd-origin           $ORIGIN of FILE is its path as given, as glibc's ldd computes it
                         (default: its real directory, as the kernel starts it)
  --platform NAME        $PLATFORM (default: from the machine and this CPU)
  --hwcaps LIST          glibc-hwcaps subdirectories to search, best first, comma-separated
  --legacy-hwcaps LIST   glibc <= 2.36: the CPU's AT_HWCAP names for legacy subdirectories,
                         highest bit first, comma-separated (e.g. altivec,dfp on POWER)
  --default-path DIRS    the loader's default directories, colon-separated
  --glibc-version X.Y    the loader's version (default: read from the interpreter)
  --explain              print on stderr the loader's lookup trace, as LD_DEBUG=libs does
                         (docs/explain.md)
`;

function splitList(s: string, sep: RegExp): string[] {
  return s.split(sep).filter((x) => x !== '');
}

/**
 * ResolveOptions from the command line. Like ldd, the caller's LD_LIBRARY_PATH
 * and LD_PRELOAD apply, but not to a foreign root. Throws USAGE for bad values.
 */
export function loaderOptionsFrom(v: LoaderOptionValues, io: CliIo): ResolveOptions {
  let glibcVersion: [number, number] | undefined;
  if (v['glibc-version'] !== undefined) {
    const m = /^(\d+)\.(\d+)$/.exec(v['glibc-version']);
    if (!m) throw new ElfdepsError('USAGE', `--glibc-version wants X.Y, got '${v['glibc-version']}'`);
    glibcVersion = [Number(m[1]), Number(m[2])];
  }
  // An empty --root= would silently mean the current directory.
  if (v.root === '') throw new ElfdepsError('USAGE', '--root wants a directory, got an empty string');
  const hostEnv = v.root === undefined && !v.imageRoot;
  return {
    ...(v.explain ? { trace: explainSink(io) } : {}),
    root: v.imageRoot?.dir ?? v.root ?? '/',
    ...(v.imageRoot ? { rootAttributes: v.imageRoot.attributes } : {}),
    cwd: hostEnv ? io.cwd : '/',
    libraryPath: v['library-path'] ?? (hostEnv ? io.env.LD_LIBRARY_PATH ?? null : null),
    preload: v.preload ?? (hostEnv ? io.env.LD_PRELOAD ?? null : null),
    preloadFile: !v['no-preload-file'],
    useCache: !v['no-cache'],
    originMode: v['ldd-origin'] ? 'ldd' : 'exec',
    profile: {
      ...(v.platform !== undefined ? { platform: v.platform } : {}),
      ...(v.hwcaps !== undefined ? { hwcaps: splitList(v.hwcaps, /,/) } : {}),
      ...(v['legacy-hwcaps'] !== undefined ? { legacyHwcaps: splitList(v['legacy-hwcaps'], /,/) } : {}),
      ...(v['default-path'] !== undefined ? { systemDirs: splitList(v['default-path'], /:/).map((d) => `${d.replace(/\/+$/, '')}/`) } : {}),
      ...(glibcVersion ? { glibcVersion } : {}),
    },
  };
}

/** --explain: each trace line on stderr behind this process's id, as glibc's _dl_debug_printf prefixes them. */
function explainSink(io: Pick<CliIo, 'stderr'>): TraceSink {
  const prefix = `${String(process.pid).padStart(10)}:\t`;
  // Names come from the files: no control character reaches the terminal (tabs are glibc's own).
  return (line) => {
    io.stderr.write(`${prefix}${escapeControls(line)}\n`);
  };
}
