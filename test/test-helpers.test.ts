/**
 * The tests' own oracles checked against the system: the node:fs walker the
 * manifest and copier tests take their expectations from (instead of RootFs)
 * agrees with realpath(3) on the host and re-roots absolute symlinks inside a
 * root; the launch probe agrees with what unshare/chroot do.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { launchUnavailable } from './helpers/launch-probe.js';
import { walkInRoot } from './helpers/walk-in-root.js';

describe('the tests\' own oracles', () => {
  it('walkInRoot on the host is realpath(3), with the symlinks met', () => {
    for (const p of ['/bin/sh', '/lib64/ld-linux-x86-64.so.2', '/usr/bin/env', '/etc/../bin/true']) {
      const w = walkInRoot('/', p);
      let real: string | null = null;
      try {
        real = realpathSync(p);
      } catch {
        // absent on this host: the walker must say so too
      }
      expect(w?.realPath ?? null, p).to.equal(real);
    }
    const sh = walkInRoot('/', '/bin/sh');
    if (sh && realpathSync('/bin/sh') !== '/bin/sh') expect(sh.links.length).to.be.above(0);
  });

  it('walkInRoot re-roots absolute targets and clamps .. at the root', () => {
    const root = realpathSync(mkdtempSync(join(tmpdir(), 'elfdeps-walk-')));
    try {
      mkdirSync(join(root, 'b/c'), { recursive: true });
      writeFileSync(join(root, 'b/c/file'), 'x');
      symlinkSync('/b', join(root, 'a')); // absolute: /b inside the root, not the host's
      symlinkSync('../../../../b/c', join(root, 'b/up')); // .. beyond the root stays at the root
      expect(walkInRoot(root, '/a/c/file')).to.deep.equal({ realPath: '/b/c/file', hostPath: `${root}/b/c/file`, links: [{ path: '/a', target: '/b' }] });
      expect(walkInRoot(root, '/b/up/file')?.realPath).to.equal('/b/c/file');
      expect(walkInRoot(root, '/a/nothing')).to.equal(null);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('launchUnavailable says null exactly when unshare/chroot can run a command here', () => {
    const asRoot = process.getuid?.() === 0;
    const direct = spawnSync(asRoot ? 'chroot' : 'unshare', asRoot ? ['/', 'true'] : ['--user', '--map-root-user', 'chroot', '/', 'true']);
    expect(launchUnavailable() === null).to.equal(direct.status === 0);
  });
});
