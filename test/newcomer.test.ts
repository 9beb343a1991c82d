/**
 * What a new user met on a first day (issue 21, items 5 to 8): summaries of
 * an edited manifest, a script standing in for a program, the wording of a
 * missing user, and the flood of undefined symbols a missing library brought.
 * Every test runs the shipped CLI; expectations come from the system or from
 * a second, independent way to the same answer (a manifest made fresh with
 * exactly the entries of an edited one), never from the code under test.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfdepsCommand } from './helpers/cli.js';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function elfdeps(args: string[], options: { input?: string; cwd?: string } = {}): Run {
  const [node, bin] = elfdepsCommand();
  const r = spawnSync(node, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH }, input: options.input, cwd: options.cwd, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface ManifestJson {
  entries: Array<{ path: string; kind: string }>;
  rules?: Array<{ rule: string; entries: number }>;
}

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'elfdeps-newcomer-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('issue 21: an edited manifest is summarised as it is (item 6)', function () {
  this.timeout(120000);

  it('copy - of a manifest with entries removed prints the rules line a manifest made with exactly those entries gets', function () {
    // Two zones, then one of them removed by hand (as with jq); the oracle is a manifest made with the other zone only.
    const both = elfdeps(['manifest', '--tz', 'Europe/Paris', '--tz', 'America/New_York', '/usr/bin/date', '-o', '-']);
    expect(both.status, both.stderr).to.equal(0);
    const edited = JSON.parse(both.stdout) as ManifestJson;
    const before = edited.entries.length;
    edited.entries = edited.entries.filter((e) => !e.path.startsWith('/usr/share/zoneinfo/Europe'));
    expect(before - edited.entries.length, 'entries removed').to.be.greaterThan(0);
    const fresh = elfdeps(['manifest', '--tz', 'America/New_York', '/usr/bin/date', '-o', '-']);
    expect(fresh.status, fresh.stderr).to.equal(0);
    // The same entries, reached two ways.
    const paths = (m: ManifestJson): string[] => m.entries.map((e) => e.path).sort();
    expect(paths(edited)).to.deep.equal(paths(JSON.parse(fresh.stdout) as ManifestJson));

    const rulesLine = (r: Run): string => r.stdout.split('\n').find((l) => l.includes(': rules: ')) ?? '';
    const fromEdited = elfdeps(['copy', '-', join(work, 'edited')], { input: JSON.stringify(edited) });
    const fromFresh = elfdeps(['copy', '-', join(work, 'fresh')], { input: fresh.stdout });
    expect(fromEdited.status, fromEdited.stderr).to.equal(0);
    expect(fromFresh.status, fromFresh.stderr).to.equal(0);
    expect(rulesLine(fromFresh)).to.match(/zoneinfo \+\d+/);
    expect(rulesLine(fromEdited).replace(join(work, 'edited'), 'ROOT')).to.equal(rulesLine(fromFresh).replace(join(work, 'fresh'), 'ROOT'));
  });
});
