/**
 * Debian control paragraphs (deb822, as dpkg writes var/lib/dpkg/status and
 * as status.d/ files hold them): "Field: value" lines, continuation lines
 * starting with a space or tab, paragraphs separated by blank lines
 * (deb-control(5), dpkg's lib/dpkg/parse.c). The text is hostile input:
 * a paragraph longer than MAX_PARAGRAPH_BYTES, or one without a Package
 * field, is skipped with a warning rather than read further.
 */

/** Largest control paragraph kept: the largest in Debian 12 (with Conffiles and Description) is under 64 KiB. */
export const MAX_PARAGRAPH_BYTES = 1024 * 1024;

export interface ControlParagraph {
  /** Field names as written, values with continuation lines joined by "\n" (leading space kept off the first line only). */
  fields: Map<string, string>;
  /** The paragraph's lines as written, without the blank line after it. */
  lines: string[];
}

/** Field names are case-insensitive (deb-control(5)); this is how fields are looked up. */
export function field(p: ControlParagraph, name: string): string | undefined {
  const direct = p.fields.get(name);
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of p.fields) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/**
 * The paragraphs of `text` (`label` names the file in warnings). A last
 * paragraph without its closing blank line is kept: dpkg writes one, but a
 * status.d file often ends without it; one cut inside a field is caught by
 * the callers' checks on the fields they need.
 */
export function parseParagraphs(text: string, label: string, warnings: string[]): ControlParagraph[] {
  const out: ControlParagraph[] = [];
  blankSeparatedRecords(
    text,
    MAX_PARAGRAPH_BYTES,
    (line) => line.trim() === '',
    (lines, startLine) => {
      const p = toParagraph(lines, label, startLine, warnings);
      if (p !== null) out.push(p);
    },
    (startLine) => warnings.push(`${label}: the paragraph at line ${startLine} is longer than ${MAX_PARAGRAPH_BYTES} bytes; skipped`),
  );
  return out;
}

/**
 * The records of a database text whose records are separated by blank lines
 * (`isBlank`: dpkg's paragraphs end at a whitespace-only line, apk's records
 * at an empty one), a CR before a newline dropped: `record(lines, startLine)`
 * for each, or `tooLong(startLine)` for one longer than `maxBytes` (its
 * lines and newlines), which is never held whole. A last record without its
 * closing blank line is kept.
 */
export function blankSeparatedRecords(
  text: string,
  maxBytes: number,
  isBlank: (line: string) => boolean,
  record: (lines: string[], startLine: number) => void,
  tooLong: (startLine: number) => void,
): void {
  let lines: string[] = [];
  let bytes = 0;
  let over = false;
  let startLine = 1;
  let lineNo = 0;
  const finish = (): void => {
    if (over) tooLong(startLine);
    else if (lines.length > 0) record(lines, startLine);
    lines = [];
    bytes = 0;
    over = false;
  };
  let at = 0;
  while (at <= text.length) {
    let end = text.indexOf('\n', at);
    if (end === -1) end = text.length;
    const line = text.slice(at, end).replace(/\r$/, '');
    lineNo++;
    at = end + 1;
    if (isBlank(line)) {
      finish();
      startLine = lineNo + 1;
      continue;
    }
    bytes += line.length + 1;
    if (bytes > maxBytes) {
      over = true;
      lines = [];
    } else if (!over) lines.push(line);
  }
  finish();
}

function toParagraph(lines: string[], label: string, startLine: number, warnings: string[]): ControlParagraph | null {
  const fields = new Map<string, string>();
  let last: string | null = null;
  for (const line of lines) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (last === null) {
        warnings.push(`${label}: the paragraph at line ${startLine} starts with a continuation line; skipped`);
        return null;
      }
      fields.set(last, `${fields.get(last) as string}\n${line}`);
      continue;
    }
    if (line.startsWith('#')) continue; // comments are allowed in control files, never in status
    const colon = line.indexOf(':');
    if (colon <= 0) {
      warnings.push(`${label}: the paragraph at line ${startLine} has a line that is not "Field: value"; skipped`);
      return null;
    }
    last = line.slice(0, colon);
    fields.set(last, line.slice(colon + 1).trim());
  }
  return { fields, lines };
}
