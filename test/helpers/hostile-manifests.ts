/**
 * Hostile manifests (reliability-anchors.md §2.3), as data: each must be
 * refused with its error code and message by every consumer of manifests,
 * `elfdeps copy` (test/materialise-hostile.test.ts) and `elfdeps image`
 * (test/image-hostile.test.ts) alike, before or while reading its sources,
 * without writing anything outside the target.
 *
 * A case builds its manifest in a sandbox made by the test: `payload` is a
 * readable source file, `outside` a directory the manifest must never reach.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { ElfdepsError, type ErrorCode } from '../../src/errors.js';
import type { ManifestEntry } from '../../src/manifest/types.js';

export const PAYLOAD = 'payload written by a hostile manifest\n';
export const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

export interface HostileSandbox {
  /** Holds src/ (with payload) and outside/. */
  base: string;
  outside: string;
  /** A regular file holding PAYLOAD. */
  payload: string;
}

export interface HostileCase {
  what: string;
  code: ErrorCode;
  message: RegExp;
  /** The copier refuses it only after creating directories (the source's contents are checked while copying). */
  refusedWhileWriting?: boolean;
  /** Builds the manifest (and changes the sandbox as the case needs). */
  manifest(s: HostileSandbox): unknown;
}

export function fileEntry(s: HostileSandbox, path: string, over: Partial<ManifestEntry> = {}): ManifestEntry {
  return { kind: 'file', path, source: s.payload, mode: '0644', size: Buffer.byteLength(PAYLOAD), sha256: sha(PAYLOAD), ...over } as ManifestEntry;
}

export function manifestOf(entries: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { elfdepsManifest: 1, root: '/', programs: [], added: [], entries, missing: [], warnings: [], ...extra };
}

const unsafePaths: Array<[string, string, RegExp]> = [
  ['a ".." component', '/usr/../../outside/victim', /"\.\." component/],
  ['a ".." that stays inside', '/usr/lib/../bin/x', /"\.\." component/],
  ['a "." component', '/usr/./x', /"\." component/],
  ['a leading "//" (absolute after stripping one root)', '//outside/victim', /empty component/],
  ['"////" (CVE-2021-32804)', '////outside/victim', /empty component/],
  ['a trailing slash', '/usr/bin/', /empty component/],
  ['a NUL byte', '/usr/bin/x\u0000y', /NUL/],
  ['a name longer than NAME_MAX', `/usr/${'n'.repeat(256)}`, /longer than 255/],
  ['more than 128 components', '/d'.repeat(129), /more than 128 components/],
  ["the copier's temporary-name prefix", '/usr/.elfdeps-tmp-1-x-y', /reserved name/],
];

const schemaFailures: Array<[string, unknown, RegExp]> = [
  ['not an object', [], /must be object/],
  ['a wrong version', { ...manifestOf([]), elfdepsManifest: 3 }, /elfdepsManifest must be equal to one of the allowed values/],
  ['an unknown top-level field', { ...manifestOf([]), hooks: ['rm -rf /'] }, /must NOT have additional properties \(hooks\)/],
  ['a device node entry', manifestOf([{ kind: 'device', path: '/dev/sda', major: 8, minor: 0 }]), /entries\/0\/kind must be equal to one of the allowed values/],
  ['a FIFO entry', manifestOf([{ kind: 'fifo', path: '/run/x' }]), /entries\/0\/kind must be equal to one of the allowed values/],
  ['a file without sha256', manifestOf([{ kind: 'file', path: '/x', source: '/bin/sh', mode: '0755', size: 1 }]), /must have required property 'sha256'/],
  ['an extra field on a file (hard link)', manifestOf([{ kind: 'file', path: '/x', source: '/bin/sh', mode: '0755', size: 1, sha256: sha(''), hardlink: '/etc/passwd' }]), /additional properties \(hardlink\)/],
  ['a mode that is not four octal digits', manifestOf([{ kind: 'directory', path: '/x', mode: '755' }]), /mode must match pattern/],
  ['a negative size', manifestOf([{ kind: 'file', path: '/x', source: '/bin/sh', mode: '0755', size: -1, sha256: sha('') }]), /size must be >= 0/],
  ['an mtime past 2038 (a ustar header holds 32 signed bits)', manifestOf([{ kind: 'file', path: '/x', source: '/bin/sh', mode: '0755', size: 1, sha256: sha(''), mtime: 2 ** 31 }], { elfdepsManifest: 2 }), /mtime must be <= 2147483647/],
  ['a fractional mtime', manifestOf([{ kind: 'file', path: '/x', source: '/bin/sh', mode: '0755', size: 1, sha256: sha(''), mtime: 1.5 }], { elfdepsManifest: 2 }), /mtime must be integer/],
  ['a uid of (uid_t)-1, which chown reads as "unchanged"', manifestOf([{ kind: 'directory', path: '/x', mode: '0755', uid: 2 ** 32 - 1 }], { elfdepsManifest: 2 }), /uid must be <= 4294967294/],
  ['a negative gid', manifestOf([{ kind: 'symlink', path: '/x', target: 'y', gid: -1 }], { elfdepsManifest: 2 }), /gid must be >= 0/],
];

export const HOSTILE_MANIFESTS: HostileCase[] = [
  ...unsafePaths.map(([what, path, message]): HostileCase => ({
    what: `unsafe path, ${what}: ${JSON.stringify(path.length > 60 ? path.slice(0, 60) + '...' : path)}`,
    code: 'MANIFEST_UNSAFE',
    message,
    manifest: (s) => manifestOf([{ kind: 'directory', path: '/usr', mode: '0755' }, fileEntry(s, path)]),
  })),
  { what: 'a symlink entry with a ".." path', code: 'MANIFEST_UNSAFE', message: /"\.\." component/, manifest: () => manifestOf([{ kind: 'symlink', path: '/a/../../outside/link', target: '/' }]) },
  { what: 'a path that is not anchored at the new root ("outside/victim")', code: 'MANIFEST_INVALID', message: /must match pattern/, manifest: (s) => manifestOf([fileEntry(s, 'outside/victim')]) },
  { what: 'a non-directory entry for "/" (the root itself)', code: 'MANIFEST_UNSAFE', message: /root itself/, manifest: () => manifestOf([{ kind: 'symlink', path: '/', target: '/etc' }]) },
  {
    what: 'a symlink to / followed by a file under it',
    code: 'MANIFEST_UNSAFE',
    message: /would be written through symlink \/evil \(-> \/\)/,
    manifest: (s) => manifestOf([{ kind: 'symlink', path: '/evil', target: '/' }, fileEntry(s, `/evil${s.outside}/victim`)]),
  },
  {
    what: 'the same, with the file listed before the symlink',
    code: 'MANIFEST_UNSAFE',
    message: /through symlink \/evil/,
    manifest: (s) => manifestOf([fileEntry(s, `/evil${s.outside}/victim`), { kind: 'symlink', path: '/evil', target: '/' }]),
  },
  {
    what: 'a symlink with an absolute target outside, then a file under it',
    code: 'MANIFEST_UNSAFE',
    message: /through symlink \/etc/,
    manifest: (s) => manifestOf([{ kind: 'symlink', path: '/etc', target: s.outside }, fileEntry(s, '/etc/victim')]),
  },
  {
    what: 'a relative "../../.." symlink, then a directory and a symlink under it',
    code: 'MANIFEST_UNSAFE',
    message: /through symlink \/up/,
    manifest: () =>
      manifestOf([
        { kind: 'symlink', path: '/up', target: '../../..' },
        { kind: 'directory', path: '/up/x', mode: '0755' },
        { kind: 'symlink', path: '/up/x/y', target: 'z' },
      ]),
  },
  { what: 'an owner in a version 1 manifest', code: 'MANIFEST_INVALID', message: /a version 1 manifest has no .*owners/, manifest: (s) => manifestOf([fileEntry(s, '/x', { uid: 33 } as Partial<ManifestEntry>)]) },
  { what: 'an mtime in a version 1 manifest', code: 'MANIFEST_INVALID', message: /a version 1 manifest has no .*mtimes/, manifest: (s) => manifestOf([fileEntry(s, '/x', { mtime: 5 } as Partial<ManifestEntry>)]) },
  {
    what: 'a source outside the root under an --add SRC=DEST reason that names another SRC',
    code: 'MANIFEST_UNSAFE',
    message: /is outside the manifest root/,
    manifest: (s) => manifestOf([fileEntry(s, '/x', { why: { by: 'add', path: `${s.outside}/app`, dest: '/x' } })], { elfdepsManifest: 2, root: s.outside }),
  },
  {
    what: 'duplicate file entries that disagree',
    code: 'MANIFEST_INVALID',
    message: /duplicate entries disagree/,
    manifest: (s) => manifestOf([fileEntry(s, '/etc/x'), fileEntry(s, '/etc/x', { mode: '0755' })]),
  },
  {
    what: 'a file and a symlink at the same path',
    code: 'MANIFEST_INVALID',
    message: /duplicate entries disagree \(file .* vs symlink -> \/etc\/passwd\)/,
    manifest: (s) => manifestOf([fileEntry(s, '/etc/x'), { kind: 'symlink', path: '/etc/x', target: '/etc/passwd' }]),
  },
  { what: 'two Unicode spellings of one name', code: 'MANIFEST_UNSAFE', message: /Unicode normalisation/, manifest: (s) => manifestOf([fileEntry(s, '/caf\u00e9'), fileEntry(s, '/cafe\u0301')]) },
  { what: 'an entry under a file entry', code: 'MANIFEST_INVALID', message: /inside \/etc, which is a file entry/, manifest: (s) => manifestOf([fileEntry(s, '/etc'), fileEntry(s, '/etc/x')]) },
  {
    what: 'a source whose sha256 no longer matches',
    code: 'SOURCE_CHANGED',
    message: /changed since the manifest was made/,
    refusedWhileWriting: true,
    manifest: (s) => manifestOf([fileEntry(s, '/etc/x', { sha256: sha('something else entirely!!!!!!!!!!!!!!!\n') })]),
  },
  { what: 'a source whose size changed', code: 'SOURCE_CHANGED', message: /changed size/, manifest: (s) => manifestOf([fileEntry(s, '/etc/x', { size: 3 })]) },
  {
    what: 'a source reached through a symlink (reads stay where the manifest says)',
    code: 'SOURCE_CHANGED',
    message: /through a symlink/,
    manifest: (s) => {
      symlinkSync(join(s.base, 'src'), join(s.base, 'srclink'));
      return manifestOf([fileEntry(s, '/etc/x', { source: join(s.base, 'srclink', 'payload') })]);
    },
  },
  { what: 'a source outside the manifest root', code: 'MANIFEST_UNSAFE', message: /outside the manifest root/, manifest: (s) => manifestOf([fileEntry(s, '/etc/x')], { root: join(s.base, 'image') }) },
  {
    what: 'a source replaced by a symlink (to identical contents outside) after the manifest was made',
    code: 'SOURCE_CHANGED',
    message: /source of \/etc\/x is no longer a regular file/,
    manifest: (s) => {
      writeFileSync(join(s.outside, 'same'), PAYLOAD);
      const m = manifestOf([fileEntry(s, '/etc/x')]);
      rmSync(s.payload);
      symlinkSync(join(s.outside, 'same'), s.payload);
      return m;
    },
  },
  {
    what: 'a source that is a FIFO (refused without blocking)',
    code: 'SOURCE_CHANGED',
    message: /no longer a regular file/,
    manifest: (s) => {
      const fifo = join(s.base, 'src', 'fifo');
      execFileSync('mkfifo', [fifo]);
      return manifestOf([fileEntry(s, '/etc/x', { source: fifo })]);
    },
  },
  ...schemaFailures.map(([what, manifest, message]): HostileCase => ({ what: `schema: ${what}`, code: 'MANIFEST_INVALID', message, manifest: () => manifest })),
];

/** Sources swapped after the consumer checked them and before it reads them (done from its progress hook). */
export const SOURCE_SWAPS: Array<{ what: string; swap(s: HostileSandbox): void; message: RegExp }> = [
  {
    what: 'a symlink to a file outside with identical contents (following it would read outside the source root)',
    swap: (s) => {
      writeFileSync(join(s.outside, 'same'), PAYLOAD);
      rmSync(s.payload);
      symlinkSync(join(s.outside, 'same'), s.payload);
    },
    message: /no longer a regular file \(now a symlink\)/,
  },
  {
    what: 'a FIFO (opening it would block the copy)',
    swap: (s) => {
      rmSync(s.payload);
      execFileSync('mkfifo', [s.payload]);
    },
    message: /no longer a regular file \(now a FIFO\)/,
  },
  {
    what: 'another regular file with identical contents, renamed over it',
    swap: (s) => {
      writeFileSync(`${s.payload}.new`, PAYLOAD);
      renameSync(`${s.payload}.new`, s.payload);
    },
    message: /was replaced by another file after it was checked/,
  },
];

/**
 * Runs `act` (a copy or an image build of a manifest holding /etc and then a
 * file from the payload) with a progress hook that swaps the source once,
 * right after /etc is handled; checks the refusal and returns it.
 */
export async function refusedAfterSwap(act: (onProgress: (p: { path: string }) => void) => unknown, swap: () => void, message: RegExp): Promise<ElfdepsError> {
  let swapped = false;
  let error: unknown;
  try {
    await act((p) => {
      if (p.path === '/etc' && !swapped) {
        swapped = true;
        swap();
      }
    });
  } catch (err) {
    error = err;
  }
  expect(swapped, 'the source was swapped after it was checked').to.equal(true);
  expect(error).to.be.instanceOf(ElfdepsError);
  const e = error as ElfdepsError;
  expect(e.code, e.message).to.equal('SOURCE_CHANGED');
  expect(e.message).to.match(message);
  expect(e.message).to.not.include('\n');
  return e;
}
