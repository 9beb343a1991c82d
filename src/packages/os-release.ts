/**
 * The distribution a root says it is, from os-release(5): `/etc/os-release`,
 * else `/usr/lib/os-release`. Shell-like KEY=value lines, values optionally
 * quoted with " or ' (backslash escapes inside double quotes).
 */
import type { ManifestDistro } from '../manifest/types.js';
import type { RootFs } from '../resolve/rootfs.js';
import { readDbFile } from './read.js';

export const OS_RELEASE_PATHS = ['/etc/os-release', '/usr/lib/os-release'] as const;
const MAX_OS_RELEASE_BYTES = 64 * 1024;

export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2] as string;
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(["\\$`])/g, '$1');
    else if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1);
    // eslint-disable-next-line no-control-regex
    out.set(m[1] as string, v.replace(/[\x00-\x1f\x7f]/g, '').slice(0, 1024));
  }
  return out;
}

/** The root's distribution, or null when it has no readable os-release with an ID. */
export function readDistro(fs: RootFs): ManifestDistro | null {
  for (const path of OS_RELEASE_PATHS) {
    const got = readDbFile(fs, path, MAX_OS_RELEASE_BYTES);
    if (!('text' in got)) continue;
    const kv = parseOsRelease(got.text);
    const id = kv.get('ID');
    if (id === undefined || id === '') return null;
    const opt = (k: string): string | null => (kv.get(k) ?? '') || null;
    return { id, versionId: opt('VERSION_ID'), versionCodename: opt('VERSION_CODENAME'), prettyName: opt('PRETTY_NAME') };
  }
  return null;
}
