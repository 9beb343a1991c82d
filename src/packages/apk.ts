/**
 * apk's database, `lib/apk/db/installed` (apk-tools' database.c, the
 * "installed" format of apk-v2 documentation): one record per package,
 * records separated by a blank line, lines "X:value". Package fields
 * (P name, V version, A architecture, o origin, ...) come first, then the
 * files: "F:dir" opens a directory (its own "M:", "a:" lines follow), each
 * "R:name" a file in it (its "a:", "Z:" lines follow). Read as a file,
 * bounded like dpkg's database; written back with only the packages and
 * files kept.
 */
import type { RootFs } from '../resolve/rootfs.js';
import { blankSeparatedRecords } from './control.js';
import { listedPathProblem } from './listing.js';
import { readRequiredDbFile } from './read.js';
import { packageWordProblem, type InstalledPackage, type ListedPath, type MetadataFile, type PackageDatabase } from './types.js';

export const APK_INSTALLED = '/lib/apk/db/installed';
/** Largest installed database read. */
export const MAX_APK_DB_BYTES = 64 * 1024 * 1024;
/** Largest record: a package of 100k files. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** A record's files: each directory line, its own lines, and its files (each with its lines). */
interface ApkDir {
  lines: string[];
  /** Absolute path of the directory ("/" for F: with an empty value... never, apk writes F:dir). */
  path: string;
  files: { path: string; lines: string[] }[];
}

interface ApkPackage extends InstalledPackage {
  head: string[];
  dirs: ApkDir[];
}

export class ApkDatabase implements PackageDatabase {
  readonly manager = 'apk' as const;
  readonly packages = new Map<string, ApkPackage>();
  readonly warnings: string[] = [];
  readonly where = APK_INSTALLED;

  private constructor(private readonly label: string) {}

  static read(fs: RootFs): ApkDatabase | null {
    const text = readRequiredDbFile(fs, APK_INSTALLED, MAX_APK_DB_BYTES);
    if (text === null || text.trim() === '') return null;
    const db = new ApkDatabase(fs.hostPath(APK_INSTALLED));
    blankSeparatedRecords(
      text,
      MAX_RECORD_BYTES,
      (line) => line === '',
      (record, start) => db.add(record, start),
      (start) => db.warnings.push(`${db.label}: the record at line ${start} is longer than ${MAX_RECORD_BYTES} bytes; skipped`),
    );
    return db;
  }

  private add(record: string[], start: number): void {
    const head: string[] = [];
    const dirs: ApkDir[] = [];
    const value = (key: string): string | undefined => head.find((l) => l.startsWith(`${key}:`))?.slice(key.length + 1);
    let dir: ApkDir | null = null;
    let file: { path: string; lines: string[] } | null = null;
    let bad = 0;
    for (const line of record) {
      if (line.length < 2 || line[1] !== ':') {
        this.warnings.push(`${this.label}: the record at line ${start} has a line that is not "X:value"; skipped`);
        return;
      }
      const key = line[0];
      const rest = line.slice(2);
      if (key === 'F') {
        const path = `/${rest}`;
        if (listedPathProblem(path) !== null) bad++;
        dir = { lines: [line], path, files: [] };
        dirs.push(dir);
        file = null;
      } else if (key === 'R') {
        if (dir === null) {
          this.warnings.push(`${this.label}: the record at line ${start} names a file (R:) before any directory (F:); skipped`);
          return;
        }
        const path = `${dir.path}/${rest}`;
        file = { path, lines: [line] };
        if (rest.includes('/') || listedPathProblem(path) !== null) bad++;
        else dir.files.push(file);
      } else if (file !== null) file.lines.push(line);
      else if (dir !== null) dir.lines.push(line);
      else head.push(line);
    }
    const name = value('P');
    const version = value('V');
    const architecture = value('A') ?? 'noarch';
    if (name === undefined || version === undefined) {
      this.warnings.push(`${this.label}: the record at line ${start} has no P: or V:; skipped`);
      return;
    }
    for (const [what, word] of [['name', name], ['version', version], ['architecture', architecture]] as const) {
      const problem = packageWordProblem(word);
      if (problem !== null || (what !== 'version' && word.includes(':'))) {
        this.warnings.push(`${this.label}: package ${JSON.stringify(name)}: its ${what} ${JSON.stringify(word)} ${problem ?? 'contains ":"'}; skipped`);
        return;
      }
    }
    if (bad > 0) this.warnings.push(`${this.label}: package ${name}: ${bad} file(s) or directories not canonical (with "..", "." or "/" in a name); ignored`);
    const id = `apk:${name}:${architecture}`;
    if (this.packages.has(id)) {
      this.warnings.push(`${this.label}: package ${name} appears twice; the first is kept`);
      return;
    }
    // An origin builds all its subpackages at one version (the APKBUILD's pkgver-pkgrel).
    const origin = value('o');
    const source = origin !== undefined && packageWordProblem(origin) === null ? origin : null;
    this.packages.set(id, {
      info: { id, manager: 'apk', name, version, architecture, source, sourceVersion: source === null ? null : version },
      fileName: name,
      head,
      dirs,
    });
  }

  listedNamed(names: ReadonlySet<string>): ListedPath[] {
    const out: ListedPath[] = [];
    for (const pkg of this.packages.values()) {
      for (const dir of pkg.dirs) {
        for (const f of dir.files) {
          if (names.has(f.path.slice(f.path.lastIndexOf('/') + 1))) out.push({ id: pkg.info.id, path: f.path, listed: f.path, directory: () => false });
        }
      }
    }
    return out;
  }

  metadata(kept: ReadonlyMap<string, ReadonlySet<string>>): MetadataFile[] {
    const records: string[] = [];
    // apk keeps its database in installation order; sorted by id here, so the same root gives the same bytes.
    for (const id of [...kept.keys()].sort()) {
      const pkg = this.packages.get(id);
      if (!pkg) continue;
      const want = kept.get(id) as ReadonlySet<string>;
      const lines = [...pkg.head];
      for (const dir of pkg.dirs) {
        const files = dir.files.filter((f) => want.has(f.path));
        if (files.length === 0) continue;
        lines.push(...dir.lines);
        for (const f of files) lines.push(...f.lines);
      }
      records.push(`${lines.join('\n')}\n`);
    }
    if (records.length === 0) return [];
    return [{ dir: '/lib/apk/db', name: 'installed', content: `${records.join('\n')}\n`, package: null }];
  }
}
