/** The copier's options and results. */
import type { EntryKind, ManifestEntry } from '../manifest/types.js';

export interface MaterialiseOptions {
  /** Replace existing files and symlinks that differ from the manifest (never a directory, never through a symlink). */
  force?: boolean;
  /** Hard-link files from their sources instead of copying: the new root then shares the host's files (writes inside it change the host). */
  link?: boolean;
  /** Inspect NEWROOT and return the plan; write nothing. */
  dryRun?: boolean;
  /** Keep setuid/setgid bits (dropped by default). */
  keepSetuid?: boolean;
  /**
   * Write into a NEWROOT that exists, is not empty and holds top-level names
   * this manifest does not place (refused otherwise: docs/manifest.md).
   */
  intoExisting?: boolean;
  /** Called after each entry is handled. */
  onProgress?: (progress: MaterialiseProgress) => void;
}

export interface MaterialiseProgress {
  done: number;
  total: number;
  bytesDone: number;
  bytesTotal: number;
  path: string;
}

/** 'conflict' only in a dry run: what a real run would stop at (the detail says why). */
export type Operation = 'create' | 'replace' | 'unchanged' | 'conflict';

export interface PlannedAction {
  op: Operation;
  kind: EntryKind;
  /** In-root path. */
  path: string;
  /** What is in the way (for 'replace'), or how a file is written. */
  detail?: string;
  /** A directory no entry names but some entry needs (created 0755). */
  implicit?: boolean;
  /** Files: 'copy' (reflink where the filesystem can) or 'link' (hard link to the source). */
  method?: 'copy' | 'link';
  /** Mode written (after dropping setuid/setgid unless kept). */
  mode?: string;
  entry: ManifestEntry;
}

export interface MaterialiseReport {
  /** Host path of NEWROOT (realpath when it exists). */
  root: string;
  dryRun: boolean;
  created: number;
  replaced: number;
  unchanged: number;
  /** Entries a real run would refuse (dry run only; a real run stops at the first). */
  conflicts: number;
  /** Bytes of file content written (or to be written, in a dry run). */
  bytes: number;
  /** Leftover temporaries of an interrupted run removed (or to be removed). */
  staleTempsRemoved: number;
  /** Every entry, in the order handled: directories, files, symlinks. */
  actions: PlannedAction[];
  warnings: string[];
}
