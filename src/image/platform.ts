/**
 * The image's platform (OCI `os`, `architecture`, `variant`) from the ELF
 * header of its programs: what a registry, `podman run --platform` and
 * binfmt emulation go by. The names are Go's GOARCH values, which OCI uses.
 * A machine with no OCI name is refused rather than guessed, and so are
 * programs of different machines in one image.
 */
import { ElfdepsError } from '../errors.js';
import * as C from '../elf/constants.js';
import { FileSource } from '../elf/file-source.js';
import { readElfHeader, type ElfHeader } from '../elf/reader.js';

export interface Platform {
  os: string;
  architecture: string;
  /** "v8" for arm64, "v7" for armhf, "v5" for armel; absent elsewhere. */
  variant?: string;
}

/** EF_ARM_EABIMASK and the EABI5 hard-float flag: armhf (ARMv7, VFP arguments) against armel (ARMv5, soft float). */
const EF_ARM_EABIMASK = 0xff000000;
const EF_ARM_EABI_VER5 = 0x05000000;
const EF_ARM_ABI_FLOAT_HARD = 0x400;

/** OCI (GOARCH) architecture and variant by the reader's machine name; ARM is told apart by its flags. */
const ARCHITECTURES: Readonly<Record<string, readonly [string] | readonly [string, string]>> = {
  x86_64: ['amd64'],
  i386: ['386'],
  aarch64: ['arm64', 'v8'],
  ppc64le: ['ppc64le'],
  ppc64: ['ppc64'],
  s390x: ['s390x'],
  mips64el: ['mips64le'],
  mips64: ['mips64'],
  mipsel: ['mipsle'],
  mips: ['mips'],
  riscv64: ['riscv64'],
  loongarch64: ['loong64'],
};

const ELFOSABI_SYSV = 0;
const ELFOSABI_GNU = 3;

/** "linux/arm64/v8" */
export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');
}

/** The platform of one ELF header, or a sentence saying why it has none. */
export function platformOfHeader(h: ElfHeader): Platform | string {
  if (h.osAbi !== ELFOSABI_SYSV && h.osAbi !== ELFOSABI_GNU) return `OS ABI ${C.osAbiName(h.osAbi)} is not Linux`;
  const name = C.machineName(h.machine, h.elfClass, h.littleEndian);
  if (name === 'arm') {
    if ((h.flags & EF_ARM_EABIMASK) >>> 0 !== EF_ARM_EABI_VER5) return `ARM without EABI version 5 (e_flags 0x${(h.flags >>> 0).toString(16)})`;
    return { os: 'linux', architecture: 'arm', variant: (h.flags & EF_ARM_ABI_FLOAT_HARD) !== 0 ? 'v7' : 'v5' };
  }
  const arch = ARCHITECTURES[name];
  if (arch === undefined) return `machine ${name} has no OCI architecture name`;
  return arch.length === 2 ? { os: 'linux', architecture: arch[0], variant: arch[1] } : { os: 'linux', architecture: arch[0] };
}

/** The platform of the ELF file at `hostPath` (already checked to be a regular file). */
export function platformOfFile(hostPath: string, label: string): Platform {
  const src = FileSource.open(hostPath);
  let header: ElfHeader;
  try {
    header = readElfHeader(src);
  } finally {
    src.close();
  }
  const p = platformOfHeader(header);
  if (typeof p === 'string') throw new ElfdepsError('PLATFORM', `${label}: ${p}; cannot name the image's platform (give --platform)`, { path: hostPath });
  return p;
}

/** The one platform of all `programs` (label, host path); refuses a mix. */
export function commonPlatform(programs: Array<{ label: string; hostPath: string }>): Platform | null {
  let first: { label: string; platform: Platform } | null = null;
  for (const prog of programs) {
    const platform = platformOfFile(prog.hostPath, prog.label);
    if (first === null) first = { label: prog.label, platform };
    else if (formatPlatform(platform) !== formatPlatform(first.platform)) {
      throw new ElfdepsError(
        'PLATFORM',
        `${prog.label} is ${formatPlatform(platform)} but ${first.label} is ${formatPlatform(first.platform)}: one image holds programs of one machine`,
        { path: prog.hostPath },
      );
    }
  }
  return first?.platform ?? null;
}

/** Parses --platform OS/ARCH[/VARIANT]. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  const ok = /^[a-z0-9_]+$/;
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => ok.test(p))) {
    throw new ElfdepsError('USAGE', `--platform ${JSON.stringify(text)}: expected OS/ARCH[/VARIANT], e.g. linux/arm64/v8`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant ? { os, architecture, variant } : { os, architecture };
}
