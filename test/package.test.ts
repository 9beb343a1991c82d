/**
 * The package as another project sees it: `import ... from 'elfdeps'` (Node
 * resolves a package's own name through its "exports"), the published schema
 * path, and the `bin` entry.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { ensureBuiltCli } from './helpers/cli.js';

const repo = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));

describe('the elfdeps package', function () {
  this.timeout(120000);
  before(function () {
    ensureBuiltCli(); // dist/ of this source tree: rebuilt when older than src/, not only when missing
  });

  it('exports the library API with type declarations', async () => {
    // A plain Node process, no TypeScript loader: exactly what a consumer gets.
    const script = `
      const m = await import('elfdeps');
      const names = ['readElf', 'resolve', 'Resolver', 'createManifest', 'materialise', 'buildImage', 'run', 'ElfdepsError', 'RootFs', 'formatLdd'];
      const missing = names.filter((n) => typeof m[n] !== 'function');
      const ls = m.readElf('/bin/ls');
      const r = m.resolve(['/bin/ls']);
      console.log(JSON.stringify({ missing, interp: ls.interpreter, libs: r.programs[0].objects.length }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8' }));
    expect(out.missing).to.deep.equal([]);
    expect(out.interp).to.equal('/lib64/ld-linux-x86-64.so.2');
    expect(out.libs).to.be.greaterThan(2);
    const types = pkg.exports['.'].types as string;
    const dts = readFileSync(join(repo, types), 'utf8');
    for (const n of ['readElf', 'resolve', 'createManifest', 'materialise', 'run']) expect(dts).to.match(new RegExp(`\\b${n}\\b`));
  });

  it('publishes the manifest schema under elfdeps/manifest.schema.json', () => {
    const script = `const { createRequire } = await import('node:module');
      const schema = createRequire(import.meta.url)('elfdeps/manifest.schema.json');
      console.log(schema.$schema ? 'ok' : 'no');`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8' });
    expect(out.trim()).to.equal('ok');
  });

  it('has an executable bin that needs nothing but Node', () => {
    const r = spawnSync(join(repo, pkg.bin.elfdeps), ['--help'], { encoding: 'utf8' });
    expect(r.status).to.equal(0);
    expect(r.stdout).to.match(/^Usage: elfdeps/);
  });
});
