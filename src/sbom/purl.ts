/**
 * Package URLs (purl: github.com/package-url/purl-spec, ECMA-427) for the
 * packages a manifest names: `pkg:deb/<vendor>/<name>@<version>?arch=..&distro=..`
 * and `pkg:apk/<vendor>/<name>@<version>?arch=..&distro=..`, what scanners
 * match advisories by.
 */
import type { ManifestDistro, ManifestPackage } from '../manifest/types.js';

/** purl type per package manager (types/deb-definition.json, types/apk-definition.json). */
const PURL_TYPE = { dpkg: 'deb', apk: 'apk' } as const;

/** The vendor (namespace, required by both types) when the root has no os-release to name it. */
const DEFAULT_VENDOR = { dpkg: 'debian', apk: 'alpine' } as const;

/**
 * A purl component percent-encoded: every byte of its UTF-8 form but the
 * unreserved characters (A-Z a-z 0-9 . - _ ~) becomes %XX, except ':', which
 * the spec leaves as it is in a version (its deb examples: `attr@1:2.4.47-2`,
 * and `2.4.47-2%2Bb1` for a '+').
 */
export function purlEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._~:-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The `distro` qualifier: `<ID>-<VERSION_ID>` ("debian-12", "alpine-3.19.1"), the codename when there is no version, null when neither. */
export function distroQualifier(distro: ManifestDistro | null | undefined): string | null {
  if (!distro) return null;
  const version = distro.versionId ?? distro.versionCodename;
  return version === null ? null : `${distro.id.toLowerCase()}-${version}`;
}

/** The package URL of `pkg` from a root whose os-release says `distro`. */
export function packagePurl(pkg: ManifestPackage, distro: ManifestDistro | null | undefined): string {
  const vendor = (distro?.id ?? DEFAULT_VENDOR[pkg.manager]).toLowerCase();
  const qualifiers: Array<[string, string]> = [['arch', pkg.architecture]];
  const d = distroQualifier(distro);
  if (d !== null) qualifiers.push(['distro', d]);
  // Keys sorted, values encoded (the spec's canonical form).
  qualifiers.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = qualifiers.map(([k, v]) => `${k}=${purlEncode(v)}`).join('&');
  return `pkg:${PURL_TYPE[pkg.manager]}/${purlEncode(vendor)}/${purlEncode(pkg.name.toLowerCase())}@${purlEncode(pkg.version)}?${query}`;
}
