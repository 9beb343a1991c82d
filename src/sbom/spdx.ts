/**
 * SPDX 2.3 JSON (spdx.github.io/spdx-spec/v2.3): the document DESCRIBES the
 * root (a package); the root CONTAINS the distribution (a package whose
 * purpose is OPERATING_SYSTEM), which CONTAINS the packages, each with its
 * purl as an external reference and its source package in `sourceInfo`;
 * each package CONTAINS the files it owns in the root, the root the files no
 * package owns; a file DYNAMIC_LINKs to each library the loader maps for it
 * (and a program to its interpreter). Files carry SHA-1 (which SPDX 2.3
 * requires) and SHA-256, and why they are there as their `comment`.
 *
 * Packages are not analysed file by file (filesAnalyzed false): the root
 * holds only some of each package's files, so no package verification code
 * could be the package's own.
 */
import { rfc3339 } from '../image/config.js';
import { contentUuid, whyWords, type SbomModel } from './model.js';

type Json = Record<string, unknown>;

/** An SPDX identifier's idstring is letters, digits, '.' and '-' (spec 2.3, 3.2.4). */
function idString(text: string): string {
  return text.replace(/[^A-Za-z0-9.-]+/g, '-');
}

/** SPDX relationship records. */
function rel(a: string, type: string, b: string): Json {
  return { spdxElementId: a, relationshipType: type, relatedSpdxElement: b };
}

/** The SPDX 2.3 document of `model` (serialise with JSON.stringify). */
export function spdxDocument(model: SbomModel): Json {
  const rootId = `SPDXRef-${model.subjectKind === 'container' ? 'ContainerImage' : 'Application'}-${idString(model.subject).slice(0, 64)}`;
  const os = model.distro && model.packages.length > 0 ? model.distro : null;
  // trivy (at least up to 0.50) tells the distribution by this prefix, not by primaryPackagePurpose.
  const osId = os ? `SPDXRef-OperatingSystem-${idString(os.id)}` : null;
  const packageIds = new Map<string, string>();
  const taken = new Set<string>([rootId, ...(osId ? [osId] : [])]);
  for (const p of model.packages) {
    let id = `SPDXRef-Package-${idString(p.id)}`;
    for (let n = 2; taken.has(id); n++) id = `SPDXRef-Package-${idString(p.id)}-${n}`;
    taken.add(id);
    packageIds.set(p.id, id);
  }
  const fileId = (i: number): string => `SPDXRef-File-${i + 1}`;

  const packages: Json[] = [
    {
      SPDXID: rootId,
      name: model.subject,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      primaryPackagePurpose: model.subjectKind === 'container' ? 'CONTAINER' : 'APPLICATION',
      comment: 'The root elfdeps wrote: the files listed here, and the packages that own them.',
    },
    ...(os && osId
      ? [
          {
            SPDXID: osId,
            name: os.id,
            versionInfo: os.versionId ?? os.versionCodename ?? undefined,
            downloadLocation: 'NONE',
            filesAnalyzed: false,
            // The spec's tag-value name is OPERATING-SYSTEM; its JSON schema (2.3) spells the enum OPERATING_SYSTEM.
            primaryPackagePurpose: 'OPERATING_SYSTEM',
            description: os.prettyName ?? undefined,
          },
        ]
      : []),
    ...model.packages.map((p) => ({
      SPDXID: packageIds.get(p.id),
      name: p.name,
      versionInfo: p.version,
      downloadLocation: 'NOASSERTION',
      filesAnalyzed: false,
      // "built package from: NAME VERSION" is what trivy reads the source package from.
      sourceInfo: p.source !== null ? `built package from: ${p.source}${p.sourceVersion !== null ? ` ${p.sourceVersion}` : ''}` : undefined,
      externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }],
      comment: `${p.manager} package ${p.id}`,
    })),
  ];

  const files = model.files.map((f, i) => ({
    SPDXID: fileId(i),
    // Spec 2.3, 8.1: a relative path from the root, starting "./".
    fileName: `.${f.path}`,
    checksums: [...(f.sha1 ? [{ algorithm: 'SHA1', checksumValue: f.sha1 }] : []), { algorithm: 'SHA256', checksumValue: f.sha256 }],
    comment: whyWords(f.why) ?? undefined,
  }));

  const indexOf = new Map(model.files.map((f, i) => [f.path, i]));
  const relationships: Json[] = [rel('SPDXRef-DOCUMENT', 'DESCRIBES', rootId)];
  if (osId) relationships.push(rel(rootId, 'CONTAINS', osId));
  for (const p of model.packages) relationships.push(rel(osId ?? rootId, 'CONTAINS', packageIds.get(p.id) as string));
  model.files.forEach((f, i) => relationships.push(rel(f.package === null ? rootId : (packageIds.get(f.package) as string), 'CONTAINS', fileId(i))));
  model.files.forEach((f, i) => {
    for (const n of f.needs) {
      const j = indexOf.get(n);
      if (j !== undefined) relationships.push(rel(fileId(i), 'DYNAMIC_LINK', fileId(j)));
    }
  });

  const body: Json = {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: model.subject,
    documentNamespace: '',
    creationInfo: {
      // Required by SPDX; with no SOURCE_DATE_EPOCH the Unix epoch, never the clock (docs/sbom.md).
      created: rfc3339(model.epoch ?? 0),
      creators: [`Tool: elfdeps-${model.toolVersion}`],
      comment: model.epoch === null ? 'created is the Unix epoch: elfdeps writes no clock time unless SOURCE_DATE_EPOCH is set' : undefined,
    },
    packages,
    files,
    relationships,
  };
  // The namespace names this content: the same inputs, the same namespace.
  body.documentNamespace = `https://spdx.org/spdxdocs/elfdeps-${idString(model.subject).slice(0, 64)}-${contentUuid(JSON.stringify(body))}`;
  return body;
}
