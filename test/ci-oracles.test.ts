/**
 * Issue 12, item 13: CI must not go green without its oracles. A test whose
 * foreign root or oracle is missing skips with its reason outside CI and
 * fails under CI (`CI` set). Checked end to end on the foreign-root test,
 * pointed at an empty directory of roots, in a child mocha.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { CI_MUTATION_SEED, mutationSeed } from './helpers/seed.js';
import { skipOrFail } from './helpers/skip.js';

const REPO = join(import.meta.dirname, '..');

function childMocha(spec: string, env: NodeJS.ProcessEnv): { status: number | null; out: string } {
  const mocha = join(REPO, 'node_modules', '.bin', 'mocha');
  const r = spawnSync(mocha, [spec], { cwd: REPO, encoding: 'utf8', env, timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('CI and missing oracles (issue 12, item 13)', function () {
  this.timeout(180_000);
  let empty: string;
  before(() => {
    empty = mkdtempSync(join(tmpdir(), 'elfdeps-no-roots-'));
  });
  after(() => rmSync(empty, { recursive: true, force: true }));

  it('skipOrFail: a printed skip outside CI, a failure naming the reason under CI', () => {
    const saved = process.env.CI;
    const skipped: string[] = [];
    const ctx = { skip: () => skipped.push('skip') } as unknown as Mocha.Context;
    try {
      delete process.env.CI;
      skipOrFail(ctx, 'the oracle is missing');
      expect(skipped).to.deep.equal(['skip']);
      process.env.CI = 'true';
      expect(() => skipOrFail(ctx, 'the oracle is missing', 'install it')).to.throw(/^the oracle is missing \(under CI this test must run: install it\)$/);
      expect(skipped).to.have.length(1);
    } finally {
      if (saved === undefined) delete process.env.CI;
      else process.env.CI = saved;
    }
  });

  it('the foreign-root test with no roots: skipped with the reason locally, failed under CI', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, ELFDEPS_FOREIGN_ROOTS: empty };
    delete env.CI;
    const local = childMocha('test/resolve-foreign-real.test.ts', env);
    expect(local.status, local.out).to.equal(0);
    expect(local.out).to.match(/skipped: no arm64 root at /);
    expect(local.out).to.match(/0 passing/);
    const ci = childMocha('test/resolve-foreign-real.test.ts', { ...env, CI: 'true' });
    expect(ci.status, ci.out).to.not.equal(0);
    expect(ci.out).to.match(/no arm64 root at .*under CI this test must run: \.ci\/run builds the roots/);
  });

  it('the mutation tests\' seed: fixed under CI, random otherwise, ELFDEPS_MUTATION_SEED replays one (item 17)', () => {
    expect(mutationSeed({ CI: 'true' })).to.equal(CI_MUTATION_SEED);
    expect(mutationSeed({ CI: 'true', ELFDEPS_MUTATION_SEED: '42' })).to.equal(42);
    const local = new Set(Array.from({ length: 8 }, () => mutationSeed({})));
    expect(local.size, 'eight random seeds').to.be.above(1);
    expect(() => mutationSeed({ ELFDEPS_MUTATION_SEED: '-1' })).to.throw(/ELFDEPS_MUTATION_SEED/);
  });
});
