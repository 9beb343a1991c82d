/**
 * dpkg's database, read as files, never through dpkg (docs/packages.md):
 *
 * - `var/lib/dpkg/status`: one control paragraph per package; a package
 *   whose Status says its files are on disk (anything but not-installed and
 *   config-files) counts. Its files are listed in `info/NAME.list`, its
 *   digests in `info/NAME.md5sums`, NAME being `PACKAGE:ARCH` for a
 *   Multi-Arch: same package and `PACKAGE` otherwise (dpkg's
 *   pkg_infodb_get_file()). `diversions` moves a listed path of any package
 *   but the diverting one.
 * - distroless' `var/lib/dpkg/status.d/`: one file per package (no Status
 *   line) and `NAME.md5sums`, which is then the only list of its files.
 *
 * Everything is bounded: status and each list at 64 MiB, a paragraph at
 * MAX_PARAGRAPH_BYTES; a package whose name, version or architecture could
 * not be a file name is skipped with a warning.
 */
import type { RootFs } from '../resolve/rootfs.js';
import { field, parseParagraphs, type ControlParagraph } from './control.js';
import { listedPathProblem, NameFilter, scanListBytes } from './listing.js';
import { listDbDir, readDbBytes, readDbBytesIn, readDbFile, readRequiredDbFile } from './read.js';
import { packageWordProblem, type InstalledPackage, type ListedPath, type MetadataFile, type PackageDatabase } from './types.js';

export const DPKG_DIR = '/var/lib/dpkg';
/** Largest status file, list or md5sums read (a Debian system with 5000 packages has a 10 MiB status). */
export const MAX_DPKG_FILE_BYTES = 64 * 1024 * 1024;
/** Most files in info/ or status.d/. */
const MAX_DIR_FILES = 1_000_000;
/** Status words (the third) of a package with no files on disk (dpkg-query(1)). */
const NO_FILES = new Set(['not-installed', 'config-files']);

interface DpkgPackage extends InstalledPackage {
  paragraph: ControlParagraph;
  /** In-root path of the file listing its paths ("info/NAME.list", or status.d's "NAME.md5sums"). */
  listFile: string;
  /** In-root path of its md5sums, or null when it has none. */
  md5sumsFile: string | null;
}

/** dpkg's Source field: "name" or "name (version)". */
function sourceOf(p: ControlParagraph, name: string, version: string): { source: string; sourceVersion: string } {
  const raw = field(p, 'Source');
  if (raw === undefined || raw === '') return { source: name, sourceVersion: version };
  const m = /^(\S+)(?:\s+\((\S+)\))?$/.exec(raw);
  if (!m) return { source: name, sourceVersion: version };
  return { source: m[1] as string, sourceVersion: m[2] ?? version };
}

export class DpkgDatabase implements PackageDatabase {
  readonly manager = 'dpkg' as const;
  readonly packages = new Map<string, DpkgPackage>();
  readonly warnings: string[] = [];
  /** List bytes, read on first use, by id (null: unreadable, warned). */
  private readonly lists = new Map<string, Buffer | null>();
  /** Diverted paths: from → [to, the package that diverted it (":" for a local diversion)]. */
  private readonly diversions = new Map<string, [string, string]>();
  /** Host path of info/ as RootFs resolved it (null: none), so each list is one open, not a walk. */
  private infoHostPath: string | null = null;

  private constructor(
    private readonly fs: RootFs,
    readonly where: string,
  ) {}

  /** The database of the root, or null when it has none (no status with packages, no status.d). */
  static read(fs: RootFs): DpkgDatabase | null {
    const status = readRequiredDbFile(fs, `${DPKG_DIR}/status`, MAX_DPKG_FILE_BYTES);
    if (status !== null && status.trim() !== '') {
      const db = new DpkgDatabase(fs, `${DPKG_DIR}/status`);
      db.fromStatus(status);
      return db;
    }
    const names = listDbDir(fs, `${DPKG_DIR}/status.d`, MAX_DIR_FILES);
    if (names === null) return null;
    const db = new DpkgDatabase(fs, `${DPKG_DIR}/status.d/`);
    db.fromStatusDir(names);
    return db;
  }

  private label(path: string): string {
    return this.fs.hostPath(path);
  }

  /** A usable package from a paragraph, or null (warned) when it is not one. */
  private add(p: ControlParagraph, where: string, fileName: string, listFile: string, md5sumsFile: string | null): void {
    const name = field(p, 'Package');
    const version = field(p, 'Version');
    const architecture = field(p, 'Architecture');
    if (name === undefined || version === undefined || architecture === undefined) {
      this.warnings.push(`${where}: a paragraph without Package, Version or Architecture (${name ?? 'no name'}); skipped`);
      return;
    }
    for (const [what, word] of [['name', name], ['version', version], ['architecture', architecture]] as const) {
      const problem = packageWordProblem(word);
      if (problem !== null || (what !== 'version' && word.includes(':'))) {
        this.warnings.push(`${where}: package ${JSON.stringify(name)}: its ${what} ${JSON.stringify(word)} ${problem ?? 'contains ":"'}; skipped`);
        return;
      }
    }
    const { source, sourceVersion } = sourceOf(p, name, version);
    const id = `dpkg:${name}:${architecture}`;
    if (this.packages.has(id)) {
      this.warnings.push(`${where}: package ${name}:${architecture} appears twice; the first is kept`);
      return;
    }
    const src = packageWordProblem(source) === null && packageWordProblem(sourceVersion) === null;
    this.packages.set(id, {
      info: { id, manager: 'dpkg', name, version, architecture, source: src ? source : null, sourceVersion: src ? sourceVersion : null },
      fileName,
      paragraph: p,
      listFile,
      md5sumsFile,
    });
  }

  private fromStatus(text: string): void {
    const where = this.label(`${DPKG_DIR}/status`);
    const info = new Set(listDbDir(this.fs, `${DPKG_DIR}/info`, MAX_DIR_FILES) ?? []);
    const infoWalk = this.fs.walk(`${DPKG_DIR}/info`);
    if (infoWalk.ok && infoWalk.kind === 'dir') this.infoHostPath = infoWalk.hostPath;
    for (const p of parseParagraphs(text, where, this.warnings)) {
      const status = (field(p, 'Status') ?? '').split(/\s+/);
      if (NO_FILES.has(status[2] ?? 'not-installed')) continue;
      const name = field(p, 'Package') ?? '';
      const arch = field(p, 'Architecture') ?? '';
      // dpkg names info files PACKAGE:ARCH for Multi-Arch: same packages; look for that first.
      const fileName = info.has(`${name}:${arch}.list`) ? `${name}:${arch}` : name;
      const md5 = info.has(`${fileName}.md5sums`) ? `${DPKG_DIR}/info/${fileName}.md5sums` : null;
      this.add(p, where, fileName, `${DPKG_DIR}/info/${fileName}.list`, md5);
    }
    const diversions = readDbFile(this.fs, `${DPKG_DIR}/diversions`, MAX_DPKG_FILE_BYTES);
    if ('text' in diversions) {
      const lines = diversions.text.split('\n');
      for (let i = 0; i + 2 < lines.length; i += 3) this.diversions.set(lines[i] as string, [lines[i + 1] as string, lines[i + 2] as string]);
    }
  }

  private fromStatusDir(names: string[]): void {
    const present = new Set(names);
    for (const file of names) {
      if (file.endsWith('.md5sums') || file.startsWith('.')) continue;
      const bad = packageWordProblem(file);
      if (bad !== null) {
        this.warnings.push(`${this.label(`${DPKG_DIR}/status.d`)}: file name ${JSON.stringify(file)} ${bad}; skipped`);
        continue;
      }
      const path = `${DPKG_DIR}/status.d/${file}`;
      const got = readDbFile(this.fs, path, MAX_DPKG_FILE_BYTES);
      if (!('text' in got)) {
        this.warnings.push(`${this.label(path)}: ${'refused' in got ? got.refused : 'vanished'}; skipped`);
        continue;
      }
      const md5 = present.has(`${file}.md5sums`) ? `${path}.md5sums` : null;
      const paragraphs = parseParagraphs(got.text, this.label(path), this.warnings);
      // distroless writes one package per file; the file's md5sums is that package's.
      if (paragraphs.length !== 1) {
        this.warnings.push(`${this.label(path)}: ${paragraphs.length} package paragraphs, expected one; skipped`);
        continue;
      }
      this.add(paragraphs[0] as ControlParagraph, this.label(path), file, md5 ?? path, md5);
    }
  }

  /**
   * The bytes of a package's list, read once; null when unreadable (warned).
   * A status.d package has no list: its paths are those its md5sums names
   * and its conffiles (which have no md5sums line; the paragraph's
   * Conffiles field names them), as list lines.
   */
  private listBytes(pkg: DpkgPackage): Buffer | null {
    const id = pkg.info.id;
    const known = this.lists.get(id);
    if (known !== undefined) return known;
    const fromStatusDir = !pkg.listFile.endsWith('.list');
    // A status package's list is info/NAME.list (fromStatus), opened in info/ as resolved once, not walked to (hundreds of lists).
    const inInfo = !fromStatusDir && this.infoHostPath !== null;
    let bytes: Buffer | null = null;
    const file = fromStatusDir ? pkg.md5sumsFile : pkg.listFile;
    const got =
      file === null
        ? ({ absent: true } as const)
        : inInfo
          ? readDbBytesIn(this.fs, `${DPKG_DIR}/info`, this.infoHostPath as string, `${pkg.fileName}.list`, MAX_DPKG_FILE_BYTES)
          : readDbBytes(this.fs, file, MAX_DPKG_FILE_BYTES);
    if ('bytes' in got) bytes = got.bytes;
    else if ('refused' in got) this.warnings.push(`${this.label(file as string)}: ${got.refused}; the files of ${pkg.fileName} are not known`);
    else bytes = Buffer.alloc(0); // a package without a list (a metapackage) has no files
    if (fromStatusDir && bytes !== null) {
      // Byte for byte (latin1): a path's bytes are kept whatever their encoding.
      const paths = bytes
        .toString('latin1')
        .split('\n')
        .filter((l) => l.indexOf('  ') > 0)
        .map((l) => `/${l.slice(l.indexOf('  ') + 2)}`);
      for (const c of (field(pkg.paragraph, 'Conffiles') ?? '').split('\n')) {
        const path = c.trim().split(/\s+/)[0];
        if (path !== undefined && path.startsWith('/')) paths.push(Buffer.from(path, 'utf8').toString('latin1'));
      }
      bytes = Buffer.from(paths.join('\n'), 'latin1');
    }
    this.lists.set(id, bytes);
    return bytes;
  }

  listedNamed(utf8Names: ReadonlySet<string>): ListedPath[] {
    const out: ListedPath[] = [];
    const filter = new NameFilter(utf8Names);
    for (const pkg of this.packages.values()) {
      const bytes = this.listBytes(pkg);
      if (bytes === null || bytes.length === 0) continue;
      let bad = 0;
      // `raw`: the line's bytes as latin1; only matched lines are decoded as UTF-8.
      scanListBytes(bytes, filter, (raw) => {
        if (listedPathProblem(raw) !== null) {
          bad++;
          return;
        }
        // eslint-disable-next-line no-control-regex
        const listed = /[^\x00-\x7f]/.test(raw) ? Buffer.from(raw, 'latin1').toString('utf8') : raw;
        const diverted = this.diversions.get(listed);
        // A diversion moves the file of every package but the one that diverted it.
        const path = diverted && diverted[1] !== pkg.info.name ? diverted[0] : listed;
        // dpkg lists a directory with its contents: a path with something listed below it is one.
        const directory = () => bytes.includes(`\n${raw}/`, 0, 'latin1');
        out.push({ id: pkg.info.id, path, listed, directory });
      });
      if (bad > 0) this.warnings.push(`${this.label(pkg.listFile)}: ${bad} listed path(s) not absolute and canonical (with "..", "." or empty components); ignored`);
    }
    return out;
  }

  metadata(kept: ReadonlyMap<string, ReadonlySet<string>>): MetadataFile[] {
    const out: MetadataFile[] = [];
    const dir = `${DPKG_DIR}/status.d`;
    for (const id of [...kept.keys()].sort()) {
      const pkg = this.packages.get(id);
      if (!pkg) continue;
      // What distroless writes: the paragraph without Status (an image has no dpkg state to report).
      const lines = pkg.paragraph.lines.filter((l) => !/^status:/i.test(l));
      out.push({ dir, name: pkg.fileName, content: `${lines.join('\n')}\n`, package: id });
      if (pkg.md5sumsFile === null) continue;
      const got = readDbFile(this.fs, pkg.md5sumsFile, MAX_DPKG_FILE_BYTES);
      if (!('text' in got)) {
        if ('refused' in got) this.warnings.push(`${this.label(pkg.md5sumsFile)}: ${got.refused}; no md5sums written for ${pkg.fileName}`);
        continue;
      }
      const want = kept.get(id) as ReadonlySet<string>;
      const md5 = got.text.split('\n').filter((line) => {
        const sep = line.indexOf('  ');
        return sep > 0 && want.has(`/${line.slice(sep + 2)}`);
      });
      if (md5.length > 0) out.push({ dir, name: `${pkg.fileName}.md5sums`, content: `${md5.join('\n')}\n`, package: id });
    }
    return out;
  }
}
