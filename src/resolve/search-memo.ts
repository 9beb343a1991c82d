/**
 * glibc search outcomes shared by every program of one Resolver that has the
 * same loader setup.
 *
 * The search for a DT_NEEDED name that is not loaded yet (_dl_map_object in
 * elf/dl-load.c) depends on nothing but: the name; the DT_RPATH directories
 * of the requester and of each of its first loaders (unless the requester has
 * DT_RUNPATH); LD_LIBRARY_PATH's directories; the requester's DT_RUNPATH
 * directories; its DF_1_NODEFLIB; and what a Resolver holds fixed for one
 * setup (loader profile, ld.so.cache and its target, the program's ELF
 * identity, the working directory, and the files: RootFs and ElfCache are
 * snapshots). The key holds every directory list after $ORIGIN, $LIB and
 * $PLATFORM are expanded, so two requesters share an outcome only when the
 * loader would search exactly the same candidates in the same order.
 *
 * What depends on the program stays with the program's walk: whether the name
 * is already loaded is decided before the search, and an RPATH hit is kept as
 * its position in the chain of first loaders (0 = the requester), which each
 * program maps back to one of its own objects.
 */
import type { CandidateOutcome } from './candidate.js';
import type { FoundBy } from './types.js';

export type MemoOutcome =
  | { kind: 'found'; pathString: string; outcome: Extract<CandidateOutcome, { kind: 'ok' }>; how: FoundBy; viaDepth: number | null }
  | { kind: 'fatal'; message: string }
  | { kind: 'none' };

export interface SearchMemoEntry {
  outcome: MemoOutcome;
  /** The candidate paths the search reports as tried, in order. */
  tried: string[];
  /** Whether a file of the other ELF class was skipped on the way (dl-load.c found_other_class). */
  otherClass: boolean;
}

/**
 * Outcomes by search key (see searchKey in resolver.ts), then by name: each
 * object of a walk finds its key's map once, and each of its DT_NEEDED names
 * is then one lookup of a string the reader already made, not a key built
 * and hashed per request.
 */
export type SearchMemo = Map<string, Map<string, SearchMemoEntry>>;

/** Ends each part of a key: NUL cannot occur in an ELF string, an environment value or a search element. */
export const KEY_SEP = '\0';

/** A directory list as a key part: its length, then each element NUL-terminated (so [] and [''] differ). */
export function listKey(dirs: readonly string[]): string {
  let key = `${dirs.length}${KEY_SEP}`;
  for (const d of dirs) key += d + KEY_SEP;
  return key;
}
