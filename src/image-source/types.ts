// src/image-source/types.ts
export interface SourcePlatform { os: string; architecture: string; variant?: string }
/** What the source image says about one in-image path (canonical, absolute: "/usr/bin/ls"). */
export interface FileAttributes { uid: number; gid: number; mode: number /* permission bits incl. setuid/setgid/sticky, no file type */; mtime: number /* seconds */; uname?: string; gname?: string }
export interface AttributeTable { get(path: string): FileAttributes | undefined }
/** The config JSON of the source image as read (OCI image-spec config.md), after shape validation. */
export interface SourceConfig {
  architecture: string; os: string; variant?: string;
  config?: { User?: string; ExposedPorts?: Record<string, object>; Env?: string[]; Entrypoint?: string[] | null; Cmd?: string[] | null;
             Volumes?: Record<string, object>; WorkingDir?: string; Labels?: Record<string, string>; StopSignal?: string };
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
