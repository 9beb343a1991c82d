/**
 * CycloneDX 1.6 JSON (cyclonedx.org/docs/1.6/json): the root as the
 * metadata component; the distribution as an `operating-system` component
 * that depends on its packages (how scanners such as trivy tell OS packages
 * from others); each package a `library` with its purl whose nested
 * components are the files it owns in the root (CycloneDX's assembly:
 * "contains"); files no package owns at the top level. `dependencies` holds
 * the loader's edges, file to file. Why each file is there is in its
 * `elfdeps:why*` properties.
 *
 * Only constructs CycloneDX 1.5 has too are used, so a consumer limited to
 * 1.5 reads it once the version is relabelled (docs/sbom.md).
 */
import { rfc3339 } from '../image/config.js';
import { contentUuid, whyFields, type SbomFile, type SbomModel, type SbomPackage } from './model.js';

type Json = Record<string, unknown>;

const ROOT_REF = 'elfdeps:root';
const fileRef = (path: string): string => `file:${path}`;
const osRef = (id: string): string => `os:${id}`;

function fileComponent(f: SbomFile): Json {
  const properties = whyFields(f.why).map(([k, v]) => ({ name: k === 'by' ? 'elfdeps:why' : `elfdeps:why:${k}`, value: v }));
  return {
    type: 'file',
    'bom-ref': fileRef(f.path),
    name: f.path,
    hashes: [
      ...(f.sha1 ? [{ alg: 'SHA-1', content: f.sha1 }] : []),
      { alg: 'SHA-256', content: f.sha256 },
    ],
    properties: properties.length ? properties : undefined,
  };
}

/**
 * Debian matches advisories by source package: trivy reads the source from
 * its own property names (aquasecurity:trivy:SrcName, SrcVersion, SrcEpoch);
 * CycloneDX has no field for it.
 */
function sourceProperties(p: SbomPackage): Json[] {
  const out: Json[] = [];
  if (p.source !== null) out.push({ name: 'aquasecurity:trivy:SrcName', value: p.source });
  if (p.sourceVersion !== null) {
    const m = /^(\d+):(.*)$/.exec(p.sourceVersion);
    out.push({ name: 'aquasecurity:trivy:SrcVersion', value: m ? (m[2] as string) : p.sourceVersion });
    if (m) out.push({ name: 'aquasecurity:trivy:SrcEpoch', value: m[1] as string });
  }
  return out;
}

/** The CycloneDX 1.6 document of `model` (serialise with JSON.stringify). */
export function cycloneDxDocument(model: SbomModel): Json {
  const byPackage = new Map<string, SbomFile[]>();
  for (const f of model.files) if (f.package !== null) byPackage.set(f.package, [...(byPackage.get(f.package) ?? []), f]);
  const os = model.distro && model.packages.length > 0 ? model.distro : null;
  const packages = model.packages.map((p) => {
    const files = byPackage.get(p.id) ?? [];
    return {
      type: 'library',
      'bom-ref': p.id,
      name: p.name,
      version: p.version,
      purl: p.purl,
      properties: [{ name: 'elfdeps:package:manager', value: p.manager }, { name: 'elfdeps:package:architecture', value: p.architecture }, ...sourceProperties(p)],
      components: files.length ? files.map(fileComponent) : undefined,
    };
  });
  const components: Json[] = [
    ...(os
      ? [{ type: 'operating-system', 'bom-ref': osRef(os.id), name: os.id, version: os.versionId ?? os.versionCodename ?? undefined, description: os.prettyName ?? undefined }]
      : []),
    ...packages,
    ...model.files.filter((f) => f.package === null).map(fileComponent),
  ];
  const dependencies: Json[] = [
    { ref: ROOT_REF, dependsOn: os ? [osRef(os.id)] : model.packages.map((p) => p.id) },
    ...(os ? [{ ref: osRef(os.id), dependsOn: model.packages.map((p) => p.id) }] : []),
    ...model.files.filter((f) => f.needs.length > 0).map((f) => ({ ref: fileRef(f.path), dependsOn: f.needs.map(fileRef) })),
  ];
  const body: Json = {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    serialNumber: '',
    version: 1,
    metadata: {
      timestamp: model.epoch === null ? undefined : rfc3339(model.epoch),
      // The array form (deprecated since 1.5, still valid in 1.6) is the one readers built on older cyclonedx-go (trivy 0.4x) take.
      tools: [{ name: 'elfdeps', version: model.toolVersion }],
      component: { type: model.subjectKind, 'bom-ref': ROOT_REF, name: model.subject },
    },
    components,
    dependencies,
  };
  // The serial number names this content: the same inputs, the same number.
  body.serialNumber = `urn:uuid:${contentUuid(JSON.stringify(body))}`;
  return body;
}
