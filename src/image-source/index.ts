/**
 * Reading a container image as a root (issue 17): an OCI image layout
 * directory, an oci-archive or a docker-archive tar; every blob verified;
 * one platform chosen; its layers applied into a private staging directory
 * with the attributes the host must not or cannot hold kept as data. See
 * docs/image-source.md.
 */
export { openSourceImage } from './open.js';
export { choosePlatform, hostPlatform } from './platform.js';
export { unpackImage, DEFAULT_MAX_BYTES } from './unpack.js';
export type {
  AttributeTable,
  BaseImage,
  FileAttributes,
  SourceConfig,
  SourceFormat,
  SourceImage,
  SourcePlatform,
  SpecialFile,
  SpecialType,
  UnpackedImage,
  UnpackOptions,
} from './types.js';
