/**
 * Files written from memory instead of copied: a root never receives the
 * host's /etc/shadow or its whole /etc/passwd and /etc/group. The user
 * database a root gets holds the root's own entries for uid/gid 0 and 65534
 * (nobody/nogroup on Debian) and the users asked for with --user, in the
 * order the root's files list them; group member lists keep only those users.
 */
import { ElfdepsError } from '../errors.js';
import type { RootFs } from '../resolve/rootfs.js';

const MAX_DB_BYTES = 8 << 20;
const ALWAYS = ['0', '65534'];

/** Debian's entries for uid 0 and 65534, when the root has no user database of its own. */
const FALLBACK_PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin'];
const FALLBACK_GROUP = ['root:x:0:', 'nogroup:x:65534:'];

function lines(fs: RootFs, path: string): string[] | null {
  const buf = fs.readFile(path, MAX_DB_BYTES);
  if (buf === null) return null;
  return buf
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('+') && !l.startsWith('-'));
}

export interface UserDatabase {
  passwd: string;
  group: string;
  /** --user values that matched nothing (a numeric id is kept out; a name is an error). */
  notFound: string[];
}

export function userDatabase(fs: RootFs, users: string[] = []): UserDatabase {
  // Debian's base-passwd keeps the master copies when /etc has none (an unpacked, not installed, root).
  const passwdSource = ['/etc/passwd', '/usr/share/base-passwd/passwd.master'].map((path) => ({ path, lines: lines(fs, path) })).find((x) => x.lines !== null);
  const passwd = passwdSource?.lines ?? FALLBACK_PASSWD;
  const group = lines(fs, '/etc/group') ?? lines(fs, '/usr/share/base-passwd/group.master') ?? FALLBACK_GROUP;
  const wanted = new Set([...ALWAYS, ...users]);
  const keptUsers: string[][] = [];
  const notFound: string[] = [];
  for (const u of users) {
    const hit = passwd.some((l) => {
      const f = l.split(':');
      return f[0] === u || f[2] === u;
    });
    if (!hit) {
      if (!/^[0-9]+$/.test(u)) {
        // The generated /etc/passwd takes its users from the root's own file: name that one, with the root it is in.
        const from = passwdSource ? `${passwdSource.path}${fs.root ? ` of the root ${fs.root}` : ''}` : `the root ${fs.root || '/'}, which has no /etc/passwd (only root and nobody are known)`;
        throw new ElfdepsError('USAGE', `--user ${u}: no such user in ${from}; the generated /etc/passwd can only hold users that file has`);
      }
      notFound.push(u);
    }
  }
  for (const l of passwd) {
    const f = l.split(':');
    if (f.length < 7) continue;
    if (wanted.has(f[0] as string) || wanted.has(f[2] as string)) keptUsers.push(f);
  }
  const names = new Set(keptUsers.map((f) => f[0] as string));
  const gids = new Set([...ALWAYS, ...keptUsers.map((f) => f[3] as string)]);
  const keptGroups: string[] = [];
  for (const l of group) {
    const f = l.split(':');
    if (f.length < 4 || !gids.has(f[2] as string)) continue;
    const members = (f[3] as string).split(',').filter((m) => names.has(m));
    keptGroups.push([f[0], f[1], f[2], members.join(',')].join(':'));
  }
  return { passwd: keptUsers.map((f) => f.join(':') + '\n').join(''), group: keptGroups.map((l) => l + '\n').join(''), notFound };
}
