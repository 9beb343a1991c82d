/**
 * Errors are values with a stable `code`. Every failure that can reach a user
 * is an ElfdepsError (or a subclass); the CLI prints `elfdeps: <message>` and
 * never a stack trace. Messages name the file and what is wrong with it.
 */

import { getSystemErrorMap } from 'node:util';

export type ElfErrorCode =
  | 'ELF_IO' // open/read failed (errno in `errno`)
  | 'ELF_NOT_REGULAR' // directory, FIFO, device, socket
  | 'ELF_TOO_SHORT' // fewer bytes than an ELF header
  | 'ELF_BAD_MAGIC' // not \x7fELF
  | 'ELF_BAD_IDENT' // EI_CLASS / EI_DATA not a known value
  | 'ELF_BAD_HEADER' // e_phentsize, e_phoff and friends
  | 'ELF_BAD_SEGMENT' // a program header points outside the file
  | 'ELF_BAD_INTERP' // PT_INTERP malformed
  | 'ELF_BAD_DYNAMIC' // PT_DYNAMIC malformed
  | 'ELF_BAD_STRTAB' // DT_STRTAB missing or not mapped by a PT_LOAD
  | 'ELF_BAD_STRING' // string offset out of range, or unterminated
  | 'ELF_BAD_VERSION' // DT_VERNEED / DT_VERDEF / DT_VERSYM malformed
  | 'ELF_BAD_SYMTAB' // DT_SYMTAB malformed or not mapped
  | 'ELF_BAD_HASH' // DT_HASH / DT_GNU_HASH malformed
  | 'ELF_BAD_RELOC' // relocation tables malformed
  | 'ELF_BAD_NOTE' // PT_NOTE malformed (a note that overruns its segment, a dlopen note that is not the JSON it should be)
  | 'ELF_LIMIT'; // a count or size beyond what any real loader accepts

export type ErrorCode =
  | ElfErrorCode
  | 'USAGE'
  | 'ROOT' // a path escapes the chosen root, or the root is unusable
  | 'PATH_LOOP' // too many symlinks while resolving a path
  | 'CACHE_FORMAT' // /etc/ld.so.cache malformed
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNSAFE'
  | 'SOURCE_CHANGED'
  | 'TARGET_CONFLICT'
  | 'COPY_FAILED'
  | 'LAUNCH_FAILED'
  | 'PLATFORM' // an image's programs have no OCI platform name, or several
  | 'INTERRUPTED' // SIGINT, SIGTERM or SIGHUP arrived while writing; what was staged is removed (src/interrupt.ts)
  | 'PACKAGE_DB' // the root's package database cannot be read safely (too large, not a regular file)
  | 'IMAGE_SOURCE' // a source image (--from) is malformed, unverifiable or hostile: missing blob, digest mismatch, unknown media type, unsafe layer entry (src/image-source/)
  | 'IMAGE_PLATFORM' // a source image has no platform matching the request, or several and none was chosen
  | 'INTERNAL';

export class ElfdepsError extends Error {
  readonly code: ErrorCode;
  /** The file the error is about, when there is one. */
  readonly path: string | undefined;

  constructor(code: ErrorCode, message: string, options: { path?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ElfdepsError';
    this.code = code;
    this.path = options.path;
  }
}

/** The bytes of a file are not a well-formed ELF object (or not one we can read safely). */
export class ElfFormatError extends ElfdepsError {
  /** File offset of the offending record, when known. */
  readonly offset: bigint | undefined;

  constructor(code: ElfErrorCode, path: string, what: string, offset?: bigint) {
    // A message that already gives the offset does not repeat it.
    const at = offset === undefined || what.includes(`0x${offset.toString(16)}`) ? '' : ` (at offset 0x${offset.toString(16)})`;
    super(code, `${path}: ${what}${at}`, { path });
    this.name = 'ElfFormatError';
    this.offset = offset;
  }
}

/** Opening or reading a file failed at the operating-system level. */
export class ElfIoError extends ElfdepsError {
  /** The errno name (ENOENT, EACCES, ELOOP, ...), or undefined for short reads. */
  readonly errno: string | undefined;

  constructor(path: string, what: string, errno: string | undefined, cause?: unknown) {
    super('ELF_IO', `${path}: ${[what, errno === undefined ? '' : errnoWords(errno)].filter((s) => s !== '').join(': ')}`, { path, cause });
    this.name = 'ElfIoError';
    this.errno = errno;
  }
}

/** The errno name carried by a Node system error, if any. */
export function errnoOf(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

/** A one-line description of any thrown value, for the CLI. */
export function describeError(err: unknown): string {
  if (err instanceof ElfdepsError) return err.message;
  // node:util parseArgs: its own text suggests '-- "--x"' with an unbalanced quote.
  const unknown = errnoOf(err) === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && err instanceof Error ? /^Unknown option '([^']*)'/.exec(err.message) : null;
  if (unknown) return `unknown option '${unknown[1]}'`;
  // Its other messages: the first line, as words of a sentence ("Option '--root' argument is ambiguous.").
  if (err instanceof Error && /^ERR_PARSE_ARGS_/.test(errnoOf(err) ?? '')) {
    const line = err.message.split('\n')[0] ?? '';
    return `${line.charAt(0).toLowerCase()}${line.slice(1)}`.replace(/\.$/, '');
  }
  if (err instanceof Error) return err.message.split('\n')[0] ?? String(err);
  return String(err);
}

let systemErrors: Map<string, string> | undefined;

/**
 * The words for an errno, then its name: `No such file or directory (ENOENT)`.
 * One wording per cause everywhere a message carries an errno. Takes the name,
 * or a thrown value (its errno, else its first line).
 */
export function errnoWords(errnoOrError: unknown): string {
  const errno = typeof errnoOrError === 'string' ? errnoOrError : errnoOf(errnoOrError);
  if (errno === undefined) return errnoOrError === undefined ? 'error' : describeError(errnoOrError);
  if (systemErrors === undefined) {
    systemErrors = new Map();
    for (const [name, message] of getSystemErrorMap().values()) systemErrors.set(name, message);
  }
  const words = systemErrors.get(errno);
  return words === undefined ? errno : `${words.charAt(0).toUpperCase()}${words.slice(1)} (${errno})`;
}
