/** The manifest module: build, check, read and write manifests. */
export { createManifest, type CreateManifestOptions } from './create.js';
export { validateManifest, parseManifest, readManifestFile, serializeManifest, MAX_MANIFEST_BYTES } from './validate.js';
export { manifestSchema, manifestSchemaUrl } from './schema.js';
export { MANIFEST_VERSION } from './types.js';
export { HOST_GPU_EXCLUDES } from './exclude-pattern.js';
export type { Manifest, ManifestEntry, DirectoryEntry, FileEntry, SymlinkEntry, GeneratedEntry, EntryWhy, RuleSummary, EntryKind, ManifestProgram, MissingItem, ExcludedItem, ManifestPackage, ManifestDistro } from './types.js';
