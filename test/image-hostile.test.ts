/**
 * Every hostile manifest that `elfdeps copy` refuses (test/helpers/
 * hostile-manifests.ts) is refused by `elfdeps image` too: exit 2, one line
 * naming the problem, and nothing under -o's name (nor any temporary left
 * beside it); nothing outside changes. Sources swapped after they were
 * checked are refused while the layer is written, as the copier refuses
 * them while copying.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../src/image/index.js';
import { fileEntry, HOSTILE_MANIFESTS, manifestOf, PAYLOAD, refusedAfterSwap, SOURCE_SWAPS, type HostileSandbox } from './helpers/hostile-manifests.js';
import { elfdeps } from './helpers/image.js';

let s: HostileSandbox;
let out: string;

describe('elfdeps image: hostile manifests', function () {
  this.timeout(60_000);
  beforeEach(() => {
    const base = mkdtempSync(join(tmpdir(), 'elfdeps-image-hostile-'));
    s = { base, outside: join(base, 'outside'), payload: join(base, 'src', 'payload') };
    mkdirSync(s.outside);
    mkdirSync(join(base, 'src'));
    writeFileSync(join(s.outside, 'victim'), 'original\n');
    writeFileSync(s.payload, PAYLOAD);
    out = join(base, 'out');
    mkdirSync(out);
  });
  afterEach(() => rmSync(s.base, { recursive: true, force: true }));

  it('the sandbox works: a benign manifest makes an image', () => {
    writeFileSync(join(s.base, 'm.json'), JSON.stringify(manifestOf([fileEntry(s, '/etc/victim')])));
    const r = elfdeps(['image', join(s.base, 'm.json'), '--image-platform', 'linux/amd64', '-o', join(out, 'img.tar')]);
    expect(r.status, r.stderr.toString()).to.equal(0);
    expect(readdirSync(out)).to.deep.equal(['img.tar']);
  });

  for (const c of HOSTILE_MANIFESTS) {
    it(`${c.what} [${c.code}]`, () => {
      writeFileSync(join(s.base, 'm.json'), JSON.stringify(c.manifest(s)));
      // --image-platform: no refusal may hide behind "which platform?" (these manifests have no programs).
      const r = elfdeps(['image', join(s.base, 'm.json'), '--image-platform', 'linux/amd64', '-o', join(out, 'img.tar')]);
      const err = r.stderr.toString();
      expect(r.status, err).to.equal(2);
      expect(err).to.match(/^elfdeps: [^\n]*\n$/);
      expect(err).to.match(c.message);
      expect(readdirSync(out), 'nothing under the output name, no temporary left').to.deep.equal([]);
      expect(readFileSync(join(s.outside, 'victim'), 'utf8')).to.equal('original\n');
    });
  }

  describe('a source swapped after it was checked, before it is read', () => {
    const swaps = [
      ...SOURCE_SWAPS,
      { what: 'the same file, changed in place (same size)', swap: (x: HostileSandbox) => writeFileSync(x.payload, PAYLOAD.toUpperCase()), message: /changed since the manifest was made/ },
    ];
    for (const { what, swap, message } of swaps) {
      for (const mode of ['0644', '4755']) {
        it(`${what} [mode ${mode}]`, async () => {
          chmodSync(s.payload, parseInt(mode, 8));
          const m = manifestOf([{ kind: 'directory', path: '/etc', mode: '0755' }, fileEntry(s, '/etc/x', { mode })]);
          const output = { kind: 'tar', path: join(out, 'img.tar') } as const;
          await refusedAfterSwap((onProgress) => buildImage(m, { output, platform: 'linux/amd64', onProgress }), () => swap(s), message);
          expect(readdirSync(out), 'nothing under the output name, no temporary left').to.deep.equal([]);
        });
      }
    }
  });

  it('-o naming a symlink, a directory or a FIFO is refused before any work, and left as it is', () => {
    symlinkSync(join(s.outside, 'victim'), join(out, 'link.tar'));
    mkdirSync(join(out, 'dir.tar'));
    execFileSync('mkfifo', [join(out, 'fifo.tar')]);
    for (const [name, what] of [['link.tar', /is a symlink/], ['dir.tar', /is a directory/], ['fifo.tar', /is a FIFO/]] as const) {
      const r = elfdeps(['image', '/bin/true', '-o', join(out, name)]);
      expect(r.status).to.equal(2);
      expect(r.stderr.toString()).to.match(what);
    }
    expect(readdirSync(out).sort()).to.deep.equal(['dir.tar', 'fifo.tar', 'link.tar']);
    expect(readFileSync(join(s.outside, 'victim'), 'utf8')).to.equal('original\n');
    // --oci-dir takes only a new or empty directory.
    writeFileSync(join(out, 'dir.tar', 'keep'), 'mine\n');
    const r = elfdeps(['image', '/bin/true', '--oci-dir', join(out, 'dir.tar')]);
    expect(r.status).to.equal(2);
    expect(r.stderr.toString()).to.match(/directory is not empty/);
    expect(readdirSync(join(out, 'dir.tar'))).to.deep.equal(['keep']);
  });
});
