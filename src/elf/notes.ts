/**
 * ELF notes the tools that build roots care about, read through PT_NOTE
 * (never section headers): the dlopen note systemd defines
 * (https://systemd.io/ELF_DLOPEN_METADATA/): owner "FDO", type 0x407c0c0a,
 * a descriptor holding a NUL-terminated JSON array of
 * { soname: string[], feature?, description?, priority? } objects, one per
 * feature that dlopen()s libraries. The loader never reads it; a root builder
 * must, since what a program dlopen()s is invisible in DT_NEEDED.
 *
 * Note layout (gABI): namesz, descsz, type (32-bit words in the file's byte
 * order), then the name and the descriptor, each starting at an offset
 * aligned to 4 (to 8 in segments aligned to 8, as GNU tools write
 * .note.gnu.property).
 */
import { ElfFormatError } from '../errors.js';
import * as C from './constants.js';
import type { ElfImage } from './image.js';

export const NOTE_LIMITS = {
  /** Bytes of PT_NOTE segments read per file (real ones are a few hundred bytes). */
  maxNoteBytes: 1 << 20,
  /** dlopen entries per file. */
  maxDlopenEntries: 1024,
} as const;

export const NT_FDO_DLOPEN_METADATA = 0x407c0c0a;

export type DlopenPriority = 'required' | 'recommended' | 'suggested';

export interface DlopenNote {
  /** Names dlopen() is called with, in order of preference (the first that loads wins). */
  soname: string[];
  feature: string | null;
  description: string | null;
  /** "recommended" when the note does not say (the specification's default). */
  priority: DlopenPriority;
}

interface RawNote {
  name: string;
  type: number;
  desc: Buffer;
}

function notesOf(image: ElfImage): RawNote[] {
  const out: RawNote[] = [];
  let budget = NOTE_LIMITS.maxNoteBytes;
  const f = image.fields;
  for (const ph of image.file.programHeaders) {
    if (ph.type !== C.PT_NOTE || ph.filesz === 0n) continue;
    if (ph.filesz > BigInt(budget)) throw new ElfFormatError('ELF_LIMIT', image.path, `PT_NOTE segments hold more than ${NOTE_LIMITS.maxNoteBytes} bytes`);
    budget -= Number(ph.filesz);
    const bytes = image.readAtOffset(ph.offset, ph.filesz, 'PT_NOTE segment', 'ELF_BAD_NOTE');
    const align = ph.align === 8n ? 8 : 4;
    // Offsets within the segment, whose start is aligned: the descriptor and the next note start at aligned offsets.
    const up = (n: number): number => Math.ceil(n / align) * align;
    let at = 0;
    while (at + 12 <= bytes.length) {
      const namesz = f.u32(bytes, at);
      const descsz = f.u32(bytes, at + 4);
      const type = f.u32(bytes, at + 8);
      const nameAt = at + 12;
      const descAt = up(nameAt + namesz);
      if (namesz > bytes.length || descsz > bytes.length || descAt + descsz > bytes.length) {
        throw new ElfFormatError('ELF_BAD_NOTE', image.path, `a note at offset ${at} of PT_NOTE (name ${namesz} bytes, descriptor ${descsz} bytes) overruns its segment (${bytes.length} bytes)`);
      }
      const rawName = bytes.subarray(nameAt, nameAt + namesz);
      const nul = rawName.indexOf(0);
      out.push({ name: rawName.subarray(0, nul < 0 ? rawName.length : nul).toString('latin1'), type, desc: bytes.subarray(descAt, descAt + descsz) });
      at = up(descAt + descsz);
    }
  }
  return out;
}

function optionalString(v: unknown, field: string, image: ElfImage): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new ElfFormatError('ELF_BAD_NOTE', image.path, `dlopen note: "${field}" is not a string`);
  return v;
}

/** The file's dlopen notes, every entry of every FDO dlopen note in file order; [] when it has none. */
export function readDlopenNotes(image: ElfImage): DlopenNote[] {
  return image.cached('dlopen-notes', () => {
    const out: DlopenNote[] = [];
    for (const n of notesOf(image)) {
      if (n.name !== 'FDO' || n.type !== NT_FDO_DLOPEN_METADATA) continue;
      const nul = n.desc.indexOf(0);
      const text = n.desc.subarray(0, nul < 0 ? n.desc.length : nul).toString('utf8');
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        throw new ElfFormatError('ELF_BAD_NOTE', image.path, 'dlopen note: the descriptor is not JSON');
      }
      if (!Array.isArray(data)) throw new ElfFormatError('ELF_BAD_NOTE', image.path, 'dlopen note: the descriptor is not a JSON array');
      for (const item of data) {
        if (out.length >= NOTE_LIMITS.maxDlopenEntries) throw new ElfFormatError('ELF_LIMIT', image.path, `more than ${NOTE_LIMITS.maxDlopenEntries} dlopen note entries`);
        if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new ElfFormatError('ELF_BAD_NOTE', image.path, 'dlopen note: an entry is not a JSON object');
        const o = item as Record<string, unknown>;
        const soname = o['soname'];
        if (!Array.isArray(soname) || soname.length === 0 || !soname.every((s) => typeof s === 'string' && s !== '' && !s.includes('/'))) {
          throw new ElfFormatError('ELF_BAD_NOTE', image.path, 'dlopen note: "soname" is not a non-empty array of library names');
        }
        const priority = o['priority'] ?? 'recommended';
        if (priority !== 'required' && priority !== 'recommended' && priority !== 'suggested') {
          throw new ElfFormatError('ELF_BAD_NOTE', image.path, `dlopen note: priority ${JSON.stringify(priority).slice(0, 40)} is none of required, recommended, suggested`);
        }
        out.push({ soname: soname as string[], feature: optionalString(o['feature'], 'feature', image), description: optionalString(o['description'], 'description', image), priority });
      }
    }
    return out;
  });
}
