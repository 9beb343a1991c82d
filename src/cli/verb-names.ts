/**
 * The verbs of the elfdeps command, in the order its help lists them. A
 * first argument that is one of these is always the verb, never a FILE:
 * `elfdeps ./help` resolves a file named `help` (docs/cli.md).
 */
export const VERB_NAMES = ['manifest', 'copy', 'image', 'run', 'check', 'help', 'version', 'completion'] as const;

export type VerbName = (typeof VERB_NAMES)[number];

export function isVerb(word: string | undefined): word is VerbName {
  return (VERB_NAMES as readonly (string | undefined)[]).includes(word);
}
