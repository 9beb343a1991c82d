/** File modes as the manifest writes them: four octal digits of permission bits. */

/** setuid | setgid: dropped by the copier unless asked for. */
export const SETID_BITS = 0o6000;

/** "0755" for 0o755 (file-type bits are discarded). */
export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** 0o755 for "0755". */
export function parseMode(mode: string): number {
  return parseInt(mode, 8) & 0o7777;
}
