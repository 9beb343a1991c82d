/**
 * Running ldd and `elfdeps --ldd` over many files per call, as the host
 * conformance tests do (resolve-conformance, verdict-conformance): with
 * several files each tool starts each file's section of stdout with a
 * `FILE:` line, so stdout splits per file. stderr has no such headers and is
 * kept whole per call: ldd writes there only its own lines (`\tnot a dynamic
 * executable`, a file it cannot read), since it merges the loader's stderr
 * into its stdout, so both tools' stderr must be equal call for call.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface BatchOutput {
  /** stdout lines per file, addresses stripped and pids normalised (files without a section map to []). */
  perFile: Map<string, string[]>;
  /** The whole of stderr for the call. */
  stderr: string;
  code: number;
}

/** One line as compared: ` (0x...)` load addresses and the loader's debug lines' pids (ldd -u) normalised. */
export function normaliseLddLine(line: string): string {
  return line.replace(/ \(0x[0-9a-f]+\)$/, '').replace(/^ *\d+:\t/, '<pid>:\t');
}

/**
 * Splits the stdout of `TOOL [FLAG] F1 ... FN` per file: with several files
 * each section starts with a `FILE:` line (expected in order, as both tools
 * print them); with one file there is no header. Every line is kept, empty
 * ones included; only the empty string after the final newline is dropped.
 */
export function splitPerFile(stdout: string, files: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>(files.map((f) => [f, []]));
  const lines = stdout.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  if (files.length === 1) {
    out.set(files[0] as string, lines.map(normaliseLddLine));
    return out;
  }
  let next = 0;
  let current: string[] | null = null;
  const stray: string[] = [];
  for (const line of lines) {
    if (next < files.length && line === `${files[next]}:`) {
      current = out.get(files[next] as string) as string[];
      next++;
    } else (current ?? stray).push(normaliseLddLine(line));
  }
  // Output before the first header would belong to no file: keep it visible.
  if (stray.length) (out.get(files[0] as string) as string[]).unshift(...stray.map((l) => `(before the first FILE: line) ${l}`));
  return out;
}

/** `cmd ...args ...files`, never rejecting on a non-zero exit status (ldd's and elfdeps' statuses are compared by the callers). */
export async function runBatch(cmd: string, args: string[], files: string[]): Promise<BatchOutput> {
  const { stdout, stderr, code } = await run(cmd, [...args, ...files], { maxBuffer: 256 << 20, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }).then(
    (r) => ({ stdout: r.stdout, stderr: r.stderr, code: 0 }),
    (err: { stdout?: string; stderr?: string; code?: number | string; message?: string }) => {
      if (typeof err.code !== 'number') throw new Error(`${cmd} ${args.join(' ')} (${files.length} files) failed: ${err.message}`);
      return { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: err.code };
    },
  );
  return { perFile: splitPerFile(stdout, files), stderr, code };
}

/** Runs every batch, `parallel` calls at a time. */
export async function runAll(cmd: string, args: string[], batches: string[][], parallel: number): Promise<BatchOutput[]> {
  const results: BatchOutput[] = [];
  for (let i = 0; i < batches.length; i += parallel) results.push(...(await Promise.all(batches.slice(i, i + parallel).map((b) => runBatch(cmd, args, b)))));
  return results;
}

/** Differing stderr of one call of each tool, as a mismatch message (null when equal). */
export function stderrMismatch(what: string, want: string, got: string): string | null {
  if (want === got) return null;
  const cap = (s: string): string => {
    const lines = s.replace(/\n$/, '').split('\n');
    const shown = s === '' ? ['(nothing)'] : lines.slice(0, 10);
    return shown.map((l) => `    ${JSON.stringify(l)}`).join('\n') + (lines.length > 10 ? `\n    ... ${lines.length - 10} more` : '');
  };
  return `${what}: stderr differs\n  ldd:\n${cap(want)}\n  elfdeps:\n${cap(got)}`;
}
