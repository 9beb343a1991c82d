/**
 * Crash safety: `elfdeps copy` killed with SIGKILL part-way through a large
 * copy never leaves a truncated file under a final name (each file is written
 * under a temporary name and renamed when complete and verified), and running
 * it again completes the root, removing the killed run's temporaries.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../src/manifest/entry-path.js';
import { createManifest } from '../src/manifest/create.js';
import type { FileEntry } from '../src/manifest/types.js';
import { serializeManifest } from '../src/manifest/validate.js';
import { materialise } from '../src/materialise/index.js';
import { hashFd } from '../src/manifest/hash.js';
import { writeIncompressibleFiles } from './helpers/big-files.js';
import { elfdepsCommand } from './helpers/cli.js';

const FILES = 4;
const FILE_MIB = 96;

function tempsUnder(dir: string): string[] {
  const out: string[] = [];
  const visit = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) visit(join(d, e.name));
      else if (e.name.startsWith(TEMP_PREFIX)) out.push(join(d, e.name));
    }
  };
  visit(dir);
  return out;
}

function digestOf(path: string): { size: number; sha256: string } {
  const fd = openSync(path, 'r');
  try {
    return hashFd(fd);
  } finally {
    closeSync(fd);
  }
}

describe('materialise: crash safety', function () {
  let work: string;
  let files: FileEntry[];
  let manifestPath: string;
  let newRoot: string;

  before(function () {
    work = mkdtempSync(join(tmpdir(), 'elfdeps-crash-'));
    const src = join(work, 'src');
    mkdirSync(src);
    writeIncompressibleFiles(src, 'big-', FILES, FILE_MIB);
    const manifest = createManifest([], { add: [src], packageMetadata: false });
    files = manifest.entries.filter((e): e is FileEntry => e.kind === 'file');
    expect(files).to.have.length(FILES);
    manifestPath = join(work, 'manifest.json');
    writeFileSync(manifestPath, serializeManifest(manifest));
    newRoot = join(work, 'root');
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  /** Every file present under its final name is complete; returns how many are present. */
  function checkFinalNames(): number {
    let present = 0;
    for (const f of files) {
      let size: number;
      try {
        size = statSync(join(newRoot, f.path)).size;
      } catch {
        continue;
      }
      present++;
      expect(size, `${f.path} under its final name`).to.equal(f.size);
      expect(digestOf(join(newRoot, f.path)).sha256, f.path).to.equal(f.sha256);
    }
    return present;
  }

  /**
   * Starts `elfdeps copy MANIFEST NEWROOT` and SIGKILLs it as soon as one of its
   * temporary files appears, watching all the while that no final name ever
   * shows a short file. Resolves with how the child ended.
   */
  function copyAndKill(): Promise<{ signal: NodeJS.Signals | null; code: number | null; shortSeen: string[] }> {
    const [node, bin] = elfdepsCommand();
    const child = spawn(node, [bin, 'copy', '-q', manifestPath, newRoot], {
      cwd: work,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const shortSeen: string[] = [];
    const mine = `${TEMP_PREFIX}${child.pid}-`;
    const fresh = files.filter((f) => !existsSync(join(newRoot, f.path)));
    let killed = false;
    const poll = setInterval(() => {
      for (const f of files) {
        try {
          const size = statSync(join(newRoot, f.path)).size;
          if (size !== f.size) shortSeen.push(`${f.path}: ${size} bytes`);
        } catch {
          // not there yet
        }
      }
      if (killed) return;
      let temps: string[] = [];
      try {
        temps = tempsUnder(newRoot).filter((p) => p.slice(p.lastIndexOf('/') + 1).startsWith(mine));
      } catch {
        return; // NEWROOT not created yet
      }
      // A temporary of this run, or any final name (a copier writing in place would show one first).
      if (temps.length > 0 || fresh.some((f) => existsSync(join(newRoot, f.path)))) {
        killed = true;
        child.kill('SIGKILL');
      }
    }, 1);
    return new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        clearInterval(poll);
        resolve({ code, signal, shortSeen });
      });
    });
  }

  it('a copy killed part-way leaves only complete files under final names, and a rerun completes it', async function () {
    for (let round = 1; round <= 2; round++) {
      const run = await copyAndKill();
      expect(run.shortSeen, 'a final name showed a short file').to.deep.equal([]);
      const present = checkFinalNames();
      // 4 x 96 MiB cannot be copied and hashed between two 1 ms polls: the first run must have been killed.
      if (round === 1) expect(run.signal, 'the first copy was killed').to.equal('SIGKILL');
      if (run.signal !== 'SIGKILL') {
        expect(run.code).to.equal(0);
        break;
      }
      expect(present, `round ${round}: killed part-way`).to.be.below(FILES);
      console.log(`      round ${round}: killed with ${present}/${FILES} files complete, ${tempsUnder(newRoot).length} temporary file(s) left`);
    }
    const leftovers = tempsUnder(newRoot).length;
    const report = materialise(JSON.parse(readFileSync(manifestPath, 'utf8')), newRoot);
    expect(report.staleTempsRemoved).to.equal(leftovers);
    expect(checkFinalNames()).to.equal(FILES);
    expect(tempsUnder(newRoot), 'no temporaries after a complete run').to.deep.equal([]);
    const again = materialise(JSON.parse(readFileSync(manifestPath, 'utf8')), newRoot);
    expect(again.created + again.replaced).to.equal(0);
  });
});
