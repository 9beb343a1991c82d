// The runtime-file rules' cost, in one run: manifests for a Python root
// (the interpreter, its standard library and every extension module
// resolved), a JDK root (java) and a Node.js root, and for the 50-program root of bench/materialise.mjs, with the
// rules on (the default) against --loader-only, timed in the same process;
// and what each rule added (entries, bytes). Read the ratios.
import { existsSync } from 'node:fs';
import { createManifest } from '../dist/src/index.js';
import { dynamicPrograms } from './materialise.mjs';

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timed(programs, options, reps) {
  let manifest;
  const runs = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    manifest = createManifest(programs, options);
    runs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const bytes = manifest.entries.reduce((n, e) => n + (e.kind === 'file' || e.kind === 'generated' ? e.size : 0), 0);
  return { ms: Math.round(median(runs)), entries: manifest.entries.length, bytes, rules: manifest.rules ?? [] };
}

function compare(programs, reps) {
  const off = timed(programs, { loaderOnly: true }, reps);
  const on = timed(programs, {}, reps);
  return {
    programs: programs.length,
    rulesOff: { ms: off.ms, entries: off.entries, bytes: off.bytes },
    rulesOn: { ms: on.ms, entries: on.entries, bytes: on.bytes },
    byRule: on.rules,
    ratioOnVsOff: Math.round((on.ms / off.ms) * 10) / 10,
  };
}

export async function benchRules({ reps = 3 } = {}) {
  process.stderr.write('rules: python root\n');
  const python = compare(['/usr/bin/python3'], reps);
  // Runtimes (issue 19): the JDK (the VM jvm.cfg names, lib/modules, its native libraries) and Node.js, when installed.
  const runtime = (program) => {
    if (!existsSync(program)) return { skipped: `${program} is not installed` };
    process.stderr.write(`rules: ${program}\n`);
    return compare([program], reps);
  };
  const jdk = runtime('/usr/bin/java');
  const node = runtime('/usr/bin/node');
  process.stderr.write('rules: 50 programs\n');
  const fifty = compare(dynamicPrograms('/usr/bin', 50), reps);
  return { python, jdk, node, fiftyPrograms: fifty };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(await benchRules(), null, 2));
