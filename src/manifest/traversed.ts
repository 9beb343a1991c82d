/**
 * Which directories a path walk passed through. RootFs.walk reports the
 * symlinks it followed and where it ended; a new root also needs every
 * directory the kernel will look up on the way, including ones a later ".."
 * leaves again ("/opt/app/bin/../lib/libx.so" needs /opt/app/bin). This
 * replays the walk from its own record: a component is a symlink exactly when
 * it is the next link in `links`, since one RootFs answers the same way twice.
 */
import type { SymlinkStep } from '../resolve/rootfs.js';

/** In-root directories looked up as directories (not counting "/"), in walk order, deduplicated. */
export function traversedDirectories(path: string, cwd: string, links: readonly SymlinkStep[]): string[] {
  const pending = (path.startsWith('/') ? path : `${cwd}/${path}`).split('/').reverse();
  const meaningful = () => pending.some((p) => p !== '' && p !== '.');
  const current: string[] = [];
  const seen = new Set<string>();
  let next = 0;
  while (pending.length > 0) {
    const comp = pending.pop() as string;
    if (comp === '' || comp === '.') continue;
    if (comp === '..') {
      current.pop();
      continue;
    }
    const candidate = '/' + (current.length ? current.join('/') + '/' : '') + comp;
    const link = links[next];
    if (link && link.path === candidate) {
      next++;
      if (link.target.startsWith('/')) current.length = 0;
      const parts = link.target.split('/');
      for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i] as string);
      continue;
    }
    current.push(comp);
    if (meaningful()) seen.add('/' + current.join('/'));
  }
  return [...seen];
}
