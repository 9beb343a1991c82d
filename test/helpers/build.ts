/**
 * Building small, trusted ELF programs and libraries with the host's C
 * compiler for tests that compare the resolver with the real loader, and
 * running the loader's own trace on them.
 *
 * The toolchain's defaults would make fixtures lie about what they test:
 * Debian's gcc passes --as-needed (so an unused library is dropped from
 * DT_NEEDED) and ld's -rpath writes DT_RUNPATH (new dtags). Every link here
 * therefore says --no-as-needed and picks --disable-new-dtags (DT_RPATH) or
 * --enable-new-dtags (DT_RUNPATH) explicitly, as the reference's `mklib` does.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, realpathSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { expect } from 'chai';
import { skipOrFail } from './skip.js';

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never throws for a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): RunResult {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, input: opts.input, encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.error) return { status: null, stdout: '', stderr: String(r.error.message) };
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command and throws with its stderr when it fails (for building fixtures). */
export function mustRun(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

/** Whether `tool` is on PATH (and runs `--version` or similar successfully enough to start). */
export function hasTool(tool: string): boolean {
  return run('sh', ['-c', `command -v ${tool}`]).status === 0;
}

/**
 * An environment with no loader variables of our own process (LD_*, GLIBC_TUNABLES),
 * so that only what a test sets reaches the loader.
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface LinkOptions {
  /** DT_SONAME; default the file's name; null for none. (Libraries only.) */
  soname?: string | null;
  /** Library files to link against, in DT_NEEDED order: each adds its SONAME (or its file name when it has none). */
  needs?: string[];
  /** DT_RPATH (written with --disable-new-dtags). */
  rpath?: string;
  /** DT_RUNPATH (written with --enable-new-dtags). */
  runpath?: string;
  /** Extra compiler/linker arguments, placed before the source (so -l here is subject to --as-needed: use `libs`). */
  args?: string[];
  /** Extra libraries (e.g. '-lm'), placed after --no-as-needed so they always become DT_NEEDED. */
  libs?: string[];
  /** Build for i386 (gcc -m32). */
  m32?: boolean;
  /** The compiler driver; default gcc. */
  cc?: string;
  /** C source; default a small function (library) or an empty main (program). */
  source?: string;
}

let counter = 0;

function link(out: string, kind: 'lib' | 'exe', o: LinkOptions, extra: string[]): string {
  mkdirSync(dirname(out), { recursive: true });
  const tag = `f${++counter}`;
  const src = `${out}.c`;
  writeFileSync(src, o.source ?? (kind === 'lib' ? `int ${tag}(void) { return ${counter}; }\n` : 'int main(void) { return 0; }\n'));
  const args: string[] = [...(o.m32 ? ['-m32'] : []), ...extra];
  if (kind === 'lib') {
    args.push('-shared', '-fPIC');
    const soname = o.soname === undefined ? basename(out) : o.soname;
    if (soname !== null) args.push(`-Wl,-soname,${soname}`);
  }
  if (o.rpath !== undefined && o.runpath !== undefined) throw new Error('link: give rpath or runpath, not both (patch the file for both)');
  if (o.rpath !== undefined) args.push('-Wl,--disable-new-dtags', `-Wl,-rpath,${o.rpath}`);
  if (o.runpath !== undefined) args.push('-Wl,--enable-new-dtags', `-Wl,-rpath,${o.runpath}`);
  args.push(...(o.args ?? []), '-o', out, src, '-Wl,--no-as-needed');
  // -L DIR -l:FILE records the library's SONAME (or FILE), never the directory.
  for (const lib of o.needs ?? []) args.push(`-L${dirname(lib)}`, `-l:${basename(lib)}`);
  args.push(...(o.libs ?? []));
  // The libraries' own dependencies need not be found at link time.
  args.push('-Wl,--allow-shlib-undefined');
  mustRun(o.cc ?? 'gcc', args);
  return out;
}

/** Builds a shared library at `path`. */
export function mklib(path: string, o: LinkOptions = {}): string {
  return link(path, 'lib', o, []);
}

/** Builds a dynamically linked program at `path`. */
export function mkexe(path: string, o: LinkOptions = {}): string {
  return link(path, 'exe', o, []);
}

/** Builds a statically linked program (`static-pie`: a static PIE). */
export function mkstatic(path: string, mode: 'static' | 'static-pie', o: LinkOptions = {}): string {
  return link(path, 'exe', o, [mode === 'static' ? '-static' : '-static-pie']);
}

/**
 * A static launcher that runs its arguments with LD_TRACE_LOADED_OBJECTS=1 and
 * nothing else in the environment (but LD_DEBUG=X when it gets TRACE_LD_DEBUG=X).
 * Inside a chroot it stands in for env(1): `LD_TRACE_LOADED_OBJECTS=1 chroot
 * ROOT prog` would trace chroot itself.
 */
export function mktracer(path: string): string {
  return mkstatic(path, 'static', {
    source:
      '#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n' +
      'int main(int argc, char **argv) {\n' +
      '  char debug[256];\n' +
      '  char *env[] = { "LD_TRACE_LOADED_OBJECTS=1", NULL, NULL };\n' +
      '  const char *d = getenv("TRACE_LD_DEBUG");\n' +
      '  if (d) { snprintf(debug, sizeof debug, "LD_DEBUG=%s", d); env[1] = debug; }\n' +
      '  if (argc < 2) return 2;\n' +
      '  execve(argv[1], argv + 1, env);\n' +
      '  perror(argv[1]);\n' +
      '  return 127;\n' +
      '}\n',
  });
}

/**
 * C source for one `.note.dlopen` ELF note (systemd's format: owner FDO, type
 * 0x407c0c0a, a JSON array of {soname, feature, priority}) holding `json`.
 */
export function dlopenNote(json: string): string {
  return `__asm__(".pushsection .note.dlopen,\\"a\\",@note\\n.balign 4\\n.long 4\\n.long 2f-1f\\n.long 0x407c0c0a\\n.asciz \\"FDO\\"\\n1: .asciz \\"${json.replace(/"/g, '\\\\\\"')}\\"\\n2: .balign 4\\n.popsection");\n`;
}

/** Writes bytes into an existing file at `offset` (e.g. to patch e_machine or EI_OSABI). */
export function patchBytes(path: string, offset: number, bytes: number[]): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.from(bytes), 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Writes a text file, creating its directory. */
export function writeText(path: string, text: string, mode?: number): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  if (mode !== undefined) chmodSync(path, mode);
  return path;
}

/** The loader's trace lines (ldd format) with the load addresses removed. */
export function traceLines(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.replace(/ \(0x[0-9a-f]+\)$/, ''));
}

/** `LD_TRACE_LOADED_OBJECTS=1 prog`: the kernel starts it, so PT_INTERP and $ORIGIN are the real ones. */
export function traceExec(prog: string, opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): RunResult & { lines: string[] } {
  const r = run(prog, [], { cwd: opts.cwd, env: cleanEnv({ ...opts.env, LD_TRACE_LOADED_OBJECTS: '1' }) });
  return { ...r, lines: traceLines(r.stdout) };
}

/** The message after "error while loading shared libraries: " on stderr, or null. */
export function loaderError(stderr: string): string | null {
  const m = /error while loading shared libraries: (.*)$/m.exec(stderr);
  return m ? (m[1] as string) : null;
}

/** Comparisons with a real loader: each one is asserted and counted for the suite's summary line. */
export class LoaderTally {
  checked = 0;
  equal = 0;

  same(label: string, ours: unknown, loader: unknown): void {
    this.checked++;
    if (JSON.stringify(ours) === JSON.stringify(loader)) this.equal++;
    expect(ours, label).to.deep.equal(loader);
  }
}

/**
 * Registers before/after hooks on the current describe(): skip the suite
 * (printing why) when `skipReason` is set, else build every fixture once in a
 * fresh temp dir; afterwards remove it and print `summary()`. Returns a getter
 * for the built fixtures.
 */
export function useFixtures<T>(opts: { prefix: string; skipReason: string | null; build: (dir: string) => T; summary: () => string }): () => T {
  let dir = '';
  let built: T | undefined;
  before(function () {
    // The tools that build the fixtures are oracles' inputs: under CI their absence fails (skipOrFail).
    if (opts.skipReason !== null) skipOrFail(this, opts.skipReason);
    dir = realpathSync(mkdtempSync(join(tmpdir(), opts.prefix)));
    built = opts.build(dir);
  });
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
    console.log(`      ${opts.summary()}`);
  });
  return () => {
    if (built === undefined) throw new Error('fixtures were not built');
    return built;
  };
}
