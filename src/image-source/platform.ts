/**
 * Which platform of a multi-platform image to read: the one asked for
 * ("os/arch[/variant]"), else this machine's, else the only one. Names are
 * OCI's (GOOS/GOARCH): amd64, arm64, arm with variant v7, ppc64le, s390x.
 */
import { ElfdepsError } from '../errors.js';
import { formatPlatform } from './open.js';
import type { SourceImage, SourcePlatform } from './types.js';

/** This machine's platform in OCI's words. */
export function hostPlatform(): SourcePlatform {
  const arch: Record<string, string> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', mips64el: 'mips64le', loong64: 'loong64' };
  const architecture = arch[process.arch] ?? process.arch;
  const armVersion = (process.config.variables as Record<string, unknown>).arm_version;
  return { os: process.platform, architecture, ...(architecture === 'arm' && typeof armVersion === 'string' ? { variant: `v${armVersion}` } : {}) };
}

/** arm64's only variant is v8: "linux/arm64" and "linux/arm64/v8" are one platform (as containerd normalises them). */
function variantOf(p: SourcePlatform): string {
  return p.architecture === 'arm64' && p.variant === 'v8' ? '' : p.variant ?? '';
}

function matches(p: SourcePlatform, want: SourcePlatform, variantMatters: boolean): boolean {
  return p.os === want.os && p.architecture === want.architecture && (!variantMatters || variantOf(p) === variantOf(want));
}

export function parsePlatformSpec(spec: string): SourcePlatform {
  const parts = spec.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((s) => !/^[A-Za-z0-9_.-]+$/.test(s))) {
    throw new ElfdepsError('USAGE', `image platform ${JSON.stringify(spec)} is not OS/ARCH[/VARIANT] (e.g. linux/arm64)`);
  }
  return { os: parts[0]!, architecture: parts[1]!, ...(parts[2] !== undefined ? { variant: parts[2] } : {}) };
}

/**
 * spec: undefined = this machine's platform if present, else the only one,
 * else an IMAGE_PLATFORM error listing them; "os/arch[/variant]" otherwise
 * (without a variant, the first of that os/arch).
 */
export function choosePlatform(image: SourceImage, spec: string | undefined): SourcePlatform {
  const list = () => image.platforms.map(formatPlatform).join(', ');
  if (spec === undefined) {
    const host = hostPlatform();
    const mine = image.platforms.find((p) => matches(p, host, true)) ?? image.platforms.find((p) => matches(p, host, false));
    if (mine) return mine;
    if (image.platforms.length === 1) return image.platforms[0]!;
    throw new ElfdepsError('IMAGE_PLATFORM', `${image.path}: holds ${list()}, none for this machine (${formatPlatform(host)}); choose one with --image-platform`, { path: image.path });
  }
  const want = parsePlatformSpec(spec);
  const found = image.platforms.find((p) => matches(p, want, want.variant !== undefined));
  if (found) return found;
  throw new ElfdepsError('IMAGE_PLATFORM', `${image.path}: has no ${formatPlatform(want)} image (it holds ${list()})`, { path: image.path });
}
