/**
 * Hostile manifests and hostile target roots (reliability-anchors.md §2.3):
 * each is refused with a one-line ElfdepsError that names the problem, and
 * nothing is created or changed outside NEWROOT. Refusals found while
 * planning leave NEWROOT exactly as it was.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElfdepsError, type ErrorCode } from '../src/errors.js';
import { fileEntry as sharedFileEntry, HOSTILE_MANIFESTS, manifestOf, PAYLOAD, refusedAfterSwap, sha, SOURCE_SWAPS } from './helpers/hostile-manifests.js';
import { MAX_MANIFEST_BYTES, readManifestFile } from '../src/manifest/validate.js';
import type { ManifestEntry } from '../src/manifest/types.js';
import { materialise, type MaterialiseOptions } from '../src/materialise/index.js';

let base: string; // holds newroot/, outside/ and src/
let newRoot: string;
let outside: string;
let payload: string;

/** Every path under `dir` with what it is (type, mode, size, content hash, link target). */
function snapshot(dir: string, skip: string | null = null): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (p === skip) continue;
      const st = lstatSync(p);
      if (st.isSymbolicLink()) out.push(`${p} link ${readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.push(`${p} dir ${st.mode.toString(8)}`);
        visit(p);
      } else if (st.isFile()) out.push(`${p} file ${st.mode.toString(8)} ${st.size} ${sha(readFileSync(p))}`);
      else out.push(`${p} other ${st.mode.toString(8)}`); // never read a FIFO: it would block
    }
  };
  visit(dir);
  return out;
}

/** Runs materialise expecting a refusal; checks the error, and that nothing outside NEWROOT changed. */
function refused(manifest: unknown, code: ErrorCode, message: RegExp, options: MaterialiseOptions = {}): ElfdepsError {
  const outsideBefore = snapshot(base, newRoot);
  let error: unknown;
  try {
    materialise(manifest, newRoot, options);
  } catch (err) {
    error = err;
  }
  expect(error, 'materialise should refuse').to.be.instanceOf(ElfdepsError);
  const e = error as ElfdepsError;
  expect(e.code, e.message).to.equal(code);
  expect(e.message).to.match(message);
  expect(e.message).to.not.include('\n');
  expect(snapshot(base, newRoot), 'nothing outside NEWROOT changed').to.deep.equal(outsideBefore);
  expect(readFileSync(join(outside, 'victim'), 'utf8')).to.equal('original\n');
  return e;
}

/** Refused before anything was written: NEWROOT is exactly as it was. */
function refusedUntouched(manifest: unknown, code: ErrorCode, message: RegExp, options: MaterialiseOptions = {}): void {
  const before = snapshot(newRoot);
  refused(manifest, code, message, options);
  expect(snapshot(newRoot), 'NEWROOT untouched').to.deep.equal(before);
}

/** Sandbox-bound builders for the cases written here. */
const fileEntry = (path: string, over: Partial<ManifestEntry> = {}) => sharedFileEntry({ base, outside, payload }, path, over);

describe('materialise: hostile manifests and target roots', () => {
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'elfdeps-hostile-'));
    newRoot = join(base, 'newroot');
    outside = join(base, 'outside');
    mkdirSync(newRoot);
    mkdirSync(outside);
    mkdirSync(join(base, 'src'));
    writeFileSync(join(outside, 'victim'), 'original\n');
    payload = join(base, 'src', 'payload');
    writeFileSync(payload, PAYLOAD);
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('the sandbox itself works: a benign manifest writes inside NEWROOT only', () => {
    const outsideBefore = snapshot(base, newRoot);
    const report = materialise(manifestOf([fileEntry('/etc/victim')]), newRoot);
    expect(report.created).to.equal(2); // /etc (implicit) and the file
    expect(readFileSync(join(newRoot, 'etc', 'victim'), 'utf8')).to.equal(PAYLOAD);
    expect(snapshot(base, newRoot)).to.deep.equal(outsideBefore);
  });

  describe('hostile manifests (the cases elfdeps image refuses too)', () => {
    for (const c of HOSTILE_MANIFESTS) {
      it(c.what, () => {
        const manifest = c.manifest({ base, outside, payload });
        if (c.refusedWhileWriting) refused(manifest, c.code, c.message);
        else refusedUntouched(manifest, c.code, c.message);
      });
    }
  });

  describe('unsafe entry paths are refused, never normalised', () => {
    it('an absolute host path as entry path is taken inside NEWROOT, never as a host path', () => {
      // Entry paths are root-relative by definition (M3): this writes NEWROOT/<base>/outside/victim.
      const outsideBefore = snapshot(base, newRoot);
      materialise(manifestOf([fileEntry(join(outside, 'victim'))]), newRoot);
      expect(readFileSync(join(newRoot, outside, 'victim'), 'utf8')).to.equal(PAYLOAD);
      expect(snapshot(base, newRoot)).to.deep.equal(outsideBefore);
    });
  });

  describe('writes through symlinks are refused', () => {
    it('a pre-existing symlink in NEWROOT pointing outside (absolute)', () => {
      symlinkSync(outside, join(newRoot, 'etc'));
      refusedUntouched(manifestOf([fileEntry('/etc/victim')]), 'ROOT', /etc is a symlink .* leads outside .*refusing to write through/);
    });
    it('a pre-existing symlink in NEWROOT pointing outside (relative ..)', () => {
      symlinkSync('../outside', join(newRoot, 'etc'));
      refusedUntouched(manifestOf([fileEntry('/etc/victim')]), 'ROOT', /leads outside/);
    });
    it('a pre-existing symlink deeper in NEWROOT, under a real directory', () => {
      mkdirSync(join(newRoot, 'usr'));
      symlinkSync(outside, join(newRoot, 'usr', 'lib'));
      refusedUntouched(manifestOf([fileEntry('/usr/lib/victim')]), 'ROOT', /usr\/lib is a symlink/);
    });
    it('a pre-existing symlink pointing inside NEWROOT is not written through either', () => {
      mkdirSync(join(newRoot, 'real'));
      symlinkSync('real', join(newRoot, 'etc'));
      // NEWROOT also holds 'real', which the manifest does not place: --into-existing lets the symlink check speak.
      refusedUntouched(manifestOf([fileEntry('/etc/victim')]), 'ROOT', /etc is a symlink \(-> real\); refusing/, { intoExisting: true });
    });
    it('--force replaces such a symlink with a real directory, and still writes nothing outside', () => {
      symlinkSync(outside, join(newRoot, 'etc'));
      const outsideBefore = snapshot(base, newRoot);
      const report = materialise(manifestOf([fileEntry('/etc/victim')]), newRoot, { force: true });
      expect(report.replaced).to.equal(1);
      expect(lstatSync(join(newRoot, 'etc')).isDirectory()).to.equal(true);
      expect(readFileSync(join(newRoot, 'etc', 'victim'), 'utf8')).to.equal(PAYLOAD);
      expect(snapshot(base, newRoot)).to.deep.equal(outsideBefore);
    });
    it('a symlink created by an earlier manifest is not written through by a later one', () => {
      materialise(manifestOf([{ kind: 'symlink', path: '/etc', target: '../../outside' }]), newRoot);
      expect(readlinkSync(join(newRoot, 'etc'))).to.equal('../../outside'); // kept verbatim, never followed
      refusedUntouched(manifestOf([fileEntry('/etc/victim')]), 'ROOT', /leads outside/);
    });
    it('a directory swapped for a symlink during the copy stops the copy (onProgress race)', () => {
      const m = manifestOf([{ kind: 'directory', path: '/etc', mode: '0755' }, fileEntry('/etc/victim')]);
      let swapped = false;
      refused(m, 'ROOT', /became a symlink during the copy/, {
        onProgress: (p) => {
          if (p.path === '/etc' && !swapped) {
            swapped = true;
            rmSync(join(newRoot, 'etc'), { recursive: true });
            symlinkSync(outside, join(newRoot, 'etc'));
          }
        },
      });
      expect(swapped).to.equal(true);
    });
  });

  describe('contradictions and integrity', () => {
    it('identical duplicates are merged, not refused', () => {
      const report = materialise(manifestOf([fileEntry('/etc/x'), fileEntry('/etc/x')]), newRoot);
      expect(report.created).to.equal(2);
    });
    it('a source whose sha256 no longer matches: refused, no file under its final name, no temporary left', () => {
      const m = manifestOf([fileEntry('/etc/x', { sha256: sha('something else entirely!!!!!!!!!!!!!!!\n') })]);
      refused(m, 'SOURCE_CHANGED', /changed since the manifest was made/);
      expect(() => lstatSync(join(newRoot, 'etc', 'x'))).to.throw();
      expect(readdirSync(join(newRoot, 'etc'))).to.deep.equal([]);
    });
    it('a source changed in place (same size) stops the copy at that file: earlier files complete, no half-written file, a rerun completes', () => {
      // Contents are not hashed while planning (that would read every source twice): the change is found while copying.
      const contents: Record<string, string> = { a: 'first file\n', b: 'second file\n', c: 'third file\n' };
      const entries = Object.entries(contents).map(([name, text]) => {
        writeFileSync(join(base, 'src', name), text);
        return fileEntry(`/etc/${name}`, { source: join(base, 'src', name), size: text.length, sha256: sha(text) });
      });
      // Under --force, an older /etc/c is replaced: it must survive the refusal unchanged.
      mkdirSync(join(newRoot, 'etc'));
      writeFileSync(join(newRoot, 'etc', 'c'), 'older c\n');
      writeFileSync(join(base, 'src', 'c'), 'THIRD FILE\n'); // same size, other contents
      const m = manifestOf(entries);
      refused(m, 'SOURCE_CHANGED', new RegExp(`^${join(base, 'src', 'c')}: source of /etc/c changed since the manifest was made`), { force: true });
      for (const name of ['a', 'b']) {
        const written = readFileSync(join(newRoot, 'etc', name));
        expect(written.toString(), `/etc/${name} complete`).to.equal(contents[name]);
        expect(sha(written)).to.equal(sha(contents[name] as string));
      }
      expect(readFileSync(join(newRoot, 'etc', 'c'), 'utf8'), '/etc/c unchanged under its final name').to.equal('older c\n');
      expect(readdirSync(join(newRoot, 'etc')).sort(), 'no temporary left').to.deep.equal(['a', 'b', 'c']);
      // Without the older file, the changed one is simply absent.
      rmSync(join(newRoot, 'etc', 'c'));
      refused(m, 'SOURCE_CHANGED', /source of \/etc\/c changed since the manifest was made/);
      expect(readdirSync(join(newRoot, 'etc')).sort()).to.deep.equal(['a', 'b']);
      // The source fixed, the same manifest completes the root; what was written stays.
      writeFileSync(join(base, 'src', 'c'), contents.c as string);
      const report = materialise(m, newRoot);
      expect(report.actions.filter((a) => a.kind === 'file').map((a) => `${a.path} ${a.op}`)).to.deep.equal(['/etc/a unchanged', '/etc/b unchanged', '/etc/c create']);
      expect(readFileSync(join(newRoot, 'etc', 'c'), 'utf8')).to.equal(contents.c);
      expect(readdirSync(join(newRoot, 'etc')).sort()).to.deep.equal(['a', 'b', 'c']);
    });
    it('the same with --link (the hard link is removed again)', () => {
      const m = manifestOf([fileEntry('/etc/x', { sha256: sha('nope') })]);
      refused(m, 'SOURCE_CHANGED', /changed since the manifest was made/, { link: true });
      expect(readdirSync(join(newRoot, 'etc'))).to.deep.equal([]);
    });
    it('an existing different file in NEWROOT is not overwritten without --force', () => {
      mkdirSync(join(newRoot, 'etc'));
      writeFileSync(join(newRoot, 'etc', 'x'), 'mine\n');
      refusedUntouched(manifestOf([fileEntry('/etc/x')]), 'TARGET_CONFLICT', /existing file differs .*--force/);
    });
    it('NEWROOT may not be the host root', () => {
      expect(() => materialise(manifestOf([]), '/')).to.throw(ElfdepsError, /host's own root/);
    });
  });

  describe('a source swapped between planning and copying', () => {
    // The swap happens in onProgress, after /etc (handled first) and before /etc/x is written.
    const methods: Array<[string, MaterialiseOptions, string]> = [
      ['copy', {}, '0644'],
      ['--link', { link: true }, '0644'],
      ['copy dropping setuid (read/write loop)', {}, '4755'],
    ];
    for (const { what, swap, message } of SOURCE_SWAPS) {
      for (const [method, options, mode] of methods) {
        it(`${what} [${method}]`, async () => {
          chmodSync(payload, parseInt(mode, 8));
          const m = manifestOf([{ kind: 'directory', path: '/etc', mode: '0755' }, fileEntry('/etc/x', { mode })]);
          await refusedAfterSwap((onProgress) => materialise(m, newRoot, { ...options, onProgress }), () => swap({ base, outside, payload }), message);
          expect(readdirSync(join(newRoot, 'etc')), 'nothing written, no temporary left').to.deep.equal([]);
          expect(readFileSync(join(outside, 'victim'), 'utf8')).to.equal('original\n');
        });
      }
    }
  });

  describe('generated entries (version 2)', () => {
    const generated = (path: string, content: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      kind: 'generated',
      path,
      mode: '0644',
      content,
      size: Buffer.byteLength(content),
      sha256: sha(content),
      ...extra,
    });
    it('are written with their content and mode', () => {
      const report = materialise({ ...manifestOf([{ kind: 'directory', path: '/etc', mode: '0755' }, generated('/etc/passwd', 'root:x:0:0::/:/bin/sh\n')]), elfdepsManifest: 2 }, newRoot);
      expect(report.created).to.equal(2);
      expect(readFileSync(join(newRoot, 'etc/passwd'), 'utf8')).to.equal('root:x:0:0::/:/bin/sh\n');
      expect(lstatSync(join(newRoot, 'etc/passwd')).mode & 0o7777).to.equal(0o644);
    });
    it('content that is not what its sha256 or size says is refused', () => {
      refusedUntouched({ ...manifestOf([generated('/x', 'a', { sha256: sha('b') })]), elfdepsManifest: 2 }, 'MANIFEST_INVALID', /generated content is 1 bytes with sha256/);
      refusedUntouched({ ...manifestOf([generated('/x', 'a', { size: 2 })]), elfdepsManifest: 2 }, 'MANIFEST_INVALID', /generated content is 1 bytes/);
    });
    it('are refused in a version 1 manifest', () => {
      refusedUntouched(manifestOf([generated('/x', 'a')]), 'MANIFEST_INVALID', /version 1 manifest has no generated entries/);
    });
    it('are never written through a symlink, nor inside a file', () => {
      refusedUntouched({ ...manifestOf([{ kind: 'symlink', path: '/etc', target: '/' }, generated('/etc/passwd', 'x')]), elfdepsManifest: 2 }, 'MANIFEST_UNSAFE', /through symlink \/etc/);
      refusedUntouched({ ...manifestOf([generated('/f', 'x'), generated('/f/g', 'y')]), elfdepsManifest: 2 }, 'MANIFEST_INVALID', /inside \/f/);
    });
  });

  describe('manifests that fail the schema', () => {
    it('malformed JSON, a FIFO and an oversized file are refused by readManifestFile without reading them whole', () => {
      const bad = join(base, 'bad.json');
      writeFileSync(bad, '{"elfdepsManifest": 1,');
      expect(() => readManifestFile(bad)).to.throw(ElfdepsError, /not JSON/);
      const fifo = join(base, 'm.json');
      execFileSync('mkfifo', [fifo]);
      expect(() => readManifestFile(fifo)).to.throw(ElfdepsError, /not a regular file/);
      const huge = join(base, 'huge.json');
      const fd = openSync(huge, 'w');
      ftruncateSync(fd, MAX_MANIFEST_BYTES + 1); // sparse: costs no disk
      closeSync(fd);
      expect(() => readManifestFile(huge)).to.throw(ElfdepsError, /larger than/);
    });
  });
});
