/**
 * The base images of issue 17's tests are what they claim, with podman,
 * skopeo and umoci as the oracles (test/helpers/base-image.ts, built by
 * scripts/build-base-image.sh): the amd64 image, loaded from its
 * docker-archive and its oci-archive, runs every BASE_TASK; layer 2's
 * whiteouts delete files layer 1 has, its opaque directory hides layer 1's
 * content, its files are owned by www-data, its hard link is one inode, and
 * `podman image inspect` shows the config; the index holds an arm64 image of
 * arm64 programs. Tools or fixture missing: skipped with the reason printed,
 * failed under CI.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  BASE_CONFIG,
  BASE_DOCKER_TAG,
  BASE_PLATFORMS,
  BASE_TASKS,
  BaseImageRunner,
  baseLayer2,
  baseRef,
  elfMachine,
  requireBaseImage,
  umociUnpack,
  type BaseImagePaths,
} from './helpers/base-image.js';
import { listLayer, requireTools } from './helpers/image.js';

function skopeoInspect(args: string[]): Record<string, unknown> {
  const r = spawnSync('skopeo', ['inspect', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`skopeo inspect ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** Names in a layer tar (`tar -t`), without a trailing slash. */
function layerNames(path: string): Set<string> {
  return new Set(listLayer(path).map((line) => '/' + (line.split(/\s+/)[5] as string).replace(/\/$/, '')));
}

describe('base images of issue 17 (scripts/build-base-image.sh)', function () {
  this.timeout(300_000);
  let base: BaseImagePaths;
  let runner: BaseImageRunner | undefined;
  let dockerId: string;
  const amd64 = baseLayer2('amd64');

  before(function () {
    requireTools(this, 'podman', 'runc', 'skopeo', 'umoci');
    base = requireBaseImage(this);
    runner = new BaseImageRunner();
    dockerId = runner.loadImage(base.amd64DockerArchive);
  });
  after(() => runner?.close());

  it('layer 1 has what layer 2 deletes, and layer 2 holds exactly its whiteouts and opaque marker', function () {
    const lower = layerNames(base.layerBlob('amd64', 1));
    for (const p of [...amd64.whitedOutFiles, amd64.whitedOutDirectory, `${amd64.whitedOutDirectory}/futures/thread.py`, ...amd64.brokenPrograms])
      expect(lower.has(p), `${p} in layer 1`).to.equal(true);
    // What check must then report: these programs need the library (readelf, the oracle of DT_NEEDED).
    const rootfs = umociUnpack(this, 'amd64');
    for (const program of amd64.brokenPrograms) {
      const r = spawnSync('readelf', ['-d', join(rootfs, program)], { encoding: 'utf8' });
      expect(r.stdout, program).to.include(`Shared library: [${amd64.missingLibrary}]`);
    }
    for (const name of amd64.opaqueBefore) expect(lower.has(`${amd64.opaqueDirectory}/${name}`), name).to.equal(true);
    const upper = [...layerNames(base.layerBlob('amd64', 2))].filter((p) => p.split('/').pop()?.startsWith('.wh.'));
    expect(upper.sort()).to.deep.equal(
      ['/opt/app/.wh..wh..opq', '/usr/bin/.wh.tac', '/usr/lib/python3.11/.wh.concurrent', '/usr/lib/x86_64-linux-gnu/.wh.libsemanage.so.2'].sort(),
    );
  });

  it('podman runs every BASE_TASK in the amd64 image (docker-archive) with the expected output', function () {
    const failures: string[] = [];
    for (const task of BASE_TASKS) {
      const r = runner!.runTask(dockerId, task.argv, { user: task.user });
      if (r.status !== 0 || !task.expect.test(r.stdout)) failures.push(`${task.name}: exit ${r.status}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`);
    }
    expect(failures).to.deep.equal([]);
    const plain = runner!.runDefault(dockerId);
    expect(plain.stdout, plain.stderr).to.equal('hello from base\n');
  });

  it('the oci-archive of the same image loads and gives the same output as the docker-archive', function () {
    const ociId = runner!.loadImage(base.amd64OciArchive);
    const task = BASE_TASKS[0]!;
    const fromOci = runner!.runTask(ociId, task.argv, { user: task.user });
    const fromDocker = runner!.runTask(dockerId, task.argv, { user: task.user });
    expect(fromOci.status, fromOci.stderr).to.equal(0);
    expect(fromOci.stdout).to.equal(fromDocker.stdout);
  });

  it('in a container (podman) and in umoci unpack: whiteouts, the opaque directory, www-data owners, the hard link', function () {
    const [linkA, linkB] = amd64.hardLink;
    const probe = [
      ...[...amd64.whitedOutFiles, amd64.whitedOutDirectory].map((p) => `if test -e ${p}; then echo present ${p}; else echo absent ${p}; fi`),
      `ls -A ${amd64.opaqueDirectory}`,
      `stat -c '%u:%g %n' ${amd64.ownedBy33.join(' ')}`,
      `test ${linkA} -ef ${linkB} && echo same-inode`,
      `/usr/sbin/useradd --help >/dev/null 2>&1; echo useradd $?`,
    ].join('; ');
    const r = runner!.runTask(dockerId, ['/usr/bin/bash', '-c', probe], { user: 'root' });
    expect(r.stderr).to.equal('');
    expect(r.stdout.trimEnd().split('\n')).to.deep.equal([
      ...[...amd64.whitedOutFiles, amd64.whitedOutDirectory].map((p) => `absent ${p}`),
      ...amd64.opaqueAfter,
      ...amd64.ownedBy33.map((p) => `33:33 ${p}`),
      'same-inode',
      // The loader cannot find the whited-out library: exit 127, as for a missing program.
      'useradd 127',
    ]);
    // The tree umoci unpacks (the --root of the --from comparisons) agrees.
    const rootfs = umociUnpack(this, 'amd64');
    for (const p of [...amd64.whitedOutFiles, amd64.whitedOutDirectory]) expect(() => lstatSync(join(rootfs, p)), p).to.throw();
    expect(readdirSync(join(rootfs, amd64.opaqueDirectory)).sort()).to.deep.equal(amd64.opaqueAfter);
    for (const p of amd64.ownedBy33) expect(`${lstatSync(join(rootfs, p)).uid}:${lstatSync(join(rootfs, p)).gid}`, p).to.equal('33:33');
    expect(lstatSync(join(rootfs, linkA)).ino).to.equal(lstatSync(join(rootfs, linkB)).ino);
  });

  it('podman image inspect shows the config: user, environment, ports, volumes, labels, stop signal, entrypoint, command, history', function () {
    const info = runner!.podman.inspect(dockerId) as {
      Architecture: string;
      Os: string;
      Config: Record<string, unknown>;
      History: unknown[];
      RepoTags: string[];
    };
    expect(info.Architecture).to.equal('amd64');
    expect(info.Os).to.equal('linux');
    expect(info.RepoTags).to.include(BASE_DOCKER_TAG);
    expect(info.History).to.have.length(2);
    const c = info.Config;
    expect(c.User).to.equal(BASE_CONFIG.User);
    expect(c.Env).to.deep.equal(BASE_CONFIG.Env);
    expect(c.WorkingDir).to.equal(BASE_CONFIG.WorkingDir);
    expect(c.ExposedPorts).to.deep.equal(BASE_CONFIG.ExposedPorts);
    expect(c.Volumes).to.deep.equal(BASE_CONFIG.Volumes);
    expect(c.Labels).to.deep.equal(BASE_CONFIG.Labels);
    expect(c.StopSignal).to.equal(BASE_CONFIG.StopSignal);
    expect(c.Entrypoint).to.deep.equal(BASE_CONFIG.Entrypoint);
    expect(c.Cmd).to.deep.equal(BASE_CONFIG.Cmd);
  });

  it('the index holds both platforms; skopeo --override-arch arm64 picks an arm64 image of AArch64 programs', function () {
    const index = skopeoInspect(['--raw', `oci:${base.oci}:base`]) as { manifests: Array<{ platform: unknown }> };
    expect(index.manifests.map((m) => m.platform)).to.deep.equal([BASE_PLATFORMS.amd64, BASE_PLATFORMS.arm64]);
    const arm = skopeoInspect(['--override-arch', 'arm64', '--override-variant', 'v8', `oci-archive:${base.allOciArchive}:base`]);
    const amd = skopeoInspect(['--override-arch', 'amd64', `oci:${base.oci}:base`]);
    expect([arm.Os, arm.Architecture]).to.deep.equal(['linux', 'arm64']);
    // skopeo 1.9's inspect does not print the variant; the config it picks says it.
    const armConfig = skopeoInspect(['--config', '--override-arch', 'arm64', '--override-variant', 'v8', `oci-archive:${base.allOciArchive}:base`]);
    expect([armConfig.os, armConfig.architecture, armConfig.variant]).to.deep.equal(['linux', 'arm64', 'v8']);
    expect(amd.Architecture).to.equal('amd64');
    expect(arm.Layers).to.have.length(2);
    expect(arm.Layers).to.not.deep.equal(amd.Layers);
    expect(skopeoInspect([`oci:${base.oci}:${baseRef('arm64')}`]).Layers).to.deep.equal(arm.Layers);
    const rootfs = umociUnpack(this, 'arm64');
    expect(elfMachine(join(rootfs, 'usr/bin/python3.11'))).to.equal(183);
    expect(elfMachine(join(umociUnpack(this, 'amd64'), 'usr/bin/python3.11'))).to.equal(62);
    const arm64 = baseLayer2('arm64');
    for (const p of [...arm64.whitedOutFiles, arm64.whitedOutDirectory]) expect(() => lstatSync(join(rootfs, p)), p).to.throw();
    expect(readdirSync(join(rootfs, arm64.opaqueDirectory)).sort()).to.deep.equal(arm64.opaqueAfter);
  });
});
