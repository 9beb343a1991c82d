/**
 * Whether a command can be run in a new root on this host, asked of the host
 * directly (never of src/launch, whose answer the launcher tests must not
 * borrow): chroot as root, else an unprivileged user namespace through
 * unshare; with `mounts`, also a mount and PID namespace (for --dev, --proc).
 * Returns why not, or null when it works.
 */
import { spawnSync } from 'node:child_process';

const cache = new Map<boolean, string | null>();

export function launchUnavailable(options: { mounts?: boolean } = {}): string | null {
  const mounts = options.mounts === true;
  const known = cache.get(mounts);
  if (known !== undefined) return known;
  const asRoot = process.getuid?.() === 0;
  const args = [...(asRoot ? [] : ['--user', '--map-root-user']), ...(mounts ? ['--mount', '--pid', '--fork'] : []), 'chroot', '/', 'true'];
  const r = spawnSync('unshare', args, { encoding: 'utf8', timeout: 30_000 });
  const why = r.error ? `unshare cannot run here (${r.error.message})` : r.status !== 0 ? `unshare ${args.join(' ')} failed: ${r.stderr.trim() || `status ${r.status}`}` : null;
  cache.set(mounts, why);
  return why;
}
