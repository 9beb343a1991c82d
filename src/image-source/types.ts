/**
 * The shapes a source image is read into (issue 17). `src/image-source/`
 * produces them; the image writer (src/image/) and the CLI's `--from` consume
 * them. An unpacked image is a staging directory that holds the merged file
 * system's directories, regular files, symlinks and hard links, plus what a
 * host file system cannot or must not hold, as data: owners, exact modes,
 * mtimes, device nodes and FIFOs.
 */

export interface SourcePlatform { os: string; architecture: string; variant?: string }

/** What the source image says about one in-image path (canonical, absolute: "/usr/bin/ls"). */
export interface FileAttributes {
  uid: number;
  gid: number;
  /** Permission bits incl. setuid/setgid/sticky, no file type. */
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  uname?: string;
  gname?: string;
}

export interface AttributeTable { get(path: string): FileAttributes | undefined }

/** The config JSON of the source image as read (OCI image-spec config.md), after shape validation. */
export interface SourceConfig {
  architecture: string;
  os: string;
  variant?: string;
  config?: {
    User?: string;
    ExposedPorts?: Record<string, object>;
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Volumes?: Record<string, object>;
    WorkingDir?: string;
    Labels?: Record<string, string>;
    StopSignal?: string;
  };
  history?: Array<{ created?: string; created_by?: string; comment?: string; empty_layer?: boolean; author?: string }>;
  rootfs: { type: 'layers'; diff_ids: string[] };
}

export interface BaseImage {
  /** digest of the chosen image manifest ("sha256:..."): org.opencontainers.image.base.digest. */
  manifestDigest: string;
  /** A name for it when the image says one (org.opencontainers.image.ref.name, RepoTags[0]): org.opencontainers.image.base.name. */
  name?: string;
  platform: SourcePlatform;
  config: SourceConfig;
}

export type SourceFormat = 'oci-layout' | 'oci-archive' | 'docker-archive';

/** An image opened for reading: its platforms are known, no layer has been read yet. */
export interface SourceImage {
  path: string;
  format: SourceFormat;
  platforms: SourcePlatform[];
  /** Closes the archive's file descriptor (nothing for a layout directory). */
  close(): void;
}

export type SpecialType = 'char' | 'block' | 'fifo';

/** A device node or FIFO of the merged file system: never created, kept as data. */
export interface SpecialFile {
  path: string;
  type: SpecialType;
  attributes: FileAttributes;
  /** Device numbers, for char and block devices. */
  devmajor?: number;
  devminor?: number;
}

export interface UnpackedImage {
  /** The staging root: the merged file system, read as a `--root DIR` is. */
  dir: string;
  attributes: AttributeTable;
  base: BaseImage;
  specials: SpecialFile[];
  /** Removes the staging directory (idempotent). */
  dispose(): void;
}

export interface UnpackOptions {
  /** Where the staging directory is made (default: os.tmpdir()). */
  tmpDir?: string;
  /** Limit on the uncompressed bytes of all layers together (default DEFAULT_MAX_BYTES). */
  maxBytes?: bigint;
  signal?: AbortSignal;
}
