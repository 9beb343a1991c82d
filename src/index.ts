/**
 * elfdeps as a library. The CLI (src/cli) is a thin layer over these exports.
 */
export { ElfdepsError, ElfFormatError, ElfIoError, describeError } from './errors.js';
export type { ErrorCode, ElfErrorCode } from './errors.js';
export { readElf, readElfHeader, readElfDetails, readProgramHeaders, isDynamicallyLinked, LIMITS } from './elf/reader.js';
export type { ElfFile, ElfHeader, ElfKind, ProgramHeader, DynamicInfo } from './elf/reader.js';
export { FileSource } from './elf/file-source.js';
export * as elfConstants from './elf/constants.js';
