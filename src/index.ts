/**
 * elfdeps as a library. The CLI (src/cli) is a thin layer over these exports.
 * docs/api.md describes each of them, with an example that test/api-doc.test.ts
 * compiles and runs against the built package.
 */
export { ElfdepsError, ElfFormatError, ElfIoError, describeError } from './errors.js';
export type { ErrorCode, ElfErrorCode } from './errors.js';
export { readElf, readElfHeader, readElfDetails, readProgramHeaders, isDynamicallyLinked, LIMITS } from './elf/reader.js';
export type { ElfFile, ElfHeader, ElfKind, ProgramHeader, DynamicInfo, DynamicTables } from './elf/reader.js';
export { FileSource } from './elf/file-source.js';
export { ElfImage } from './elf/image.js';
export { readVersionNeeds, readVersionDefs, readVersionIndexes, elfHash } from './elf/versions.js';
export type { VersionNeed as ElfVersionNeed, VersionNeedAux, VersionDef } from './elf/versions.js';
export { SymbolTable, gnuHash } from './elf/symbols.js';
export type { ElfSymbol } from './elf/symbols.js';
export { readRelocations, machineRelocations } from './elf/relocations.js';
export type { RelocationRange, RelocationTables } from './elf/relocations.js';
export { Judge } from './verdict/index.js';
export type { JudgeOptions, Judgement, Verdict, VersionProblem, VersionNeed, HighestVersion, UndefinedSymbol } from './verdict/index.js';
export * as elfConstants from './elf/constants.js';
export { resolve, Resolver, parsePreloadFile } from './resolve/index.js';
// The long operations in one shape: a promise form and a Sync form each (src/api-forms.ts).
export { resolvePrograms, resolveProgramsSync, createManifestAsync, createManifestSync, materialiseAsync, materialiseSync, checkAsync, checkSync } from './api-forms.js';
export type { ResolveOptions } from './resolve/index.js';
export type { ResolveResult, ProgramResolution, LoadedObject, Dependency, Candidate, FoundBy, LinkMapEntry, LoaderFlavour } from './resolve/types.js';
export { EXPLAIN_OWN_LINE } from './resolve/explain.js';
export type { TraceSink } from './resolve/explain.js';
export { check, Checker, CHECK_CAUSES } from './check/index.js';
export type { CheckCause, CheckCounts, CheckFailure, CheckOptions, CheckProblem, CheckProgress, CheckReport } from './check/index.js';
export { RootFs } from './resolve/rootfs.js';
export type { PathWalk, SymlinkStep } from './resolve/rootfs.js';
export type { ProfileOverrides } from './resolve/profile.js';
export { formatLdd, formatTree } from './cli/format.js';
export { run, prepareLaunch } from './launch/run.js';
export type { RunOptions, RunResult } from './launch/run.js';
export { buildLaunchPlan, buildChildEnv, parseEnvAssignment, LAUNCH_EXIT } from './launch/plan.js';
export type { LaunchPlan, LaunchRequest, HostFacts, HostTools, LaunchExitStatus } from './launch/plan.js';
export { exitStatusOf } from './launch/failure.js';
export { launcherUnavailable } from './launch/host.js';
export {
  createManifest,
  validateManifest,
  parseManifest,
  readManifestFile,
  serializeManifest,
  manifestSchema,
  manifestSchemaUrl,
  MANIFEST_VERSION,
  MAX_MANIFEST_BYTES,
  HOST_GPU_EXCLUDES,
} from './manifest/index.js';
export type {
  CreateManifestOptions,
  Manifest,
  ManifestEntry,
  DirectoryEntry,
  FileEntry,
  SymlinkEntry,
  GeneratedEntry,
  EntryWhy,
  RuleSummary,
  EntryKind,
  ManifestProgram,
  MissingItem,
  ExcludedItem,
  ManifestPackage,
  ManifestDistro,
} from './manifest/index.js';
export { builtinRules, loadRules, readRulesFile, rulesSchema } from './rules/load.js';
export type { Rule, RuleItem, RuleOptions, RuleSet, RuleTrigger, DlopenLevel } from './rules/types.js';
export { readDlopenNotes, NT_FDO_DLOPEN_METADATA } from './elf/notes.js';
export type { DlopenNote, DlopenPriority } from './elf/notes.js';
export { materialise } from './materialise/index.js';
export type { MaterialiseOptions, MaterialiseProgress, MaterialiseReport, Operation, PlannedAction } from './materialise/index.js';
export { buildImage, buildImageIndex } from './image/index.js';
export type { ImageOptions, ImageOutput, ImageReport, ImageLayerReport, ImageProgress, Platform, Compression, RunOptions as ImageRunOptions } from './image/index.js';
export type { ImagePartOptions, ImageIndexOptions, ImageIndexReport, ImagePlatformReport, BaseImage, SourceConfig, SourcePlatform } from './image/index.js';
export { openSourceImage, choosePlatform, hostPlatform, unpackImage, DEFAULT_MAX_BYTES } from './image-source/index.js';
export type { SourceImage, SourceFormat, UnpackOptions, UnpackedImage, AttributeTable, FileAttributes, SpecialFile, SpecialType } from './image-source/index.js';
